"""GET and DELETE /v1.0/{project}/backups/{id}, and the methods refused."""

import datetime

from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from trove_backup_ext.db import models
from trove_backup_ext.tests import base


class _ShowDeleteTests:

    def setUp(self):
        super().setUp()
        self.instance = self.add_instance()

    # Helpers.

    def completed_backup(self, **fields):
        backup = self.create_backup(self.instance.id, **fields)
        self.complete(backup['id'])
        return backup

    def delete_marks(self):
        """{backup id: delete_requested_at} of every row."""
        with self.database.engine.connect() as connection:
            return dict(connection.execute(sa.select(
                models.Backup.id, models.Backup.delete_requested_at)).all())

    def assertNothingMarked(self):
        self.assertEqual([], [backup_id for backup_id, mark in
                              self.delete_marks().items() if mark])

    def wait_for_casts(self, *expected):
        """Wait until self.worker has received every cast expected."""
        for _ in range(50):
            if set(expected) <= set(self.worker.calls):
                return
            self.worker.received.wait(0.1)
            self.worker.received.clear()
        self.fail('casts %s not all received: %s' % (expected,
                                                     self.worker.calls))

    # Show.

    def test_show_every_field(self):
        created = self.create_backup(self.instance.id, name='nightly',
                                     description='kept a week')
        response = self.request('GET', '/backups/%s' % created['id'])
        self.assertEqual(200, response.status_code, response.text)
        self.assertEqual({'backup': created}, response.json())

    def test_show_unknown(self):
        unknown = uuidutils.generate_uuid()
        response = self.request('GET', '/backups/%s' % unknown)
        message = self.assertFault(response, 404, 'itemNotFound')
        self.assertEqual('Resource %s cannot be found.' % unknown, message)

    def test_show_id_not_a_uuid(self):
        response = self.request('GET', '/backups/not-a-uuid')
        self.assertFault(response, 404, 'itemNotFound', 'not-a-uuid')

    def test_show_with_trailing_slash(self):
        created = self.create_backup(self.instance.id)
        response = self.request('GET', '/backups/%s/' % created['id'])
        self.assertEqual({'backup': created}, response.json())

    def test_show_empty_id(self):
        response = self.request('GET', '/backups//')
        self.assertFault(response, 404, 'itemNotFound')

    def test_member_of_another_project_sees_not_found(self):
        backup = self.create_backup(self.instance.id)
        response = self.request('GET', '/backups/%s' % backup['id'],
                                project=base.OTHER_PROJECT)
        self.assertFault(response, 404, 'itemNotFound', backup['id'])

    def test_admin_shows_another_projects_backup(self):
        backup = self.create_backup(self.instance.id)
        response = self.request('GET', '/backups/%s' % backup['id'],
                                project=base.ADMIN_PROJECT, roles='admin')
        self.assertEqual(200, response.status_code, response.text)
        self.assertEqual({'backup': backup}, response.json())

    # Delete.

    def test_delete(self):
        backup = self.completed_backup()
        other = self.completed_backup()
        response = self.request('DELETE', '/backups/%s' % backup['id'])
        self.assertEqual(202, response.status_code, response.text)
        self.assertEqual(b'', response.content)
        expected = [('create_backup', backup['id']),
                    ('create_backup', other['id']),
                    ('delete_backup', backup['id'])]
        self.wait_for_casts(*expected)
        # The executor runs casts in threads: their order is not asserted.
        self.assertCountEqual(expected, self.worker.calls)
        marks = self.delete_marks()
        self.assertIsNotNone(marks[backup['id']])
        self.assertIsNone(marks[other['id']])
        # The row stays until the worker has removed the backup's data.
        self.assertEqual(200, self.request(
            'GET', '/backups/%s' % backup['id']).status_code)

    def test_delete_running_backup(self):
        backup = self.create_backup(self.instance.id)
        for status in ('NEW', 'BUILDING'):
            self.set_backup(backup['id'], status=status)
            response = self.request('DELETE', '/backups/%s' % backup['id'])
            self.assertFault(response, 422, 'unprocessableEntity',
                             'Backup %s cannot be deleted because it is '
                             'running.' % backup['id'])
        self.assertNothingMarked()

    def test_delete_parent_of_a_running_child(self):
        parent = self.completed_backup()
        child = self.create_backup(self.instance.id, parent_id=parent['id'])
        response = self.request('DELETE', '/backups/%s' % parent['id'])
        self.assertFault(response, 422, 'unprocessableEntity', child['id'])
        self.assertNothingMarked()

    def test_delete_marks_every_descendant(self):
        full = self.completed_backup()
        child = self.completed_backup(parent_id=full['id'])
        grandchild = self.completed_backup(parent_id=child['id'])
        sibling = self.completed_backup(parent_id=full['id'])
        unrelated = self.completed_backup()
        response = self.request('DELETE', '/backups/%s' % full['id'])
        self.assertEqual(202, response.status_code, response.text)
        marks = self.delete_marks()
        for backup in (full, child, grandchild, sibling):
            self.assertIsNotNone(marks[backup['id']], backup['id'])
        self.assertIsNone(marks[unrelated['id']])
        self.wait_for_casts(('delete_backup', full['id']))

    def test_delete_a_child_leaves_the_parent(self):
        full = self.completed_backup()
        child = self.completed_backup(parent_id=full['id'])
        response = self.request('DELETE', '/backups/%s' % child['id'])
        self.assertEqual(202, response.status_code, response.text)
        marks = self.delete_marks()
        self.assertIsNotNone(marks[child['id']])
        self.assertIsNone(marks[full['id']])

    def test_member_of_another_project_cannot_delete(self):
        backup = self.completed_backup()
        response = self.request('DELETE', '/backups/%s' % backup['id'],
                                project=base.OTHER_PROJECT)
        self.assertFault(response, 404, 'itemNotFound', backup['id'])
        self.assertNothingMarked()

    def test_admin_deletes_another_projects_backup(self):
        backup = self.completed_backup()
        response = self.request('DELETE', '/backups/%s' % backup['id'],
                                project=base.ADMIN_PROJECT, roles='admin')
        self.assertEqual(202, response.status_code, response.text)
        self.assertIsNotNone(self.delete_marks()[backup['id']])

    def test_delete_unknown(self):
        unknown = uuidutils.generate_uuid()
        response = self.request('DELETE', '/backups/%s' % unknown)
        message = self.assertFault(response, 404, 'itemNotFound')
        self.assertEqual('Resource %s cannot be found.' % unknown, message)

    def test_delete_id_not_a_uuid(self):
        response = self.request('DELETE', '/backups/not-a-uuid')
        self.assertFault(response, 404, 'itemNotFound', 'not-a-uuid')

    def test_delete_expired_running_backup(self):
        backup = self.create_backup(self.instance.id)
        days = self.conf.running_backups_expires
        self.set_backup(backup['id'], status='BUILDING',
                        created=timeutils.utcnow() - datetime.timedelta(
                            days=days, hours=1))
        response = self.request('DELETE', '/backups/%s' % backup['id'])
        self.assertEqual(202, response.status_code, response.text)
        self.assertIsNotNone(self.delete_marks()[backup['id']])

    # Methods that have no route.

    def test_delete_the_collection(self):
        backup = self.completed_backup()
        response = self.request('DELETE', '/backups')
        self.assertFault(response, 405, 'badMethod', 'DELETE')
        self.assertEqual('GET, POST', response.headers.get('Allow'))
        self.assertNothingMarked()
        self.assertEqual(200, self.request(
            'GET', '/backups/%s' % backup['id']).status_code)

    def test_put(self):
        backup = self.completed_backup()
        response = self.request('PUT', '/backups/%s' % backup['id'],
                                json={'backup': {'name': 'renamed'}})
        self.assertFault(response, 405, 'badMethod', 'PUT')
        shown = self.request('GET', '/backups/%s' % backup['id']).json()
        self.assertEqual('backup', shown['backup']['name'])


(TestShowDelete_sqlite, TestShowDelete_mysql,
 TestShowDelete_postgresql) = base.for_each_backend(_ShowDeleteTests,
                                                    __name__)
