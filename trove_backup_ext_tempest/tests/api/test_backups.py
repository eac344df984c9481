"""Backups API: create full and incremental, show, list, page, delete."""

import re
from urllib import parse

from tempest import config
from tempest.lib.common.utils import data_utils
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from trove_backup_ext_tempest.tests.api import base

CONF = config.CONF

FIELDS = {'id', 'name', 'description', 'locationRef', 'instance_id',
          'created', 'updated', 'size', 'status', 'parent_id', 'project_id',
          'storage_driver', 'datastore', 'progress', 'verification',
          'fault'}
TIME = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$')


def list_all(client, **params):
    """Every backup the list gives, following the next links."""
    backups = []
    while True:
        body = client.list_backups(**params)
        backups.extend(body['backups'])
        marker = base.BaseBackupsTest.next_marker(body)
        if marker is None:
            return backups
        params['marker'] = marker


class BackupsTest(base.BaseBackupsTest):
    """One project's backups, as a member of it."""

    @classmethod
    def resource_setup(cls):
        super().resource_setup()
        cls.full_created = cls.create_backup(description='full backup')
        cls.full = cls.wait_for_status(cls.full_created['id'],
                                       base.COMPLETED)

    @decorators.idempotent_id('0a3e6cfd-dac2-4e9b-b378-ad4493a4723a')
    def test_create_full_backup(self):
        created = self.full_created
        self.assertEqual(FIELDS, set(created))
        self.assertEqual('NEW', created['status'])
        self.assertEqual('full backup', created['description'])
        self.assertEqual(self.instance_id, created['instance_id'])
        self.assertEqual(self.project_id, created['project_id'])
        self.assertIsNone(created['parent_id'])
        self.assertIsNone(created['fault'])
        self.assertEqual(CONF.database_backup.datastore,
                         created['datastore']['type'])

    @decorators.idempotent_id('db6b2823-ca9a-40e5-829c-440056616aef')
    def test_show_backup(self):
        backup = self.client.show_backup(self.full['id'])['backup']
        self.assertEqual(FIELDS, set(backup))
        self.assertEqual(base.COMPLETED, backup['status'])
        self.assertEqual(self.full_created['name'], backup['name'])
        self.assertIsNotNone(backup['locationRef'])
        self.assertGreater(backup['size'], 0)
        self.assertEqual({'type', 'version', 'version_id'},
                         set(backup['datastore']))
        self.assertRegex(backup['created'], TIME)
        self.assertRegex(backup['updated'], TIME)
        self.assertLessEqual(backup['created'], backup['updated'])

    @decorators.idempotent_id('6e806007-1599-4247-b7c0-b67324ba0964')
    def test_create_incremental_backup(self):
        created = self.create_backup(incremental=1,
                                     parent_id=self.full['id'])
        self.assertEqual('NEW', created['status'])
        self.assertEqual(self.full['id'], created['parent_id'])
        backup = self.wait_for_status(created['id'], base.COMPLETED)
        self.assertEqual(self.full['id'], backup['parent_id'])
        self.assertIsNotNone(backup['locationRef'])

    @decorators.idempotent_id('08e8df4c-be4a-4809-9d98-0309c6421a8e')
    def test_list_backups(self):
        backups = list_all(self.client)
        self.assertIn(self.full['id'], [b['id'] for b in backups])
        for backup in backups:
            self.assertEqual(FIELDS, set(backup))
            self.assertEqual(self.project_id, backup['project_id'])
        created = [b['created'] for b in backups]
        self.assertEqual(sorted(created, reverse=True), created,
                         'not newest first')

    @decorators.idempotent_id('4f57eeb6-9b3d-469d-bb66-3a6d1e64b134')
    def test_list_backups_by_instance_id(self):
        backups = list_all(self.client, instance_id=self.instance_id)
        self.assertIn(self.full['id'], [b['id'] for b in backups])
        self.assertEqual({self.instance_id},
                         {b['instance_id'] for b in backups})
        self.assertEqual([], list_all(self.client,
                                      instance_id=data_utils.rand_uuid()))

    @decorators.idempotent_id('729f0c67-949f-43cf-af9f-6d7357ad43ea')
    def test_list_backups_by_datastore(self):
        datastore = CONF.database_backup.datastore
        backups = list_all(self.client, datastore=datastore)
        self.assertIn(self.full['id'], [b['id'] for b in backups])
        self.assertEqual({datastore},
                         {b['datastore']['type'] for b in backups})

    @decorators.idempotent_id('6eea96d2-f073-48a7-bdb0-8248f70f84f7')
    def test_list_backups_paging(self):
        for _ in range(2):
            self.create_completed_backup()
        expected = [b['id'] for b in list_all(self.client,
                                              instance_id=self.instance_id)]
        self.assertGreaterEqual(len(expected), 3)
        seen = []
        params = {'limit': 1, 'instance_id': self.instance_id}
        while True:
            body = self.client.list_backups(**params)
            self.assertEqual(1, len(body['backups']), body)
            seen.append(body['backups'][0]['id'])
            links = [link for link in body.get('links', [])
                     if link['rel'] == 'next']
            if not links:
                break
            # The next link alone says how to go on: limit, filter, marker.
            params = dict(parse.parse_qsl(parse.urlsplit(
                links[0]['href']).query))
            self.assertEqual({'limit', 'instance_id', 'marker'},
                             set(params))
            self.assertLessEqual(len(seen), len(expected))
        self.assertEqual(expected, seen)


