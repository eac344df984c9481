"""Restores API: what it must refuse, and with which code."""

import json

from tempest import config
from tempest.lib.common.utils import data_utils
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from trove_backup_ext_tempest.tests.api import base

CONF = config.CONF


class RestoresNegativeTest(base.BaseBackupsTest):

    @classmethod
    def resource_setup(cls):
        super().resource_setup()
        cls.backup = cls.create_completed_backup()

    def assertNoRestoreOf(self, backup_id):
        self.assertEqual([], self.restores_client.list_restores(
            backup_id=backup_id)['restores'])

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('1b3d5f7a-9c2e-4a6b-8d0f-3e5a7c9b1d4f')
    def test_restore_unknown_backup(self):
        unknown = data_utils.rand_uuid()
        self.assertRaises(lib_exc.NotFound,
                          self.restores_client.create_restore,
                          backup_id=unknown, instance_id=self.instance_id)
        self.assertRaises(lib_exc.NotFound,
                          self.restores_client.restore_backup, unknown,
                          instance_id=self.instance_id)
        self.assertNoRestoreOf(unknown)

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('6e8a0c2e-4b7d-4f1a-9c3e-5b7d9f1a3c5e')
    def test_restore_into_unknown_instance(self):
        self.assertRaises(lib_exc.NotFound,
                          self.restores_client.create_restore,
                          backup_id=self.backup['id'],
                          instance_id=data_utils.rand_uuid())
        self.assertNoRestoreOf(self.backup['id'])

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('d4f6a8c0-2e5b-4d7f-8a1c-3e5f7b9d1a3c')
    def test_show_unknown_restore(self):
        self.assertRaises(lib_exc.NotFound,
                          self.restores_client.show_restore,
                          data_utils.rand_uuid())
        self.assertRaises(lib_exc.NotFound,
                          self.restores_client.show_restore, 'not-a-uuid')

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('a2c4e6f8-1b3d-4f5a-9c7e-0b2d4f6a8c1e')
    def test_restore_with_bad_bodies(self):
        for body in ({},
                     {'restore': {'backup_id': self.backup['id']}},
                     {'restore': {'backup_id': self.backup['id'],
                                  'instance_id': 'not-a-uuid'}},
                     {'restore': {'backup_id': self.backup['id'],
                                  'instance_id': self.instance_id,
                                  'target': '/tmp'}},
                     {'restore': [self.backup['id'], self.instance_id]}):
            self.assertRaises(lib_exc.BadRequest,
                              self.restores_client.create_restore_raw,
                              json.dumps(body))
        self.assertRaises(lib_exc.BadRequest,
                          self.restores_client.create_restore_raw,
                          '{"restore": {"backup_id": ')
        # The alias takes the backup from its path only.
        self.assertRaises(lib_exc.BadRequest,
                          self.restores_client.restore_backup,
                          self.backup['id'], backup_id=self.backup['id'],
                          instance_id=self.instance_id)
        self.assertNoRestoreOf(self.backup['id'])

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('5c7e9a1b-3d5f-4a7c-8e0a-2c4e6a8c0e2a')
    def test_restore_into_inactive_instance(self):
        instance_id = CONF.database_backup.inactive_instance_id
        if not instance_id:
            raise self.skipException('[database_backup] '
                                     'inactive_instance_id is not set.')
        self.assertRaises(lib_exc.UnprocessableEntity,
                          self.restores_client.create_restore,
                          backup_id=self.backup['id'],
                          instance_id=instance_id)
        self.assertNoRestoreOf(self.backup['id'])

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('7e9a1c3e-5a7c-4e9a-8c2e-4a6c8e0a2c4e')
    def test_list_all_projects_as_member(self):
        self.assertRaises(lib_exc.Forbidden,
                          self.restores_client.list_restores,
                          all_projects=True)
        self.assertRaises(lib_exc.Forbidden,
                          self.restores_client.list_restores,
                          project_id=self.os_admin.credentials.project_id)


