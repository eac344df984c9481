"""Agents are authenticated per instance: a rogue agent holding another
instance's key, unsigned, tampered or replayed reports move nothing.

API, worker and the genuine agent of instance X run in this process, on
the in-memory bus and on a real RabbitMQ. A rogue agent holds instance
Y's key (as a compromised host of Y would) and knows every id: it sends
its reports over the same bus, as calls, and gets False each time.
"""

import base64
import json
import logging
import os
import stat
import subprocess
import sys
import time

import fixtures
import requests
import sqlalchemy as sa

from trove_backup_ext import agent_auth
from trove_backup_ext import context as backup_context
from trove_backup_ext.db import agent_keys as agent_keys_db
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import lifecycle
from trove_backup_ext.db import restores as restores_db
from trove_backup_ext import exception
from trove_backup_ext import rpc
from trove_backup_ext import states
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import rabbitmq_fixtures as rf
from trove_backup_ext.tests import service_fixtures

PROJECT = base.PROJECT
X = '6a1f0c52-3d7e-4b8a-9c21-0f5e4d3c2b1a'
Y = '7b2e1d63-4e8f-4c9b-8d32-1e6f5e4d3c2b'


class RecordingBus(fixtures.Fixture):
    """Records every message any transport of the test sends, as the
    driver gets it (the dict that goes on the wire)."""

    def _setUp(self):
        self.sent = []
        real = rpc.get_transport
        bus = self

        class Recording:
            def __init__(self, driver):
                self._driver = driver

            def send(self, target, ctxt, message, *args, **kwargs):
                bus.sent.append(json.dumps([ctxt, message], default=str))
                return self._driver.send(target, ctxt, message, *args,
                                         **kwargs)

            def __getattr__(self, name):
                return getattr(self._driver, name)

        def recording(conf):
            transport = real(conf)
            transport._driver = Recording(transport._driver)
            # Closed before the test's vhost goes.
            self.addCleanup(transport.cleanup)
            return transport
        self.useFixture(fixtures.MockPatchObject(rpc, 'get_transport',
                                                 recording))


class Rogue:
    """A process on the bus that speaks the worker's API 1.3 with
    whatever arguments and signature it likes."""

    def __init__(self, conf):
        self.client = rpc.get_client(rpc.get_transport(conf),
                                     rpc.WORKER_TOPIC, None, {}, '1.3')
        self.context = backup_context.get_admin_context()

    def send(self, method, payload, signature=None):
        kwargs = dict(payload)
        if signature is not None:
            kwargs['signature'] = signature
        return self.client.prepare(version='1.3', timeout=60).call(
            self.context, method, **kwargs)


