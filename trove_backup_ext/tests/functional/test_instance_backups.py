"""GET /v1.0/{project}/instances/{id}/backups; what else under
/instances is not ours."""

from oslo_utils import uuidutils

from trove_backup_ext.tests import base


class _InstanceBackupsTests:

    def setUp(self):
        super().setUp()
        self.instance = self.add_instance()

    def make_backups(self, count, instance=None, project=base.PROJECT):
        """count COMPLETED backups of instance, oldest first."""
        instance = instance or self.instance
        ids = []
        for _ in range(count):
            backup = self.create_backup(instance.id, project=project)
            self.complete(backup['id'])
            ids.append(backup['id'])
        return ids

    def path(self, instance_id=None):
        return '/instances/%s/backups' % (instance_id or self.instance.id)

    def list(self, query='', expect=200, instance_id=None, **kwargs):
        response = self.request('GET', self.path(instance_id) + query,
                                **kwargs)
        self.assertEqual(expect, response.status_code, response.text)
        return response

    # What is listed.

    def test_empty(self):
        self.assertEqual({'backups': []}, self.list().json())

    def test_only_that_instances_backups_newest_first_as_in_the_list(self):
        mine = self.make_backups(3)
        self.make_backups(2, instance=self.add_instance())

        body = self.list().json()

        self.assertEqual(mine[::-1], [b['id'] for b in body['backups']])
        self.assertNotIn('links', body)
        # The very same objects as the backups list shows.
        everything = self.request('GET', '/backups').json()['backups']
        self.assertEqual([b for b in everything if b['id'] in mine],
                         body['backups'])

    def test_pages_with_limit_and_next_links(self):
        ids = self.make_backups(5)

        first = self.list('?limit=2').json()
        second = self.http.get(first['links'][0]['href']).json()
        third = self.http.get(second['links'][0]['href']).json()

        self.assertEqual(ids[:2:-1] + ids[2:0:-1] + ids[:1],
                         [b['id'] for page in (first, second, third)
                          for b in page['backups']])
        self.assertIn('/instances/%s/backups?' % self.instance.id,
                      first['links'][0]['href'])
        self.assertIn('limit=2', first['links'][0]['href'])
        self.assertNotIn('links', third)

    def test_a_backup_id_is_a_marker(self):
        ids = self.make_backups(3)
        body = self.list('?marker=%s' % ids[2]).json()
        self.assertEqual(ids[1::-1], [b['id'] for b in body['backups']])

    def test_an_upper_case_instance_id_finds_the_instance(self):
        ids = self.make_backups(1)
        body = self.list(instance_id=self.instance.id.upper()).json()
        self.assertEqual(ids, [b['id'] for b in body['backups']])

    # Whose instance.

    def test_another_projects_instance_is_not_found(self):
        other = self.add_instance(project_id=base.OTHER_PROJECT)
        self.make_backups(1, instance=other, project=base.OTHER_PROJECT)
        response = self.list(expect=404, instance_id=other.id)
        self.assertFault(response, 404, 'itemNotFound',
                         'Resource %s cannot be found.' % other.id)

    def test_admin_sees_any_projects_instance(self):
        other = self.add_instance(project_id=base.OTHER_PROJECT)
        ids = self.make_backups(2, instance=other,
                                project=base.OTHER_PROJECT)
        body = self.list(instance_id=other.id, project=base.ADMIN_PROJECT,
                         roles='admin').json()
        self.assertEqual(ids[::-1], [b['id'] for b in body['backups']])

    def test_unknown_instances_are_not_found(self):
        for instance_id in (uuidutils.generate_uuid(), 'not-a-uuid',
                            '%00', '%C2%9B'):
            response = self.list(expect=404, instance_id=instance_id)
            self.assertFault(response, 404, 'itemNotFound')

    # Bad input.

    def test_bad_query_is_a_400_naming_it(self):
        self.make_backups(1)
        for query, fragment in (
                ('?limit=x', "limit 'x' is not a positive integer"),
                ('?limit=0', 'limit 0 is not a positive integer'),
                ('?marker=junk', "marker 'junk' is not a marker"),
                ('?marker=%s' % uuidutils.generate_uuid(),
                 'marker backup'),
                ('?instance_id=%s' % self.instance.id,
                 "Additional properties are not allowed ('instance_id'"),
                ('?limit=1&limit=2', "'limit' is given more than once"),
                ('?marker=a%01b', 'has control character U+0001')):
            response = self.list(query, expect=400)
            self.assertFault(response, 400, 'badRequest', fragment)

    def test_other_methods_are_not_allowed(self):
        for method in ('POST', 'PUT', 'DELETE'):
            response = self.request(method, self.path(), json={})
            self.assertFault(response, 405, 'badMethod')
            self.assertEqual('GET', response.headers['Allow'])

    def test_nothing_else_under_instances_is_served(self):
        # Reading instances is ours (test_instances_api.py); the rest of
        # an instance is Trove's.
        for method, path in (
                ('POST', '/instances/%s/action' % self.instance.id),
                ('GET', '/instances/%s/backups/x' % self.instance.id),
                ('GET', '/instances/%s/configuration' % self.instance.id)):
            response = self.request(method, path)
            self.assertFault(response, 404, 'itemNotFound')
        for method, path in (
                ('POST', '/instances'),
                ('DELETE', '/instances/%s' % self.instance.id),
                ('PUT', '/instances/%s' % self.instance.id)):
            response = self.request(method, path, json={})
            self.assertFault(response, 405, 'badMethod')
            self.assertEqual('GET', response.headers['Allow'])


(TestInstanceBackups_sqlite, TestInstanceBackups_mysql,
 TestInstanceBackups_postgresql) = base.for_each_backend(
    _InstanceBackupsTests, __name__)
