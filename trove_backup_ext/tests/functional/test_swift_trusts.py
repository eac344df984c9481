"""Swift backups in their owner's account under a Keystone trust, for real.

The fallback of owner_account_credentials = trust; the default,
application credentials, is test_storage_credentials.
"""

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import uuid

import fixtures
from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session
import requests
import swiftclient
from swiftclient import exceptions as swift_exceptions

from trove_backup_ext import context as backup_context
from trove_backup_ext import exception
from trove_backup_ext.db import backups as backups_db
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import lifecycle
from trove_backup_ext import states
from trove_backup_ext import trusts
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import keystone_fixture as ks
from trove_backup_ext.tests import secret_audit
from trove_backup_ext.tests import service_fixtures

SWIFT_SCRIPT = os.path.join(ks.REPO, 'tools', 'swift-aio.sh')
KEYSTONE_SCRIPT = ks.SCRIPT
BIN = os.path.dirname(sys.executable)
ENCRYPTION_KEY = '5a' * 32

_lock = threading.Lock()
_found = {}


def _exports(command):
    result = subprocess.run(command, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=600)
    if result.returncode:
        raise RuntimeError('%s failed: %s' % (' '.join(command),
                                              result.stderr[-2000:]))
    return dict(line[len('export '):].split('=', 1)
                for line in result.stdout.splitlines()
                if line.startswith('export '))


def keystone_swift_url():
    """The /v1 URL of the Swift proxy that authenticates with Keystone,
    started (idempotently) unless tools/run-tests.sh exported it."""
    with _lock:
        if 'swift' not in _found:
            url = os.environ.get('TBE_SWIFT_KEYSTONE_URL')
            if not url:
                url = _exports([SWIFT_SCRIPT, 'start-keystone-proxy'])[
                    'TBE_SWIFT_KEYSTONE_URL']
            _found['swift'] = url
        return _found['swift']


def admin_session():
    """Keystone's bootstrap admin, system-scoped: makes users, reads
    trusts."""
    with _lock:
        if 'admin' not in _found:
            password = os.environ.get('TBE_KEYSTONE_ADMIN_PASSWORD') or (
                _exports([KEYSTONE_SCRIPT, 'env'])[
                    'TBE_KEYSTONE_ADMIN_PASSWORD'])
            _found['admin'] = password
    return ks_session.Session(auth=v3.Password(
        auth_url=ks.keystone_env()['TBE_KEYSTONE_AUTH_URL'],
        username='admin', password=_found['admin'], user_domain_id='default',
        system_scope='all'))


def swift_connection(token):
    """swiftclient as the token's owner, at the catalog's object-store."""
    auth = v3.Token(auth_url=ks.keystone_env()['TBE_KEYSTONE_AUTH_URL'],
                    token=token.id, project_id=token.project_id)
    return swiftclient.Connection(session=ks_session.Session(auth=auth),
                                  retries=1, starting_backoff=0.1)


def digest(path):
    with sqlite3.connect(path) as connection:
        rows = connection.execute('SELECT * FROM items ORDER BY id').fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


class KeystoneUsers(fixtures.Fixture):
    """Users of this test alone, with one role on a project each; deleted
    after, and their trusts with them."""

    def __init__(self, admin):
        super().__init__()
        self.admin = admin
        self.url = ks.keystone_env()['TBE_KEYSTONE_AUTH_URL']
        self.names = {}

    def _get(self, path, key, **query):
        return self.admin.get(self.url + path, params=query).json()[key]

    def project_id(self, name):
        return self._get('/projects', 'projects', name=name,
                         domain_id='default')[0]['id']

    def add(self, role, project):
        """A new user with role on project; a token of it, by password."""
        name = 'tbe-trust-%s-%s' % (role, uuid.uuid4().hex[:8])
        user = self.admin.post(self.url + '/users', json={'user': {
            'name': name, 'domain_id': 'default',
            'password': ks.keystone_env()['TBE_KEYSTONE_PASSWORD']}}
        ).json()['user']
        self.addCleanup(self.admin.delete, self.url + '/users/' + user['id'])
        role_id = self._get('/roles', 'roles', name=role)[0]['id']
        self.admin.put(self.url + '/projects/%s/users/%s/roles/%s' % (
            self.project_id(project), user['id'], role_id))
        self.names[user['id']] = name
        return ks.login(name, project)

    def login_again(self, token):
        """A new token of token's user, e.g. once token is revoked."""
        return ks.login(self.names[token.user_id],
                        self._project_name(token.project_id))

    def _project_name(self, project_id):
        return self.admin.get(self.url + '/projects/' + project_id).json()[
            'project']['name']

    def trusts_of(self, token):
        return self._get('/OS-TRUST/trusts', 'trusts',
                         trustor_user_id=token.user_id)

    def trust(self, trust_id):
        """The trust and its roles, or None once it is gone."""
        response = self.admin.get(self.url + '/OS-TRUST/trusts/' + trust_id,
                                  raise_exc=False)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()['trust']


