"""Generated hostile requests on a real database, and one test for each
bug they found.

The bounded run here sends about 1,500 requests per database (a few
seconds to a minute each), and 600 more with keystonemiddleware's
auth_token deciding (KeystoneHostileInputTest_*); tools/fuzz-api.py sends
10,000 or more and prints the figures doc/source/admin/reliability.rst
reports.
"""

import json
import os
import random

from keystonemiddleware import fixture as ksm_fixture

from trove_backup_ext.api import app as backup_app
from trove_backup_ext.api import deploy
from trove_backup_ext.api import openapi
from trove_backup_ext.tests import api_fuzz
from trove_backup_ext.tests import base
from trove_backup_ext.tests import fuzz_keystone
from trove_backup_ext.tests import fuzz_requests

# TBE_FUZZ_EXAMPLES raises it for a long run on a quiet machine.
EXAMPLES = int(os.environ.get('TBE_FUZZ_EXAMPLES', 1500))
KEYSTONE_EXAMPLES = int(os.environ.get('TBE_FUZZ_KEYSTONE_EXAMPLES', 600))
SEED = int(os.environ.get('TBE_FUZZ_SEED', 12))
JSON = {'Content-Type': 'application/json'}


class _HostileInput:

    examples = EXAMPLES
    keystone = False

    def setUp(self):
        super().setUp()
        if self.keystone:
            fuzz_keystone.register_tokens(
                self.useFixture(ksm_fixture.AuthTokenFixture()))
        # The app in process, on the FunctionalTestCase's database and
        # bus.
        app = deploy.deploy(self.conf, backup_app.setup_app(self.conf))
        self.runner = api_fuzz.Runner(app, self.database.engine,
                                      keystone=self.keystone)
        self.addCleanup(self.runner.close)
        self.runner.seed()
        self.backup_id = self.runner.send(
            'GET', '/v1.0/%s/backups' % api_fuzz.PROJECT).json[
                'backups'][0]['id']

    def send(self, method, path, query='', body=None, headers=None):
        """A request under the fuzz project, checked as the fuzzer checks
        it; the answer."""
        response = self.runner.exchange(
            method, '/v1.0/%s%s' % (api_fuzz.PROJECT, path), query=query,
            body=body, headers=headers)
        self.assertEqual([], self.runner.findings)
        return response

    def assertFault400(self, response, fragment):
        self.assertEqual(400, response.status_code, response.body)
        self.assertIn(fragment, response.json['badRequest']['message'])

    def test_generated_requests(self):
        summary = api_fuzz.run(self.runner, self.examples, seed=SEED)
        self.assertEqual([], summary['findings'], json.dumps(summary))
        self.assertGreaterEqual(summary['requests'], self.examples)

    # Each once a bug the generated requests found.

    def test_array_body_with_a_control_character(self):
        # Once a 500: the message's path of body[0] added an int to a str.
        for path in ('/backups', '/backups/%s/verify' % self.backup_id,
                     '/restores', '/backup_schedules'):
            response = self.send('POST', path, body=b'["a\\u0000"]',
                                 headers=JSON)
            self.assertFault400(response, 'body[0]')

    def test_method_override_is_refused(self):
        # Once "POST /backups/{id}?_method=delete" deleted the backup: a
        # route no document lists, past any filter on DELETE.
        path = '/backups/%s' % self.backup_id
        response = self.send('POST', path, query='_method=delete')
        self.assertFault400(response, '_method')
        response = self.send(
            'POST', path, body=b'_method=delete',
            headers={'Content-Type': 'application/x-www-form-urlencoded'})
        self.assertFault400(response, '_method')
        self.assertEqual(200, self.send('GET', path).status_code)

    def test_methods_are_case_sensitive(self):
        # Once "delete" was served as DELETE.
        path = '/backups/%s' % self.backup_id
        self.assertFault400(self.send('delete', path), 'case-sensitive')
        self.assertEqual(200, self.send('GET', path).status_code)

    def test_only_http_methods(self):
        # Once "GET_ALL /backups" listed them and "GET_ONE" showed one:
        # pecan routed an unknown method to the controller method of its
        # name.
        for method, path in (('GET_ALL', '/backups'),
                             ('GET_ONE', '/backups/%s' % self.backup_id),
                             ('GET_ALL', '/restores'),
                             ('POST_PATCH', '/backup_schedules')):
            self.assertFault400(self.send(method, path),
                                'is not one this API knows')

    def test_allow_names_what_the_path_serves(self):
        # Once pecan's Allow of OPTIONS, PATCH or TRACE named every method
        # a controller defines ("DELETE, GET, POST, PUT" on /backups, where
        # DELETE and PUT are refused); and a POST below an id was a 405
        # naming the id's methods instead of a 404.
        backup = '/backups/%s' % self.backup_id
        schedule = '/backup_schedules/%s' % self.runner.ids['scheduleId'][0]
        restore = '/restores/%s' % self.runner.ids['restoreId'][0]
        for method, path, allow in (
                ('OPTIONS', '/backups', 'GET, POST'),
                ('PATCH', backup, 'GET, DELETE'),
                ('TRACE', backup + '/verify', 'POST'),
                ('DELETE', backup + '/restore', 'POST'),
                ('OPTIONS', '/restores', 'GET, POST'),
                ('PATCH', restore, 'GET'),
                ('OPTIONS', schedule, 'GET, PATCH, DELETE'),
                ('PATCH', schedule + '/retention_preview', 'GET'),
                ('POST', '/backup_schedules/health', 'GET')):
            response = self.send(method, path)
            self.assertEqual(405, response.status_code, (method, path))
            self.assertEqual(allow, response.headers['Allow'],
                             (method, path))
        for method, path in (('POST', backup + '/x'),
                             ('POST', restore + '/x'),
                             ('POST', schedule + '/x')):
            self.assertEqual(404, self.send(method, path).status_code,
                             (method, path))

    def test_version_documents_are_read_only(self):
        # Once PUT /, DELETE /v1.0 and CONNECT // answered 200.
        for method in ('PUT', 'DELETE', 'POST', 'CONNECT'):
            for path in ('/', '/v1.0', '/v1.0/'):
                response = self.runner.exchange(method, path)
                self.assertEqual(405, response.status_code)
                self.assertEqual('GET', response.headers['Allow'])
        self.assertEqual([], self.runner.findings)

    def test_accept_is_not_negotiated(self):
        # Once a 406 whose message named nothing: JSON is the one
        # representation, as in Trove.
        for accept in ('text/html', 'application/xml',
                       'application/json;q=0'):
            response = self.send('GET', '/backups',
                                 headers={'Accept': accept})
            self.assertEqual(200, response.status_code)

    def test_body_that_is_not_utf8(self):
        # Once a 400 naming nothing, and a traceback in the log.
        response = self.send('POST', '/backups', body=b'{"backup": "\xff"}',
                             headers=JSON)
        self.assertFault400(response, 'not valid UTF-8 (byte 0xff')

    def test_json_is_read_as_utf8_whatever_the_charset(self):
        # Once "charset=utf-16" made pecan decode the body as UTF-16: a
        # traceback in the log and a 400 naming nothing.
        instance = [i for i in self.runner.ids['instanceId']
                    if i.endswith('3')][0]
        body = json.dumps({'backup': {'name': 'caf\u00e9',
                                      'instance': instance}})
        response = self.send('POST', '/backups',
                             body=body.encode('utf-16'), headers={
                                 'Content-Type':
                                     'application/json; charset=utf-16'})
        self.assertFault400(response, 'not valid UTF-8')
        response = self.send('POST', '/backups', body=body.encode(),
                             headers={'Content-Type':
                                      'application/json; charset=latin-1'})
        self.assertEqual(202, response.status_code, response.body)
        self.assertEqual('caf\u00e9', response.json['backup']['name'])

    def test_head_with_a_body(self):
        # Once pecan read a HEAD's body as JSON: not UTF-8, a traceback.
        for path in ('/backups', '/backups/%s' % self.backup_id):
            response = self.send('HEAD', path, body=b'{"a": "\xff"}',
                                 headers=JSON)
            self.assertEqual(400, response.status_code)
        response = self.runner.exchange('HEAD', '/v1.0', body=b'{"\xa6"}',
                                        headers=JSON)
        self.assertEqual(400, response.status_code)
        self.assertEqual([], self.runner.findings)

    def test_url_that_is_not_utf8(self):
        # Once, in the query string, a 400 naming nothing and a traceback.
        response = self.send('GET', '/backups', query='datastore=%FF')
        self.assertFault400(response, 'query string is not valid UTF-8')
        response = self.send('DELETE', '/backups/%ED%A0%80')
        self.assertFault400(response, 'URL path is not valid UTF-8')

    def test_repeated_key(self):
        # Once the last of two values won, where a repeated query
        # parameter is refused: a proxy may read the first.
        body = ('{"backup": {"name": "a", "name": "b", "instance": "%s"}}'
                % self.runner.ids['instanceId'][0]).encode()
        response = self.send('POST', '/backups', body=body, headers=JSON)
        self.assertFault400(response, "key 'name' is given more than once")

    def test_nan_and_infinity_are_not_json(self):
        for token in (b'NaN', b'Infinity', b'-Infinity'):
            body = b'{"backup_schedule": {"retention": {"keep_last": %s}}}'
            response = self.send('POST', '/backup_schedules',
                                 body=body % token, headers=JSON)
            self.assertFault400(response, 'is not a JSON value')

    def test_nested_100000_levels(self):
        for body in (b'[' * 100000 + b']' * 100000,
                     b'{"a": ' * 100000 + b'1' + b'}' * 100000):
            response = self.send('POST', '/backups', body=body,
                                 headers=JSON)
            self.assertIn(response.status_code, (400, 413))


