"""auth_strategy = keystone: keystonemiddleware auth_token decides.

keystonemiddleware's own AuthTokenFixture answers token validation inside
the real auth_token middleware; a real Keystone is exercised by the
deployment tests.
"""

from keystonemiddleware import fixture as ksm_fixture

from trove_backup_ext.tests import base

MEMBER_TOKEN = 'member-token'
ADMIN_TOKEN = 'admin-token'


class KeystoneAuthTest(base.FunctionalTestCase):

    conf_overrides = {
        'api.auth_strategy': 'keystone',
        # What a deployer sets; auth_token names it in WWW-Authenticate.
        'keystone_authtoken.www_authenticate_uri':
            'http://keystone.example/identity',
    }

    def setUp(self):
        super().setUp()
        tokens = self.useFixture(ksm_fixture.AuthTokenFixture())
        tokens.add_token_data(token_id=MEMBER_TOKEN, user_id='u1',
                              project_id=base.PROJECT, role_list=['member'])
        tokens.add_token_data(token_id=ADMIN_TOKEN, user_id='u2',
                              project_id=base.ADMIN_PROJECT,
                              role_list=['admin'])
        self.instance = self.add_instance()

    def call(self, method, path, token=None, url_project=base.PROJECT,
             **kwargs):
        headers = kwargs.pop('headers', {})
        if token:
            headers['X-Auth-Token'] = token
        return self.http.request(
            method, '%s/v1.0/%s%s' % (self.api.endpoint, url_project, path),
            headers=headers, **kwargs)

    def test_no_token_is_401_fault(self):
        response = self.call('GET', '/backups')
        self.assertFault(response, 401, 'unauthorized')
        self.assertIn('http://keystone.example/identity',
                      response.headers['WWW-Authenticate'])

    def test_bogus_token_is_401(self):
        self.assertFault(self.call('GET', '/backups', token='bogus'),
                         401, 'unauthorized')

    def test_member_in_own_project(self):
        response = self.call('POST', '/backups', token=MEMBER_TOKEN,
                             json={'backup': {'name': 'b',
                                              'instance': self.instance.id}})
        self.assertEqual(202, response.status_code, response.text)
        self.assertEqual('u1', self.worker_context_user())
        listed = self.call('GET', '/backups', token=MEMBER_TOKEN).json()
        self.assertEqual(1, len(listed['backups']))

    def worker_context_user(self):
        self.assertTrue(self.worker.received.wait(5))
        return self.worker.contexts[0]['user']

    def test_member_on_another_projects_url_is_403(self):
        response = self.call('GET', '/backups', token=MEMBER_TOKEN,
                             url_project=base.OTHER_PROJECT)
        self.assertFault(response, 403, 'forbidden', base.OTHER_PROJECT)

    def test_role_headers_from_caller_are_ignored(self):
        # auth_token strips identity headers a caller sends and sets its
        # own; claiming admin must not work.
        response = self.call('GET', '/backups?all_projects=true',
                             token=MEMBER_TOKEN,
                             headers={'X-Roles': 'admin',
                                      'X-Project-Id': base.ADMIN_PROJECT})
        self.assertFault(response, 403, 'forbidden',
                         'backup:index:all_projects')

    def test_admin_lists_all_projects(self):
        self.create_backup_as_member()
        response = self.call('GET', '/backups?all_projects=true',
                             token=ADMIN_TOKEN,
                             url_project=base.ADMIN_PROJECT)
        self.assertEqual(200, response.status_code, response.text)
        self.assertEqual([base.PROJECT],
                         [b['project_id'] for b in response.json()['backups']])

    def test_admin_acts_in_another_projects_url(self):
        created = self.create_backup_as_member()
        response = self.call('GET', '/backups/%s' % created['id'],
                             token=ADMIN_TOKEN)
        self.assertEqual(200, response.status_code, response.text)

    def create_backup_as_member(self):
        response = self.call('POST', '/backups', token=MEMBER_TOKEN,
                             json={'backup': {'name': 'b',
                                              'instance': self.instance.id}})
        self.assertEqual(202, response.status_code, response.text)
        return response.json()['backup']
