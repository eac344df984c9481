"""The shipped api-paste.ini, loaded by PasteDeploy and served over HTTP.

Each pipeline runs in a child process, loaded as a WSGI server loads it:
the plugin's configuration, database engine and policy are process-wide,
so every pipeline needs a fresh process. Inside the child,
keystonemiddleware's AuthTokenFixture answers token validation for the
real auth_token middleware.
"""

import configparser
import json
import os
import select
import shutil
import socketserver
import subprocess
import sys
import tempfile
import time
import uuid
from wsgiref import simple_server

import fixtures
from keystonemiddleware import fixture as ksm_fixture
from oslo_config import cfg
import requests

import trove_backup_ext
from trove_backup_ext import context as backup_context
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import migration
from trove_backup_ext.tests import base

SHIPPED_INI = os.path.join(os.path.dirname(os.path.dirname(
    trove_backup_ext.__file__)), 'etc', 'trove-backup-ext', 'api-paste.ini')
KEYSTONE = 'http://keystone.example/identity'
ORIGIN = 'https://dashboard.example'
TROVE_DATABASE = 'mysql+pymysql://trove:secret@trove-db.example/trove'
# One backup runs per instance at a time (the worker is absent here, so
# they all stay NEW): every backup a test makes takes a fresh instance.
INSTANCE_IDS = tuple(str(uuid.uuid5(uuid.NAMESPACE_OID, 'paste-%d' % i))
                     for i in range(20))
MEMBER, OTHER, ADMIN = 'member-token', 'other-token', 'admin-token'
TOKENS = ((MEMBER, 'u1', base.PROJECT, ['member']),
          (OTHER, 'u3', base.OTHER_PROJECT, ['member']),
          (ADMIN, 'u2', base.ADMIN_PROJECT, ['admin']))
START_TIMEOUT = 60
BACKUPS = '/v1.0/%s/backups' % base.PROJECT
INSTANCES = '/v1.0/%s/instances' % base.PROJECT
STRATEGIES = '/v1.0/%s/backup_strategies' % base.PROJECT


# In the child process.

class ThreadingWSGIServer(socketserver.ThreadingMixIn,
                          simple_server.WSGIServer):
    """The host's server (a Trove API's, not ours): threads, a backlog
    for the tests' bursts."""
    daemon_threads = True
    request_queue_size = 128


class QuietHandler(simple_server.WSGIRequestHandler):

    def log_message(self, fmt, *args):
        pass


def serve(spec):
    """Load spec['ini']#spec['name'] with PasteDeploy, seed the plugin's
    database, serve on a free port and print it."""
    from paste import deploy as paste_deploy
    tokens = ksm_fixture.AuthTokenFixture()
    tokens.setUp()
    for token_id, user_id, project_id, roles in TOKENS:
        tokens.add_token_data(token_id=token_id, user_id=user_id,
                              project_id=project_id, role_list=roles)
    application = paste_deploy.loadapp(
        'config:' + spec['ini'], name=spec['name'],
        global_conf=spec.get('global_conf'))
    migration.upgrade()
    for instance_id in INSTANCE_IDS:
        instances_db.add(backup_context.get_admin_context(), {
            'id': instance_id, 'name': 'db', 'project_id': base.PROJECT,
            'datastore': 'mysql', 'datastore_version': '10.11',
            'status': 'ACTIVE'})
    server = simple_server.make_server(
        '127.0.0.1', 0, application, server_class=ThreadingWSGIServer,
        handler_class=QuietHandler)
    print('LISTENING %d' % server.server_address[1], flush=True)
    server.serve_forever()


# As Trove's trove/common/cfg.py registers it: not oslo.db's option object.
_TROVE_OPTS = [cfg.StrOpt('connection', default='sqlite:///trove_test.sqlite',
                          help='SQL Connection.', secret=True)]


def trove_app_factory(global_conf, **local_conf):
    """Stands in for Trove's API app: it has parsed Trove's cfg.CONF, and
    answers with what it saw and how that configuration looks now."""
    if 'database' not in cfg.CONF:
        cfg.CONF.register_opts(_TROVE_OPTS, group='database')
        cfg.CONF([], project='trove', default_config_files=[])
        cfg.CONF.set_override('connection', TROVE_DATABASE, group='database')

    def trove(environ, start_response):
        body = json.dumps({'trove': {
            'path': environ['SCRIPT_NAME'] + environ['PATH_INFO'],
            'project': environ.get('HTTP_X_PROJECT_ID'),
            'conf_groups': sorted(cfg.CONF),
            'database': cfg.CONF.database.connection}}).encode()
        start_response('200 OK', [('Content-Type', 'application/json')])
        return [body]
    return trove


