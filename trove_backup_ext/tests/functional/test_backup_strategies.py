"""/v1.0/{project}/backup_strategies: Trove's create, list and delete, and
the container a strategy gives new backups."""

import sqlalchemy as sa
from oslo_utils import uuidutils

from trove_backup_ext.db import models
from trove_backup_ext.tests import base

PATH = '/backup_strategies'


class _BackupStrategiesTests:

    def setUp(self):
        super().setUp()
        self.instance = self.add_instance()

    # Helpers.

    def put(self, container, instance_id=None, expect=202, **kwargs):
        spec = {'swift_container': container}
        if instance_id is not None:
            spec['instance_id'] = instance_id
        response = self.request('POST', PATH, json={'backup_strategy': spec},
                                **kwargs)
        self.assertEqual(expect, response.status_code, response.text)
        return response

    def list(self, query='', **kwargs):
        response = self.request('GET', PATH + query, **kwargs)
        self.assertEqual(200, response.status_code, response.text)
        self.assertEqual(['backup_strategies'], list(response.json()))
        return response.json()['backup_strategies']

    def delete(self, query='', expect=202, **kwargs):
        response = self.request('DELETE', PATH + query, **kwargs)
        self.assertEqual(expect, response.status_code, response.text)
        return response

    def rows(self):
        with self.database.engine.connect() as connection:
            return sorted(tuple(row) for row in connection.execute(
                sa.select(models.BackupStrategy.project_id,
                          models.BackupStrategy.instance_id,
                          models.BackupStrategy.swift_container)))

    def container_of_new_backup(self, instance, **fields):
        backup = self.create_backup(instance.id, **fields)
        with self.database.engine.connect() as connection:
            return connection.execute(
                sa.select(models.Backup.container)
                .where(models.Backup.id == backup['id'])).scalar_one()

    # Create, list, delete.

    def test_create_project_wide_and_per_instance(self):
        project_wide = self.put('team-backups').json()
        per_instance = self.put('db1-backups', self.instance.id).json()

        self.assertEqual({'backup_strategy': {
            'project_id': base.PROJECT, 'instance_id': '',
            'backend': 'swift', 'swift_container': 'team-backups'}},
            project_wide)
        self.assertEqual({'backup_strategy': {
            'project_id': base.PROJECT, 'instance_id': self.instance.id,
            'backend': 'swift', 'swift_container': 'db1-backups'}},
            per_instance)
        # The project-wide one first.
        self.assertEqual([project_wide['backup_strategy'],
                          per_instance['backup_strategy']], self.list())

    def test_create_again_changes_the_container(self):
        self.put('first', self.instance.id)
        changed = self.put('second', self.instance.id.upper()).json()

        self.assertEqual('second',
                         changed['backup_strategy']['swift_container'])
        self.assertEqual(self.instance.id,
                         changed['backup_strategy']['instance_id'])
        self.assertEqual([(base.PROJECT, self.instance.id, 'second')],
                         self.rows())

    def test_list_filters_on_instance_and_is_per_project(self):
        other = self.add_instance(project_id=base.OTHER_PROJECT)
        self.put('team')
        self.put('db1', self.instance.id)
        self.put('theirs', other.id, project=base.OTHER_PROJECT)

        by_instance = self.list('?instance_id=%s' % self.instance.id)

        self.assertEqual(['db1'], [s['swift_container'] for s in by_instance])
        self.assertEqual(['team', 'db1'],
                         [s['swift_container'] for s in self.list()])
        self.assertEqual(['theirs'], [s['swift_container'] for s in
                                      self.list(project=base.OTHER_PROJECT)])

    def test_admin_names_another_project_members_may_not(self):
        self.put('team')
        query = '?project_id=%s' % base.PROJECT

        as_admin = self.list(query, project=base.ADMIN_PROJECT,
                             roles='admin')
        refused = self.request('GET', PATH + query,
                               project=base.OTHER_PROJECT)
        refused_delete = self.request('DELETE', PATH + query,
                                      project=base.OTHER_PROJECT)

        self.assertEqual(['team'], [s['swift_container'] for s in as_admin])
        self.assertFault(refused, 403, 'forbidden')
        self.assertFault(refused_delete, 403, 'forbidden')
        self.assertEqual([(base.PROJECT, '', 'team')], self.rows())
        # Naming one's own project is fine.
        self.assertEqual(1, len(self.list(query)))
        self.delete(query, project=base.ADMIN_PROJECT, roles='admin')
        self.assertEqual([], self.rows())

    def test_delete_takes_the_project_wide_one_without_instance_id(self):
        self.put('team')
        self.put('db1', self.instance.id)

        response = self.delete()

        self.assertEqual('', response.text)
        self.assertEqual([(base.PROJECT, self.instance.id, 'db1')],
                         self.rows())
        self.delete('?instance_id=%s' % self.instance.id)
        self.assertEqual([], self.rows())
        # As in Trove, deleting what is not there is no error.
        self.delete('?instance_id=%s' % self.instance.id)

    # The container of new backups.

    def test_new_backups_take_the_instances_then_the_projects_container(self):
        before, per_instance, project_wide, given = (
            self.add_instance(name=name) for name in 'abcd')
        self.assertEqual(self.conf.backup_swift_container,
                         self.container_of_new_backup(before))

        self.put('team')
        self.put('db1', per_instance.id)
        # Neither another project's strategies nor another instance's.
        other = self.add_instance(project_id=base.OTHER_PROJECT)
        self.put('theirs', project=base.OTHER_PROJECT)
        self.put('theirs-db', other.id, project=base.OTHER_PROJECT)

        self.assertEqual('db1', self.container_of_new_backup(per_instance))
        self.assertEqual('team', self.container_of_new_backup(project_wide))
        self.assertEqual('given', self.container_of_new_backup(
            given, swift_container='given'))
        self.assertEqual('theirs-db', self.container_of_new_backup(
            other, project=base.OTHER_PROJECT))

    # Bad input: a 4xx in Trove's body, nothing written.

    def test_bad_bodies(self):
        other = self.add_instance(project_id=base.OTHER_PROJECT)
        for body, code, fragment in (
                ({}, 400, "'backup_strategy' is a required property"),
                ({'backup_strategy': {}}, 400,
                 "'swift_container' is a required property"),
                ({'backup_strategy': {'swift_container': ''}}, 400,
                 'is not a valid Swift container name'),
                ({'backup_strategy': {'swift_container': 'a/b'}}, 400,
                 'is not a valid Swift container name'),
                ({'backup_strategy': {'swift_container': 'é' * 200}}, 400,
                 'longer than 256 bytes'),
                ({'backup_strategy': {'swift_container': 'a\nb'}}, 400,
                 'has control character U+000A'),
                ({'backup_strategy': {'swift_container': 7}}, 400,
                 "7 is not of type 'string'"),
                ({'backup_strategy': {'swift_container': 'c',
                                      'backend': 'cinder'}}, 400,
                 "Additional properties are not allowed ('backend'"),
                ({'backup_strategy': {'swift_container': 'c',
                                      'instance_id': 'nope'}}, 400,
                 'is not a UUID'),
                ({'backup_strategy': {'swift_container': 'c',
                                      'instance_id':
                                      uuidutils.generate_uuid()}}, 404,
                 'cannot be found'),
                ({'backup_strategy': {'swift_container': 'c',
                                      'instance_id': other.id}}, 404,
                 'Resource %s cannot be found.' % other.id),
                ([], 400, "[] is not of type 'object'")):
            response = self.request('POST', PATH, json=body)
            self.assertFault(response, code,
                             'badRequest' if code == 400 else 'itemNotFound',
                             fragment)
        for raw, content_type, code in (
                (b'{', 'application/json', 400),
                (b'', 'application/json', 400),
                (b'{"backup_strategy": {"swift_container": "c"}}',
                 'text/plain', 415)):
            response = self.request('POST', PATH, data=raw,
                                    headers={'Content-Type': content_type})
            self.assertEqual(code, response.status_code, response.text)
        self.assertEqual([], self.rows())

    def test_an_admin_cannot_give_one_project_anothers_instance(self):
        other = self.add_instance(project_id=base.OTHER_PROJECT)
        response = self.put('c', other.id, expect=404,
                            project=base.ADMIN_PROJECT, roles='admin')
        self.assertFault(response, 404, 'itemNotFound')
        # In the instance's own project, it can.
        self.put('c', other.id, url_project=base.OTHER_PROJECT,
                 project=base.ADMIN_PROJECT, roles='admin')
        self.assertEqual([(base.OTHER_PROJECT, other.id, 'c')], self.rows())

    def test_bad_queries(self):
        self.put('team')
        for query, fragment in (
                ('?instance_id=nope', 'is not a UUID'),
                ('?marker=x', "Additional properties are not allowed"),
                ('?instance_id=%s&instance_id=%s' % ((self.instance.id,) * 2),
                 'is given more than once'),
                ('?project_id=a%00b', 'has control character U+0000')):
            for method in ('GET', 'DELETE'):
                response = self.request(method, PATH + query)
                self.assertFault(response, 400, 'badRequest', fragment)
        self.assertEqual([(base.PROJECT, '', 'team')], self.rows())

    def test_no_urls_below_the_collection(self):
        self.put('team')
        for method in ('GET', 'POST', 'DELETE', 'PUT'):
            response = self.request(method, PATH + '/x', json={})
            self.assertFault(response, 404, 'itemNotFound')
        response = self.request('PUT', PATH, json={})
        self.assertFault(response, 405, 'badMethod')
        self.assertEqual('GET, POST, DELETE', response.headers['Allow'])
        self.assertEqual([(base.PROJECT, '', 'team')], self.rows())


(TestBackupStrategies_sqlite, TestBackupStrategies_mysql,
 TestBackupStrategies_postgresql) = base.for_each_backend(
    _BackupStrategiesTests, __name__)
