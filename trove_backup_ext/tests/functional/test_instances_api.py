"""GET /v1.0/{project}/instances and /instances/{id}, from the registry."""

import datetime

from oslo_utils import uuidutils
import sqlalchemy as sa

from trove_backup_ext.db import models
from trove_backup_ext.tests import base


class _InstancesTests:

    def setUp(self):
        super().setUp()
        self.start = datetime.datetime(2026, 1, 1)
        self.made = 0

    def add(self, project_id=base.PROJECT, **fields):
        """An instance created a minute after the one before."""
        instance = self.add_instance(project_id=project_id, **fields)
        self.made += 1
        with self.database.engine.begin() as connection:
            connection.execute(
                sa.update(models.RegistryInstance)
                .where(models.RegistryInstance.id == instance.id)
                .values(created=self.start + datetime.timedelta(
                    minutes=self.made)))
        return instance.id

    def get(self, path, expect=200, **kwargs):
        response = self.request('GET', path, **kwargs)
        self.assertEqual(expect, response.status_code, response.text)
        return response

    def ids(self, body):
        return [i['id'] for i in body['instances']]

    # What is listed and shown.

    def test_empty(self):
        self.assertEqual({'instances': []}, self.get('/instances').json())

    def test_the_projects_instances_newest_first_in_troves_shape(self):
        older = self.add(name='older', datastore='mariadb', version='10.11')
        newer = self.add(name='newer', status='BUILD')
        self.add(project_id=base.OTHER_PROJECT)
        body = self.get('/instances').json()
        self.assertEqual([newer, older], self.ids(body))
        self.assertNotIn('links', body)
        shown = body['instances'][1]
        self.assertEqual(
            {'id': older, 'name': 'older', 'status': 'ACTIVE',
             'tenant_id': base.PROJECT, 'created': '2026-01-01T00:01:00',
             'flavor': {'id': None, 'links': []}},
            {k: shown[k] for k in ('id', 'name', 'status', 'tenant_id',
                                   'created', 'flavor')})
        self.assertEqual(('mariadb', '10.11'), (shown['datastore']['type'],
                                                shown['datastore']['version']))
        self.assertEqual('BUILD', body['instances'][0]['status'])
        self.assertTrue(shown['links'][0]['href'].endswith(
            '/v1.0/%s/instances/%s' % (base.PROJECT, older)))
        # Show gives the very object the list gives.
        self.assertEqual({'instance': shown},
                         self.get('/instances/%s' % older).json())
        self.assertEqual(
            shown, self.get('/instances/%s' % older.upper()).json()[
                'instance'])

    def test_pages_with_limit_and_next_links(self):
        ids = [self.add() for _ in range(5)][::-1]
        first = self.get('/instances?limit=2').json()
        second = self.http.get(first['links'][0]['href']).json()
        third = self.http.get(second['links'][0]['href']).json()
        self.assertEqual(ids, self.ids(first) + self.ids(second) +
                         self.ids(third))
        self.assertIn('limit=2', first['links'][0]['href'])
        self.assertNotIn('links', third)
        # A page that ends the list has no next link to an empty page.
        self.assertNotIn('links', self.get('/instances?limit=5').json())

    def test_an_instance_id_is_a_marker(self):
        ids = [self.add() for _ in range(3)]
        body = self.get('/instances?marker=%s' % ids[2]).json()
        self.assertEqual(ids[1::-1], self.ids(body))

    def test_troveclients_include_clustered_is_accepted(self):
        mine = self.add()
        body = self.get('/instances?include_clustered=False').json()
        self.assertEqual([mine], self.ids(body))

    # Whose instances.

    def test_another_projects_instance_is_not_found(self):
        other = self.add(project_id=base.OTHER_PROJECT)
        for instance_id in (other, uuidutils.generate_uuid(), 'not-a-uuid',
                            '%00'):
            response = self.get('/instances/%s' % instance_id, expect=404)
            self.assertFault(response, 404, 'itemNotFound')

    def test_admin_sees_every_project_with_all_projects(self):
        mine = self.add()
        other = self.add(project_id=base.OTHER_PROJECT)
        admin = dict(project=base.ADMIN_PROJECT, roles='admin')
        self.assertEqual([other, mine], self.ids(self.get(
            '/instances?all_projects=true', **admin).json()))
        self.assertEqual([other], self.ids(self.get(
            '/instances?project_id=%s' % base.OTHER_PROJECT, **admin).json()))
        self.assertEqual([], self.ids(self.get('/instances', **admin).json()))
        self.assertEqual(other, self.get('/instances/%s' % other,
                                         **admin).json()['instance']['id'])

    def test_all_projects_is_for_administrators(self):
        self.add(project_id=base.OTHER_PROJECT)
        for query in ('?all_projects=true',
                      '?project_id=%s' % base.OTHER_PROJECT):
            response = self.get('/instances' + query, expect=403)
            self.assertFault(response, 403, 'forbidden')

    # Bad input.

    def test_bad_query_is_a_400_naming_it(self):
        self.add()
        for query, fragment in (
                ('?limit=x', "limit 'x' is not a positive integer"),
                ('?limit=0', 'limit 0 is not a positive integer'),
                ('?marker=junk', "marker 'junk' is not a marker"),
                ('?marker=%s' % uuidutils.generate_uuid(),
                 'marker instance'),
                ('?all_projects=maybe', 'is not a boolean'),
                ('?datastore=mysql',
                 "Additional properties are not allowed ('datastore'"),
                ('?limit=1&limit=2', "'limit' is given more than once"),
                ('?marker=a%01b', 'has control character U+0001')):
            response = self.get('/instances' + query, expect=400)
            self.assertFault(response, 400, 'badRequest', fragment)
        instance = self.add()
        response = self.get('/instances/%s?verbose=1' % instance, expect=400)
        self.assertFault(response, 400, 'badRequest', 'verbose')


(TestInstances_sqlite, TestInstances_mysql,
 TestInstances_postgresql) = base.for_each_backend(_InstancesTests, __name__)
