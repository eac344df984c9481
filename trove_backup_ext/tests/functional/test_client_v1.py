"""trove_backup_ext.client.v1 against the API over HTTP: the calls, the
paging, the faults, and a real Keystone session."""

import datetime

from keystoneauth1.identity import v3
from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session
from oslo_utils import uuidutils
import sqlalchemy as sa

from trove_backup_ext.client import v1 as client_v1
from trove_backup_ext import context as backup_context
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import models
from trove_backup_ext.tests import base
from trove_backup_ext.tests import keystone_fixture
from trove_backup_ext.tests import service_fixtures
from trove_backup_ext.tests.functional import test_troveclient

MISSING_ID = '3f0c4b57-86a1-4c0b-a1f3-1d1c2e6a9b10'


class ClientTestCase(base.FunctionalTestCase):

    conf_overrides = {'backups_page_size': 2}

    def setUp(self):
        super().setUp()
        self.log = test_troveclient.RequestLog(self.api.server.application)
        self.api.server.application = self.log
        self.source = self.add_instance(name='source')
        self.backup = self.create_backup(self.source.id, name='nightly')
        self.complete(self.backup['id'])

    def client(self, project=base.PROJECT, admin=False):
        """Our client on a keystoneauth session with the noauth plugin, as
        OSC makes it for OS_AUTH_TYPE=none OS_ENDPOINT=..."""
        session = ks_session.Session(
            auth=noauth.NoAuth(endpoint='%s/v1.0/%s' % (self.api.endpoint,
                                                        project)),
            additional_headers={'X-Roles': 'admin'} if admin else None)
        return client_v1.Client(session)

    def queries(self, path):
        full = '/v1.0/%s%s' % (base.PROJECT, path)
        return [query for method, p, query, _ in self.log.requests
                if method == 'GET' and p == full]


class TestRestores(ClientTestCase):

    def test_both_create_routes_and_get(self):
        client = self.client()
        targets = [self.add_instance(name='t%d' % n) for n in range(2)]

        created = client.create_restore(self.backup['id'], targets[0].id)
        aliased = client.restore_backup(self.backup['id'], targets[1].id)

        self.assertEqual(('NEW', self.backup['id'], targets[0].id),
                         (created['status'], created['backup_id'],
                          created['instance_id']))
        self.assertEqual(('NEW', self.backup['id'], targets[1].id),
                         (aliased['status'], aliased['backup_id'],
                          aliased['instance_id']))
        self.assertEqual(created, client.get_restore(created['id']))
        self.assertEqual(
            [('POST', '/v1.0/%s/restores' % base.PROJECT),
             ('POST', '/v1.0/%s/backups/%s/restore' % (base.PROJECT,
                                                       self.backup['id'])),
             ('GET', '/v1.0/%s/restores/%s' % (base.PROJECT,
                                               created['id']))],
            self.log.calls()[-3:])

    def test_list_follows_next_links_keeping_the_filters(self):
        client = self.client()
        ids = [client.create_restore(
            self.backup['id'], self.add_instance(name='t%d' % n).id)['id']
            for n in range(5)]
        self.log.requests.clear()

        everything = client.list_restores(backup_id=self.backup['id'])
        one_page = client.list_restores(limit=3)
        after = client.list_restores(marker=ids[2])

        self.assertEqual(ids[::-1], [r['id'] for r in everything])
        self.assertEqual(ids[:1:-1], [r['id'] for r in one_page])
        self.assertEqual(ids[1::-1], [r['id'] for r in after])
        queries = self.queries('/restores')
        # 2 + 2 + 1 with the page size of 2; every page keeps the filter.
        self.assertEqual([{'backup_id': [self.backup['id']]}], queries[:1])
        self.assertEqual([['backup_id', 'marker']] * 2,
                         [sorted(q) for q in queries[1:3]])
        self.assertEqual({'limit': ['3']}, queries[3])

    def test_list_by_instance_and_across_projects(self):
        target = self.add_instance(name='target')
        mine = self.client().create_restore(self.backup['id'], target.id)
        self.client().create_restore(self.backup['id'],
                                     self.add_instance(name='other').id)

        by_instance = self.client().list_restores(instance_id=target.id)
        admin = self.client(project=base.ADMIN_PROJECT, admin=True)
        everyone = admin.list_restores(all_projects=True)
        theirs = admin.list_restores(project_id=base.PROJECT)

        self.assertEqual([mine['id']], [r['id'] for r in by_instance])
        self.assertEqual(2, len(everyone))
        self.assertEqual(2, len(theirs))
        error = self.assertRaises(client_v1.ClientError,
                                  self.client().list_restores,
                                  all_projects=True)
        self.assertEqual((403, 'forbidden'),
                         (error.status, error.fault_name))


