"""The restores API: create (both routes), list, show, and every refusal.

The worker here only records the casts it gets (service_fixtures
RecordingWorker); the flow behind them is in test_restores_flow.py.
"""

import sqlalchemy as sa

from trove_backup_ext.db import models
from trove_backup_ext.tests import base

PROJECT = base.PROJECT
OTHER = base.OTHER_PROJECT


class _RestoresAPITests:

    def setUp(self):
        super().setUp()
        self.source = self.add_instance()
        self.target = self.add_instance(name='target')
        self.backup = self.create_backup(self.source.id)['id']
        self.complete(self.backup)
        self.assertTrue(self.worker.received.wait(5))
        self.worker.received.clear()
        self.worker.calls.clear()

    def restore(self, backup_id=None, instance_id=None, project=PROJECT,
                roles=None, expect=202, alias=False):
        backup_id = backup_id or self.backup
        instance_id = instance_id or self.target.id
        if alias:
            response = self.request(
                'POST', '/backups/%s/restore' % backup_id, project=project,
                roles=roles, json={'restore': {'instance_id': instance_id}})
        else:
            response = self.request(
                'POST', '/restores', project=project, roles=roles,
                json={'restore': {'backup_id': backup_id,
                                  'instance_id': instance_id}})
        self.assertEqual(expect, response.status_code, response.text)
        return response

    def restore_rows(self):
        with self.database.engine.connect() as connection:
            return connection.execute(sa.select(sa.func.count()).select_from(
                models.Restore)).scalar()

    def assertRefused(self, response, code, name, fragment=None):
        self.assertFault(response, code, name, fragment)
        self.assertEqual(0, self.restore_rows())
        self.assertNotIn('restore_backup',
                         [method for method, _ in self.worker.calls])

    def test_create_answers_a_new_restore_and_casts_its_id(self):
        restore = self.restore().json()['restore']
        self.assertEqual(
            {'id', 'backup_id', 'instance_id', 'source_instance_id',
             'project_id', 'restore_point', 'status', 'progress', 'fault',
             'created', 'updated', 'started', 'finished'}, set(restore))
        self.assertEqual(
            ('NEW', self.backup, self.target.id, self.source.id, PROJECT,
             None, None, None, None),
            (restore['status'], restore['backup_id'],
             restore['instance_id'], restore['source_instance_id'],
             restore['project_id'], restore['progress'], restore['fault'],
             restore['started'], restore['restore_point']))
        self.assertTrue(self.worker.received.wait(5))
        self.assertEqual([('restore_backup', restore['id'])],
                         self.worker.calls)

    def test_alias_route_of_the_backup(self):
        restore = self.restore(alias=True).json()['restore']
        self.assertEqual(self.backup, restore['backup_id'])
        shown = self.request('GET', '/restores/%s' % restore['id'])
        self.assertEqual(200, shown.status_code)
        self.assertEqual(restore['id'], shown.json()['restore']['id'])

    def test_one_operation_per_instance(self):
        self.restore()
        # A second restore, and a backup, of the busy target.
        self.assertFault(self.restore(expect=422), 422,
                         'unprocessableEntity', 'RESTORE')
        response = self.request('POST', '/backups', json={'backup': {
            'name': 'b', 'instance': self.target.id}})
        self.assertFault(response, 422, 'unprocessableEntity', 'RESTORE')
        # And a restore into an instance whose backup runs.
        running = self.create_backup(self.source.id)
        self.assertFault(self.restore(instance_id=self.source.id,
                                      expect=422),
                         422, 'unprocessableEntity', 'BACKUP')
        self.assertEqual(1, self.restore_rows())
        self.assertTrue(running)

    def test_backup_being_restored_cannot_be_deleted(self):
        restore = self.restore().json()['restore']
        response = self.request('DELETE', '/backups/%s' % self.backup)
        self.assertFault(response, 422, 'unprocessableEntity',
                         restore['id'])
        self.assertEqual(200, self.request(
            'GET', '/backups/%s' % self.backup).status_code)

    def test_backup_that_is_not_completed_is_refused(self):
        for status in ('NEW', 'BUILDING', 'FAILED', 'DELETE_FAILED'):
            self.set_backup(self.backup, status=status)
            self.assertRefused(self.restore(expect=422), 422,
                               'unprocessableEntity', status)

    def test_backup_being_deleted_is_refused(self):
        self.assertEqual(202, self.request(
            'DELETE', '/backups/%s' % self.backup).status_code)
        self.assertRefused(self.restore(expect=422), 422,
                           'unprocessableEntity', 'deleted')

    def test_unknown_or_foreign_ids_are_not_found(self):
        foreign = self.add_instance(project_id=OTHER)
        foreign_backup = self.create_backup(foreign.id, project=OTHER)['id']
        self.complete(foreign_backup)
        self.worker.calls.clear()
        for backup_id, instance_id in (
                ('4ad27d71-8e69-4e0c-9d5f-2b6a4dc0f111', None),
                (foreign_backup, None),
                (None, foreign.id),
                (None, '4ad27d71-8e69-4e0c-9d5f-2b6a4dc0f111')):
            self.assertRefused(
                self.restore(backup_id, instance_id, expect=404), 404,
                'itemNotFound')

    def test_admin_restores_across_projects(self):
        foreign = self.add_instance(project_id=OTHER)
        restore = self.restore(instance_id=foreign.id,
                               project=base.ADMIN_PROJECT, roles='admin',
                               ).json()['restore']
        # It belongs to the project whose instance it changes.
        self.assertEqual(OTHER, restore['project_id'])
        listed = self.request('GET', '/restores', project=OTHER)
        self.assertEqual([restore['id']],
                         [r['id'] for r in listed.json()['restores']])

    def test_target_not_active_or_not_able_to_take_it(self):
        stopped = self.add_instance(status='SHUTDOWN')
        self.assertRefused(self.restore(instance_id=stopped.id, expect=422),
                           422, 'unprocessableEntity', 'SHUTDOWN')
        other_kind = self.add_instance(datastore='postgresql', version='15')
        self.assertRefused(
            self.restore(instance_id=other_kind.id, expect=422), 422,
            'unprocessableEntity', 'runs postgresql')
        newer = self.add_instance(version='11.4')
        self.assertRefused(self.restore(instance_id=newer.id, expect=422),
                           422, 'unprocessableEntity',
                           'same release line (10.11)')
        patched = self.add_instance(version='10.11.9')
        self.restore(instance_id=patched.id)

    def test_bad_bodies_are_400(self):
        for body in ({}, {'restore': {}}, {'restore': {'backup_id': 'x'}},
                     {'restore': {'backup_id': self.backup}},
                     {'restore': {'backup_id': self.backup,
                                  'instance_id': self.target.id,
                                  'extra': 1}},
                     {'restore': {'backup_id': self.backup + '\n',
                                  'instance_id': self.target.id}},
                     {'restore': []}, []):
            response = self.request('POST', '/restores', json=body)
            self.assertRefused(response, 400, 'badRequest')
        response = self.request('POST', '/backups/%s/restore' % self.backup,
                                json={'restore': {'backup_id': self.backup,
                                                  'instance_id': 'x'}})
        self.assertRefused(response, 400, 'badRequest')

    def test_list_filters_and_pages(self):
        second = self.add_instance(name='second')
        first = self.restore().json()['restore']
        other = self.restore(instance_id=second.id).json()['restore']
        listed = self.request('GET', '/restores').json()['restores']
        self.assertEqual([other['id'], first['id']],
                         [r['id'] for r in listed])
        by_instance = self.request(
            'GET', '/restores?instance_id=%s' % second.id).json()
        self.assertEqual([other['id']],
                         [r['id'] for r in by_instance['restores']])
        by_backup = self.request(
            'GET', '/restores?backup_id=%s' % self.backup).json()
        self.assertEqual(2, len(by_backup['restores']))
        page = self.request('GET', '/restores?limit=1').json()
        self.assertEqual([other['id']], [r['id'] for r in page['restores']])
        next_href = page['links'][0]['href']
        rest = self.http.get(next_href).json()
        self.assertEqual([first['id']], [r['id'] for r in rest['restores']])
        self.assertNotIn('links', rest)

    def test_bad_marker_names_what_it_takes(self):
        response = self.request('GET', '/restores?marker=20')
        self.assertRefused(response, 400, 'badRequest',
                           'a next link or a restore id')

    def test_all_projects_is_admin_only(self):
        self.restore()
        response = self.request('GET', '/restores?all_projects=true')
        self.assertFault(response, 403, 'forbidden')
        response = self.request('GET', '/restores?project_id=%s' % PROJECT,
                                project=base.ADMIN_PROJECT, roles='admin')
        self.assertEqual(1, len(response.json()['restores']))

    def test_another_projects_restore_is_not_found(self):
        restore = self.restore().json()['restore']
        response = self.request('GET', '/restores/%s' % restore['id'],
                                project=OTHER)
        self.assertFault(response, 404, 'itemNotFound')
        for bad in ('nope', restore['id'] + '%0A'):
            self.assertFault(self.request('GET', '/restores/' + bad), 404,
                             'itemNotFound')

    def test_restores_cannot_be_changed_or_deleted(self):
        restore = self.restore().json()['restore']
        for method in ('PUT', 'DELETE'):
            response = self.request(method, '/restores/%s' % restore['id'])
            self.assertFault(response, 405, 'badMethod')
        self.assertEqual(1, self.restore_rows())


(TestRestoresAPI_sqlite, TestRestoresAPI_mysql,
 TestRestoresAPI_postgresql) = base.for_each_backend(
    _RestoresAPITests, __name__)