class RestoresRunningNegativeTest(base.BaseBackupsTest):
    """What a running restore or backup refuses. The stalled instance has
    no agent: what runs on it stays NEW, deterministically, until the
    worker's reaper fails it ([worker] backup_timeout)."""

    @classmethod
    def skip_checks(cls):
        super().skip_checks()
        if not CONF.database_backup.stalled_instance_id:
            raise cls.skipException('[database_backup] stalled_instance_id '
                                    'is not set.')

    @classmethod
    def resource_setup(cls):
        super().resource_setup()
        cls.stalled_id = CONF.database_backup.stalled_instance_id
        cls.backup = cls.create_completed_backup()

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('3e5a7c9e-1b3d-4f5b-9d7f-1b3d5f7b9d1f')
    def test_running_restore_refuses_delete_and_second_operation(self):
        restore = self.restores_client.create_restore(
            backup_id=self.backup['id'],
            instance_id=self.stalled_id)['restore']
        self.assertEqual(self.instance_id, restore['source_instance_id'])
        # The backup being restored cannot be deleted...
        self.assertRaises(lib_exc.UnprocessableEntity,
                          self.client.delete_backup, self.backup['id'])
        self.assertEqual(base.COMPLETED, self.client.show_backup(
            self.backup['id'])['backup']['status'])
        # ... and the instance takes no second restore, nor a backup.
        self.assertRaises(lib_exc.UnprocessableEntity,
                          self.restores_client.restore_backup,
                          self.backup['id'], instance_id=self.stalled_id)
        self.assertRaises(lib_exc.UnprocessableEntity,
                          self.client.create_backup, name='busy',
                          instance=self.stalled_id)
        self.assertEqual([restore['id']], [
            r['id'] for r in self.restores_client.list_restores(
                instance_id=self.stalled_id,
                backup_id=self.backup['id'])['restores']])
        # No agent ever answers: the reaper fails it, with the reason,
        # and gives the instance and the backup back.
        failed = self.wait_for_restore(restore['id'], base.FAILED)
        self.assertIsNotNone(failed['finished'])
        self.assertIsNone(failed['progress'])
        self.assertIn('No progress', failed['fault']['message'])
        self.assertEqual(failed['finished'], failed['fault']['created'])
        backup = self.create_backup(instance_id=self.stalled_id,
                                    name='after-restore')
        self.addCleanup(self.wait_for_status, backup['id'], base.FAILED)

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('9a1c3e5a-7c9e-4b1d-8f3b-5d7f9b1d3f5b')
    def test_restore_of_a_backup_that_is_not_completed(self):
        running = self.create_backup(instance_id=self.stalled_id,
                                     name='stalled')
        self.addCleanup(self.wait_for_status, running['id'], base.FAILED)
        self.assertRaises(lib_exc.UnprocessableEntity,
                          self.restores_client.create_restore,
                          backup_id=running['id'],
                          instance_id=self.instance_id)
        self.assertEqual([], self.restores_client.list_restores(
            backup_id=running['id'])['restores'])


class RestoresOtherProjectNegativeTest(base.AdminProjectBackupsTest):

    @classmethod
    def resource_setup(cls):
        super().resource_setup()
        cls.mine = cls.create_completed_backup()
        cls.theirs = cls.create_completed_backup(
            cls.admin_client,
            instance_id=CONF.database_backup.admin_instance_id)

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('b5d7f9b1-3d5f-4b7d-9f1b-7f9b1d3f5b7d')
    def test_restore_another_projects_backup(self):
        for call, args, kwargs in (
                (self.restores_client.create_restore, (),
                 {'backup_id': self.theirs['id'],
                  'instance_id': self.instance_id}),
                (self.restores_client.restore_backup, (self.theirs['id'],),
                 {'instance_id': self.instance_id})):
            self.assertRaises(lib_exc.NotFound, call, *args, **kwargs)
        self.assertEqual([], self.admin_restores_client.list_restores(
            backup_id=self.theirs['id'], all_projects=True)['restores'])

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('1d3f5b7d-9f1b-4d3f-8b5d-9b1d3f5b7d9f')
    def test_restore_into_another_projects_instance(self):
        self.assertRaises(lib_exc.NotFound,
                          self.restores_client.create_restore,
                          backup_id=self.mine['id'],
                          instance_id=CONF.database_backup.admin_instance_id)
        self.assertEqual([], self.restores_client.list_restores(
            backup_id=self.mine['id'])['restores'])
