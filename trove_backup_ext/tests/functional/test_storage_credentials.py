"""Owner-account backups under application credentials, for real.

A real Keystone (tools/keystone-aio.sh) holds the credentials; a real
Swift proxy with keystonemiddleware (service_type = object-store) and
keystoneauth (tools/swift-aio.sh start-keystone-proxy) enforces their
access rules. The API (keystone auth), the worker and the agent run in
this process on the fake bus; the agent's configuration has no [swift]
credentials at all.
"""

import datetime
import os
import sqlite3
import uuid

import logging

import fixtures
from oslo_utils import timeutils
import requests
from swiftclient import exceptions as swift_exceptions

from trove_backup_ext import agent_auth
from trove_backup_ext import app_credentials
from trove_backup_ext import context as backup_context
from trove_backup_ext.db import backups as backups_db
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import lifecycle
from trove_backup_ext.db import storage_credentials as credentials_db
from trove_backup_ext import exception
from trove_backup_ext import rpc
from trove_backup_ext.services import storage_audit
from trove_backup_ext import states
from trove_backup_ext import storage
from trove_backup_ext import storage_access
from trove_backup_ext import trusts
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests.functional import test_swift_trusts as real
from trove_backup_ext.tests import keystone_fixture as ks
from trove_backup_ext.tests import secret_audit
from trove_backup_ext.tests import service_fixtures
from trove_backup_ext.worker import rpcapi as worker_rpcapi

ENCRYPTION_KEY = '6b' * 32
SECRET_KEY = 'c0' * 32


class OwnerAccountFixture(base.TestCase):
    """The API (keystone), the worker, Keystone and Swift; an agent with
    no [swift] credentials (self.agent_conf) when a test starts one."""

    def setUp(self):
        super().setUp()
        env = ks.keystone_env()
        self.swift_url = real.keystone_swift_url()
        self.keystone = env['TBE_KEYSTONE_AUTH_URL']
        self.users = self.useFixture(real.KeystoneUsers(real.admin_session()))
        self.admin = real.admin_session()
        self.project = self.users.project_id(ks.PROJECT_A)
        self.account = '%s/AUTH_%s' % (self.swift_url, self.project)
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.live = ef.sample_sqlite_database(
            os.path.join(self.tmp, 'live.sqlite'), rows=20000)
        self.container = 'tbe-cred-%s' % uuid.uuid4().hex[:12]
        self.other = 'tbe-cred-other-%s' % uuid.uuid4().hex[:8]
        common = {
            'storage_strategy': 'swift',
            'backup_swift_container': self.container,
            'sqlite.database_path': self.live,
            'agent.datastore': 'sqlite',
            'agent.progress_interval': 1,
            'agent.chunk_size': 64 * 1024,
            'agent.object_size': 64 * 1024,
            'backup_encryption.key': ENCRYPTION_KEY,
            'swift.auth_version': '3', 'swift.retries': 1,
            'swift.starting_backoff': 0.1, 'swift.timeout': 30}
        self.conf = self.useFixture(service_fixtures.Conf(**dict(common, **{
            'api.auth_strategy': 'keystone',
            'swift.auth_url': env['TBE_KEYSTONE_URL'],
            'swift.user': env['TBE_KEYSTONE_SERVICE_USER'],
            'swift.key': env['TBE_KEYSTONE_SERVICE_PASSWORD'],
            'swift.project_name': env['TBE_KEYSTONE_SERVICE_PROJECT'],
            'swift.store_in_owner_account': True,
            'swift.credential_secret_key': SECRET_KEY}))).conf
        # The agent's: nothing of Keystone, no password, no key.
        self.agent_conf = self.useFixture(service_fixtures.Conf(
            **common)).conf
        self.agent_conf.set_override('control_exchange',
                                     self.conf.control_exchange)
        self.useFixture(ks.AuthToken(self.conf, token_cache_time=-1))
        self.useFixture(service_fixtures.Database('sqlite'))
        self.context = backup_context.get_admin_context()
        self.instance = instances_db.add(self.context, {
            'id': str(uuid.uuid4()), 'name': 'db',
            'project_id': self.project, 'datastore': 'sqlite',
            'datastore_version': '3', 'status': 'ACTIVE'})
        # The test's own master key of agent keys, which seals the agent's
        # key (made by its configuration) and opens it for the worker.
        master = os.path.join(self.tmp, 'agent-master.key')
        agent_auth.write_key_file(master, agent_auth.new_key())
        for conf in (self.conf, self.agent_conf):
            conf.set_override('agent_keys_master_key_file', master,
                              group='worker')
        self.worker = self.useFixture(ef.Worker(self.conf)).service
        self.api = self.useFixture(service_fixtures.APIServer(self.conf))
        self.http = requests.Session()
        self.addCleanup(self.http.close)
        self.owner = real.swift_connection(ks.login(ks.PROJECT_A + '-member',
                                                    ks.PROJECT_A))
        self.addCleanup(self.owner.close)
        for container in (self.container, self.other):
            self.addCleanup(self._remove_container, container)
        self.owner.put_container(self.other)
        self.owner.put_object(self.other, 'secret', b'not yours')

    def _remove_container(self, container):
        try:
            _, listing = self.owner.get_container(container,
                                                  full_listing=True)
            for entry in listing:
                self.owner.delete_object(container, entry['name'])
            self.owner.delete_container(container)
        except swift_exceptions.ClientException as exc:
            if exc.http_status != 404:
                raise

    def api_call(self, method, token, path, **kwargs):
        return self.http.request(
            method, '%s/v1.0/%s%s' % (self.api.endpoint, self.project, path),
            headers={'X-Auth-Token': token}, timeout=60, **kwargs)

    def swift(self, method, token, path, **headers):
        """A request to the owner's account with token; its status."""
        headers['X-Auth-Token'] = token
        return self.http.request(method, self.account + path,
                                 headers=headers, data=b'x' if method ==
                                 'PUT' else None, timeout=30).status_code

    def keystone_credential(self, row):
        """The credential as Keystone shows it to its admin, or None."""
        response = self.admin.get(
            '%s/users/%s/application_credentials/%s' % (
                self.keystone, row.user_id, row.credential_id),
            raise_exc=False)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()['application_credential']

    def wait_backup(self, token, backup_id, *wanted):
        def shown():
            backup = self.api_call('GET', token.id, '/backups/' + backup_id
                                   ).json()['backup']
            return backup if backup['status'] in wanted else None
        return ef.wait_for(shown, timeout=90)

    def create(self, token):
        response = self.api_call('POST', token.id, '/backups', json={
            'backup': {'name': 'b', 'instance': self.instance.id}})
        self.assertEqual(202, response.status_code, response.text)
        backup_id = response.json()['backup']['id']
        return backup_id, {row.phase: row for row in
                           credentials_db.of_backup(self.context, backup_id)}

    def assert_refused(self, status):
        self.assertIn(status, (401, 403))


