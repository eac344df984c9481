"""Restores API: restore a backup into its live instance, list, show."""

import re
from urllib import parse

from tempest import config
from tempest.lib.common.utils import data_utils
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from trove_backup_ext_tempest.tests.api import base

CONF = config.CONF

FIELDS = {'id', 'backup_id', 'instance_id', 'source_instance_id',
          'project_id', 'restore_point', 'status', 'progress', 'fault',
          'created', 'updated', 'started', 'finished'}
TIME = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$')


def list_all(client, **params):
    """Every restore the list gives, following the next links."""
    restores = []
    while True:
        body = client.list_restores(**params)
        restores.extend(body['restores'])
        marker = base.BaseBackupsTest.next_marker(body)
        if marker is None:
            return restores
        params['marker'] = marker


def skip_unless_restores_allowed(cls):
    if not CONF.database_backup.restore_into_instances:
        raise cls.skipException('[database_backup] restore_into_instances '
                                'is false.')


class RestoresTest(base.BaseBackupsTest):
    """A member restores its project's backup into the instance it was
    taken of, through both routes, and follows the restores."""

    @classmethod
    def skip_checks(cls):
        super().skip_checks()
        skip_unless_restores_allowed(cls)

    @classmethod
    def resource_setup(cls):
        super().resource_setup()
        cls.backup = cls.create_completed_backup()
        cls.created = cls.restores_client.create_restore(
            backup_id=cls.backup['id'],
            instance_id=cls.instance_id)['restore']
        cls.restore = cls.wait_for_restore(cls.created['id'])

    @decorators.idempotent_id('5d0f8a3e-3c1b-4f7e-9a52-6b1e2d7c4a90')
    def test_create_restore(self):
        created = self.created
        self.assertEqual(FIELDS, set(created))
        self.assertEqual('NEW', created['status'])
        self.assertEqual(self.backup['id'], created['backup_id'])
        self.assertEqual(self.instance_id, created['instance_id'])
        self.assertEqual(self.instance_id, created['source_instance_id'])
        self.assertEqual(self.project_id, created['project_id'])
        for field in ('restore_point', 'progress', 'fault', 'started',
                      'finished'):
            self.assertIsNone(created[field], field)
        self.assertRegex(created['created'], TIME)

    @decorators.idempotent_id('a7c4e915-0d2b-4c86-8f3a-1e5b9d6c2f47')
    def test_restore_completes(self):
        restore = self.restores_client.show_restore(
            self.created['id'])['restore']
        self.assertEqual(FIELDS, set(restore))
        self.assertEqual(base.COMPLETED, restore['status'])
        self.assertIsNone(restore['fault'])
        self.assertIsNone(restore['progress'])
        for field in ('created', 'updated', 'started', 'finished'):
            self.assertRegex(restore[field], TIME, field)
        self.assertLessEqual(restore['created'], restore['started'])
        self.assertLessEqual(restore['started'], restore['finished'])
        # The backup restored is unchanged, and not running.
        backup = self.client.show_backup(self.backup['id'])['backup']
        self.assertEqual(base.COMPLETED, backup['status'])
        self.assertIsNone(backup['progress'])

    @decorators.idempotent_id('2e9b6c1d-7f43-4a08-b5e1-c3d8a0f69b12')
    def test_restore_through_the_backup(self):
        created = self.restores_client.restore_backup(
            self.backup['id'], instance_id=self.instance_id)['restore']
        self.assertEqual(FIELDS, set(created))
        self.assertEqual('NEW', created['status'])
        self.assertEqual(self.backup['id'], created['backup_id'])
        self.assertNotEqual(self.created['id'], created['id'])
        restore = self.wait_for_restore(created['id'])
        self.assertEqual(self.instance_id, restore['instance_id'])

    @decorators.idempotent_id('c3f1a2b4-6d5e-4f78-9a0b-1c2d3e4f5a6b')
    def test_show_restore(self):
        restore = self.restores_client.show_restore(
            self.created['id'])['restore']
        self.assertEqual(self.restore, restore)

    @decorators.idempotent_id('8b4e2d6f-1a3c-4e5b-9d7f-0a2c4e6b8d1f')
    def test_list_restores(self):
        restores = list_all(self.restores_client)
        self.assertIn(self.created['id'], [r['id'] for r in restores])
        for restore in restores:
            self.assertEqual(FIELDS, set(restore))
            self.assertEqual(self.project_id, restore['project_id'])
        created = [r['created'] for r in restores]
        self.assertEqual(sorted(created, reverse=True), created,
                         'not newest first')

    @decorators.idempotent_id('e1d7c5b3-9f2a-4c6e-8b0d-2f4a6c8e0b2d')
    def test_list_restores_by_backup_and_instance(self):
        by_backup = list_all(self.restores_client,
                             backup_id=self.backup['id'])
        self.assertIn(self.created['id'], [r['id'] for r in by_backup])
        self.assertEqual({self.backup['id']},
                         {r['backup_id'] for r in by_backup})
        by_instance = list_all(self.restores_client,
                               instance_id=self.instance_id)
        self.assertIn(self.created['id'], [r['id'] for r in by_instance])
        self.assertEqual({self.instance_id},
                         {r['instance_id'] for r in by_instance})
        self.assertEqual([], list_all(self.restores_client,
                                      backup_id=data_utils.rand_uuid()))
        self.assertEqual([], list_all(self.restores_client,
                                      instance_id=data_utils.rand_uuid()))

    @decorators.idempotent_id('4a6c8e0b-2d4f-4a1c-9e3b-5d7f9a1c3e5b')
    def test_list_restores_paging(self):
        expected = [r['id'] for r in list_all(self.restores_client)]
        seen = []
        params = {'limit': 1}
        while True:
            body = self.restores_client.list_restores(**params)
            self.assertEqual(1, len(body['restores']), body)
            seen.append(body['restores'][0]['id'])
            links = [link for link in body.get('links', [])
                     if link['rel'] == 'next']
            if not links:
                break
            params = dict(parse.parse_qsl(parse.urlsplit(
                links[0]['href']).query))
            self.assertEqual({'limit', 'marker'}, set(params))
            self.assertLessEqual(len(seen), len(expected))
        self.assertEqual(expected, seen)

    @decorators.idempotent_id('9c1e3a5b-7d9f-4b2d-8f4a-6c8e0a2c4e6f')
    def test_restore_is_never_deleted(self):
        # A restore is the audit trail of what happened to the data.
        error = self.assertRaises(lib_exc.UnexpectedResponseCode,
                                  self.restores_client.delete_restore,
                                  self.created['id'])
        self.assertEqual(405, error.resp.status)
        self.assertEqual('GET', error.resp['allow'])
        self.restores_client.show_restore(self.created['id'])