def passthrough_filter_factory(global_conf, **local_conf):
    """Stands in for Trove's filters that change nothing seen here."""
    return lambda application: application


def tenant_authorization_factory(global_conf, **local_conf):
    """Trove's "authorization" filter: the URL's project must be the
    token's, admin or not."""
    def middleware(application):
        def authorize(environ, start_response):
            tenant = environ['PATH_INFO'].split('/')[1]
            if tenant != environ.get('HTTP_X_TENANT_ID'):
                start_response('403 Forbidden',
                               [('Content-Type', 'application/json')])
                return [b'{"forbidden": {"code": 403, "message": "trove"}}']
            return application(environ, start_response)
        return authorize
    return middleware


# In the test process.

class PasteServer(fixtures.Fixture):
    """A child process serving one paste pipeline on 127.0.0.1: the
    shipped file's "main", or the sections of ini (name names the app)."""

    def __init__(self, ini=None, name='main', **conf_sections):
        super().__init__()
        self.ini = ini
        self.name = name
        self.conf_sections = conf_sections

    def _setUp(self):
        self.dir = tempfile.mkdtemp(prefix='tbe-paste-')
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.config_file = os.path.join(self.dir, 'trove-backup-ext.conf')
        sections = {
            'DEFAULT': {'transport_url': 'fake:///', 'use_stderr': 'true'},
            'database': {'connection': 'sqlite:///{dir}/backups.sqlite'},
            'api': {'auth_strategy': 'keystone'},
            'keystone_authtoken': {'www_authenticate_uri': KEYSTONE},
        }
        for group, options in self.conf_sections.items():
            sections.setdefault(group, {}).update(options)
        self._write(self.config_file, sections)
        spec = {'name': self.name, 'ini': SHIPPED_INI,
                'global_conf': {'config_file': self.config_file}}
        if self.ini is not None:
            spec = {'name': self.name,
                    'ini': self._write(os.path.join(self.dir, 'paste.ini'),
                                       self.ini)}
        log = open(os.path.join(self.dir, 'server.log'), 'w+')
        self.addCleanup(log.close)
        process = subprocess.Popen(
            [sys.executable, '-c', 'import json, sys; from %s import serve; '
             'serve(json.loads(sys.argv[1]))' % __name__, json.dumps(spec)],
            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
            text=True)
        self.addCleanup(self._stop, process)
        self.endpoint = 'http://127.0.0.1:%d' % self._port(process, log)
        self.instances_used = 0

    def _write(self, path, sections):
        """An ini file of sections whose values may name {dir},
        {config_file}, {shipped} (api-paste.ini) and {module} (this)."""
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_dict({section: {key: value.format(
            dir=self.dir, config_file=self.config_file, shipped=SHIPPED_INI,
            module=__name__) for key, value in options.items()}
            for section, options in sections.items()})
        with open(path, 'w') as f:
            parser.write(f)
        return path

    @staticmethod
    def _port(process, log):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 1)
            line = process.stdout.readline() if ready else ''
            if line.startswith('LISTENING '):
                return int(line.split()[1])
            if process.poll() is not None:
                break
        log.seek(0)
        raise RuntimeError('The paste server did not start:\n%s'
                           % log.read()[-5000:])

    @staticmethod
    def _stop(process):
        process.kill()
        process.wait()
        process.stdout.close()


class PasteTestCase(base.TestCase):
    """One server per class: loading a pipeline costs a process."""

    server_args = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = PasteServer(**cls.server_args)
        cls.server.setUp()
        cls.addClassCleanup(cls.server.cleanUp)

    def setUp(self):
        super().setUp()
        self.http = requests.Session()
        self.addCleanup(self.http.close)

    def call(self, method, path, token=None, **kwargs):
        headers = kwargs.pop('headers', {})
        if token:
            headers['X-Auth-Token'] = token
        return self.http.request(method, self.server.endpoint + path,
                                 headers=headers, timeout=30, **kwargs)

    def create_backup(self):
        instance_id = INSTANCE_IDS[self.server.instances_used]
        self.server.instances_used += 1
        response = self.call('POST', BACKUPS, token=MEMBER, json={
            'backup': {'name': 'b', 'instance': instance_id}})
        self.assertEqual(202, response.status_code, response.text)
        return response.json()['backup']

    def assertFault(self, response, code, name):
        self.assertEqual(code, response.status_code, response.text)
        self.assertEqual([name], list(response.json()))
        self.assertEqual(code, response.json()[name]['code'])