class TestBackupsAndFaults(ClientTestCase):

    def test_find_backup_by_id_or_name(self):
        client = self.client()
        # More than a page of backups before it: the name is looked up on
        # every page.
        for n in range(3):
            self.complete(self.create_backup(self.source.id,
                                             name='other%d' % n)['id'])

        self.assertEqual(self.backup['id'],
                         client.find_backup(self.backup['id'])['id'])
        self.assertEqual(self.backup['id'],
                         client.find_backup('nightly')['id'])
        self.complete(self.create_backup(self.source.id,
                                         name='nightly')['id'])
        self.assertRaises(client_v1.NoUniqueMatch, client.find_backup,
                          'nightly')
        error = self.assertRaises(client_v1.NotFound, client.find_backup,
                                  'weekly')
        self.assertEqual("No backup with a name or ID of 'weekly' exists. "
                         "(HTTP 404)", str(error))

    def test_verify_backup(self):
        client = self.client()

        verifying = client.verify_backup(self.backup['id'])
        unknown = self.assertRaises(client_v1.NotFound, client.verify_backup,
                                    MISSING_ID)

        self.assertEqual(self.backup['id'], verifying['id'])
        self.assertEqual('RUNNING', verifying['verification']['status'])
        self.assertEqual(verifying, client.get_backup(self.backup['id']))
        self.assertEqual(('POST', '/v1.0/%s/backups/%s/verify'
                          % (base.PROJECT, self.backup['id'])),
                         self.log.calls()[-3])
        self.assertEqual('itemNotFound', unknown.fault_name)

    def test_faults_become_errors_with_their_message(self):
        client = self.client()

        missing = self.assertRaises(client_v1.NotFound, client.get_restore,
                                    MISSING_ID)
        bad_target = self.assertRaises(
            client_v1.ClientError, client.restore_backup, self.backup['id'],
            'not-a-uuid')
        other_project = self.assertRaises(
            client_v1.NotFound, self.client(base.OTHER_PROJECT).get_backup,
            self.backup['id'])
        # An id with a "?" is one path segment, not a query.
        question = self.assertRaises(client_v1.NotFound, client.get_restore,
                                     'a?b')

        self.assertEqual('Restore %s cannot be found. (HTTP 404)'
                         % MISSING_ID, str(missing))
        self.assertEqual((404, 'itemNotFound'),
                         (missing.status, missing.fault_name))
        self.assertEqual((400, 'badRequest'),
                         (bad_target.status, bad_target.fault_name))
        self.assertIn("'not-a-uuid' is not a UUID", bad_target.message)
        self.assertEqual(404, other_project.status)
        self.assertEqual('Restore a?b cannot be found.', question.message)

    def test_an_answer_without_a_fault_body_says_what_came_back(self):
        def gateway(environ, start_response):
            # What a proxy in front of a stopped API answers.
            start_response('502 Bad Gateway', [('Content-Type',
                                                'text/html')])
            return [b'<html><body><h1>502 Bad Gateway</h1>\n</body></html>']
        self.api.server.application = gateway

        error = self.assertRaises(client_v1.ClientError,
                                  self.client().get_restore, MISSING_ID)

        self.assertEqual((502, None), (error.status, error.fault_name))
        self.assertEqual(
            'GET %s/v1.0/%s/restores/%s answered <html><body><h1>502 Bad '
            'Gateway</h1> </body></html> (HTTP 502)'
            % (self.api.endpoint, base.PROJECT, MISSING_ID), str(error))

    def test_a_backup_that_is_not_completed_cannot_be_restored(self):
        building = self.create_backup(self.add_instance(name='busy').id)
        error = self.assertRaises(client_v1.ClientError,
                                  self.client().restore_backup,
                                  building['id'], self.source.id)
        self.assertEqual((422, 'unprocessableEntity'),
                         (error.status, error.fault_name))
        self.assertIn('only a COMPLETED backup can be restored',
                      str(error))


