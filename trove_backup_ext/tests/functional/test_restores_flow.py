"""Restores really done: API -> worker -> the target's agent -> its data.

Two SQLite instances, each with its agent: a backup of the first is
restored into itself and into the second; a damaged backup, a refused
result and repeated messages leave the target exactly as it was.
"""

import functools
import hashlib
import os
import sqlite3

import fixtures
import oslo_messaging as messaging
from oslo_messaging.notify import _impl_test as test_notifier
from oslo_utils import timeutils
import requests

from trove_backup_ext.agent import in_place
from trove_backup_ext import context as backup_context
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import lifecycle
from trove_backup_ext.db import restores as restores_db
from trove_backup_ext import states
from trove_backup_ext.tests import base
from trove_backup_ext.tests import chaos_bus
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import service_fixtures

PROJECT = base.PROJECT
SOURCE = '7f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f'
TARGET = '8a2b3c4d-5e6f-4a7b-9c8d-1e2f3a4b5c6d'


def digest(path):
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute('SELECT * FROM items ORDER BY id').fetchall()
    finally:
        connection.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def change(path, name):
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.execute('UPDATE items SET name = ? WHERE id < 500',
                               (name,))
    finally:
        connection.close()
    return digest(path)


class _RestoreFlow:

    backend = 'sqlite'
    chaos = False

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.store = os.path.join(self.tmp, 'store')
        self.databases = {
            SOURCE: ef.sample_sqlite_database(
                os.path.join(self.tmp, 'source.sqlite'), rows=20000),
            TARGET: ef.sample_sqlite_database(
                os.path.join(self.tmp, 'target.sqlite'), rows=3000)}
        overrides = {
            'local_storage.storage_dir': self.store,
            'agent.datastore': 'sqlite',
            'agent.progress_interval': 1,
            'agent.chunk_size': 64 * 1024,
            'backup_encryption.key': '33' * 32,
            'oslo_messaging_notifications.driver': ['test'],
        }
        self.conf = self.useFixture(service_fixtures.Conf(**dict(
            overrides, **{'sqlite.database_path': self.databases[SOURCE]}
        ))).conf
        # The target's agent: its own database file, the same bus.
        target_conf = self.useFixture(service_fixtures.Conf(**dict(
            overrides, **{'sqlite.database_path': self.databases[TARGET]}
        ))).conf
        target_conf.set_override('control_exchange',
                                 self.conf.control_exchange)
        test_notifier.reset()
        self.useFixture(service_fixtures.Database(self.backend))
        if self.chaos:
            self.bus = self.useFixture(chaos_bus.ChaosBus(seed=11))
        self.context = backup_context.get_admin_context()
        for instance_id, name in ((SOURCE, 'source'), (TARGET, 'target')):
            instances_db.add(self.context, {
                'id': instance_id, 'name': name, 'project_id': PROJECT,
                'datastore': 'sqlite', 'datastore_version': '3',
                'status': 'ACTIVE'})
        self.worker = self.useFixture(ef.Worker(self.conf)).service
        self.agents = {
            SOURCE: self.useFixture(ef.Agent(self.conf, SOURCE)).service,
            TARGET: self.useFixture(ef.Agent(target_conf, TARGET)).service}
        self.api = self.useFixture(service_fixtures.APIServer(self.conf))
        self.url = '%s/v1.0/%s' % (self.api.endpoint, PROJECT)

    def post(self, path, body):
        response = requests.post(self.url + path, json=body)
        self.assertEqual(202, response.status_code, response.text)
        return response.json()

    def wait(self, kind, item_id, *wanted):
        def shown():
            item = requests.get('%s/%ss/%s' % (self.url, kind, item_id)
                                ).json()[kind]
            return item if item['status'] in wanted else None
        return ef.wait_for(shown, timeout=90)

    def backup(self, **fields):
        backup_id = self.post('/backups', {'backup': dict(
            {'name': 'b', 'instance': SOURCE}, **fields)})['backup']['id']
        backup = self.wait('backup', backup_id, states.COMPLETED,
                           states.FAILED)
        self.assertEqual(states.COMPLETED, backup['status'])
        return backup

    def restore(self, backup_id, instance_id, alias=False):
        if alias:
            return self.post('/backups/%s/restore' % backup_id, {
                'restore': {'instance_id': instance_id}})['restore']
        return self.post('/restores', {'restore': {
            'backup_id': backup_id, 'instance_id': instance_id}})['restore']

    def finished(self, restore_id):
        return self.wait('restore', restore_id, states.COMPLETED,
                         states.FAILED)

    def events(self, restore_id):
        """The restore's notifications once it has its start and end (the
        end is sent just after the row changes: waited for, not raced)."""
        def sent():
            found = [message['event_type']
                     for _, message, _, _ in test_notifier.NOTIFICATIONS
                     if message['payload'].get('restore_id') == restore_id]
            return found if len(found) >= 2 else None
        return ef.wait_for(sent, timeout=10)

    def leftovers(self, instance_id):
        directory = os.path.dirname(self.databases[instance_id])
        return [n for n in os.listdir(directory) if '.restore-' in n]

    def test_restore_into_the_source_itself(self):
        before = digest(self.databases[SOURCE])
        full = self.backup()
        change(self.databases[SOURCE], 'changed')
        restore = self.finished(self.restore(full['id'], SOURCE)['id'])
        self.assertEqual(states.COMPLETED, restore['status'], restore)
        self.assertEqual(before, digest(self.databases[SOURCE]))
        self.assertEqual((SOURCE, None, None),
                         (restore['source_instance_id'],
                          restore['progress'], restore['fault']))
        self.assertIsNotNone(restore['started'])
        self.assertIsNotNone(restore['finished'])
        self.assertEqual(['dbaas.backup_restore.start',
                          'dbaas.backup_restore.end'],
                         self.events(restore['id']))
        self.assertEqual([], self.leftovers(SOURCE))

    def test_restore_of_an_incremental_into_another_instance(self):
        self.backup()
        wanted = change(self.databases[SOURCE], 'second state')
        inc = self.backup(incremental=1)
        self.assertIsNotNone(inc['parent_id'])
        source_now = change(self.databases[SOURCE], 'third state')
        restore = self.finished(self.restore(inc['id'], TARGET,
                                             alias=True)['id'])
        self.assertEqual(states.COMPLETED, restore['status'], restore)
        self.assertEqual(wanted, digest(self.databases[TARGET]))
        self.assertEqual(source_now, digest(self.databases[SOURCE]))
        # The target is free again: a backup of it can start.
        self.post('/backups', {'backup': {'name': 't', 'instance': TARGET}})

    def test_backup_after_a_restore_does_not_build_on_older_data(self):
        # An incremental on a backup taken before the instance's data was
        # replaced would store a difference from data it no longer has
        # (MariaDB's chain could not even be prepared).
        full = self.backup()
        restore = self.finished(self.restore(full['id'], SOURCE)['id'])
        self.assertEqual(states.COMPLETED, restore['status'])
        after = self.backup(incremental=1)
        self.assertIsNone(after['parent_id'])
        response = requests.post(self.url + '/backups', json={'backup': {
            'name': 'b', 'instance': SOURCE, 'parent_id': full['id']}})
        self.assertEqual(422, response.status_code, response.text)
        self.assertIn('was restored after it was taken', response.text)
        # A backup taken since is a parent as usual.
        self.assertEqual(after['id'],
                         self.backup(incremental=1)['parent_id'])

    def test_damaged_backup_leaves_the_target_as_it_was(self):
        full = self.backup()
        before = digest(self.databases[TARGET])
        objects = [f for f in ef.storage_files(self.store)
                   if '/%s/objects/' % full['id'] in f]
        with open(objects[0], 'r+b') as stored:
            stored.seek(100)
            stored.write(b'\x00' * 16)
        restore = self.finished(self.restore(full['id'], TARGET)['id'])
        self.assertEqual(states.FAILED, restore['status'])
        self.assertIn('failed verification', restore['fault']['message'])
        self.assertIn('keeps its data', restore['fault']['message'])
        self.assertEqual(before, digest(self.databases[TARGET]))
        self.assertEqual([], self.leftovers(TARGET))
        self.assertEqual(['dbaas.backup_restore.start',
                          'dbaas.backup_restore.error'],
                         self.events(restore['id']))

    def test_restore_the_worker_gave_up_on_is_rolled_back(self):
        full = self.backup()
        before = digest(self.databases[TARGET])
        datastore = self.agents[TARGET].datastore
        real_check = datastore.health_check

        def reaped_during_the_swap():
            # The reaper fails the restore while the agent swaps: the
            # agent's COMPLETED is refused, and the old data goes back.
            running = restores_db.list_page(self.context, 1,
                                            instance_id=TARGET)[0]
            self.assertTrue(restores_db.transition(
                self.context, running.id, states.RESTORE_RUNNING,
                states.FAILED, fail_reason='reaped'))
            real_check()
        self.useFixture(fixtures.MockPatchObject(
            datastore, 'health_check', side_effect=reaped_during_the_swap))
        restore = self.finished(self.restore(full['id'], TARGET)['id'])
        self.agents[TARGET].manager.wait()
        self.assertEqual((states.FAILED, 'reaped'),
                         (restore['status'], restore['fault']['message']))
        self.assertEqual(before, digest(self.databases[TARGET]))
        self.assertEqual([], self.leftovers(TARGET))

    def test_lost_answer_keeps_a_restore_the_worker_recorded(self):
        # The worker records COMPLETED, but its answer never reaches the
        # agent: the restored data must stay, as the worker shows it.
        full = self.backup()
        wanted = digest(self.databases[SOURCE])
        manager = self.agents[TARGET].manager
        worker_api = manager.restores.worker
        real_update = worker_api.update_restore

        def answer_lost(context, instance_id, restore_id, status,
                        attempt_id, **fields):
            answer = real_update(context, instance_id, restore_id, status,
                                 attempt_id, **fields)
            if status == states.COMPLETED:
                raise messaging.MessagingTimeout('the answer was lost')
            return answer
        self.useFixture(fixtures.MockPatchObject(
            worker_api, 'update_restore', side_effect=answer_lost))
        self.useFixture(fixtures.MockPatch(
            'trove_backup_ext.agent.runner.time.sleep'))
        restore = self.finished(self.restore(full['id'], TARGET)['id'])
        manager.wait()
        self.assertEqual(states.COMPLETED, restore['status'])
        self.assertEqual(wanted, digest(self.databases[TARGET]))
        # The old data waits beside it until the worker answers: when the
        # agent starts again, it asks, and the answer settles it.
        self.assertTrue(self.leftovers(TARGET))
        self.useFixture(fixtures.MockPatchObject(
            worker_api, 'update_restore', side_effect=real_update))
        self.assertEqual([], in_place.recover(
            self.agents[TARGET].datastore,
            functools.partial(manager.restores.reconfirm, self.context)))
        self.assertEqual(wanted, digest(self.databases[TARGET]))
        self.assertEqual([], self.leftovers(TARGET))

    def test_reaper_fails_a_restore_whose_agent_is_gone(self):
        full = self.backup()
        self.agents[TARGET].stop()
        restore_id = self.restore(full['id'], TARGET)['id']
        ef.wait_for(lambda: restores_db.find(self.context,
                                             restore_id).attempt_id)
        later = timeutils.utcnow() + timeutils.datetime.timedelta(
            seconds=self.conf.worker.backup_timeout + 1)
        self.assertEqual((1, 0), self.worker.reaper.run_once(now=later))
        restore = restores_db.find(self.context, restore_id)
        self.assertEqual(states.FAILED, restore.status)
        self.assertIn('No progress', restore.fail_reason)
        # The instance is free again.
        self.post('/backups', {'backup': {'name': 't', 'instance': TARGET}})
        self.assertEqual(states.COMPLETED,
                         lifecycle.get(self.context, full['id']).status)