class StandaloneTest(PasteTestCase):

    server_args = {'cors': {'allowed_origin': ORIGIN},
                   'oslo_middleware': {'enable_proxy_headers_parsing':
                                       'true'},
                   'healthcheck': {'backends': 'disable_by_file',
                                   'disable_by_file_path':
                                       '{dir}/healthcheck_disable'}}

    def test_healthcheck_needs_no_token_and_reads_our_config(self):
        response = self.call('GET', '/healthcheck')
        self.assertEqual(200, response.status_code, response.text)
        self.assertEqual('OK', response.text)
        self.assertTrue(response.headers['X-OpenStack-Request-ID']
                        .startswith('req-'))
        # An operator drains the node with the file [healthcheck] names.
        flag = os.path.join(self.server.dir, 'healthcheck_disable')
        open(flag, 'w').close()
        self.addCleanup(os.remove, flag)
        response = self.call('GET', '/healthcheck')
        self.assertEqual(503, response.status_code, response.text)
        self.assertEqual('DISABLED BY FILE', response.text)

    def test_no_token_is_401_in_troves_fault_body(self):
        response = self.call('GET', BACKUPS)
        self.assertFault(response, 401, 'unauthorized')
        self.assertIn(KEYSTONE, response.headers['WWW-Authenticate'])
        self.assertIn('X-OpenStack-Request-ID', response.headers)

    def test_member_creates_and_lists_with_a_token(self):
        created = self.create_backup()
        response = self.call('GET', BACKUPS, token=MEMBER)
        self.assertEqual(200, response.status_code, response.text)
        self.assertIn(created['id'],
                      [b['id'] for b in response.json()['backups']])
        self.assertFault(self.call('GET', '/v1.0/%s/backups'
                                   % base.OTHER_PROJECT, token=MEMBER),
                         403, 'forbidden')

    def test_instance_backups_and_strategies_are_served(self):
        created = self.create_backup()
        response = self.call('GET', '%s/%s/backups' % (
            INSTANCES, created['instance_id']), token=MEMBER)
        self.assertEqual([created['id']],
                         [b['id'] for b in response.json()['backups']])
        response = self.call('GET', STRATEGIES, token=MEMBER)
        self.assertEqual({'backup_strategies': []}, response.json())
        # Alone, the instances are read from the instance source.
        response = self.call('GET', '%s/%s' % (
            INSTANCES, created['instance_id']), token=MEMBER)
        self.assertEqual(created['instance_id'],
                         response.json()['instance']['id'])
        self.assertFault(self.call('GET', STRATEGIES), 401, 'unauthorized')

    def test_cors_preflight_is_answered_without_a_token(self):
        response = self.call('OPTIONS', BACKUPS, headers={
            'Origin': ORIGIN, 'Access-Control-Request-Method': 'POST',
            'Access-Control-Request-Headers': 'X-Auth-Token,Content-Type'})
        self.assertEqual(200, response.status_code, response.text)
        self.assertEqual(ORIGIN,
                         response.headers['Access-Control-Allow-Origin'])
        self.assertIn('POST', response.headers['Access-Control-Allow-Methods'])

    def test_cors_headers_survive_the_fault_wrapper(self):
        response = self.call('GET', BACKUPS, headers={'Origin': ORIGIN})
        self.assertFault(response, 401, 'unauthorized')
        self.assertEqual(ORIGIN,
                         response.headers['Access-Control-Allow-Origin'])
        self.assertIn('X-OpenStack-Request-ID',
                      response.headers['Access-Control-Expose-Headers'])

    def test_cors_ignores_other_origins(self):
        response = self.call('OPTIONS', BACKUPS, headers={
            'Origin': 'https://evil.example',
            'Access-Control-Request-Method': 'GET'})
        self.assertNotIn('Access-Control-Allow-Origin', response.headers)

    def test_next_link_follows_the_proxy(self):
        self.create_backup()
        self.create_backup()
        response = self.call('GET', BACKUPS + '?limit=1', token=MEMBER,
                             headers={'X-Forwarded-Proto': 'https',
                                      'X-Forwarded-Host': 'db.example'})
        self.assertEqual(200, response.status_code, response.text)
        href = response.json()['links'][0]['href']
        self.assertTrue(href.startswith('https://db.example%s?' % BACKUPS),
                        href)