class _AgentAuth:

    transport = 'fake'

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(300, gentle=True))
        self.logs = self.useFixture(fixtures.FakeLogger(
            level=logging.DEBUG, format='%(levelname)s %(name)s %(message)s'))
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.live = ef.sample_sqlite_database(
            os.path.join(self.tmp, 'live.sqlite'), rows=2000)
        overrides = {
            'local_storage.storage_dir': os.path.join(self.tmp, 'store'),
            'sqlite.database_path': self.live,
            'agent.datastore': 'sqlite',
            'agent.progress_interval': 1,
            'agent.scratch_dir': os.path.join(self.tmp, 'scratch'),
        }
        if self.transport == 'rabbit':
            overrides['transport_url'] = self.useFixture(
                rf.Vhost()).transport_url
        self.conf = self.useFixture(service_fixtures.Conf(
            **overrides)).conf
        self.bus = self.useFixture(RecordingBus())
        self.useFixture(service_fixtures.Database('sqlite'))
        self.context = backup_context.get_admin_context()
        for instance_id, name in ((X, 'x'), (Y, 'y')):
            instances_db.add(self.context, {
                'id': instance_id, 'name': name, 'project_id': PROJECT,
                'datastore': 'sqlite', 'datastore_version': '3',
                'status': 'ACTIVE'})
        self.worker = self.useFixture(ef.Worker(self.conf)).service
        # X's genuine agent is started by the tests, when they want the
        # operations they queued for it to run. Started once now, so that
        # its queue exists: RabbitMQ drops a cast no queue takes.
        self.x_key_file = ef.agent_key(self, self.conf, X)
        self.start_agent()
        self.stop_agent()
        # What a compromised host of Y holds: Y's own key file.
        self.y_key = agent_auth.read_key_file(
            ef.agent_key(self, self.conf, Y), 'test')
        self.rogue = Rogue(self.conf)
        self.api = self.useFixture(service_fixtures.APIServer(self.conf))
        self.url = '%s/v1.0/%s' % (self.api.endpoint, PROJECT)
        self.agent = None

    # Helpers.

    def start_agent(self):
        self.agent = ef.Agent(self.conf, X, key_file=self.x_key_file)
        self.agent.setUp()
        self.addCleanup(self.stop_agent)

    def stop_agent(self):
        if self.agent is not None:
            agent, self.agent = self.agent, None
            agent.cleanUp()

    def post(self, path, body=None):
        response = requests.post(self.url + path, json=body or {})
        self.assertEqual(202, response.status_code, response.text)
        return response.json()

    def show(self, kind, item_id):
        return requests.get('%s/%ss/%s' % (self.url, kind, item_id)
                            ).json()[kind]

    def wait(self, kind, item_id, done):
        return ef.wait_for(lambda: (lambda item: item if done(item) else
                                    None)(self.show(kind, item_id)),
                           timeout=120)

    def x_key(self):
        return agent_auth.KeyStore(self.conf).current_key(self.context, X)

    def backup_row(self, backup_id):
        row = lifecycle.get(self.context, backup_id)
        return (row.status, row.location, row.checksum, row.fail_reason,
                row.size, row.attempt_id, row.verification_status,
                row.verification_details, row.verification_attempt_id)

    def restore_row(self, restore_id):
        row = restores_db.find(self.context, restore_id)
        return (row.status, row.fail_reason, row.attempt_id, row.progress,
                row.started, row.finished)

    def attacks(self, method, genuine, forged):
        """Every way a rogue tries to get forged (the arguments of a
        report about one of X's operations, run attempt included)
        applied; genuine is a report X's agent did sign once."""
        x_key = self.x_key()
        as_y = dict(forged, instance_id=Y)
        stale = time.time() - 2 * self.conf.worker.agent_message_max_age
        return [
            ('claims X, signed with Y\'s key', forged,
             agent_auth.sign(self.y_key, method, forged)),
            ('says it is Y, validly signed, about X\'s operation', as_y,
             agent_auth.sign(self.y_key, method, as_y)),
            ('claims X, unsigned', forged, None),
            ('X\'s signature of another report, arguments changed', forged,
             agent_auth.sign(x_key, method, genuine)),
            ('X\'s own report, replayed later', forged,
             agent_auth.sign(x_key, method, forged, now=stale)),
            ('X\'s signature of the report as another method', forged,
             agent_auth.sign(x_key, 'update_verification' if method !=
                             'update_verification' else 'update_backup',
                             forged)),
            ('a signature of an unknown form', forged,
             dict(agent_auth.sign(x_key, method, forged), v=2)),
        ]

    def assertAllRefused(self, method, genuine, forged_reports, snapshot):
        before = snapshot()
        for forged in forged_reports:
            for name, payload, signature in self.attacks(method, genuine,
                                                         forged):
                self.assertIs(False, self.rogue.send(method, payload,
                                                     signature), name)
                self.assertEqual(before, snapshot(), name)

    # Tests.

    def test_rogue_agent_moves_nothing_of_x_and_x_still_works(self):
        # A backup of X, taken by the worker (attempt set) and waiting
        # for X's agent, which is not running yet.
        backup_id = self.post('/backups', {'backup': {
            'name': 'b', 'instance': X}})['backup']['id']
        attempt = ef.wait_for(lambda: lifecycle.get(
            self.context, backup_id).attempt_id)
        base_report = {'instance_id': X, 'backup_id': backup_id,
                       'attempt_id': attempt}
        self.assertAllRefused(
            'update_backup', dict(base_report, status=states.BUILDING),
            [dict(base_report, status=states.FAILED,
                  fail_reason='forged failure'),
             dict(base_report, status=states.COMPLETED,
                  location='file:///forged/manifest', checksum='f' * 64,
                  stored_size=1)],
            lambda: self.backup_row(backup_id))
        self.assertIn('Dropped update_backup from the claimed agent of '
                      'instance %s: signed with key' % X, self.logs.output)
        self.assertIn('Dropped update_backup from the claimed agent of '
                      'instance %s: it is unsigned' % X, self.logs.output)
        self.assertIn('WARNING trove_backup_ext.worker.manager Dropped '
                      'FAILED for backup %s from the agent of %s: the '
                      'backup is of another instance' % (backup_id, Y),
                      self.logs.output)

        # X's agent starts: the backup runs and completes, genuinely.
        self.start_agent()
        backup = self.wait('backup', backup_id, lambda b: b['status'] in (
            states.COMPLETED, states.FAILED))
        self.assertEqual(states.COMPLETED, backup['status'],
                         lifecycle.get(self.context, backup_id).fail_reason)
        self.assertNotIn('forged', backup['locationRef'])
        self.assertNotEqual('f' * 64,
                            lifecycle.get(self.context, backup_id).checksum)
        self.stop_agent()

        # A restore into X and a verification of its backup, both taken
        # by the worker and waiting for X's agent.
        restore_id = self.post('/restores', {'restore': {
            'backup_id': backup_id, 'instance_id': X}})['restore']['id']
        restore_attempt = ef.wait_for(lambda: restores_db.find(
            self.context, restore_id).attempt_id)
        self.post('/backups/%s/verify' % backup_id)
        verify_attempt = ef.wait_for(lambda: lifecycle.get(
            self.context, backup_id).verification_attempt_id)

        restore_report = {'instance_id': X, 'restore_id': restore_id,
                          'attempt_id': restore_attempt}
        self.assertAllRefused(
            'update_restore', dict(restore_report, status=states.RESTORING),
            [dict(restore_report, status=states.FAILED,
                  fail_reason='forged failure'),
             dict(restore_report, status=states.COMPLETED)],
            lambda: self.restore_row(restore_id))
        self.assertIn('Dropped COMPLETED for restore %s from the agent of '
                      '%s: the restore is into another instance'
                      % (restore_id, Y), self.logs.output)
        verify_report = {'instance_id': X, 'backup_id': backup_id,
                         'attempt_id': verify_attempt}
        self.assertAllRefused(
            'update_verification',
            dict(verify_report, status=states.VERIFY_RUNNING),
            [dict(verify_report, status=states.VERIFY_PASSED,
                  details=json.dumps({'checks': []})),
             dict(verify_report, status=states.VERIFY_FAILED,
                  details=json.dumps({'error': 'forged'}))],
            lambda: self.backup_row(backup_id))
        self.assertEqual(states.NEW,
                         restores_db.find(self.context, restore_id).status)

        # X's agent again: the restore and the verification finish.
        self.start_agent()
        restore = self.wait('restore', restore_id, lambda r: r['status'] in (
            states.COMPLETED, states.FAILED))
        self.assertEqual(states.COMPLETED, restore['status'], restore)
        verified = self.wait('backup', backup_id, lambda b: b[
            'verification']['status'] != states.VERIFY_RUNNING)
        self.assertEqual(states.VERIFY_PASSED,
                         verified['verification']['status'], verified)
        self.assertNoKeyLeaked()

    def test_rotation_mid_run(self):
        """The key is rotated while a backup runs, once with a grace
        window and once without: both runs complete, and afterwards a
        report signed with a retired key is refused."""
        self.start_agent()
        for grace in (3600, 0):
            rotated = []
            accept = self.worker.manager.agent_auth.accept

            def rotate(context):
                rotated.append(self.x_key())
                agent_auth.write_key_file(
                    self.x_key_file, agent_auth.KeyStore(self.conf).rotate(
                        context, X, grace_period=grace))

            def rotate_on_first_report(context, method, payload, signature,
                                       grace=grace, rotated=rotated,
                                       rotate=rotate):
                # The run's start report (a call: the agent waits for its
                # answer) is on the bus, signed with the old key. With a
                # grace window, rotate before it is judged: the old key
                # is still good. Without one, an old-key report in flight
                # is refused by design: rotate once it is judged, before
                # the agent hears the answer and signs its next report.
                first = method == 'update_backup' and not rotated
                if first and grace:
                    rotate(context)
                accepted = accept(context, method, payload, signature)
                if first and not grace:
                    rotate(context)
                return accepted
            self.worker.manager.agent_auth.accept = rotate_on_first_report
            backup_id = self.post('/backups', {'backup': {
                'name': 'b', 'instance': X}})['backup']['id']
            backup = self.wait('backup', backup_id, lambda b: b[
                'status'] in (states.COMPLETED, states.FAILED))
            self.worker.manager.agent_auth.accept = accept
            self.assertEqual(states.COMPLETED, backup['status'],
                             lifecycle.get(self.context,
                                           backup_id).fail_reason)
            self.assertEqual(1, len(rotated))
            self.assertNotEqual(rotated[0], self.x_key())
            row = agent_keys_db.get(self.context, X)
            self.assertEqual(
                agent_auth.key_id(rotated[0]) if grace else None,
                row.previous_key_id)
        # The key before the last rotation (grace 0) is refused at once.
        report = {'instance_id': X, 'backup_id': backup_id,
                  'status': states.FAILED, 'attempt_id': lifecycle.get(
                      self.context, backup_id).attempt_id}
        self.assertIs(False, self.rogue.send(
            'update_backup', report, agent_auth.sign(rotated[0],
                                                     'update_backup',
                                                     report)))
        self.assertEqual(states.COMPLETED,
                         lifecycle.get(self.context, backup_id).status)
        self.assertNoKeyLeaked()

    def test_removed_instance_reports_are_refused(self):
        backup_id = self.post('/backups', {'backup': {
            'name': 'b', 'instance': X}})['backup']['id']
        attempt = ef.wait_for(lambda: lifecycle.get(
            self.context, backup_id).attempt_id)
        key = self.x_key()
        store = agent_auth.KeyStore(self.conf)
        self.assertTrue(store.remove(self.context, X))
        report = {'instance_id': X, 'backup_id': backup_id,
                  'status': states.FAILED, 'attempt_id': attempt}
        self.assertIs(False, self.rogue.send(
            'update_backup', report, agent_auth.sign(key, 'update_backup',
                                                     report)))
        self.assertEqual(states.NEW,
                         lifecycle.get(self.context, backup_id).status)

    def test_transition_refuses_a_report_naming_no_instance(self):
        # Unsigned reports are accepted, during an upgrade, about
        # instances without a key. A report naming no instance is about
        # none: the handlers' compare-and-set would then check no
        # instance, and X's backup (X has a key) would move.
        self.conf.set_override('require_signed_agent_messages', False,
                               group='worker')
        backup_id = self.post('/backups', {'backup': {
            'name': 'b', 'instance': X}})['backup']['id']
        ef.wait_for(lambda: lifecycle.get(self.context,
                                          backup_id).attempt_id)
        before = self.backup_row(backup_id)
        for instance_id in (None, ['x'], 7):
            for report in (
                    {'status': states.COMPLETED, 'stored_size': 1,
                     'location': 'file:///forged/manifest',
                     'checksum': 'f' * 64},
                    {'status': states.FAILED, 'fail_reason': 'forged'}):
                report.update(instance_id=instance_id, backup_id=backup_id)
                self.assertIs(False, self.rogue.send('update_backup',
                                                     report))
                self.assertEqual(before, self.backup_row(backup_id))
        self.assertIn('names no instance', self.logs.output)

    def test_only_the_rpc_api_is_served(self):
        # The endpoints' public helpers are not RPC methods: backup_ended
        # would record a forged end on the backup's schedule and prune it.
        ended = []
        self.worker.manager.end_listeners.append(
            lambda *args: ended.append(args))
        backup_id = self.post('/backups', {'backup': {
            'name': 'b', 'instance': X}})['backup']['id']
        for method, args in (
                ('backup_ended', {'backup_id': backup_id,
                                  'status': states.COMPLETED}),
                ('fail', {'restore': {}, 'reason': 'forged'}),
                ('start', {'backup': {}})):
            self.assertRaises(Exception, self.rogue.send, method, args)
        self.assertEqual([], ended)

    def test_the_agent_serves_only_its_rpc_api(self):
        # A public method of the endpoint is not an RPC method unless
        # exposed: the agent's wait() is a helper for shutdown and tests.
        self.start_agent()
        client = rpc.get_client(rpc.get_transport(self.conf),
                                rpc.agent_topic(X), None, {}, '1.0')
        error = self.assertRaises(
            Exception, client.prepare(timeout=60).call,
            backup_context.get_admin_context(), 'wait')
        self.assertIn('does not support RPC method wait', str(error))

    def assertNoKeyLeaked(self):
        """No key, in any form, in a message as sent or a log line."""
        store = agent_auth.KeyStore(self.conf)
        keys = [self.y_key, self.x_key(), store._master()]
        keys += store.keys(self.context, X).values()
        messages = '\n'.join(self.bus.sent)
        logs = self.logs.output
        for key in keys:
            for form in (key.hex(), key.hex().upper(),
                         base64.b64encode(key).decode(), repr(key)):
                self.assertNotIn(form, messages)
                self.assertNotIn(form, logs)
        self.assertIn('"signature"', messages)