class _RestoreFlowOnAChaoticBus(_RestoreFlow):
    """The same, every message delivered twice and out of order."""

    chaos = True

    def test_repeated_messages_restore_once(self):
        before = digest(self.databases[SOURCE])
        full = self.backup()
        change(self.databases[SOURCE], 'changed')
        restore = self.finished(self.restore(full['id'], SOURCE)['id'])
        self.bus.settle()
        self.agents[SOURCE].manager.wait()
        self.assertEqual(states.COMPLETED, restore['status'], restore)
        self.assertEqual(before, digest(self.databases[SOURCE]))
        self.assertEqual(['dbaas.backup_restore.start',
                          'dbaas.backup_restore.end'],
                         self.events(restore['id']))
        self.assertGreaterEqual(self.bus.sent['restore_backup'], 2)


def _classes(mixin, backends):
    return [type('%s_%s' % (mixin.__name__.lstrip('_'), backend),
                 (mixin, base.TestCase),
                 {'backend': backend, '__module__': __name__})
            for backend in backends]


RestoreFlow_sqlite, RestoreFlow_postgresql = _classes(
    _RestoreFlow, ('sqlite', 'postgresql'))
(RestoreFlowOnAChaoticBus_mysql,) = _classes(_RestoreFlowOnAChaoticBus,
                                             ('mysql',))