class BackupsDeleteTest(base.BaseBackupsTest):

    @decorators.idempotent_id('81ba6564-5abb-4a1d-be79-97da3f05d5e5')
    def test_delete_backup_deletes_its_incrementals(self):
        full = self.create_completed_backup()
        inc = self.create_completed_backup(incremental=1,
                                           parent_id=full['id'])
        inc2 = self.create_completed_backup(incremental=1,
                                            parent_id=inc['id'])
        self.assertEqual(inc['id'], inc2['parent_id'])
        self.client.delete_backup(full['id'])
        for backup_id in (full['id'], inc['id'], inc2['id']):
            self.client.wait_for_resource_deletion(backup_id)
            self.assertRaises(lib_exc.NotFound, self.client.show_backup,
                              backup_id)
        listed = [b['id'] for b in list_all(self.client,
                                            instance_id=self.instance_id)]
        self.assertNotIn(inc['id'], listed)


class BackupsAdminTest(base.AdminProjectBackupsTest):
    """Two projects: the primary's and the admin's."""

    @classmethod
    def resource_setup(cls):
        super().resource_setup()
        cls.admin_project_id = cls.os_admin.credentials.project_id
        cls.mine = cls.create_completed_backup()
        cls.theirs = cls.create_completed_backup(
            cls.admin_client,
            instance_id=CONF.database_backup.admin_instance_id)

    @decorators.idempotent_id('b1746c0b-e17b-4c11-ad7a-71d1a6676b27')
    def test_list_all_projects_as_admin(self):
        self.assertNotEqual(self.project_id, self.admin_project_id)
        backups = {b['id']: b['project_id'] for b in list_all(
            self.admin_client, all_projects=True)}
        self.assertEqual(self.project_id, backups.get(self.mine['id']))
        self.assertEqual(self.admin_project_id,
                         backups.get(self.theirs['id']))
        # Without all_projects, the admin's own project only.
        own = {b['project_id'] for b in list_all(self.admin_client)}
        self.assertEqual({self.admin_project_id}, own)

    @decorators.idempotent_id('7e54faf5-e639-403b-972a-ef8fb06a08ad')
    def test_list_by_project_id_as_admin(self):
        backups = list_all(self.admin_client, project_id=self.project_id)
        self.assertIn(self.mine['id'], [b['id'] for b in backups])
        self.assertEqual({self.project_id},
                         {b['project_id'] for b in backups})

    @decorators.idempotent_id('85f12cb5-00de-439a-86a3-2e0528a574ba')
    def test_admin_shows_another_projects_backup(self):
        backup = self.admin_client.show_backup(self.mine['id'])['backup']
        self.assertEqual(self.project_id, backup['project_id'])
