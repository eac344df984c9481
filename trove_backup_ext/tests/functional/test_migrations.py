"""The alembic migrations build the models' schema; trove-backup-manage."""

import json
import os
import shutil
import subprocess
import sys

import fixtures
from alembic import autogenerate
from alembic import migration as alembic_migration
from oslo_utils import uuidutils

from trove_backup_ext.db import migration
from trove_backup_ext.db import models
from trove_backup_ext.tests import base


class _MigrationTests:

    def test_migrated_schema_matches_the_models(self):
        # The Database fixture ran migration.upgrade() to head.
        with self.database.engine.connect() as connection:
            context = alembic_migration.MigrationContext.configure(
                connection, opts={'compare_type': True,
                                  'compare_server_default': True})
            diff = autogenerate.compare_metadata(context,
                                                 models.Base.metadata)
        self.assertEqual([], diff)

    def test_version_is_head(self):
        self.assertIsNotNone(migration.head())
        self.assertEqual(migration.head(),
                         migration.version(engine=self.database.engine))

    def test_upgrade_again_changes_nothing(self):
        migration.upgrade(engine=self.database.engine)
        self.assertEqual(migration.head(),
                         migration.version(engine=self.database.engine))


(TestMigrations_sqlite, TestMigrations_mysql,
 TestMigrations_postgresql) = base.for_each_backend(_MigrationTests,
                                                    __name__)


def _manage_command():
    """trove-backup-manage of the Python running the tests."""
    beside = os.path.join(os.path.dirname(sys.executable),
                          'trove-backup-manage')
    return beside if os.path.exists(beside) else shutil.which(
        'trove-backup-manage')


class TestManageCommand(base.TestCase):
    """trove-backup-manage as an operator runs it, on a new SQLite file."""

    def setUp(self):
        super().setUp()
        self.command = _manage_command()
        self.assertIsNotNone(self.command, 'trove-backup-manage not found')
        directory = self.useFixture(fixtures.TempDir()).path
        self.database_file = os.path.join(directory, 'backups.sqlite')
        self.config_file = os.path.join(directory, 'trove-backup-ext.conf')
        with open(self.config_file, 'w') as conf:
            conf.write('[database]\nconnection = sqlite:///%s\n'
                       % self.database_file)

    def manage(self, *args, expect=0):
        result = subprocess.run(
            [self.command, '--config-file', self.config_file] + list(args),
            capture_output=True, text=True, timeout=120,
            # Only the file given: never /etc/trove-backup-ext's.
            cwd=os.path.dirname(self.config_file))
        self.assertEqual(expect, result.returncode,
                         'stdout: %s\nstderr: %s' % (result.stdout,
                                                     result.stderr))
        return result

    def last_line(self, *args):
        # oslo.log writes alembic's INFO lines to stdout before the answer.
        return self.manage(*args).stdout.strip().splitlines()[-1]

    def instances(self):
        return json.loads(self.manage('instance', 'list', '--format',
                                      'json').stdout)

    def test_db_sync_and_version(self):
        self.assertFalse(os.path.exists(self.database_file))
        self.assertEqual('None (run "db sync")',
                         self.last_line('db', 'version'))
        self.assertEqual('Database schema at revision %s.' % migration.head(),
                         self.last_line('db', 'sync'))
        self.assertEqual(migration.head(), self.last_line('db', 'version'))
        # A second sync is a no-op, not an error.
        self.manage('db', 'sync')

    def test_instance_add_list_set_status_remove(self):
        self.manage('db', 'sync')
        self.assertEqual([], self.instances())
        instance_id = uuidutils.generate_uuid()
        added = self.manage('instance', 'add', '--id', instance_id,
                            '--name', 'orders', '--project-id', 'demo',
                            '--datastore', 'postgresql',
                            '--datastore-version', '16').stdout.strip()
        self.assertEqual(instance_id, added)
        self.assertEqual([{'id': instance_id, 'name': 'orders',
                           'project_id': 'demo', 'datastore': 'postgresql',
                           'datastore_version': '16', 'status': 'ACTIVE'}],
                         self.instances())

        self.manage('instance', 'set-status', instance_id, 'ERROR')
        self.assertEqual(['ERROR'], [i['status'] for i in self.instances()])

        self.manage('instance', 'remove', instance_id)
        self.assertEqual([], self.instances())
        gone = self.manage('instance', 'remove', instance_id, expect=1)
        self.assertIn(instance_id, gone.stderr)

    def test_instance_add_refuses_unknown_datastore(self):
        self.manage('db', 'sync')
        result = self.manage('instance', 'add', '--name', 'x',
                             '--project-id', 'demo', '--datastore', 'oracle',
                             '--datastore-version', '19', expect=1)
        self.assertIn("datastore 'oracle'", result.stderr)
        self.assertEqual([], self.instances())