class StandaloneWithoutCorsTest(PasteTestCase):

    def test_preflight_not_answered(self):
        response = self.call('OPTIONS', BACKUPS, headers={
            'Origin': ORIGIN, 'Access-Control-Request-Method': 'GET'})
        self.assertFault(response, 401, 'unauthorized')
        self.assertNotIn('Access-Control-Allow-Origin', response.headers)


def trove_ini(drop=(), **authtoken_options):
    """Trove's paste sections: its pipeline as api-paste.ini shows it
    (less drop), real auth_token and backups_router (the shipped section),
    Trove's own filters and app stood in for."""
    shipped = configparser.ConfigParser(interpolation=None)
    shipped.read(SHIPPED_INI)
    pipeline = [name for name in
                shipped['pipeline:troveapi']['pipeline'].split()
                if name not in drop]
    sections = {
        'composite:trove': {'use': 'egg:Paste#urlmap', '/': 'troveapp',
                            '/v1.0': 'troveapi'},
        'pipeline:troveapi': {'pipeline': ' '.join(pipeline)},
        'filter:authtoken': dict(authtoken_options, **{
            'paste.filter_factory':
                'keystonemiddleware.auth_token:filter_factory',
            'www_authenticate_uri': KEYSTONE}),
        'filter:backups_router': {'use': 'config:{shipped}#backups_router',
                                  'config_file': '{config_file}'},
        'filter:authorization': {
            'paste.filter_factory': '{module}:tenant_authorization_factory'},
        'app:troveapp': {'paste.app_factory': '{module}:trove_app_factory'},
    }
    for name in pipeline[:-1]:
        sections.setdefault('filter:' + name, {
            'paste.filter_factory': '{module}:passthrough_filter_factory'})
    return sections


