"""trove-backup-manage backup reset-status, run as a process on SQLite."""

import os
import subprocess
import sys

import queue

import fixtures
from oslo_config import cfg
import oslo_messaging as messaging
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from trove_backup_ext.db import migration
from trove_backup_ext.db import models
from trove_backup_ext import states
from trove_backup_ext.tests import base
from trove_backup_ext.tests import rabbitmq_fixtures

MANAGE = os.path.join(os.path.dirname(sys.executable), 'trove-backup-manage')
Backup = models.Backup.__table__


class _ManageTestCase(base.TestCase):
    """trove-backup-manage on a migrated SQLite database of its own."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        url = 'sqlite:///%s/backups.sqlite' % self.dir
        self.engine = sa.create_engine(url)
        self.addCleanup(self.engine.dispose)
        migration.upgrade(engine=self.engine)
        self.config_file = os.path.join(self.dir, 'trove-backup-ext.conf')
        with open(self.config_file, 'w') as f:
            f.write('[DEFAULT]\ntransport_url = fake:///\n'
                    '[database]\nconnection = %s\n' % url)
        self.long_ago = timeutils.utcnow().replace(year=2020)

    def add_backup(self, status, deleting=False, **values):
        backup_id = uuidutils.generate_uuid()
        instance_id = uuidutils.generate_uuid()
        row = dict(
            id=backup_id, name='b', project_id=base.PROJECT,
            instance_id=instance_id, status=status,
            backup_type=states.FULL, datastore='mysql',
            datastore_version='10.11',
            datastore_version_id=uuidutils.generate_uuid(),
            storage_driver='local', container='database_backups',
            running_instance_id=(instance_id
                                 if status in states.RUNNING else None),
            delete_requested_at=self.long_ago if deleting else None,
            created=self.long_ago, updated=self.long_ago)
        row.update(values)
        with self.engine.begin() as connection:
            connection.execute(sa.insert(Backup).values(**row))
        return backup_id

    def row(self, backup_id):
        with self.engine.connect() as connection:
            return connection.execute(sa.select(Backup).where(
                Backup.c.id == backup_id)).one()

    def reset(self, backup_id, *extra):
        return subprocess.run(
            [MANAGE, '--config-file', self.config_file, 'backup',
             'reset-status', backup_id] + list(extra),
            capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL)


class ResetStatusTest(_ManageTestCase):

    def assertRefused(self, result, backup_id, fragment):
        self.assertEqual(1, result.returncode, result.stdout + result.stderr)
        self.assertIn(fragment, result.stderr)
        self.assertEqual(self.long_ago, self.row(backup_id).updated)

    def test_building_backup_fails_and_frees_its_instance(self):
        backup_id = self.add_backup(states.BUILDING)
        result = self.reset(backup_id)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual('Backup %s: BUILDING -> FAILED.\n' % backup_id,
                         result.stdout)
        row = self.row(backup_id)
        self.assertEqual(states.FAILED, row.status)
        self.assertIsNone(row.running_instance_id)
        self.assertIn('operator', row.fail_reason)
        self.assertGreater(row.updated, self.long_ago)

    def test_new_backup_with_explicit_status(self):
        backup_id = self.add_backup(states.NEW)
        result = self.reset(backup_id, '--status', 'FAILED')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual(states.FAILED, self.row(backup_id).status)

    def test_already_failed_changes_nothing(self):
        backup_id = self.add_backup(states.FAILED)
        result = self.reset(backup_id)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('already FAILED', result.stdout)
        self.assertEqual(self.long_ago, self.row(backup_id).updated)

    def test_completed_backup_is_refused(self):
        backup_id = self.add_backup(states.COMPLETED)
        self.assertRefused(self.reset(backup_id), backup_id,
                           'is COMPLETED, not running')
        self.assertEqual(states.COMPLETED, self.row(backup_id).status)

    def test_backup_being_deleted_is_refused(self):
        backup_id = self.add_backup(states.COMPLETED, deleting=True)
        self.assertRefused(self.reset(backup_id), backup_id,
                           'is being deleted (COMPLETED)')

    def test_delete_failed_whose_retries_stopped_is_retried(self):
        backup_id = self.add_backup(
            states.DELETE_FAILED, deleting=True, delete_failures=7,
            delete_refusals=5, fail_reason='Stopped retrying: ...')
        result = self.reset(backup_id)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('retries its deletion at its next pass', result.stdout)
        row = self.row(backup_id)
        self.assertEqual(states.DELETE_FAILED, row.status)
        self.assertEqual((0, 0), (row.delete_failures, row.delete_refusals))
        self.assertGreater(row.updated, self.long_ago)
        # Until the attempt, the last reason stays shown.
        self.assertEqual('Stopped retrying: ...', row.fail_reason)
        # Asking again changes nothing more than the retry time.
        result = self.reset(backup_id, '--status', 'DELETE_FAILED')
        self.assertEqual(0, result.returncode, result.stderr)

    def test_delete_failed_cannot_become_failed(self):
        backup_id = self.add_backup(states.DELETE_FAILED, deleting=True,
                                    delete_refusals=5)
        self.assertRefused(self.reset(backup_id, '--status', 'FAILED'),
                           backup_id, 'cannot become FAILED')

    def test_only_delete_failed_becomes_delete_failed(self):
        backup_id = self.add_backup(states.BUILDING)
        self.assertRefused(self.reset(backup_id, '--status',
                                      'DELETE_FAILED'),
                           backup_id, 'only a backup whose deletion failed')

    def test_unknown_backup_is_refused(self):
        result = self.reset('00000000-0000-0000-0000-000000000000')
        self.assertEqual(1, result.returncode, result.stderr)
        self.assertIn('cannot be found', result.stderr)

    def test_other_target_statuses_are_not_offered(self):
        backup_id = self.add_backup(states.BUILDING)
        result = self.reset(backup_id, '--status', 'COMPLETED')
        self.assertNotEqual(0, result.returncode)
        self.assertIn("invalid choice: 'COMPLETED'", result.stderr)
        self.assertEqual(states.BUILDING, self.row(backup_id).status)


class _Received:
    """A notification endpoint that keeps what it is sent."""

    def __init__(self):
        self.messages = queue.Queue()

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self.messages.put((publisher_id, event_type, payload, ctxt))


class ResetStatusNotificationTest(_ManageTestCase):
    """The command's notification, on a RabbitMQ vhost of the test's own
    through oslo.messaging's messagingv2 driver, as a consumer of the
    workers' notifications receives it."""

    def setUp(self):
        super().setUp()
        vhost = self.useFixture(rabbitmq_fixtures.Vhost())
        with open(self.config_file, 'a') as f:
            f.write('[oslo_messaging_notifications]\n'
                    'driver = messagingv2\ntransport_url = %s\n'
                    % vhost.transport_url)
        conf = cfg.ConfigOpts()
        conf([], project='tbe-test')
        transport = messaging.get_notification_transport(
            conf, url=vhost.transport_url)
        self.addCleanup(transport.cleanup)
        self.received = _Received()
        listener = messaging.get_notification_listener(
            transport, [messaging.Target(topic='notifications')],
            [self.received], executor='threading')
        listener.start()
        self.addCleanup(listener.wait)
        self.addCleanup(listener.stop)

    def test_reset_sends_backup_create_error(self):
        backup_id = self.add_backup(states.BUILDING)
        result = self.reset(backup_id)
        self.assertEqual(0, result.returncode, result.stderr)
        publisher, event, payload, ctxt = self.received.messages.get(
            timeout=30)
        self.assertEqual('dbaas.backup_create.error', event)
        self.assertTrue(publisher.startswith('trove-backup-manage.'),
                        publisher)
        self.assertEqual(backup_id, payload['backup_id'])
        self.assertEqual(base.PROJECT, payload['tenant_id'])
        self.assertEqual(states.FAILED, payload['status'])
        self.assertIn('reset-status', payload['message'])
        self.assertNotIn('auth_token', ctxt)

    def test_refused_or_idle_resets_send_nothing(self):
        self.reset(self.add_backup(states.COMPLETED))
        self.reset(self.add_backup(states.FAILED))
        self.assertRaises(queue.Empty, self.received.messages.get,
                          timeout=3)
