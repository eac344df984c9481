"""Base class of the API tests: clients, backups made and cleaned up."""

import time
from urllib import parse

from tempest import config
from tempest.lib.common.utils import test_utils
from tempest.lib import exceptions as lib_exc
from tempest import test

CONF = config.CONF

COMPLETED = 'COMPLETED'
FAILED = 'FAILED'


class BaseBackupsTest(test.BaseTestCase):
    """Primary credentials own [database_backup] instance_id; admin
    credentials (another project, admin role) own admin_instance_id."""

    credentials = ['primary', 'admin']

    @classmethod
    def skip_checks(cls):
        super().skip_checks()
        if not CONF.service_available.trove_backup_ext:
            raise cls.skipException('trove-backup-ext is not available.')
        if not CONF.database_backup.instance_id:
            raise cls.skipException('[database_backup] instance_id is not '
                                    'set.')

    @classmethod
    def setup_clients(cls):
        super().setup_clients()
        cls.client = cls.os_primary.database_backup.BackupsClient()
        cls.admin_client = cls.os_admin.database_backup.BackupsClient()
        cls.restores_client = cls.os_primary.database_backup.RestoresClient()
        cls.admin_restores_client = (
            cls.os_admin.database_backup.RestoresClient())

    @classmethod
    def resource_setup(cls):
        super().resource_setup()
        cls.instance_id = CONF.database_backup.instance_id
        cls.project_id = cls.os_primary.credentials.project_id

    @classmethod
    def create_backup(cls, client=None, instance_id=None, name=None,
                      **fields):
        """A new backup (as the API answered the POST), deleted at the end
        of the class."""
        client = client or cls.client
        backup = client.create_backup(
            name=name or 'tempest-%s' % cls.__name__,
            instance=instance_id or cls.instance_id, **fields)['backup']
        cls.addClassResourceCleanup(cls.delete_and_wait, client,
                                    backup['id'])
        return backup

    @classmethod
    def create_completed_backup(cls, client=None, **fields):
        backup = cls.create_backup(client, **fields)
        return cls.wait_for_status(backup['id'], COMPLETED, client)

    @classmethod
    def wait_for_status(cls, backup_id, status, client=None):
        """The backup once in status; a FAILED backup (unless awaited)
        or the timeout fails the test."""
        client = client or cls.client
        deadline = time.monotonic() + client.build_timeout
        while True:
            backup = client.show_backup(backup_id)['backup']
            if backup['status'] == status:
                return backup
            if backup['status'] == FAILED:
                raise lib_exc.TempestException(
                    'Backup %s is FAILED, not %s.' % (backup_id, status))
            if time.monotonic() > deadline:
                raise lib_exc.TimeoutException(
                    'Backup %s is %s, not %s, after %s s.' % (
                        backup_id, backup['status'], status,
                        client.build_timeout))
            time.sleep(client.build_interval)

    @classmethod
    def wait_for_restore(cls, restore_id, *statuses, client=None):
        """The restore once in one of statuses (default: COMPLETED); a
        FAILED restore (unless awaited) or the timeout fails the test."""
        statuses = statuses or (COMPLETED,)
        client = client or cls.restores_client
        deadline = time.monotonic() + client.build_timeout
        while True:
            restore = client.show_restore(restore_id)['restore']
            if restore['status'] in statuses:
                return restore
            if restore['status'] == FAILED:
                raise lib_exc.TempestException(
                    'Restore %s is FAILED (%s), not %s.' % (
                        restore_id, restore['fault'], '/'.join(statuses)))
            if time.monotonic() > deadline:
                raise lib_exc.TimeoutException(
                    'Restore %s is %s, not %s, after %s s.' % (
                        restore_id, restore['status'], '/'.join(statuses),
                        client.build_timeout))
            time.sleep(client.build_interval)

    @staticmethod
    def delete_and_wait(client, backup_id):
        test_utils.call_and_ignore_notfound_exc(client.delete_backup,
                                                backup_id)
        client.wait_for_resource_deletion(backup_id)

    @staticmethod
    def next_marker(body):
        """The marker of the page's next link; None on the last page."""
        for link in body.get('links', []):
            if link['rel'] == 'next':
                query = parse.parse_qs(parse.urlsplit(link['href']).query)
                return query['marker'][0]
        return None


class AdminProjectBackupsTest(BaseBackupsTest):
    """Tests that also need a backup in the admin credentials' project."""

    @classmethod
    def skip_checks(cls):
        super().skip_checks()
        if not CONF.database_backup.admin_instance_id:
            raise cls.skipException('[database_backup] admin_instance_id '
                                    'is not set.')