class InsideTroveTest(PasteTestCase):

    server_args = {'ini': trove_ini(), 'name': 'trove'}

    def assertTroves(self, response, path):
        self.assertEqual(200, response.status_code, response.text)
        self.assertEqual(path, response.json()['trove']['path'])
        return response.json()['trove']

    def test_backups_go_to_the_plugin_with_trove_auth(self):
        created = self.create_backup()
        self.create_backup()
        response = self.call('GET', BACKUPS + '?limit=1', token=MEMBER)
        self.assertEqual(200, response.status_code, response.text)
        # Trove's urlmap moved /v1.0 into SCRIPT_NAME; links still carry it.
        self.assertTrue(response.json()['links'][0]['href'].startswith(
            self.server.endpoint + BACKUPS + '?'))
        shown = self.call('GET', '%s/%s' % (BACKUPS, created['id']),
                          token=MEMBER)
        self.assertEqual(created['id'], shown.json()['backup']['id'])
        self.assertIn('X-OpenStack-Request-ID', shown.headers)

    def test_instance_backups_and_strategies_go_to_the_plugin(self):
        created = self.create_backup()
        instance_backups = '%s/%s/backups' % (INSTANCES,
                                              created['instance_id'])
        response = self.call('GET', instance_backups, token=MEMBER)
        self.assertEqual(200, response.status_code, response.text)
        self.assertEqual([created['id']],
                         [b['id'] for b in response.json()['backups']])
        strategy = {'backup_strategy': {'swift_container': 'team'}}
        response = self.call('POST', STRATEGIES, token=MEMBER, json=strategy)
        self.assertEqual(202, response.status_code, response.text)
        listed = self.call('GET', STRATEGIES, token=MEMBER)
        self.assertEqual(['team'], [s['swift_container'] for s in
                                    listed.json()['backup_strategies']])
        response = self.call('DELETE', STRATEGIES, token=MEMBER)
        self.assertEqual(202, response.status_code, response.text)
        # Our faults, in Trove's body, for our routes.
        self.assertFault(self.call('POST', instance_backups, token=MEMBER),
                         405, 'badMethod')
        self.assertFault(self.call('GET', STRATEGIES, token=OTHER,
                                   params={'project_id': base.PROJECT}),
                         403, 'forbidden')

    def test_restores_and_schedules_go_to_the_plugin(self):
        for resource, key in (('restores', 'restores'),
                              ('backup_schedules', 'backup_schedules')):
            path = '/v1.0/%s/%s' % (base.PROJECT, resource)
            response = self.call('GET', path, token=MEMBER)
            self.assertEqual(200, response.status_code, response.text)
            self.assertEqual([], response.json()[key])
            # Our faults, in Trove's body, for our routes.
            self.assertFault(self.call('GET', path + '/' + INSTANCE_IDS[0],
                                       token=MEMBER), 404, 'itemNotFound')

    def test_everything_else_goes_to_trove(self):
        instance = '/v1.0/%s/instances/' + INSTANCE_IDS[0]
        for method, path in (
                ('GET', '/v1.0/%s/instances'), ('POST', '/v1.0/%s/instances'),
                ('GET', instance), ('DELETE', instance),
                ('POST', instance + '/action'),
                ('GET', instance + '/configuration'),
                ('GET', instance + '/backups/x'),
                ('GET', '/v1.0/%s/instances/backups'),
                ('GET', '/v1.0/%s/backupsX'),
                ('GET', '/v1.0/%s/backup_strategiesX'),
                ('GET', '/v1.0/%s/restoresX'),
                ('GET', '/v1.0/%s/backup_schedulesX'),
                ('GET', '/v1.0/%s/backups.json')):
            path = path % base.PROJECT
            trove = self.assertTroves(self.call(method, path, token=MEMBER),
                                      path)
            self.assertEqual(base.PROJECT, trove['project'])

    def test_no_token_is_refused_by_troves_auth_token(self):
        response = self.call('GET', BACKUPS)
        self.assertEqual(401, response.status_code, response.text)

    def test_our_policy_decides_not_troves_authorization(self):
        # Trove's authorization filter refuses an admin in another
        # project's URL; the router sits before it, and our policy allows.
        self.create_backup()
        response = self.call('GET', BACKUPS, token=ADMIN)
        self.assertEqual(200, response.status_code, response.text)
        self.assertEqual(403, self.call('GET', INSTANCES,
                                        token=ADMIN).status_code)
        self.assertFault(self.call('GET', BACKUPS, token=OTHER),
                         403, 'forbidden')

    def test_identity_comes_from_auth_token_not_the_caller(self):
        response = self.call('GET', BACKUPS + '?all_projects=true',
                             token=MEMBER,
                             headers={'X-Roles': 'admin',
                                      'X-Project-Id': base.ADMIN_PROJECT})
        self.assertFault(response, 403, 'forbidden')

    def test_troves_configuration_is_untouched(self):
        self.create_backup()
        trove = self.assertTroves(self.call('GET', INSTANCES, token=MEMBER),
                                  INSTANCES)
        self.assertEqual(TROVE_DATABASE, trove['database'])
        ours = {'api', 'registry', 'worker', 'agent', 'local_storage',
                'swift', 'upgrade_levels', 'cors', 'healthcheck'}
        self.assertEqual(set(), ours & set(trove['conf_groups']))


class InsideTroveDelayedAuthTest(PasteTestCase):
    """auth_token with delay_auth_decision lets bad tokens through; the
    router refuses them for backups, Trove decides for the rest."""

    server_args = {'ini': trove_ini(delay_auth_decision='true'),
                   'name': 'trove'}

    def test_bad_token(self):
        response = self.call('GET', BACKUPS, token='bogus')
        self.assertFault(response, 401, 'unauthorized')
        self.assertIn(KEYSTONE, response.headers['WWW-Authenticate'])
        self.assertEqual(200, self.call('GET', BACKUPS,
                                        token=MEMBER).status_code)
        # Trove's own: here its authorization filter says no.
        self.assertEqual({'forbidden': {'code': 403, 'message': 'trove'}},
                         self.call('GET', INSTANCES, token='bogus').json())


class RouterWithoutAuthTokenTest(PasteTestCase):
    """Misplaced before (here: without) auth_token, the router serves
    nothing rather than trusting a caller's identity headers."""

    server_args = {'ini': trove_ini(drop=('authtoken',)),
                   'name': 'trove'}

    def test_forged_identity_is_not_served(self):
        headers = {'X-Identity-Status': 'Confirmed', 'X-Roles': 'admin',
                   'X-Project-Id': base.PROJECT, 'X-User-Id': 'u1'}
        response = self.call('GET', BACKUPS, headers=headers)
        self.assertFault(response, 500, 'instanceFault')
        self.assertNotIn('backups', response.text)