class TestBackupSchedulesHealth(ClientTestCase):

    def test_overdue_schedules_for_administrators_only(self):
        schedules = []
        for _ in range(3):
            response = self.request('POST', '/backup_schedules', json={
                'backup_schedule': {'name': 'nightly',
                                    'instance_id': self.source.id,
                                    'full_cron': '0 2 * * *'}})
            self.assertEqual(201, response.status_code, response.text)
            schedules.append(response.json()['backup_schedule']['id'])
        # Created ten days ago, never successful: overdue.
        with self.database.engine.begin() as connection:
            connection.execute(sa.update(models.BackupSchedule).values(
                created=datetime.datetime.utcnow() -
                datetime.timedelta(days=10)))
        admin = self.client(project=base.ADMIN_PROJECT, admin=True)
        # At most the page size (2 here) by default; overdue_count counts
        # them all.
        health = admin.backup_schedules_health()
        self.assertEqual((3, 3, 2), (health['enabled_schedules'],
                                     health['overdue_count'],
                                     len(health['overdue'])))
        health = admin.backup_schedules_health(limit=3)
        self.assertEqual(set(schedules), {item['schedule_id']
                                          for item in health['overdue']})
        health = admin.backup_schedules_health(limit=1)
        self.assertEqual((3, 1), (health['overdue_count'],
                                  len(health['overdue'])))
        error = self.assertRaises(client_v1.ClientError,
                                  self.client().backup_schedules_health)
        self.assertEqual((403, 'forbidden'),
                         (error.status, error.fault_name))
        self.assertIn('backup_schedule:health', str(error))


class TestFindBackupSchedule(ClientTestCase):

    def test_a_schedule_named_like_a_route_is_found_by_its_name(self):
        response = self.request('POST', '/backup_schedules', json={
            'backup_schedule': {'name': 'health',
                                'instance_id': self.source.id,
                                'full_cron': '0 2 * * *'}})
        self.assertEqual(201, response.status_code, response.text)
        created = response.json()['backup_schedule']
        for client in (self.client(), self.client(admin=True)):
            self.assertEqual(created['id'],
                             client.find_backup_schedule('health')['id'])
            self.assertEqual(created['id'], client.find_backup_schedule(
                created['id'])['id'])
        self.assertRaises(client_v1.NotFound,
                          self.client().find_backup_schedule, 'weekly')


class TestKeystone(base.TestCase):
    """A real Keystone: a password session, its token checked by the API's
    auth_token against that Keystone."""

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(service_fixtures.Conf(**{
            'api.auth_strategy': 'keystone'})).conf
        self.useFixture(keystone_fixture.AuthToken(self.conf))
        self.useFixture(service_fixtures.Database('sqlite'))
        self.useFixture(service_fixtures.WorkerServer(self.conf))
        self.api = self.useFixture(service_fixtures.APIServer(self.conf))

    def test_password_session(self):
        env = keystone_fixture.keystone_env()
        project = keystone_fixture.PROJECT_A
        auth = v3.Password(
            auth_url=env['TBE_KEYSTONE_AUTH_URL'],
            username=project + '-member', password=env[
                'TBE_KEYSTONE_PASSWORD'],
            user_domain_id='default', project_name=project,
            project_domain_id='default')
        session = ks_session.Session(auth=auth)
        project_id = auth.get_project_id(session)
        # The catalog's database endpoint is tools/tempest-run.sh's port;
        # this test's API is elsewhere.
        client = client_v1.Client(session, endpoint_override='%s/v1.0/%s' % (
            self.api.endpoint, project_id))
        context = backup_context.get_admin_context()
        instance = instances_db.add(context, {
            'id': uuidutils.generate_uuid(), 'name': 'ks',
            'project_id': project_id, 'datastore': 'sqlite',
            'datastore_version': '3', 'status': 'ACTIVE'})

        self.assertEqual([], client.list_restores(instance_id=instance.id))
        missing = self.assertRaises(client_v1.NotFound, client.get_restore,
                                    MISSING_ID)
        # Another project's URL: the token is checked, and refused.
        other = client_v1.Client(session, endpoint_override='%s/v1.0/%s' % (
            self.api.endpoint, 'someone-else'))
        forbidden = self.assertRaises(client_v1.ClientError,
                                      other.list_restores)

        self.assertEqual('Restore %s cannot be found. (HTTP 404)'
                         % MISSING_ID, str(missing))
        self.assertEqual((403, 'forbidden'),
                         (forbidden.status, forbidden.fault_name))
