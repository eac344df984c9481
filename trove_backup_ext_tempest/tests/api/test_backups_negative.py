"""Backups API: what it must refuse, and with which code."""

from tempest import config
from tempest.lib.common.utils import data_utils
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from trove_backup_ext_tempest.tests.api import base

CONF = config.CONF


class BackupsNegativeTest(base.BaseBackupsTest):

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('6dd606f3-a6c2-424f-af30-3ea83cb97bba')
    def test_show_unknown_backup(self):
        self.assertRaises(lib_exc.NotFound, self.client.show_backup,
                          data_utils.rand_uuid())
        # Not even a UUID: still "not found", as Trove answers.
        self.assertRaises(lib_exc.NotFound, self.client.show_backup,
                          'nonexistent_backup')

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('a193b9f4-d49d-4ad0-9f24-cf113bfa0f40')
    def test_delete_unknown_backup(self):
        self.assertRaises(lib_exc.NotFound, self.client.delete_backup,
                          data_utils.rand_uuid())

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('216951d7-73e2-4abf-b293-00ade1fce8ed')
    def test_create_without_name(self):
        self.assertRaises(lib_exc.BadRequest, self.client.create_backup,
                          instance=self.instance_id)

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('a1028600-2797-49d1-a150-1a8b041341fe')
    def test_create_with_bad_incremental(self):
        self.assertRaises(lib_exc.BadRequest, self.client.create_backup,
                          name='bad', instance=self.instance_id,
                          incremental=2)

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('0cd5d522-67a7-4a67-b9e3-4f0ebfc9e682')
    def test_create_with_instance_not_a_uuid(self):
        self.assertRaises(lib_exc.BadRequest, self.client.create_backup,
                          name='bad', instance='invalid-inst-id')

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('ed425767-b5b6-4dcf-8ade-688d77bee54b')
    def test_create_with_malformed_json(self):
        self.assertRaises(lib_exc.BadRequest, self.client.create_backup_raw,
                          '{"backup": {"name": ')

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('ec35f504-443c-481d-aa58-12af39c849c7')
    def test_create_of_unknown_instance(self):
        self.assertRaises(lib_exc.NotFound, self.client.create_backup,
                          name='bad', instance=data_utils.rand_uuid())

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('8c438e56-fcec-4531-be12-b05baa16a212')
    def test_create_incremental_of_unknown_parent(self):
        self.assertRaises(lib_exc.NotFound, self.client.create_backup,
                          name='bad', instance=self.instance_id,
                          incremental=1, parent_id=data_utils.rand_uuid())

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('e17ba8b5-b36e-4b36-871d-96011a712950')
    def test_list_all_projects_as_member(self):
        self.assertRaises(lib_exc.Forbidden, self.client.list_backups,
                          all_projects=True)

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('33a0c399-c744-4265-94ba-beeb2057e5db')
    def test_list_by_project_id_as_member(self):
        self.assertRaises(lib_exc.Forbidden, self.client.list_backups,
                          project_id=self.os_admin.credentials.project_id)

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('b926212e-368d-4c57-95bb-c06f5cae6842')
    def test_list_by_unknown_datastore(self):
        self.assertRaises(lib_exc.NotFound, self.client.list_backups,
                          datastore='NOT_FOUND')

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('08ed8cfb-be45-4926-a6cf-d7ae6c9c9732')
    def test_create_of_inactive_instance(self):
        instance_id = CONF.database_backup.inactive_instance_id
        if not instance_id:
            raise self.skipException('[database_backup] '
                                     'inactive_instance_id is not set.')
        self.assertRaises(lib_exc.UnprocessableEntity,
                          self.client.create_backup, name='bad',
                          instance=instance_id)

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('e161e46d-85cb-4682-aafe-4cedf223e752')
    def test_second_running_backup_and_deleting_a_running_one(self):
        instance_id = CONF.database_backup.stalled_instance_id
        if not instance_id:
            raise self.skipException('[database_backup] stalled_instance_id '
                                     'is not set.')
        running = self.client.create_backup(
            name='stalled', instance=instance_id)['backup']
        # Cleanups run last first: wait for the worker's reaper to fail
        # the backup no agent took, then delete it.
        self.addCleanup(self.delete_and_wait, self.client, running['id'])
        self.addCleanup(self.wait_for_status, running['id'], base.FAILED)
        self.assertRaises(lib_exc.UnprocessableEntity,
                          self.client.create_backup, name='second',
                          instance=instance_id)
        self.assertRaises(lib_exc.UnprocessableEntity,
                          self.client.delete_backup, running['id'])
        self.assertEqual('NEW',
                         self.client.show_backup(running['id'])
                         ['backup']['status'])


class BackupsOtherProjectNegativeTest(base.AdminProjectBackupsTest):

    @classmethod
    def resource_setup(cls):
        super().resource_setup()
        cls.theirs = cls.create_completed_backup(
            cls.admin_client,
            instance_id=CONF.database_backup.admin_instance_id)

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('108d7cde-b4a7-40e7-8a43-e22624ecc59c')
    def test_another_projects_backup_is_not_found(self):
        self.assertRaises(lib_exc.NotFound, self.client.show_backup,
                          self.theirs['id'])
        self.assertRaises(lib_exc.NotFound, self.client.delete_backup,
                          self.theirs['id'])
        # Untouched for its owner.
        self.admin_client.show_backup(self.theirs['id'])

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('3a21090c-561e-49c8-9209-8857a1a94a74')
    def test_backup_of_another_projects_instance_is_not_found(self):
        self.assertRaises(lib_exc.NotFound, self.client.create_backup,
                          name='theirs',
                          instance=CONF.database_backup.admin_instance_id)
