"""The policy matrix with real tokens from a real Keystone.

The API runs with auth_strategy = keystone: keystonemiddleware's
auth_token validates every token against the Keystone of
tools/keystone-aio.sh with a service user, as in a deployment. Projects
tbe-a and tbe-b each have a member, a reader and an admin user.

Readers: Trove has no reader rule and our defaults are admin_or_owner,
which looks at the project only, so a reader may do all a member may
(list, show, create, delete in its own project). test_reader_* pin that
documented behaviour down.
"""

from oslo_utils import uuidutils
import requests

from trove_backup_ext import context as backup_context
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.tests import base
from trove_backup_ext.tests import keystone_fixture as ks
from trove_backup_ext.tests import service_fixtures

A = ks.PROJECT_A
B = ks.PROJECT_B


class KeystonePolicyTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(service_fixtures.Conf(**{
            'api.auth_strategy': 'keystone',
            # No worker runs backups here: let deletes of NEW ones through.
            'running_backups_expires': 0})).conf
        # No token cache: a revoked token must be refused at once (with
        # the default cache, auth_token trusts a token it has validated
        # for token_cache_time seconds).
        self.useFixture(ks.AuthToken(self.conf, token_cache_time=-1))
        self.useFixture(service_fixtures.Database('sqlite'))
        self.worker = self.useFixture(
            service_fixtures.WorkerServer(self.conf)).endpoint
        self.api = self.useFixture(service_fixtures.APIServer(self.conf))
        self.http = requests.Session()
        self.addCleanup(self.http.close)
        self.member_a = ks.login(A + '-member', A)
        self.member_b = ks.login(B + '-member', B)
        self.a = self.member_a.project_id
        self.b = self.member_b.project_id
        self.instance_a = self.add_instance(self.a)
        self.instance_b = self.add_instance(self.b)

    @staticmethod
    def add_instance(project_id):
        return instances_db.add(backup_context.get_admin_context(), {
            'id': uuidutils.generate_uuid(), 'name': 'db',
            'project_id': project_id, 'datastore': 'mysql',
            'datastore_version': '10.11', 'status': 'ACTIVE'}).id

    def call(self, method, project, path='', token=None, headers=None,
             **kwargs):
        headers = dict(headers or {})
        if token is not None:
            headers['X-Auth-Token'] = token.id
        return self.http.request(
            method, '%s/v1.0/%s/backups%s' % (self.api.endpoint, project,
                                              path),
            headers=headers, timeout=30, **kwargs)

    def create(self, token, instance_id):
        response = self.call('POST', token.project_id, token=token,
                             json={'backup': {'name': 'b',
                                              'instance': instance_id}})
        self.assertEqual(202, response.status_code, response.text)
        return response.json()['backup']

    def test_no_token_is_401_with_keystone_named(self):
        response = self.call('GET', self.a)
        self.assertFault(response, 401, 'unauthorized')
        self.assertIn(ks.keystone_env()['TBE_KEYSTONE_URL'],
                      response.headers['WWW-Authenticate'])

    def test_bogus_token_is_401(self):
        response = self.http.get(
            '%s/v1.0/%s/backups' % (self.api.endpoint, self.a),
            headers={'X-Auth-Token': 'gAAAAAB-not-a-token'}, timeout=30)
        self.assertFault(response, 401, 'unauthorized')

    def test_revoked_token_is_401(self):
        token = ks.login(A + '-member', A)
        self.assertEqual(200, self.call('GET', self.a, token=token)
                         .status_code)
        ks.revoke(token)
        self.assertFault(self.call('GET', self.a, token=token), 401,
                         'unauthorized')
        # Another token of the same user is still good.
        self.assertEqual(200, self.call('GET', self.a, token=self.member_a)
                         .status_code)

    def test_member_works_in_own_project_as_itself(self):
        backup = self.create(self.member_a, self.instance_a)
        self.assertEqual(self.a, backup['project_id'])
        # The identity auth_token established is what reaches the worker.
        self.assertTrue(self.worker.received.wait(10))
        self.assertEqual(self.member_a.user_id,
                         self.worker.contexts[0]['user'])
        self.assertEqual(self.a, self.worker.contexts[0]['project_id'])
        listed = self.call('GET', self.a, token=self.member_a).json()
        self.assertEqual([backup['id']], [b['id'] for b in listed['backups']])

    def test_member_of_a_on_bs_url_is_403(self):
        self.assertFault(self.call('GET', self.b, token=self.member_a),
                         403, 'forbidden', self.b)
        response = self.call('POST', self.b, token=self.member_a,
                             json={'backup': {'name': 'b',
                                              'instance': self.instance_b}})
        self.assertFault(response, 403, 'forbidden', self.b)

    def test_another_projects_backup_is_404(self):
        backup = self.create(self.member_b, self.instance_b)
        path = '/' + backup['id']
        self.assertFault(self.call('GET', self.a, path, token=self.member_a),
                         404, 'itemNotFound')
        self.assertFault(self.call('DELETE', self.a, path,
                                   token=self.member_a),
                         404, 'itemNotFound')
        # Still there for its owner.
        self.assertEqual(200, self.call('GET', self.b, path,
                                        token=self.member_b).status_code)

    def test_another_projects_instance_is_404(self):
        response = self.call('POST', self.a, token=self.member_a,
                             json={'backup': {'name': 'b',
                                              'instance': self.instance_b}})
        self.assertFault(response, 404, 'itemNotFound')

    def test_admin_lists_all_projects(self):
        in_a = self.create(self.member_a, self.instance_a)
        in_b = self.create(self.member_b, self.instance_b)
        admin = ks.login(B + '-admin', B)
        response = self.call('GET', admin.project_id, '?all_projects=true',
                             token=admin)
        self.assertEqual(200, response.status_code, response.text)
        self.assertEqual(
            {in_a['id']: self.a, in_b['id']: self.b},
            {b['id']: b['project_id'] for b in response.json()['backups']})
        response = self.call('GET', admin.project_id,
                             '?project_id=%s' % self.a, token=admin)
        self.assertEqual(200, response.status_code, response.text)
        self.assertEqual([in_a['id']],
                         [b['id'] for b in response.json()['backups']])

    def test_admin_acts_on_another_projects_url(self):
        in_a = self.create(self.member_a, self.instance_a)
        admin = ks.login(B + '-admin', B)
        response = self.call('GET', self.a, '/' + in_a['id'], token=admin)
        self.assertEqual(200, response.status_code, response.text)

    def test_member_all_projects_is_403(self):
        for query in ('?all_projects=true', '?project_id=%s' % self.b):
            self.assertFault(self.call('GET', self.a, query,
                                       token=self.member_a),
                             403, 'forbidden', 'backup:index:all_projects')

    def test_identity_headers_from_caller_are_ignored(self):
        # auth_token removes identity headers a caller sends and sets its
        # own from the token: claiming admin or project B gains nothing.
        forged = {'X-Roles': 'admin', 'X-Role': 'admin',
                  'X-Project-Id': self.b, 'X-Tenant-Id': self.b,
                  'X-Identity-Status': 'Confirmed',
                  'X-Is-Admin-Project': 'True'}
        self.assertFault(self.call('GET', self.a, '?all_projects=true',
                                   token=self.member_a, headers=forged),
                         403, 'forbidden', 'backup:index:all_projects')
        self.assertFault(self.call('GET', self.b, token=self.member_a,
                                   headers=forged),
                         403, 'forbidden', self.b)
        # Without a token the forged headers do not authenticate either.
        self.assertFault(self.call('GET', self.b, headers=forged),
                         401, 'unauthorized')

    def test_reader_may_list_show_create_delete_in_own_project(self):
        reader = ks.login(A + '-reader', A)
        self.assertEqual(['reader'], reader.roles)
        by_member = self.create(self.member_a, self.instance_a)
        listed = self.call('GET', self.a, token=reader)
        self.assertEqual(200, listed.status_code, listed.text)
        self.assertEqual([by_member['id']],
                         [b['id'] for b in listed.json()['backups']])
        shown = self.call('GET', self.a, '/' + by_member['id'], token=reader)
        self.assertEqual(200, shown.status_code, shown.text)
        # Another instance: the first one is busy with by_member.
        self.create(reader, self.add_instance(self.a))
        deleted = self.call('DELETE', self.a, '/' + by_member['id'],
                            token=reader)
        self.assertEqual(202, deleted.status_code, deleted.text)

    def test_reader_is_refused_elsewhere(self):
        reader = ks.login(A + '-reader', A)
        self.assertFault(self.call('GET', self.b, token=reader),
                         403, 'forbidden', self.b)
        self.assertFault(self.call('GET', self.a, '?all_projects=true',
                                   token=reader),
                         403, 'forbidden', 'backup:index:all_projects')
