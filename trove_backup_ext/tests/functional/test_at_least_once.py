"""Messages arrive at least once and out of order: no good backup is lost.

oslo.messaging delivers a cast at least once (and our own casts retry),
several workers take messages from one queue, and a report may overtake
another. These tests deliver every message twice and out of order, and
check that backups still end whole, exactly once, and are deleted whole.
"""

import datetime
import hashlib
import os
import sqlite3
import threading
import time

import fixtures
import oslo_messaging as messaging
from oslo_messaging.notify import _impl_test as test_notifier
from oslo_utils import timeutils
import requests
import sqlalchemy as sa

from trove_backup_ext.agent import restore
from trove_backup_ext import context as backup_context
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import lifecycle
from trove_backup_ext.db import models
from trove_backup_ext import states
from trove_backup_ext.tests import base
from trove_backup_ext.tests import chaos_bus
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import service_fixtures

PROJECT = base.PROJECT
INSTANCE_ID = '0d5e3b0c-8f6a-4c1e-9f43-5a3b2c1d0e9f'


def digest(path):
    with sqlite3.connect(path) as connection:
        rows = connection.execute('SELECT * FROM items ORDER BY id').fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


class _NoCasts:
    """The API's worker client when a test delivers the casts itself."""

    def create_backup(self, context, backup_id):
        pass

    def delete_backup(self, context, backup_id):
        pass


class _System(base.TestCase):
    """API, worker(s) and a sqlite agent in one process, on self.backend
    as the control-plane database."""

    backend = 'sqlite'
    workers = 1
    chaos = False
    api_casts = True

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.store = os.path.join(self.tmp, 'store')
        self.live = ef.sample_sqlite_database(
            os.path.join(self.tmp, 'live.sqlite'), rows=20000)
        self.conf = self.useFixture(service_fixtures.Conf(**{
            'local_storage.storage_dir': self.store,
            'sqlite.database_path': self.live,
            'agent.datastore': 'sqlite',
            'agent.progress_interval': 1,
            'agent.chunk_size': 64 * 1024,
            'oslo_messaging_notifications.driver': ['test'],
        })).conf
        test_notifier.reset()
        self.database = self.useFixture(
            service_fixtures.Database(self.backend))
        if self.chaos:
            self.bus = self.useFixture(chaos_bus.ChaosBus(seed=7))
        self.context = backup_context.get_admin_context()
        instances_db.add(self.context, {
            'id': INSTANCE_ID, 'name': 'demo', 'project_id': PROJECT,
            'datastore': 'sqlite', 'datastore_version': '3',
            'status': 'ACTIVE'})
        self.workers = [self.useFixture(ef.Worker(self.conf)).service
                        for _ in range(self.workers)]
        self.agent = self.useFixture(ef.Agent(self.conf,
                                              INSTANCE_ID)).service
        self.api = self.useFixture(service_fixtures.APIServer(
            self.conf, worker_api=None if self.api_casts else _NoCasts()))
        self.url = '%s/v1.0/%s/backups' % (self.api.endpoint, PROJECT)

    def create(self, **fields):
        body = {'backup': dict({'name': 'b', 'instance': INSTANCE_ID},
                               **fields)}
        response = requests.post(self.url, json=body)
        self.assertEqual(202, response.status_code, response.text)
        return response.json()['backup']['id']

    def show(self, backup_id):
        return requests.get('%s/%s' % (self.url, backup_id))

    def wait_status(self, backup_id, *wanted):
        def status():
            backup = self.show(backup_id).json()['backup']
            return backup if backup['status'] in wanted else None
        return ef.wait_for(status)

    def wait_done(self, backup_id):
        backup = self.wait_status(backup_id, states.COMPLETED, states.FAILED)
        self.assertEqual(states.COMPLETED, backup['status'],
                         lifecycle.get(self.context, backup_id).fail_reason)
        return backup

    def restored_digest(self, backup_id):
        target = os.path.join(self.tmp, 'restored-' + backup_id)
        restore.restore_backup(self.conf, self.agent.datastore, 'local',
                               'database_backups', backup_id, target,
                               checksum=lifecycle.get(
                                   self.context, backup_id).checksum)
        return digest(os.path.join(target, 'database.sqlite'))

    def objects_of(self, backup_id):
        return [f for f in ef.storage_files(self.store)
                if '/%s/' % backup_id in f]

    def events(self, backup_id):
        return [message['event_type']
                for _, message, _, _ in test_notifier.NOTIFICATIONS
                if message['payload'].get('backup_id') == backup_id]

    def report(self, manager, backup_id, status, **fields):
        """An update_backup handled by manager, as the genuine agent
        sends it: signed with the instance's key."""
        return manager.update_backup(self.context, **ef.signed(
            self.conf, 'update_backup', instance_id=INSTANCE_ID,
            backup_id=backup_id, status=status, **fields))

    def change_rows(self, name):
        with sqlite3.connect(self.live) as connection:
            connection.execute("UPDATE items SET name = ? WHERE id < 100",
                               (name,))
        return digest(self.live)