class StorageCredentialTest(OwnerAccountFixture):

    def test_each_credential_reaches_its_phase_of_its_backup_only(self):
        token = self.users.add('member', ks.PROJECT_A)
        # No agent yet: the credentials are looked at before any upload.
        backup_id, rows = self.create(token)
        self.assertEqual({'write', 'read', 'delete'}, set(rows))
        own = '/%s/%s/' % (self.container, backup_id)
        for phase, row in rows.items():
            shown = self.keystone_credential(row)
            # member (and reader, which Keystone's bootstrap makes it
            # imply), delegated: nothing more.
            self.assertEqual((False, {'member', 'reader'}, token.project_id),
                             (shown['unrestricted'],
                              {r['name'] for r in shown['roles']},
                              shown['project_id']))
            self.assertEqual({'object-store'}, {
                rule['service'] for rule in shown['access_rules']})
            self.assertEqual(phase == 'write', bool(shown['expires_at']))
        write, read, delete = (app_credentials.issue_token(
            self.conf, rows[phase])['token'] for phase in
            ('write', 'read', 'delete'))

        for restricted in (write, read, delete):
            # Nothing of Keystone's but its own validation...
            for path in ('/projects', '/users/' + token.user_id,
                         '/auth/projects', '/OS-TRUST/trusts'):
                self.assert_refused(requests.get(
                    self.keystone + path, timeout=30,
                    headers={'X-Auth-Token': restricted}).status_code)
            self.assert_refused(requests.post(
                '%s/users/%s/application_credentials' % (
                    self.keystone, token.user_id), timeout=30,
                headers={'X-Auth-Token': restricted},
                json={'application_credential': {'name': 'x'}}).status_code)
            # ...nothing of this API...
            self.assertEqual(401, self.api_call('GET', restricted,
                                                '/backups').status_code)
            # ...nor of another container of the same project, even with
            # the token offered as a service token too.
            self.assert_refused(self.swift('GET', restricted,
                                           '/%s/secret' % self.other))
            self.assert_refused(self.swift('GET', restricted,
                                           '/' + self.other))
            self.assert_refused(self.swift(
                'GET', restricted, '/%s/secret' % self.other,
                **{'X-Service-Token': restricted}))
            self.assert_refused(self.swift('DELETE', restricted,
                                           '/%s/secret' % self.other))
            self.assert_refused(self.swift('GET', restricted, ''))

        # Each phase, its methods on the backup's own paths.
        # The container the API made with the caller's token: no
        # credential may set its metadata (ACLs, temp-URL keys).
        self.assertEqual(204, self.swift('HEAD', token.id,
                                         '/' + self.container))
        for restricted in (write, read):
            self.assert_refused(self.swift('PUT', restricted,
                                           '/' + self.container))
            self.assert_refused(self.swift('HEAD', restricted,
                                           '/' + self.container))
        self.assertEqual(201, self.swift('PUT', write, own + 'probe'))
        self.assert_refused(self.swift('DELETE', write, own + 'probe'))
        self.assert_refused(self.swift('PUT', write,
                                       '/%s/%s/probe' % (self.container,
                                                         uuid.uuid4())))
        self.assertEqual(200, self.swift('GET', read, own + 'probe'))
        self.assert_refused(self.swift('PUT', read, own + 'probe'))
        self.assert_refused(self.swift('GET', read, '/' + self.container))
        self.assertEqual(200, self.swift('GET', delete, '/' + self.container))
        self.assert_refused(self.swift('PUT', delete, own + 'probe'))
        self.assertEqual(204, self.swift('DELETE', delete, own + 'probe'))

    def test_backup_restore_delete_revokes_as_it_goes(self):
        # Every log line of the API, worker and agent, and of the bus, at
        # every level. (Library loggers that print request URLs, urllib3's
        # and keystoneauth's, stay at WARN under oslo.log's
        # default_log_levels; keystoneauth is told not to log these.)
        logs = [self.useFixture(fixtures.FakeLogger(
            name=name, level=logging.DEBUG))
            for name in ('trove_backup_ext', 'oslo_messaging')]
        # And every message on the bus and every API answer.
        audit = self.useFixture(secret_audit.SecretAudit())
        token = self.users.add('member', ks.PROJECT_A)
        before = real.digest(self.live)
        backup_id, rows = self.create(token)
        write = app_credentials.issue_token(self.conf, rows['write'])
        self.useFixture(ef.Agent(self.agent_conf, self.instance.id))
        backup = self.wait_backup(token, backup_id, states.COMPLETED,
                                  states.FAILED)
        self.assertEqual(states.COMPLETED, backup['status'],
                         lifecycle.get(self.context, backup_id).fail_reason)
        self.assertEqual('%s/%s/%s/manifest' % (
            self.account, self.container, backup_id), backup['locationRef'])
        # COMPLETED: nothing may write it any more. (The worker revokes
        # just after the COMPLETED it shows: waited for, not raced.)
        ef.wait_for(lambda: credentials_db.get(self.context, backup_id,
                                               'write') is None,
                    timeout=30)
        self.assertIsNone(self.keystone_credential(rows['write']))
        self.assert_refused(self.swift(
            'PUT', write['token'],
            '/%s/%s/late' % (self.container, backup_id)))

        with sqlite3.connect(self.live) as connection:
            connection.execute('DELETE FROM items WHERE id > 10')
        response = self.api_call('POST', token.id, '/restores', json={
            'restore': {'backup_id': backup_id,
                        'instance_id': self.instance.id}})
        self.assertEqual(202, response.status_code, response.text)
        restore_id = response.json()['restore']['id']

        def restored():
            shown = self.api_call('GET', token.id, '/restores/' + restore_id
                                  ).json()['restore']
            return shown if shown['status'] in (states.COMPLETED,
                                                states.FAILED) else None
        restore = ef.wait_for(restored, timeout=90)
        self.assertEqual(states.COMPLETED, restore['status'], restore)
        self.assertEqual(before, real.digest(self.live))

        read = app_credentials.issue_token(self.conf, rows['read'])
        self.assertEqual(202, self.api_call('DELETE', token.id,
                                            '/backups/' + backup_id
                                            ).status_code)
        ef.wait_for(lambda: self.api_call(
            'GET', token.id, '/backups/' + backup_id).status_code == 404,
            timeout=90)
        _, listing = self.owner.get_container(self.container)
        self.assertEqual([], [e['name'] for e in listing
                              if backup_id in e['name']])
        # Revoked just after the row goes: waited for, not raced.
        ef.wait_for(lambda: not credentials_db.of_backup(self.context,
                                                         backup_id),
                    timeout=30)
        for row in rows.values():
            self.assertIsNone(self.keystone_credential(row))
        self.assert_refused(self.swift(
            'GET', read['token'], '/%s/%s/manifest' % (self.container,
                                                       backup_id)))
        # A repeated (or late) delete message changes nothing and fails
        # nothing; revoking again is done already.
        self.worker.manager.delete_backup(self.context, backup_id)
        for row in rows.values():
            self.assertTrue(app_credentials.revoke(self.conf, self.context,
                                                   row))
        # No credential id, secret or token in any log line.
        output = ''.join(log.output for log in logs)
        self.assertIn(backup_id, output)
        for row in rows.values():
            for secret in (row.credential_id, app_credentials.secret(
                    self.conf.swift, row.id, row.key_id)):
                self.assertNotIn(secret, output)
        for issued in (write, read):
            self.assertNotIn(issued['token'], output)
        # On the bus and in answers: no credential id or secret, nor the
        # keys and password they come from. Tokens travel to the agent
        # only (storage_access, see threat-model.rst), never to a caller.
        self.assertIn('storage_access', ''.join(audit.messages))
        for row in rows.values():
            for secret in (row.credential_id, app_credentials.secret(
                    self.conf.swift, row.id, row.key_id)):
                self.assertEqual([], audit.holding(secret, logs=False))
        for secret in (SECRET_KEY, self.conf.swift.key, token.id):
            self.assertEqual([], audit.holding(secret, logs=False))
        for issued in (write, read):
            self.assertEqual([], audit.holding(issued['token'], logs=False,
                                               messages=False))

    def test_owner_losing_the_role_stops_the_deletion_retries(self):
        """Keystone refuses the backup's credentials once their owner has
        no role on the project: the storage audit says it cannot check
        the backup, and its deletion stops being retried after
        delete_refused_attempts refusals, with the reason shown."""
        self.conf.set_override('delete_refused_attempts', 2, 'worker')
        token = self.users.add('member', ks.PROJECT_A)
        backup_id, rows = self.create(token)
        self.useFixture(ef.Agent(self.agent_conf, self.instance.id))
        backup = self.wait_backup(token, backup_id, states.COMPLETED,
                                  states.FAILED)
        self.assertEqual(states.COMPLETED, backup['status'])
        audit = storage_audit.StorageAudit(self.conf, self.context,
                                           drivers=['swift'],
                                           containers=[self.container])
        self.assertEqual([], audit.run()['unchecked'])

        role_id = self.admin.get(self.keystone + '/roles', params={
            'name': 'member'}).json()['roles'][0]['id']
        self.admin.delete(self.keystone + '/projects/%s/users/%s/roles/%s'
                          % (self.project, token.user_id, role_id))
        audit = storage_audit.StorageAudit(self.conf, self.context,
                                           drivers=['swift'],
                                           containers=[self.container])
        report = audit.run()
        self.assertEqual([backup_id],
                         [u['backup_id'] for u in report['unchecked']])
        self.assertIn('Keystone refused the credential',
                      report['unchecked'][0]['reason'])

        admin_token = ks.login(ks.PROJECT_A + '-admin', ks.PROJECT_A)
        self.assertEqual(202, self.api_call('DELETE', admin_token.id,
                                            '/backups/' + backup_id
                                            ).status_code)
        self.wait_backup(admin_token, backup_id, states.DELETE_FAILED)
        row = lifecycle.get(self.context, backup_id)
        self.assertEqual((1, 1), (row.delete_failures, row.delete_refusals))
        # The reaper's next attempt, once the first wait is over: the
        # second refusal in a row stops the retries.
        self.addCleanup(timeutils.clear_time_override)
        timeutils.set_time_override(timeutils.utcnow() + datetime.timedelta(
            seconds=self.conf.worker.delete_retry_interval + 1))
        self.assertEqual((0, 1), self.worker.reaper.run_once())
        shown = self.api_call('GET', admin_token.id, '/backups/' + backup_id
                              ).json()['backup']
        self.assertEqual(states.DELETE_FAILED, shown['status'])
        self.assertTrue(shown['fault']['message'].startswith(
            'Stopped retrying'), shown['fault'])
        self.assertIn('Keystone refused the credential',
                      shown['fault']['message'])
        timeutils.set_time_override(timeutils.utcnow() + datetime.timedelta(
            days=30))
        self.assertEqual((0, 0), self.worker.reaper.run_once())

    def test_incremental_reads_its_parent_and_restores(self):
        token = self.users.add('member', ks.PROJECT_A)
        self.useFixture(ef.Agent(self.agent_conf, self.instance.id))
        full_id, _ = self.create(token)
        self.wait_backup(token, full_id, states.COMPLETED)
        with sqlite3.connect(self.live) as connection:
            connection.execute("INSERT INTO items VALUES (-1, 'new')")
        after = real.digest(self.live)
        response = self.api_call('POST', token.id, '/backups', json={
            'backup': {'name': 'i', 'instance': self.instance.id,
                       'incremental': 1}})
        self.assertEqual(202, response.status_code, response.text)
        child = response.json()['backup']
        self.assertEqual(full_id, child['parent_id'])
        rows = {row.phase: row for row in
                credentials_db.of_backup(self.context, child['id'])}
        parent = '/%s/%s/' % (self.container, full_id)
        # The child may read its parent's objects, never write them.
        read = app_credentials.issue_token(self.conf, rows['read'])['token']
        self.assertEqual(200, self.swift('GET', read, parent + 'manifest'))
        self.assert_refused(self.swift('PUT', read, parent + 'manifest'))
        shown = self.wait_backup(token, child['id'], states.COMPLETED,
                                 states.FAILED)
        self.assertEqual(states.COMPLETED, shown['status'], lifecycle.get(
            self.context, child['id']).fail_reason)
        with sqlite3.connect(self.live) as connection:
            connection.execute('DELETE FROM items')
        response = self.api_call('POST', token.id, '/restores', json={
            'restore': {'backup_id': child['id'],
                        'instance_id': self.instance.id}})
        self.assertEqual(202, response.status_code, response.text)
        restore_id = response.json()['restore']['id']
        restore = ef.wait_for(lambda: (lambda shown: shown if shown[
            'status'] in (states.COMPLETED, states.FAILED) else None)(
            self.api_call('GET', token.id, '/restores/' + restore_id
                          ).json()['restore']), timeout=90)
        self.assertEqual(states.COMPLETED, restore['status'], restore)
        self.assertEqual(after, real.digest(self.live))

    def test_failed_backup_keeps_only_the_delete_credential(self):
        token = self.users.add('member', ks.PROJECT_A)
        backup_id, rows = self.create(token)
        # No agent ever answers: the reaper fails it, once the worker has
        # claimed it (which moves its updated time).
        claimed = ef.wait_for(lambda: (lambda row: row if row.attempt_id
                                       else None)(
            lifecycle.get(self.context, backup_id)))
        self.worker.reaper.run_once(
            now=claimed.updated +
            datetime.timedelta(seconds=self.conf.worker.backup_timeout + 1))
        self.assertEqual(states.FAILED,
                         lifecycle.get(self.context, backup_id).status)
        self.assertEqual(['delete'], [row.phase for row in
                                      credentials_db.of_backup(self.context,
                                                               backup_id)])
        for phase in ('write', 'read'):
            self.assertIsNone(self.keystone_credential(rows[phase]))
        self.assertIsNotNone(self.keystone_credential(rows['delete']))

    def test_a_run_renews_its_token_from_the_worker_only_while_it_runs(self):
        token = self.users.add('member', ks.PROJECT_A)
        backup_id, rows = self.create(token)
        attempt_id = ef.wait_for(lambda: lifecycle.get(
            self.context, backup_id).attempt_id)
        key_file = ef.agent_key(self, self.conf, self.instance.id)
        agent = worker_rpcapi.WorkerAPI(
            self.agent_conf, rpc.get_transport(self.agent_conf),
            signer=agent_auth.FileSigner(key_file))

        def renew(instance_id=self.instance.id, operation_id=backup_id,
                  attempt=attempt_id):
            return agent.renew_storage_access(
                self.context, instance_id, 'backup', operation_id, attempt,
                timeout=30)
        # The running backup's agent gets a token of the write credential,
        # which the driver takes up when the one it has nears its expiry:
        # here a bogus one, already expired.
        grant = storage.Grant('bogus', renew()['storage_url'],
                              '2000-01-01T00:00:00Z', renew)
        store = storage.load(self.agent_conf, 'swift', trust_id=grant)
        store.ensure_container(self.container)
        store.put_object(self.container, backup_id + '/probe', b'x')
        self.assertEqual(201, self.swift(
            'PUT', store.grant.token, '/%s/%s/again' % (self.container,
                                                        backup_id)))
        # Nothing for another instance, another run or another backup.
        other = instances_db.add(self.context, {
            'id': str(uuid.uuid4()), 'name': 'other',
            'project_id': self.project, 'datastore': 'sqlite',
            'datastore_version': '3', 'status': 'ACTIVE'})
        ef.agent_key(self, self.conf, other.id)
        self.assertFalse(renew(instance_id=other.id))
        self.assertFalse(renew(attempt='another-run'))
        self.assertFalse(renew(operation_id=str(uuid.uuid4())))
        # Nor once the backup ended.
        self.worker.reaper.run_once(
            now=lifecycle.get(self.context, backup_id).updated +
            datetime.timedelta(seconds=self.conf.worker.backup_timeout + 1))
        self.assertFalse(renew())

    def test_reaper_revokes_what_nothing_needs_any_more(self):
        token = self.users.add('member', ks.PROJECT_A)
        backup_id, rows = self.create(token)
        # The row went without its credentials (a worker stopped between
        # the two, or Keystone was down then).
        backups_db.undo_create(self.context, backup_id)
        self.worker.reaper.run_once()
        self.assertEqual([], credentials_db.of_backup(self.context,
                                                      backup_id))
        for row in rows.values():
            self.assertIsNone(self.keystone_credential(row))

    def test_admin_delegates_member_only_and_reader_is_refused(self):
        token = self.users.add('admin', ks.PROJECT_A)
        _, rows = self.create(token)
        # admin implies member here; member is delegated, never admin.
        self.assertEqual({'member', 'reader'}, {r['name'] for r in (
            self.keystone_credential(rows['read'])['roles'])})
        reader = self.users.add('reader', ks.PROJECT_A)
        response = self.api_call('POST', reader.id, '/backups', json={
            'backup': {'name': 'b', 'instance': self.instance.id}})
        self.assertEqual(403, response.status_code, response.text)
        self.assertIn('member', response.json()['forbidden']['message'])

    def test_wildcard_container_is_refused(self):
        token = self.users.add('member', ks.PROJECT_A)
        # Keystone's wildcards, and what auth_token reads as a regular
        # expression ("+" gave credentials auth_token refused on their own
        # objects; an unbalanced "(" makes it fail).
        for container in ('all*', 'db+backups', 'backups(', 'a$b'):
            response = self.api_call('POST', token.id, '/backups', json={
                'backup': {'name': 'b', 'instance': self.instance.id,
                           'swift_container': container}})
            self.assertEqual(400, response.status_code, response.text)
            self.assertIn('badRequest', response.json())
        self.assertEqual([], self.api_call('GET', token.id, '/backups'
                                           ).json()['backups'])


class ConfigurationTest(base.TestCase):
    """What the API and the worker refuse to start without."""

    def test_worker_without_the_secret_key_does_not_start(self):
        conf = self.useFixture(service_fixtures.Conf(**{
            'swift.store_in_owner_account': True,
            'swift.user': 'svc', 'swift.key': 'pw'})).conf
        error = self.assertRaises(exception.ConfigurationError,
                                  storage_access.check_worker, conf)
        self.assertIn('credential_secret_key', str(error))
        conf.set_override('owner_account_credentials', 'trust',
                          group='swift')
        storage_access.check_worker(conf)

    def test_api_without_the_secret_key_does_not_start(self):
        conf = self.useFixture(service_fixtures.Conf(**{
            'api.auth_strategy': 'keystone',
            'swift.store_in_owner_account': True, 'swift.auth_version': '3',
            'swift.user': 'svc', 'swift.key': 'pw'})).conf
        error = self.assertRaises(exception.ConfigurationError,
                                  trusts.check_configuration, conf)
        self.assertIn('credential_secret_key', str(error))
        conf.set_override('credential_secret_key', SECRET_KEY,
                          group='swift')
        trusts.check_configuration(conf)