class RestoresAdminTest(base.AdminProjectBackupsTest):
    """An administrator restores a backup of the primary project into an
    instance of its own project: the restore belongs to the target's
    project, so the backup's project does not see it."""

    @classmethod
    def skip_checks(cls):
        super().skip_checks()
        skip_unless_restores_allowed(cls)

    @classmethod
    def resource_setup(cls):
        super().resource_setup()
        cls.admin_project_id = cls.os_admin.credentials.project_id
        cls.admin_instance_id = CONF.database_backup.admin_instance_id
        cls.backup = cls.create_completed_backup()
        created = cls.admin_restores_client.restore_backup(
            cls.backup['id'], instance_id=cls.admin_instance_id)['restore']
        cls.restore = cls.wait_for_restore(
            created['id'], client=cls.admin_restores_client)

    @decorators.idempotent_id('f2a4c6e8-0b1d-4f3a-8c5e-7a9b1d3f5a7c')
    def test_cross_project_restore_belongs_to_the_target(self):
        self.assertEqual(self.admin_project_id, self.restore['project_id'])
        self.assertEqual(self.admin_instance_id, self.restore['instance_id'])
        self.assertEqual(self.instance_id,
                         self.restore['source_instance_id'])
        self.assertRaises(lib_exc.NotFound, self.restores_client.show_restore,
                          self.restore['id'])
        self.assertNotIn(self.restore['id'],
                         [r['id'] for r in list_all(self.restores_client)])

    @decorators.idempotent_id('0d2f4b6d-8e1a-4c3e-9b5d-7f9a1b3d5e7a')
    def test_list_all_projects_as_admin(self):
        mine = self.restores_client.create_restore(
            backup_id=self.backup['id'],
            instance_id=self.instance_id)['restore']
        self.wait_for_restore(mine['id'])
        restores = {r['id']: r['project_id'] for r in list_all(
            self.admin_restores_client, all_projects=True)}
        self.assertEqual(self.admin_project_id,
                         restores.get(self.restore['id']))
        self.assertEqual(self.project_id, restores.get(mine['id']))
        by_project = list_all(self.admin_restores_client,
                              project_id=self.project_id)
        self.assertIn(mine['id'], [r['id'] for r in by_project])
        self.assertEqual({self.project_id},
                         {r['project_id'] for r in by_project})
        # Without either, the admin's own project only.
        own = {r['project_id'] for r in list_all(self.admin_restores_client)}
        self.assertEqual({self.admin_project_id}, own)
