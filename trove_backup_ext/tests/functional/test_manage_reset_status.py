"""trove-backup-manage backup reset-status, run as a process on SQLite."""

import os
import subprocess
import sys

import fixtures
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from trove_backup_ext.db import migration
from trove_backup_ext.db import models
from trove_backup_ext import states
from trove_backup_ext.tests import base

MANAGE = os.path.join(os.path.dirname(sys.executable), 'trove-backup-manage')
Backup = models.Backup.__table__


class ResetStatusTest(base.TestCase):

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

    def add_backup(self, status, deleting=False):
        backup_id = uuidutils.generate_uuid()
        instance_id = uuidutils.generate_uuid()
        with self.engine.begin() as connection:
            connection.execute(sa.insert(Backup).values(
                id=backup_id, name='b', project_id=base.PROJECT,
                instance_id=instance_id, status=status,
                backup_type=states.FULL, datastore='mysql',
                datastore_version='10.11',
                datastore_version_id=uuidutils.generate_uuid(),
                storage_driver='local', container='database_backups',
                running_instance_id=(instance_id
                                     if status in states.RUNNING else None),
                delete_requested_at=self.long_ago if deleting else None,
                created=self.long_ago, updated=self.long_ago))
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
        backup_id = self.add_backup(states.DELETE_FAILED, deleting=True)
        self.assertRefused(self.reset(backup_id), backup_id,
                           'is being deleted (DELETE_FAILED)')

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