class _RepeatedMessages:
    """Each repeated or early message, delivered deterministically."""

    api_casts = False

    def test_create_cast_delivered_twice_keeps_the_backup(self):
        # The reproducer of the review: a NEW row, then create_backup
        # twice. It used to fail the running backup and remove its
        # objects ("Another backup of this instance is running").
        before = digest(self.live)
        backup_id = self.create()
        manager = self.workers[0].manager
        manager.create_backup(self.context, backup_id)
        manager.create_backup(self.context, backup_id)
        self.wait_done(backup_id)
        self.agent.manager.wait()
        self.assertEqual(states.COMPLETED,
                         lifecycle.get(self.context, backup_id).status)
        self.assertTrue(self.objects_of(backup_id))
        self.assertEqual(before, self.restored_digest(backup_id))
        self.assertEqual(['dbaas.backup_create.start',
                          'dbaas.backup_create.end'],
                         self.events(backup_id))

    def test_agent_given_the_same_run_twice_runs_it_once(self):
        before = digest(self.live)
        backup_id = self.create()
        self.assertTrue(lifecycle.claim(self.context, backup_id, 'run-1'))
        info = self.workers[0].manager._backup_info(
            self.context, lifecycle.get(self.context, backup_id))
        self.agent.manager.create_backup(self.context, info)
        self.agent.manager.create_backup(self.context, dict(info))
        self.wait_done(backup_id)
        self.agent.manager.wait()
        self.assertEqual(1, len(self.agent.manager.threads))
        self.assertEqual(before, self.restored_digest(backup_id))

    def test_busy_agent_fails_only_the_new_attempt(self):
        backup_id = self.create()
        self.assertTrue(lifecycle.claim(self.context, backup_id, 'run-1'))
        info = self.workers[0].manager._backup_info(
            self.context, lifecycle.get(self.context, backup_id))
        # The agent is busy (with a backup the reaper gave up on, say):
        # a refusal of another attempt must not reach this run.
        self.useFixture(fixtures.MockPatchObject(self.agent.manager,
                                                 'BUSY_WAIT', 0.1))
        self.agent.manager._busy.acquire()
        self.addCleanup(self.agent.manager._busy.release)
        self.agent.manager.create_backup(self.context,
                                         dict(info, attempt_id='run-0'))
        self.assertEqual(states.NEW,
                         lifecycle.get(self.context, backup_id).status)
        self.agent.manager.create_backup(self.context, info)
        row = ef.wait_for(lambda: (lambda r: r if r.status == states.FAILED
                                   else None)(
            lifecycle.get(self.context, backup_id)))
        self.assertIn('Another backup', row.fail_reason)

    def test_backup_waits_for_the_agent_to_finish_the_one_before(self):
        # The worker frees the instance when it records a restore's
        # result; the agent may still be removing the old data.
        backup_id = self.create()
        manager = self.agent.manager
        manager._busy.acquire()
        sent = threading.Thread(target=self.workers[0].manager.create_backup,
                                args=(self.context, backup_id))
        sent.start()
        ef.wait_for(lambda: lifecycle.get(self.context,
                                          backup_id).attempt_id)
        manager._busy.release()
        sent.join()
        self.wait_done(backup_id)

    def test_result_before_the_start_report_counts_once(self):
        backup_id = self.create()
        self.assertTrue(lifecycle.claim(self.context, backup_id, 'run-1'))
        self.assertFalse(lifecycle.claim(self.context, backup_id, 'run-2'))
        manager = self.workers[0].manager
        done = dict(stored_size=1024, checksum='c' * 64,
                    location='file:///x/manifest', attempt_id='run-1')
        # COMPLETED while the row is still NEW: another worker has not
        # handled the start report yet.
        self.assertTrue(self.report(manager, backup_id, states.COMPLETED,
                                    **done))
        # The start report arrives late: dropped.
        self.assertFalse(self.report(manager, backup_id, states.BUILDING,
                                     attempt_id='run-1'))
        # The result again (a retried call whose first delivery got
        # through): "accepted", or the agent would remove the objects of
        # the backup it just completed; applied only once.
        self.assertTrue(self.report(manager, backup_id, states.COMPLETED,
                                    **done))
        self.assertFalse(self.report(manager, backup_id, states.COMPLETED,
                                     **dict(done, checksum='d' * 64)))
        self.assertFalse(self.report(manager, backup_id, states.FAILED,
                                     attempt_id='run-1', fail_reason='late'))
        row = lifecycle.get(self.context, backup_id)
        self.assertEqual((states.COMPLETED, 'c' * 64, None),
                         (row.status, row.checksum, row.fail_reason))
        self.assertEqual(['dbaas.backup_create.end'],
                         self.events(backup_id))

    def test_result_lost_once_is_reported_again(self):
        # RabbitMQ drops a call nobody consumed within its timeout: the
        # result of a whole backup must not be lost with it.
        before = digest(self.live)
        backup_id = self.create()
        worker_api = self.agent.manager.runner.worker
        real_update = worker_api.update_backup
        lost = []

        def lossy(context, instance_id, backup_id, status, **fields):
            if status == states.COMPLETED and not lost:
                lost.append(status)
                raise messaging.MessagingTimeout('no worker consumed it')
            return real_update(context, instance_id, backup_id, status,
                               **fields)
        self.useFixture(fixtures.MockPatchObject(
            worker_api, 'update_backup', side_effect=lossy))
        self.useFixture(fixtures.MockPatch(
            'trove_backup_ext.agent.runner.time.sleep'))
        self.workers[0].manager.create_backup(self.context, backup_id)
        self.wait_done(backup_id)
        self.agent.manager.wait()
        self.assertEqual([states.COMPLETED], lost)
        self.assertTrue(self.objects_of(backup_id))
        self.assertEqual(before, self.restored_digest(backup_id))

    def test_reaper_spares_a_backup_that_reported_after_it_looked(self):
        backup_id = self.create()
        self.assertTrue(lifecycle.claim(self.context, backup_id, 'run-1'))
        reaper = self.workers[0].reaper
        later = timeutils.utcnow() + datetime.timedelta(
            seconds=self.conf.worker.backup_timeout + 1)
        cutoff = later - datetime.timedelta(
            seconds=self.conf.worker.backup_timeout)
        selected = lifecycle.stuck(self.context, cutoff)
        self.assertEqual([backup_id], [b.id for b in selected])
        # The agent's heartbeat lands between the reaper's look and act.
        timeutils.set_time_override(later)
        self.addCleanup(timeutils.clear_time_override)
        self.assertTrue(self.report(self.workers[0].manager, backup_id,
                                    states.BUILDING, attempt_id='run-1'))
        self.assertFalse(reaper._fail_stuck(
            self.context, selected[0], self.conf.worker.backup_timeout,
            cutoff))
        self.assertEqual(states.BUILDING,
                         lifecycle.get(self.context, backup_id).status)

    def test_backup_in_a_container_no_store_accepts_can_be_deleted(self):
        # The API refuses ".." now; an earlier release did not.
        backup_id = self.create()
        manager = self.workers[0].manager
        with self.database.engine.begin() as connection:
            connection.execute(sa.update(models.Backup).where(
                models.Backup.id == backup_id).values(container='..'))
        manager.create_backup(self.context, backup_id)
        self.wait_status(backup_id, states.FAILED)
        self.assertEqual(202, requests.delete(
            '%s/%s' % (self.url, backup_id)).status_code)
        manager.delete_backup(self.context, backup_id)
        self.assertEqual(404, self.show(backup_id).status_code)

    def test_delete_cast_delivered_twice_deletes_once(self):
        backup_id = self.create()
        manager = self.workers[0].manager
        manager.create_backup(self.context, backup_id)
        self.wait_done(backup_id)
        self.assertEqual(202, requests.delete(
            '%s/%s' % (self.url, backup_id)).status_code)
        threads = [threading.Thread(target=manager.delete_backup,
                                    args=(self.context, backup_id))
                   for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        manager.delete_backup(self.context, backup_id)
        self.assertEqual(404, self.show(backup_id).status_code)
        self.assertEqual([], self.objects_of(backup_id))
        self.assertEqual(1, self.events(backup_id).count(
            'dbaas.backup_delete.end'))
        self.assertNotIn('dbaas.backup_delete.error',
                         self.events(backup_id))


class _EveryMessageTwiceAndReordered:
    """Whole flows on a bus that duplicates and reorders everything, with
    two workers taking from one queue."""

    chaos = True
    workers = 2

    def test_full_incremental_and_delete(self):
        before = digest(self.live)
        full = self.create()
        self.wait_done(full)
        after = self.change_rows('changed')
        inc = self.create(incremental=1)
        self.assertEqual(full, self.wait_done(inc)['parent_id'])
        self.bus.settle()
        self.agent.manager.wait()
        for backup_id, expected in ((full, before), (inc, after)):
            self.assertEqual(states.COMPLETED,
                             lifecycle.get(self.context, backup_id).status)
            self.assertEqual(expected, self.restored_digest(backup_id))
            self.assertEqual(['dbaas.backup_create.start',
                              'dbaas.backup_create.end'],
                             self.events(backup_id))
        # Each create cast and each agent report was sent twice or more.
        self.assertGreaterEqual(self.bus.sent['create_backup'], 4)
        self.assertGreaterEqual(self.bus.sent['update_backup'], 4)

        self.assertEqual(202, requests.delete(
            '%s/%s' % (self.url, full)).status_code)
        ef.wait_for(lambda: self.show(full).status_code == 404)
        self.assertEqual(404, self.show(inc).status_code)
        self.bus.settle()
        for backup_id in (full, inc):
            self.assertEqual([], self.objects_of(backup_id))
            # Sent just after the row goes: waited for, not raced.
            ef.wait_for(lambda: 'dbaas.backup_delete.end' in self.events(
                backup_id))
            self.assertEqual(1, self.events(backup_id).count(
                'dbaas.backup_delete.end'))
            self.assertNotIn('dbaas.backup_create.error',
                             self.events(backup_id))


class _SlowPhases:
    """A phase with no data (PostgreSQL's checkpoint, MariaDB's lock
    wait) longer than the timeout does not get a live backup reaped."""

    def hang_the_tool(self):
        """Make the backup tool send nothing until its session closes."""
        datastore = self.agent.datastore
        real_backup = datastore.backup
        closed = threading.Event()

        def hung(parent_metadata=None):
            session = real_backup(parent_metadata)
            real_members, real_close = session.members, session.close

            def members():
                closed.wait(60)
                if closed.is_set():
                    raise OSError('the tool was stopped')
                yield from real_members()

            def close():
                closed.set()
                real_close()
            session.members, session.close = members, close
            return session
        self.useFixture(fixtures.MockPatchObject(datastore, 'backup',
                                                 side_effect=hung))
        return closed

    def test_hung_tool_given_up_by_the_worker_frees_the_agent(self):
        closed = self.hang_the_tool()
        backup_id = self.create()
        ef.wait_for(lambda: lifecycle.get(self.context, backup_id).status
                    == states.BUILDING)
        # An operator resets it (trove-backup-manage backup reset-status).
        self.assertTrue(lifecycle.transition(
            self.context, backup_id, states.RUNNING, states.FAILED,
            fail_reason='reset'))
        self.assertTrue(closed.wait(30))
        self.agent.manager.wait()
        self.assertEqual('reset',
                         lifecycle.get(self.context, backup_id).fail_reason)
        self.assertEqual([], self.objects_of(backup_id))
        # The agent is free for the next backup of the instance.
        self.assertFalse(self.agent.manager._busy.locked())

    def test_hung_tool_is_given_up_after_max_runtime(self):
        self.conf.set_override('max_runtime', 2, group='agent')
        closed = self.hang_the_tool()
        backup_id = self.create()
        self.assertTrue(closed.wait(30))
        self.wait_status(backup_id, states.FAILED)
        self.assertIn('max_runtime', lifecycle.get(
            self.context, backup_id).fail_reason)
        self.agent.manager.wait()
        self.assertEqual([], self.objects_of(backup_id))

    def test_heartbeat_keeps_a_silent_backup_alive(self):
        datastore = self.agent.datastore
        real_backup = datastore.backup
        quiet = threading.Event()

        def slow_start(parent_metadata=None):
            time.sleep(6)       # Six progress intervals without data.
            quiet.set()
            return real_backup(parent_metadata)
        self.useFixture(fixtures.MockPatchObject(datastore, 'backup',
                                                 side_effect=slow_start))
        before = digest(self.live)
        backup_id = self.create()
        timeout = self.conf.worker.backup_timeout
        # The reaper, run as if [worker] backup_timeout were 3 s: longer
        # than a heartbeat interval (1 s), shorter than the slow phase.
        while not quiet.is_set():
            now = timeutils.utcnow() + datetime.timedelta(
                seconds=timeout - 3)
            self.assertEqual((0, 0), self.workers[0].reaper.run_once(
                now=now))
            time.sleep(0.25)
        self.wait_done(backup_id)
        self.assertEqual(before, self.restored_digest(backup_id))


def _classes(mixin, backends):
    return [type('%s_%s' % (mixin.__name__.lstrip('_'), backend),
                 (mixin, _System),
                 {'backend': backend, '__module__': __name__})
            for backend in backends]


RepeatedMessages_sqlite, RepeatedMessages_postgresql = _classes(
    _RepeatedMessages, ('sqlite', 'postgresql'))
(EveryMessageTwiceAndReordered_sqlite,
 EveryMessageTwiceAndReordered_postgresql,
 EveryMessageTwiceAndReordered_mysql) = _classes(
    _EveryMessageTwiceAndReordered, ('sqlite', 'postgresql', 'mysql'))
(SlowPhases_sqlite,) = _classes(_SlowPhases, ('sqlite',))
