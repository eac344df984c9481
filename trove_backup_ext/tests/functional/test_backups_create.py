"""POST /v1.0/{project}/backups: bodies, validation, parents and quota."""

import json
import re

from oslo_utils import uuidutils
import sqlalchemy as sa

from trove_backup_ext.db import backups as backups_db
from trove_backup_ext.db import models
from trove_backup_ext.instance_sources import registry
from trove_backup_ext.tests import base

BACKUP_FIELDS = {'id', 'name', 'description', 'locationRef', 'instance_id',
                 'created', 'updated', 'size', 'status', 'parent_id',
                 'project_id', 'storage_driver', 'datastore', 'progress',
                 'verification', 'fault'}
TIMESTAMP = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$')


class _CreateTests:

    def setUp(self):
        super().setUp()
        self.instance = self.add_instance()

    # Helpers.

    def post(self, body, **kwargs):
        return self.request('POST', '/backups', json=body, **kwargs)

    def post_backup(self, **fields):
        spec = dict({'name': 'backup', 'instance': self.instance.id},
                    **fields)
        return self.post({'backup': spec})

    def usage(self, project=base.PROJECT):
        return backups_db.usage(self.admin_context, project)

    def listed_ids(self, project=base.PROJECT):
        response = self.request('GET', '/backups', project=project)
        self.assertEqual(200, response.status_code, response.text)
        return [b['id'] for b in response.json()['backups']]

    def assertUnchanged(self, ids=(), usage=0):
        """Nothing was written: the same backups and the same usage."""
        self.assertEqual(sorted(ids), sorted(self.listed_ids()))
        self.assertEqual(usage, self.usage())

    def assertRefused(self, response, code, name, *fragments, ids=(),
                      usage=0):
        message = self.assertFault(response, code, name)
        for fragment in fragments:
            self.assertIn(fragment, message)
        self.assertUnchanged(ids, usage)
        return message

    # The created backup.

    def test_create_returns_every_field(self):
        response = self.post_backup(name='nightly', description='before '
                                    'the upgrade')
        self.assertEqual(202, response.status_code, response.text)
        backup = response.json()['backup']
        self.assertEqual(['backup'], list(response.json()))
        self.assertEqual(BACKUP_FIELDS, set(backup))
        self.assertTrue(uuidutils.is_uuid_like(backup['id']))
        self.assertEqual('nightly', backup['name'])
        self.assertEqual('before the upgrade', backup['description'])
        self.assertIsNone(backup['locationRef'])
        self.assertEqual(self.instance.id, backup['instance_id'])
        self.assertRegex(backup['created'], TIMESTAMP)
        self.assertRegex(backup['updated'], TIMESTAMP)
        self.assertIsNone(backup['size'])
        self.assertEqual('NEW', backup['status'])
        self.assertIsNone(backup['parent_id'])
        self.assertEqual(base.PROJECT, backup['project_id'])
        self.assertEqual('local', backup['storage_driver'])
        self.assertEqual(
            {'type': 'mysql', 'version': '10.11',
             'version_id': registry.datastore_version_id('mysql', '10.11')},
            backup['datastore'])
        self.assertTrue(self.worker.received.wait(5))
        self.assertEqual([('create_backup', backup['id'])],
                         self.worker.calls)
        self.assertUnchanged([backup['id']], usage=1)

    def test_description_is_optional_and_null(self):
        backup = self.create_backup(self.instance.id)
        self.assertIsNone(backup['description'])

    # Bodies that are not a backup request.

    def test_bad_json(self):
        response = self.request('POST', '/backups', data='{"backup": {',
                                headers={'Content-Type': 'application/json'})
        self.assertRefused(response, 400, 'badRequest', 'not valid JSON')

    def test_empty_object(self):
        self.assertRefused(self.post({}), 400, 'badRequest',
                           "'backup' is a required property")

    def test_empty_body(self):
        response = self.request('POST', '/backups', data=b'',
                                headers={'Content-Type': 'application/json'})
        self.assertRefused(response, 400, 'badRequest', 'body is empty')

    def test_wrong_content_type(self):
        body = json.dumps({'backup': {'name': 'b',
                                      'instance': self.instance.id}})
        response = self.request('POST', '/backups', data=body,
                                headers={'Content-Type': 'text/plain'})
        self.assertRefused(response, 415, 'badMediaType', 'text/plain',
                           'application/json')

    def test_body_over_the_limit(self):
        response = self.post_backup(description='x' * 70000)
        self.assertRefused(response, 413, 'overLimit', '65536')

    def test_incremental_true_is_not_an_integer(self):
        self.assertRefused(self.post_backup(incremental=True), 400,
                           'badRequest', "backup['incremental']",
                           'integer')

    def test_incremental_two(self):
        self.assertRefused(self.post_backup(incremental=2), 400,
                           'badRequest', "backup['incremental'] 2",
                           'must be the integer 0 or 1')

    def test_name_too_long(self):
        message = self.assertRefused(self.post_backup(name='n' * 10000), 400,
                                     'badRequest', "backup['name']", '255')
        # The message repeats a bounded part of the value, not all of it.
        self.assertLess(len(message), 500)

    def test_name_without_letter_or_digit(self):
        self.assertRefused(self.post_backup(name='---'), 400, 'badRequest',
                           "backup['name'] '---'", 'letter or digit')

    def test_empty_name(self):
        self.assertRefused(self.post_backup(name=''), 400, 'badRequest',
                           "backup['name'] ''")

    def test_missing_name(self):
        response = self.post({'backup': {'instance': self.instance.id}})
        self.assertRefused(response, 400, 'badRequest',
                           "'name' is a required property")

    def test_missing_instance(self):
        response = self.post({'backup': {'name': 'b'}})
        self.assertRefused(response, 400, 'badRequest',
                           "'instance' is a required property")

    def test_instance_not_a_uuid(self):
        self.assertRefused(self.post_backup(instance='not-a-uuid'), 400,
                           'badRequest', "backup['instance'] 'not-a-uuid'",
                           'is not a UUID')

    def test_unknown_instance(self):
        unknown = uuidutils.generate_uuid()
        self.assertRefused(self.post_backup(instance=unknown), 404,
                           'itemNotFound', unknown)

    def test_instance_of_another_project(self):
        other = self.add_instance(project_id=base.OTHER_PROJECT)
        self.assertRefused(self.post_backup(instance=other.id), 404,
                           'itemNotFound', other.id)
        self.assertEqual(0, self.usage(base.OTHER_PROJECT))

    def test_instance_not_active(self):
        building = self.add_instance(status='BUILD')
        self.assertRefused(self.post_backup(instance=building.id), 422,
                           'unprocessableEntity', building.id, 'BUILD')

    def test_unknown_field(self):
        self.assertRefused(self.post_backup(colour='blue'), 400,
                           'badRequest', "'colour' was unexpected")

    def test_restore_from_is_refused(self):
        response = self.post_backup(restore_from={
            'remote_location': 'http://example.com/b', 'local_datastore_'
            'version_id': uuidutils.generate_uuid(), 'size': 1})
        self.assertRefused(response, 400, 'badRequest',
                           "backup['restore_from']", 'not supported')

    def test_swift_container_with_slash(self):
        self.assertRefused(self.post_backup(swift_container='a/b'), 400,
                           'badRequest', "backup['swift_container'] 'a/b'")

    def test_unknown_storage_driver(self):
        self.assertRefused(self.post_backup(storage_driver='tape'), 400,
                           'badRequest', "storage_driver 'tape'", 'local')

    def test_parent_id_not_a_uuid(self):
        self.assertRefused(self.post_backup(parent_id='1234'), 400,
                           'badRequest', "backup['parent_id'] '1234'",
                           'is not a UUID')

    # Parents.

    def test_unknown_parent(self):
        unknown = uuidutils.generate_uuid()
        self.assertRefused(self.post_backup(parent_id=unknown), 404,
                           'itemNotFound', unknown)

    def test_parent_of_another_project(self):
        other_instance = self.add_instance(project_id=base.OTHER_PROJECT)
        other = self.create_backup(other_instance.id,
                                   project=base.OTHER_PROJECT)
        self.complete(other['id'])
        self.assertRefused(self.post_backup(parent_id=other['id']), 404,
                           'itemNotFound', other['id'])
        self.assertEqual(1, self.usage(base.OTHER_PROJECT))

    def test_parent_not_completed(self):
        parent = self.create_backup(self.instance.id)
        # FAILED, not running: the only objection left is the status.
        self.set_backup(parent['id'], status='FAILED',
                        running_instance_id=None)
        self.assertRefused(self.post_backup(parent_id=parent['id']), 422,
                           'unprocessableEntity', parent['id'], 'FAILED',
                           ids=[parent['id']], usage=1)

    def test_parent_of_another_instance(self):
        parent = self.create_backup(self.instance.id)
        self.complete(parent['id'])
        second = self.add_instance()
        self.assertRefused(
            self.post_backup(instance=second.id, parent_id=parent['id']),
            422, 'unprocessableEntity', parent['id'], self.instance.id,
            ids=[parent['id']], usage=1)

    def test_incremental_without_completed_backup_is_full(self):
        failed = self.create_backup(self.instance.id)
        self.set_backup(failed['id'], status='FAILED',
                        running_instance_id=None)
        backup = self.create_backup(self.instance.id, incremental=1)
        self.assertIsNone(backup['parent_id'])

    def test_incremental_takes_newest_completed_backup(self):
        older = self.create_backup(self.instance.id)
        self.complete(older['id'])
        newer = self.create_backup(self.instance.id)
        self.complete(newer['id'])
        failed = self.create_backup(self.instance.id)
        self.set_backup(failed['id'], status='FAILED',
                        running_instance_id=None)
        # A newer COMPLETED backup of another instance is not a candidate.
        other = self.add_instance()
        self.complete(self.create_backup(other.id)['id'])

        child = self.create_backup(self.instance.id, incremental=1)
        self.assertEqual(newer['id'], child['parent_id'])
        shown = self.request('GET', '/backups/%s' % child['id']).json()
        self.assertEqual(newer['id'], shown['backup']['parent_id'])

    def test_explicit_completed_parent(self):
        older = self.create_backup(self.instance.id)
        self.complete(older['id'])
        self.complete(self.create_backup(self.instance.id)['id'])
        child = self.create_backup(self.instance.id, parent_id=older['id'])
        self.assertEqual(older['id'], child['parent_id'])

    # One running backup per instance, and the quota.

    def test_second_create_while_one_runs(self):
        running = self.create_backup(self.instance.id)
        self.assertRefused(self.post_backup(), 422, 'unprocessableEntity',
                           self.instance.id, ids=[running['id']], usage=1)
        # Another instance of the project is not held up.
        self.create_backup(self.add_instance().id)

    def test_quota_refuses_the_backup_over_the_limit(self):
        self.conf.set_override('max_backups_per_tenant', 2)
        ids = []
        for _ in range(2):
            ids.append(self.create_backup(self.instance.id)['id'])
            self.complete(ids[-1])
        self.assertRefused(self.post_backup(), 413, 'overLimit',
                           'Quota exceeded', base.PROJECT, '2',
                           ids=ids, usage=2)
        # The quota is per project.
        other = self.add_instance(project_id=base.OTHER_PROJECT)
        self.create_backup(other.id, project=base.OTHER_PROJECT)

    def test_quota_minus_one_is_unlimited(self):
        self.conf.set_override('max_backups_per_tenant', -1)
        self.create_backup(self.add_instance().id)
        with self.database.engine.begin() as connection:
            connection.execute(sa.update(models.ProjectUsage)
                               .where(models.ProjectUsage.project_id ==
                                      base.PROJECT)
                               .values(backups=100000))
        self.create_backup(self.instance.id)
        self.assertEqual(100001, self.usage())

    def test_quota_zero_refuses_every_create(self):
        self.conf.set_override('max_backups_per_tenant', 0)
        for instance_id in (self.instance.id, self.add_instance().id):
            response = self.post_backup(instance=instance_id)
            self.assertRefused(response, 413, 'overLimit', 'Quota exceeded')


(TestCreate_sqlite, TestCreate_mysql,
 TestCreate_postgresql) = base.for_each_backend(_CreateTests, __name__)