(TestHostileInput_sqlite, TestHostileInput_mysql,
 TestHostileInput_postgresql) = base.for_each_backend(
    _HostileInput, __name__)


class _KeystoneHostileInputTest(_HostileInput):
    """The same with keystonemiddleware's auth_token deciding: every
    request above carries the token of PROJECT's member; these add the
    callers that are someone else, or say they are."""

    examples = KEYSTONE_EXAMPLES
    keystone = True
    conf_overrides = {
        'api.auth_strategy': 'keystone',
        # What a deployer sets; auth_token names it in WWW-Authenticate.
        'keystone_authtoken.www_authenticate_uri':
            'http://keystone.example/identity'}

    def requests(self):
        """(method, path, template, body) of a valid request of every
        documented operation of a project, on PROJECT's own rows."""
        rnd = random.Random(SEED)
        ours = {key: [i for i in ids
                      if self.runner.owners[i] == api_fuzz.PROJECT]
                for key, ids in self.runner.ids.items()}
        for op in openapi.OPERATIONS:
            if '{project_id}' not in op.path:
                continue
            path = op.path.replace('{project_id}', api_fuzz.PROJECT)
            for key, ids in ours.items():
                path = path.replace('{%s}' % key, ids[0])
            body = None
            if op.method != 'GET':
                body = json.dumps(fuzz_requests.valid_body(
                    self.runner, op.path, rnd)).encode()
            yield op.method, path, op.path, body

    def exchange(self, method, path, template, body, headers, query=''):
        response = self.runner.exchange(
            method, path, template, query=query, body=body,
            headers=dict(JSON, **headers))
        self.assertEqual([], self.runner.findings)
        return response

    def test_who_is_not_a_member_is_refused_everywhere(self):
        other = fuzz_keystone.member_token(api_fuzz.OTHER_PROJECT)
        for method, path, template, body in self.requests():
            for headers, code in (
                    ({'X-Auth-Token': None}, 401),
                    (dict(fuzz_keystone.FORGED, **{'X-Auth-Token': None}),
                     401),
                    ({'X-Auth-Token': 'unknown'}, 401),
                    ({'X-Auth-Token': other}, 403),
                    (dict(fuzz_keystone.FORGED, **{'X-Auth-Token': other}),
                     403)):
                response = self.exchange(method, path, template, body,
                                         headers)
                self.assertEqual(code, response.status_code,
                                 (method, path, headers))
                if code == 401:
                    # auth_token's answer, in Trove's fault body (the
                    # runner checks it) and still naming Keystone.
                    self.assertEqual(
                        'Keystone uri="http://keystone.example/identity"',
                        response.headers['WWW-Authenticate'])

    def test_forged_identity_headers_change_no_answer(self):
        # auth_token strips them: the member's answers, byte for byte.
        forged = dict(fuzz_keystone.FORGED,
                      **{'X-Project-Id': api_fuzz.OTHER_PROJECT})
        for method, path, template, body in self.requests():
            if method != 'GET':
                continue
            plain = self.exchange(method, path, template, body, {})
            # 403: the health of the schedules is for administrators.
            self.assertIn(plain.status_code, (200, 403), path)
            response = self.exchange(method, path, template, body, forged)
            self.assertEqual((plain.status_code, plain.json),
                             (response.status_code, response.json), path)

    def test_all_projects_takes_the_admin_token(self):
        path = '/v1.0/%s/backups' % api_fuzz.PROJECT
        template = '/v1.0/{project_id}/backups'
        for headers in ({}, fuzz_keystone.FORGED):
            response = self.exchange('GET', path, template, None, headers,
                                     query='all_projects=1')
            self.assertEqual(403, response.status_code, response.body)
        response = self.exchange('GET', path, template, None,
                                 {'X-Auth-Token': 'fuzz-admin'},
                                 query='all_projects=1')
        self.assertEqual(200, response.status_code, response.body)
        self.assertEqual(
            {api_fuzz.PROJECT, api_fuzz.OTHER_PROJECT},
            {self.runner.owners[backup['id']]
             for backup in response.json['backups']})


(KeystoneHostileInputTest_sqlite, KeystoneHostileInputTest_mysql,
 KeystoneHostileInputTest_postgresql) = base.for_each_backend(
    _KeystoneHostileInputTest, __name__)
