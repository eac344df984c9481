"""Backups really taken: API -> worker -> agent -> storage, and back."""

import hashlib
import os
import sqlite3
from unittest import mock

import fixtures
from oslo_messaging.notify import _impl_test as test_notifier
from oslo_utils import timeutils
import requests

from trove_backup_ext import context as backup_context
from trove_backup_ext.agent import restore
from trove_backup_ext.db import backups as backups_db
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import lifecycle
from trove_backup_ext import states
from trove_backup_ext import storage
from trove_backup_ext.storage import base as storage_base
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import service_fixtures

PROJECT = base.PROJECT


def digest(path):
    with sqlite3.connect(path) as connection:
        rows = connection.execute('SELECT * FROM items ORDER BY id').fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


class LifecycleTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.store = os.path.join(self.tmp, 'store')
        self.live = ef.sample_sqlite_database(
            os.path.join(self.tmp, 'live.sqlite'), rows=60000)
        self.conf = self.useFixture(service_fixtures.Conf(**{
            'local_storage.storage_dir': self.store,
            'sqlite.database_path': self.live,
            'agent.datastore': 'sqlite',
            'agent.progress_interval': 1,
            'agent.chunk_size': 64 * 1024,
            'backup_encryption.key': '11' * 32,
            # oslo.messaging's in-memory notification driver.
            'oslo_messaging_notifications.driver': ['test'],
        })).conf
        test_notifier.reset()
        self.useFixture(service_fixtures.Database('sqlite'))
        self.context = backup_context.get_admin_context()
        self.instance = instances_db.add(self.context, {
            'id': '6c7fd926-3e81-44c9-aaaa-bbb73b9bf56b', 'name': 'demo',
            'project_id': PROJECT, 'datastore': 'sqlite',
            'datastore_version': '3', 'status': 'ACTIVE'})
        self.worker = self.useFixture(ef.Worker(self.conf)).service
        self.agent = self.useFixture(ef.Agent(self.conf,
                                              self.instance.id)).service
        self.api = self.useFixture(service_fixtures.APIServer(self.conf))
        self.url = '%s/v1.0/%s/backups' % (self.api.endpoint, PROJECT)

    def create(self, **fields):
        body = {'backup': dict({'name': 'b', 'instance': self.instance.id},
                               **fields)}
        response = requests.post(self.url, json=body)
        self.assertEqual(202, response.status_code, response.text)
        return response.json()['backup']['id']

    def show(self, backup_id):
        return requests.get('%s/%s' % (self.url, backup_id))

    def wait_status(self, backup_id, *wanted):
        return ef.wait_for(lambda: (lambda b: b if b['status'] in wanted
                                    else None)(
            self.show(backup_id).json()['backup']))

    def restore_into(self, backup):
        target = os.path.join(self.tmp, 'restored-' + backup['id'])
        restore.restore_backup(self.conf, self.agent.datastore, 'local',
                               'database_backups', backup['id'], target,
                               checksum=lifecycle.get(
                                   self.context, backup['id']).checksum)
        return os.path.join(target, 'database.sqlite')

    def test_full_incremental_restore_and_delete(self):
        before = digest(self.live)
        full = self.wait_status(self.create(), states.COMPLETED)
        self.assertTrue(full['locationRef'].endswith('/manifest'))
        self.assertGreater(full['size'], 0)

        with sqlite3.connect(self.live) as connection:
            connection.execute("UPDATE items SET name = 'changed' "
                               "WHERE id < 50")
        after = digest(self.live)
        inc = self.wait_status(self.create(incremental=1), states.COMPLETED)
        self.assertEqual(full['id'], inc['parent_id'])
        self.assertLess(inc['size'], full['size'])

        self.assertEqual(before, digest(self.restore_into(full)))
        self.assertEqual(after, digest(self.restore_into(inc)))

        self.assertEqual(202, requests.delete(
            '%s/%s' % (self.url, full['id'])).status_code)
        ef.wait_for(lambda: self.show(full['id']).status_code == 404)
        self.assertEqual(404, self.show(inc['id']).status_code)
        self.assertEqual([], [f for f in ef.storage_files(self.store)
                              if full['id'] in f or inc['id'] in f])
        # Not even their emptied directories.
        self.assertEqual([], [d for d in os.listdir(
            os.path.join(self.store, 'database_backups'))
            if d in (full['id'], inc['id'])])

    def test_incremental_after_a_key_change_restores_with_the_new_key(self):
        full = self.wait_status(self.create(), states.COMPLETED)
        self.conf.set_override('key', '22' * 32, group='backup_encryption')
        with sqlite3.connect(self.live) as connection:
            connection.execute("UPDATE items SET name = 'new key' "
                               "WHERE id < 10")
        after = digest(self.live)
        inc = self.wait_status(self.create(incremental=1), states.COMPLETED)
        self.assertEqual(full['id'], inc['parent_id'])
        # Nothing sealed with the old key was reused: the new key alone
        # restores it.
        self.assertEqual(after, digest(self.restore_into(inc)))

    def test_failed_delete_stays_visible_and_is_retried(self):
        backup = self.wait_status(self.create(), states.COMPLETED)
        local = storage.load(self.conf, 'local')

        def refuse(container, name):
            raise storage_base.StorageError('disk is read-only')
        # The driver object belongs to this test's configuration alone.
        refusing = mock.patch.object(local, 'delete_object',
                                     side_effect=refuse)
        refusing.start()
        requests.delete('%s/%s' % (self.url, backup['id']))
        failed = self.wait_status(backup['id'], states.DELETE_FAILED)
        self.assertEqual(backup['id'], failed['id'])
        self.assertIn('disk is read-only', lifecycle.get(
            self.context, backup['id']).fail_reason)
        self.assertIn(backup['id'], [b['id'] for b in requests.get(
            self.url).json()['backups']])

        interval = self.conf.worker.delete_retry_interval
        self.addCleanup(timeutils.clear_time_override)
        timeutils.set_time_override(timeutils.utcnow() + timeutils.datetime
                                    .timedelta(seconds=interval - 5))
        self.assertEqual((0, 0), self.worker.reaper.run_once())
        refusing.stop()     # Storage is back.
        timeutils.set_time_override(timeutils.utcnow() + timeutils.datetime
                                    .timedelta(seconds=10))
        self.assertEqual((0, 1), self.worker.reaper.run_once())
        self.assertEqual(404, self.show(backup['id']).status_code)
        self.assertEqual([], [f for f in ef.storage_files(self.store)
                              if backup['id'] in f])

    def test_refused_credential_backs_off_then_stops_until_reset(self):
        """A deletion whose storage credential Keystone keeps refusing
        (its owner lost the role): retried less and less often, then no
        more, with the reason on the backup, until an operator's
        reset-status; then it goes."""
        self.conf.set_override('delete_refused_attempts', 3, 'worker')
        interval = self.conf.worker.delete_retry_interval
        backup = self.wait_status(self.create(), states.COMPLETED)
        local = storage.load(self.conf, 'local')
        attempts = []

        def refuse(container, name):
            attempts.append(name)
            raise storage_base.CredentialRefused(
                'Keystone refused the credential to delete object %s: '
                'HTTP 401 (Unauthorized)' % name)
        refusing = mock.patch.object(local, 'delete_object',
                                     side_effect=refuse)
        refusing.start()
        self.addCleanup(refusing.stop)
        test_notifier.reset()
        requests.delete('%s/%s' % (self.url, backup['id']))
        shown = self.wait_status(backup['id'], states.DELETE_FAILED)
        self.assertIn('HTTP 401', shown['fault']['message'])
        self.assertEqual(1, len(attempts))

        self.addCleanup(timeutils.clear_time_override)
        start = timeutils.utcnow()

        def at(seconds):
            timeutils.set_time_override(
                start + timeutils.datetime.timedelta(seconds=seconds))
            return self.worker.reaper.run_once()
        # Backs off: the interval, then twice that.
        self.assertEqual((0, 0), at(interval - 5))
        self.assertEqual((0, 1), at(interval + 5))
        self.assertEqual(2, len(attempts))
        self.assertEqual((0, 0), at(interval + 5 + 2 * interval - 10))
        with self.assertLogs('trove_backup_ext.worker.manager',
                             'ERROR') as logs:
            self.assertEqual((0, 1), at(interval + 5 + 2 * interval + 10))
        self.assertEqual(3, len(attempts))
        # Three refusals in a row: it stops, and says why.
        self.assertIn('Stopped retrying', logs.output[0])
        self.assertIn(backup['id'], logs.output[0])
        shown = self.show(backup['id']).json()['backup']
        self.assertEqual(states.DELETE_FAILED, shown['status'])
        self.assertTrue(shown['fault']['message'].startswith(
            'Stopped retrying: the backup\'s storage credential was '
            'refused 3 times in a row'), shown['fault'])
        self.assertIn('reset-status', shown['fault']['message'])
        self.assertEqual((0, 0), at(30 * 86400))
        self.assertEqual(3, len(attempts))
        errors = [m['payload']['message'] for _, m, _, _ in
                  test_notifier.NOTIFICATIONS
                  if m['event_type'] == 'dbaas.backup_delete.error']
        self.assertEqual(3, len(errors))
        self.assertTrue(errors[-1].startswith('Stopped retrying'))

        # The owner's role is back; the operator retries (what
        # trove-backup-manage backup reset-status does).
        refusing.stop()
        self.assertTrue(lifecycle.retry_delete_now(self.context,
                                                   backup['id']))
        self.assertEqual((0, 1), at(30 * 86400 + 1))
        self.assertEqual(404, self.show(backup['id']).status_code)
        self.assertEqual([], [f for f in ef.storage_files(self.store)
                              if backup['id'] in f])

    def test_a_backup_deleted_as_it_ends_still_has_its_end_told(self):
        # Under load, another worker finished deleting the backup between
        # its move to COMPLETED and the end notification: the report
        # failed (AttributeError) and the agent removed the objects.
        self.agent.stop()
        backup_id = self.create()
        attempt = ef.wait_for(lambda: lifecycle.get(
            self.context, backup_id).attempt_id)
        self.assertTrue(self.report(backup_id, states.BUILDING,
                                    attempt_id=attempt))
        moving = lifecycle.transition

        def moved_then_deleted(context, *args, **kwargs):
            moved = moving(context, *args, **kwargs)
            if moved:
                backups_db.request_delete(self.context, backup_id, PROJECT,
                                          timeutils.utcnow())
                self.assertTrue(lifecycle.remove(self.context, backup_id))
            return moved
        self.useFixture(fixtures.MockPatchObject(
            lifecycle, 'transition', moved_then_deleted))
        self.assertTrue(self.report(
            backup_id, states.COMPLETED, attempt_id=attempt,
            checksum='c' * 64, stored_size=1024,
            location='local://database_backups/%s/manifest' % backup_id))
        ends = [m['payload'] for _, m, _, _ in test_notifier.NOTIFICATIONS
                if m['event_type'] == 'dbaas.backup_create.end'
                and m['payload']['backup_id'] == backup_id]
        self.assertEqual(1, len(ends))
        self.assertEqual((states.COMPLETED, PROJECT),
                         (ends[0]['status'], ends[0]['project_id']))

    def test_notifications_with_trove_event_types(self):
        backup_id = self.create()
        self.wait_status(backup_id, states.COMPLETED)
        requests.delete('%s/%s' % (self.url, backup_id))
        ef.wait_for(lambda: self.show(backup_id).status_code == 404)
        events = [(message['event_type'], message['payload'])
                  for _, message, _, _ in test_notifier.NOTIFICATIONS
                  if message['payload'].get('backup_id') == backup_id]
        self.assertEqual(['dbaas.backup_create.start',
                          'dbaas.backup_create.end',
                          'dbaas.backup_delete.start',
                          'dbaas.backup_delete.end'],
                         [event for event, _ in events])
        end = events[1][1]
        self.assertEqual(PROJECT, end['tenant_id'])
        self.assertEqual(self.instance.id, end['instance_id'])
        self.assertEqual(states.COMPLETED, end['status'])
        self.assertTrue(end['location'].endswith('/manifest'))
        contexts = [ctxt for ctxt, _, _, _ in test_notifier.NOTIFICATIONS]
        self.assertTrue(contexts)
        self.assertFalse([c for c in contexts if 'auth_token' in c])
        publishers = {message['publisher_id'] for _, message, _, _ in
                      test_notifier.NOTIFICATIONS}
        self.assertTrue(all(p.startswith('trove-backup-worker.')
                            for p in publishers), publishers)

    def test_reaper_fails_a_backup_whose_agent_is_gone(self):
        self.agent.stop()
        backup_id = self.create()
        # The worker's claim writes the row's updated time: it must come
        # before the clock is moved on below, or it is "new" again.
        ef.wait_for(lambda: lifecycle.get(self.context,
                                          backup_id).attempt_id)
        # A backup younger than the timeout is left alone...
        self.assertEqual((0, 0), self.worker.reaper.run_once())
        self.assertEqual(states.NEW,
                         lifecycle.get(self.context, backup_id).status)
        # ...one that made no progress for longer is failed.
        timeutils.set_time_override(
            timeutils.utcnow() + timeutils.datetime.timedelta(
                seconds=self.conf.worker.backup_timeout + 1))
        self.addCleanup(timeutils.clear_time_override)
        failed, _ = self.worker.reaper.run_once()
        self.assertEqual(1, failed)
        backup = lifecycle.get(self.context, backup_id)
        self.assertEqual(states.FAILED, backup.status)
        self.assertIn('No progress', backup.fail_reason)
        self.assertIsNone(backup.running_instance_id)

    def report(self, backup_id, status, **fields):
        """An update_backup signed with the instance's key, as its
        genuine agent sends it."""
        return self.worker.manager.update_backup(self.context, **ef.signed(
            self.conf, 'update_backup', instance_id=self.instance.id,
            backup_id=backup_id, status=status, **fields))

    def test_agent_reports_count_only_for_the_attempt_and_instance(self):
        self.agent.stop()
        backup_id = self.create()
        attempt = ef.wait_for(lambda: lifecycle.get(
            self.context, backup_id).attempt_id)
        manager = self.worker.manager
        for instance_id, attempt_id in (
                ('another-instance', attempt),
                ('another-instance', None)):
            self.assertFalse(manager.update_backup(
                self.context, instance_id, backup_id, states.FAILED,
                attempt_id=attempt_id, fail_reason='forged'))
        # Signed by the instance's own agent, but about another run.
        self.assertFalse(self.report(backup_id, states.FAILED,
                                     attempt_id='another-attempt',
                                     fail_reason='forged'))
        self.assertEqual(states.NEW,
                         lifecycle.get(self.context, backup_id).status)
        # Without an attempt (an agent of a rolling upgrade that got
        # none, or is capped at worker 1.0): the 1.0 rule, its instance.
        self.assertTrue(self.report(backup_id, states.BUILDING))
        self.assertTrue(self.report(backup_id, states.BUILDING,
                                    attempt_id=attempt))
        self.assertFalse(self.report(backup_id, 'DELETED',
                                     attempt_id=attempt))
        self.assertEqual(states.BUILDING,
                         lifecycle.get(self.context, backup_id).status)

    def test_storage_down_fails_the_backup_with_a_message(self):
        os.makedirs(self.store, exist_ok=True)
        # A file where the container directory should be: writes fail.
        open(os.path.join(self.store, 'database_backups'), 'w').close()
        backup = self.wait_status(self.create(), states.FAILED)
        reason = lifecycle.get(self.context, backup['id']).fail_reason
        self.assertIn('Storage failed: Cannot create container '
                      'database_backups', reason)