class SwiftTrustTest(base.TestCase):
    """A real Keystone (tools/keystone-aio.sh) validates the API's tokens
    and holds the trusts; a real Swift proxy with keystonemiddleware and
    Swift's keystoneauth (tools/swift-aio.sh start-keystone-proxy) keeps
    the data in accounts AUTH_<project id>. The API (auth_strategy
    keystone), the worker and the agent run in this process on the fake
    bus, with [swift] store_in_owner_account and the service user
    tbe-service. Each test makes its own Keystone users (deleted after,
    and their trusts with them), so "the user's trusts" are this test's.
    """

    def setUp(self):
        super().setUp()
        env = ks.keystone_env()
        self.swift_url = keystone_swift_url()
        self.users = self.useFixture(KeystoneUsers(admin_session()))
        self.project = self.users.project_id(ks.PROJECT_A)
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.live = ef.sample_sqlite_database(
            os.path.join(self.tmp, 'live.sqlite'), rows=20000)
        self.container = 'tbe-trust-%s' % uuid.uuid4().hex[:12]
        self.swift_options = {
            'auth_version': '3', 'auth_url': env['TBE_KEYSTONE_URL'],
            'user': env['TBE_KEYSTONE_SERVICE_USER'],
            'key': env['TBE_KEYSTONE_SERVICE_PASSWORD'],
            'project_name': env['TBE_KEYSTONE_SERVICE_PROJECT'],
            'store_in_owner_account': True,
            'owner_account_credentials': 'trust',
            'retries': 1, 'starting_backoff': 0.1, 'timeout': 30}
        overrides = {
            'api.auth_strategy': 'keystone',
            'storage_strategy': 'swift',
            'backup_swift_container': self.container,
            'sqlite.database_path': self.live,
            'agent.datastore': 'sqlite',
            # Several objects, so that deleting removes many.
            'agent.chunk_size': 64 * 1024,
            'agent.object_size': 64 * 1024,
            'backup_encryption.key': ENCRYPTION_KEY}
        overrides.update(('swift.' + name, value)
                         for name, value in self.swift_options.items())
        self.conf = self.useFixture(service_fixtures.Conf(**overrides)).conf
        # No token cache: a revoked token is refused at once.
        self.useFixture(ks.AuthToken(self.conf, token_cache_time=-1))
        self.useFixture(service_fixtures.Database('sqlite'))
        self.context = backup_context.get_admin_context()
        self.instance = instances_db.add(self.context, {
            'id': str(uuid.uuid4()), 'name': 'db',
            'project_id': self.project, 'datastore': 'sqlite',
            'datastore_version': '3', 'status': 'ACTIVE'})
        self.useFixture(ef.Worker(self.conf))
        self.api = self.useFixture(service_fixtures.APIServer(self.conf))
        self.http = requests.Session()
        self.addCleanup(self.http.close)
        self.addCleanup(self._remove_container)

    def _remove_container(self):
        connection = swift_connection(ks.login(ks.PROJECT_A + '-member',
                                               ks.PROJECT_A))
        try:
            for name in self.object_names(connection):
                connection.delete_object(self.container, name)
            connection.delete_container(self.container)
        except swift_exceptions.ClientException as exc:
            if exc.http_status != 404:
                raise
        finally:
            connection.close()

    def object_names(self, connection):
        try:
            _, listing = connection.get_container(self.container,
                                                  full_listing=True)
        except swift_exceptions.ClientException as exc:
            if exc.http_status == 404:
                return []
            raise
        return [entry['name'] for entry in listing]

    def call(self, method, token, path='', project=None, **kwargs):
        return self.http.request(
            method, '%s/v1.0/%s/backups%s' % (
                self.api.endpoint, project or token.project_id, path),
            headers={'X-Auth-Token': token.id}, timeout=60, **kwargs)

    def create(self, token, expect=202, **fields):
        response = self.call('POST', token, json={'backup': dict(
            {'name': 'b', 'instance': self.instance.id}, **fields)})
        self.assertEqual(expect, response.status_code, response.text)
        return response.json()

    def wait_status(self, token, backup_id, *wanted):
        def shown():
            response = self.call('GET', token, '/' + backup_id)
            self.assertEqual(200, response.status_code, response.text)
            backup = response.json()['backup']
            return backup if backup['status'] in wanted else None
        return ef.wait_for(shown, timeout=90)

    def restore_with_cli(self, backup_id, row):
        config = os.path.join(self.tmp, 'agent.conf')
        with open(config, 'w') as out:
            out.write('[DEFAULT]\nstorage_strategy = swift\n'
                      'backup_swift_container = %s\n'
                      '[agent]\ndatastore = sqlite\n'
                      '[backup_encryption]\nkey = %s\n[swift]\n'
                      % (self.container, ENCRYPTION_KEY))
            out.writelines('%s = %s\n' % item
                           for item in self.swift_options.items())
        target = os.path.join(self.tmp, 'restored')
        restored = subprocess.run(
            [os.path.join(BIN, 'trove-backup-agent'), '--config-file',
             config, 'restore', backup_id, '--target', target,
             '--checksum', row.checksum, '--trust-id-file', '-'],
            input=row.trust_id + '\n', capture_output=True, text=True,
            timeout=120)
        self.assertEqual(0, restored.returncode, restored.stderr)
        return json.loads(restored.stdout.strip().splitlines()[-1])[
            'restored']

    def test_backup_lands_in_owners_account_and_outlives_the_token(self):
        audit = self.useFixture(secret_audit.SecretAudit())
        token = self.users.add('member', ks.PROJECT_A)
        before = digest(self.live)
        # No agent yet: the upload starts only after the token is revoked.
        backup_id = self.create(token)['backup']['id']
        row = lifecycle.get(self.context, backup_id)
        trust = self.users.trust(row.trust_id)
        self.assertEqual(
            (token.user_id, self.project, True),
            (trust['trustor_user_id'], trust['project_id'],
             trust['impersonation']))
        # It ends: [swift] trust_lifetime_days.
        self.assertIsNotNone(trust['expires_at'])
        # One role Swift lets write, not all the caller's (member implies
        # reader here).
        self.assertEqual(['member'], [r['name'] for r in trust['roles']])
        ks.revoke(token)
        self.assertEqual(401, self.call('GET', token).status_code)

        self.useFixture(ef.Agent(self.conf, self.instance.id))
        token = self.users.login_again(token)
        backup = self.wait_status(token, backup_id, states.COMPLETED,
                                  states.FAILED)
        self.assertEqual(states.COMPLETED, backup['status'],
                         lifecycle.get(self.context, backup_id).fail_reason)
        account = '%s/AUTH_%s' % (self.swift_url, self.project)
        self.assertEqual('%s/%s/%s/manifest' % (account, self.container,
                                                backup_id),
                         backup['locationRef'])

        # tbe-a's own member sees the objects in tbe-a's account...
        owner = swift_connection(ks.login(ks.PROJECT_A + '-member',
                                          ks.PROJECT_A))
        self.addCleanup(owner.close)
        self.assertEqual(account, owner.get_auth()[0])
        stored = [n for n in self.object_names(owner) if backup_id in n]
        self.assertIn('%s/manifest' % backup_id, stored)
        # The manifest and at least two data objects.
        self.assertGreater(len(stored), 2)
        # ...and the service project's account has no such container.
        service = swift_connection(self.users.add(
            'member', ks.keystone_env()['TBE_KEYSTONE_SERVICE_PROJECT']))
        self.addCleanup(service.close)
        self.assertNotEqual(account, service.get_auth()[0])
        self.assertEqual([], self.object_names(service))

        row = lifecycle.get(self.context, backup_id)
        restored = self.restore_with_cli(backup_id, row)
        self.assertEqual(before, digest(restored))

        self.assertEqual(202, self.call('DELETE', token,
                                        '/' + backup_id).status_code)
        ef.wait_for(lambda: self.call('GET', token, '/' + backup_id)
                    .status_code == 404, timeout=90)
        self.assertEqual([], [n for n in self.object_names(owner)
                              if backup_id in n])
        self.assertIsNone(lifecycle.get(self.context, backup_id))
        # The trust went with the backup: the worker deletes it just after
        # the row (a retried deletion needs it until then), so it is
        # waited for, not raced.
        ef.wait_for(lambda: self.users.trust(row.trust_id) is None,
                    timeout=30)
        self.assertIsNone(self.users.trust(row.trust_id))
        # Neither the trust's id nor the service user's password is in a
        # log line, a message on the bus or an API answer; the agent got
        # tokens of the trust, never the trust.
        self.assertIn(backup_id, audit.logs.output)
        self.assertIn('storage_access', ''.join(audit.messages))
        for secret in (row.trust_id, self.swift_options['key']):
            self.assertEqual([], audit.holding(secret))

    def test_refused_creates_leave_no_trust(self):
        token = self.users.add('member', ks.PROJECT_A)
        fault = self.create(token, expect=404,
                            parent_id=str(uuid.uuid4()))
        self.assertEqual(['itemNotFound'], list(fault))
        self.conf.set_override('max_backups_per_tenant', 0)
        fault = self.create(token, expect=413)
        self.assertEqual(['overLimit'], list(fault))
        self.assertEqual([], self.users.trusts_of(token))
        self.assertEqual([], self.call('GET', token).json()['backups'])

    def test_reader_is_refused_at_create(self):
        token = self.users.add('reader', ks.PROJECT_A)
        fault = self.create(token, expect=403)['forbidden']
        # It names what is missing, before anything was stored or trusted.
        self.assertIn('member', fault['message'])
        self.assertEqual([], self.users.trusts_of(token))
        self.assertEqual([], self.call('GET', token).json()['backups'])

    def test_admin_delegates_member_only(self):
        # admin implies member in Keystone's bootstrap: the trust, held as
        # long as the backup lives, must not hand the service admin.
        token = self.users.add('admin', ks.PROJECT_A)
        self.assertIn('admin', token.roles)
        context = backup_context.RequestContext(
            auth_token=token.id, user_id=token.user_id,
            project_id=token.project_id, roles=token.roles)
        trust_id = trusts.TrustMaker(self.conf).create(context, self.project)
        self.assertEqual(['member'], [r['name'] for r in
                                      self.users.trust(trust_id)['roles']])
        trusts.release(self.conf, trust_id)
        self.assertIsNone(self.users.trust(trust_id))

    def test_admin_of_another_project_is_refused(self):
        token = self.users.add('admin', ks.PROJECT_B)
        response = self.call('POST', token, project=self.project,
                             json={'backup': {'name': 'b',
                                              'instance': self.instance.id}})
        self.assertEqual(403, response.status_code, response.text)
        self.assertIn(self.project, response.json()['forbidden']['message'])
        self.assertEqual([], self.users.trusts_of(token))
        self.assertEqual([], backups_db.list_page(self.context, 10))


class WriterRoleTest(base.TestCase):
    """Which role a trust delegates: no Keystone needed."""

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(service_fixtures.Conf(**{
            'swift.operator_roles': ['member', 'swiftoperator', 'admin']
        })).conf
        self.maker = trusts.TrustMaker(self.conf)

    def role(self, *roles):
        return self.maker._writer_role(backup_context.RequestContext(
            user_id='u', project_id='p', roles=list(roles)))

    def test_least_privileged_first_in_the_callers_spelling(self):
        self.assertEqual('Member', self.role('admin', 'Member', 'reader'))
        self.assertEqual('SwiftOperator', self.role('SwiftOperator',
                                                    'admin'))

    def test_admin_is_never_delegated(self):
        # Even listed in operator_roles: it opens every account.
        error = self.assertRaises(exception.Forbidden, self.role, 'admin')
        self.assertIn('roles member, swiftoperator;', str(error))

    def test_none_of_them_is_403_naming_them(self):
        error = self.assertRaises(exception.Forbidden, self.role,
                                  'reader')
        self.assertIn('member, swiftoperator;', str(error))
        self.assertIn('your roles are: reader', str(error))