class AgentAuth_fake(_AgentAuth, base.TestCase):
    transport = 'fake'


class AgentAuth_rabbit(_AgentAuth, base.TestCase):
    transport = 'rabbit'


class KeyStoreTest(base.TestCase):
    """The workers' keys in the database, on the backends they run on."""

    backend = 'sqlite'

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(service_fixtures.Conf()).conf
        self.useFixture(service_fixtures.Database(self.backend))
        # A master key of its own: one test below replaces it.
        master = os.path.join(self.useFixture(fixtures.TempDir()).path,
                              'master.key')
        agent_auth.write_key_file(master, agent_auth.new_key())
        self.conf.set_override('agent_keys_master_key_file', master,
                               group='worker')
        self.context = backup_context.get_admin_context()
        self.store = agent_auth.KeyStore(self.conf)
        self.auth = agent_auth.Authenticator(self.conf)
        self.logs = self.useFixture(fixtures.FakeLogger(level=logging.INFO))

    def test_rotation_keeps_the_previous_key_for_its_grace_only(self):
        first = self.store.rotate(self.context, X)
        self.assertEqual({agent_auth.key_id(first): first},
                         self.store.keys(self.context, X))
        second = self.store.rotate(self.context, X, grace_period=60)
        self.assertEqual({agent_auth.key_id(first): first,
                          agent_auth.key_id(second): second},
                         self.store.keys(self.context, X))
        later = agent_keys_db.get(self.context, X).previous_expires
        self.assertEqual({agent_auth.key_id(second): second},
                         self.store.keys(self.context, X, now=later))
        third = self.store.rotate(self.context, X, grace_period=0)
        self.assertEqual({agent_auth.key_id(third): third},
                         self.store.keys(self.context, X))
        self.assertEqual(3, agent_keys_db.get(self.context, X).generation)
        self.assertEqual({}, self.store.keys(self.context, Y))

    def test_the_database_alone_gives_no_key_away(self):
        key = self.store.rotate(self.context, X)
        row = agent_keys_db.get(self.context, X)
        self.assertNotIn(key.hex(), repr(vars(row)))
        self.assertNotIn(base64.b64encode(key).decode(), row.sealed_key)
        # X's sealed key copied onto Y's row does not open as Y's.
        self.store.rotate(self.context, Y)
        self.assertTrue(agent_keys_db.store(self.context, Y, 1, {
            'key_id': row.key_id, 'sealed_key': row.sealed_key}))
        self.assertRaises(Exception, self.store.keys, self.context, Y)
        self.assertFalse(self.auth.accept(
            self.context, 'update_backup', {'instance_id': Y},
            agent_auth.sign(key, 'update_backup', {'instance_id': Y})))
        # Another master key opens nothing, and says so.
        agent_auth.write_key_file(self.conf.worker.agent_keys_master_key_file,
                                  agent_auth.new_key())
        error = self.assertRaises(exception.ConfigurationError,
                                  self.store.keys, self.context, X)
        self.assertIn('sealed with master key', str(error))

    def test_the_transition_accepts_unsigned_only_where_no_key_is(self):
        self.store.rotate(self.context, X)
        report = {'instance_id': Y, 'backup_id': 'b', 'status': 'FAILED'}
        self.assertFalse(self.auth.accept(self.context, 'update_backup',
                                          report, None))
        self.conf.set_override('require_signed_agent_messages', False,
                               group='worker')
        self.assertTrue(self.auth.accept(self.context, 'update_backup',
                                         report, None))
        self.assertIn('Accepted an unsigned update_backup from the claimed '
                      'agent of instance %s' % Y, self.logs.output)
        # An instance with a key needs signed reports, whatever the option.
        self.assertFalse(self.auth.accept(
            self.context, 'update_backup', dict(report, instance_id=X),
            None))

    def test_a_worker_without_a_master_key_refuses_to_start(self):
        self.conf.clear_override('agent_keys_master_key_file',
                                 group='worker')
        error = self.assertRaises(exception.ConfigurationError,
                                  agent_auth.check_worker, self.conf)
        self.assertIn('agent_keys_master_key_file', str(error))
        self.conf.set_override('require_signed_agent_messages', False,
                               group='worker')
        agent_auth.check_worker(self.conf)


