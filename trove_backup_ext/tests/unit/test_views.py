"""The backup view."""

import datetime

from trove_backup_ext.api import views
from trove_backup_ext.db import models
from trove_backup_ext.tests import base


class BackupViewTest(base.TestCase):

    def test_every_field_always_present(self):
        backup = models.Backup(
            id='b', name='n', description=None, location=None,
            instance_id='i', parent_id=None, status='NEW', size=None,
            project_id='p', storage_driver='local', datastore='mysql',
            datastore_version='10.11', datastore_version_id='v',
            created=datetime.datetime(2026, 1, 2, 3, 4, 5, 678901),
            updated=datetime.datetime(2026, 1, 2, 3, 4, 6))
        view = views.backup_view(backup)
        self.assertEqual(
            {'id', 'name', 'description', 'locationRef', 'instance_id',
             'created', 'updated', 'size', 'status', 'parent_id',
             'project_id', 'storage_driver', 'datastore', 'progress',
             'verification', 'fault'},
            set(view))
        self.assertEqual('2026-01-02T03:04:05', view['created'])
        self.assertEqual('2026-01-02T03:04:06', view['updated'])
        self.assertEqual({'type': 'mysql', 'version': '10.11',
                          'version_id': 'v'}, view['datastore'])
        self.assertIsNone(view['locationRef'])

    def test_fault_is_the_reason_of_a_failure(self):
        backup = models.Backup(
            id='b', name='n', status='DELETE_FAILED', datastore='mysql',
            datastore_version='10.11', datastore_version_id='v',
            fail_reason='Stopped retrying: refused',
            created=datetime.datetime(2026, 1, 2, 3, 4, 5),
            updated=datetime.datetime(2026, 1, 2, 3, 9, 0))
        self.assertEqual({'message': 'Stopped retrying: refused',
                          'created': '2026-01-02T03:09:00'},
                         views.backup_view(backup)['fault'])
        backup.fail_reason = None
        self.assertIsNone(views.backup_view(backup)['fault'])