class KeyStoreTest_postgresql(KeyStoreTest):
    backend = 'postgresql'


class KeyStoreTest_mysql(KeyStoreTest):
    backend = 'mysql'


class ManageKeysTest(base.TestCase):
    """trove-backup-manage instance add / rotate-key / remove, as an
    operator runs them: the key goes to the file only."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.master = os.path.join(self.dir, 'master.key')
        agent_auth.write_key_file(self.master, agent_auth.new_key())
        self.config_file = os.path.join(self.dir, 'manage.conf')
        with open(self.config_file, 'w') as conf:
            conf.write('[database]\nconnection = sqlite:///%s\n'
                       '[worker]\nagent_keys_master_key_file = %s\n'
                       'agent_key_dir = %s\n' % (
                           os.path.join(self.dir, 'db.sqlite'), self.master,
                           os.path.join(self.dir, 'keys')))
        self.outputs = []
        self.manage('db', 'sync')

    def manage(self, *args, expect=0):
        result = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable),
                          'trove-backup-manage'),
             '--config-file', self.config_file] + list(args),
            capture_output=True, text=True, timeout=120, cwd=self.dir)
        self.assertEqual(expect, result.returncode, result.stderr)
        self.outputs.append(result.stdout + result.stderr)
        return result

    def key_ids(self):
        """{instance id: (key id, previous key id)} of the database."""
        engine = sa.create_engine('sqlite:///%s' % os.path.join(
            self.dir, 'db.sqlite'))
        self.addCleanup(engine.dispose)
        with engine.connect() as connection:
            return {row.instance_id: (row.key_id, row.previous_key_id)
                    for row in connection.execute(sa.text(
                        'SELECT * FROM agent_keys'))}

    def test_add_rotate_remove(self):
        self.manage('instance', 'add', '--id', X, '--name', 'x',
                    '--project-id', PROJECT, '--datastore', 'sqlite',
                    '--datastore-version', '3')
        default_path = os.path.join(self.dir, 'keys', X + '.key')
        self.assertEqual(0o600, stat.S_IMODE(os.stat(default_path).st_mode))
        first = agent_auth.read_key_file(default_path, 'test')

        other = os.path.join(self.dir, 'elsewhere', 'agent.key')
        out = self.manage('instance', 'rotate-key', X, '--key-file', other,
                          '--grace-period', '0').stdout
        second = agent_auth.read_key_file(other, 'test')
        self.assertNotEqual(first, second)
        self.assertIn(agent_auth.key_id(second), out)

        # Grace 0: the first key is not kept.
        self.assertEqual({X: (agent_auth.key_id(second), None)},
                         self.key_ids())
        self.manage('instance', 'rotate-key', X, '--key-file', other)
        third = agent_auth.read_key_file(other, 'test')
        self.assertEqual({X: (agent_auth.key_id(third),
                              agent_auth.key_id(second))}, self.key_ids())
        self.manage('instance', 'remove', X)
        self.assertEqual({}, self.key_ids())
        # No --key-file and no [worker] agent_key_dir: refused, nothing
        # made.
        with open(self.config_file, 'a') as conf:
            conf.write('agent_key_dir =\n')
        self.assertIn('--key-file', self.manage(
            'instance', 'rotate-key', Y, expect=1).stderr)
        self.assertEqual({}, self.key_ids())
        for output in self.outputs:
            for key in (first, second, third):
                self.assertNotIn(key.hex(), output)
