"""GET /v1.0/{project}/backups: order, filters, projects and paging."""

from urllib import parse

from oslo_utils import uuidutils

from trove_backup_ext.tests import base


class _ListTests:

    # Helpers.

    def make_backups(self, count, project=base.PROJECT, datastore='mysql'):
        """count backups, oldest first, each of an instance of its own
        (only one backup of an instance may run at a time)."""
        return [self.create_backup(
            self.add_instance(project_id=project, datastore=datastore).id,
            project=project) for _ in range(count)]

    def list(self, query='', expect=200, **kwargs):
        response = self.request('GET', '/backups' + query, **kwargs)
        self.assertEqual(expect, response.status_code, response.text)
        return response.json()

    def ids(self, query='', **kwargs):
        return [b['id'] for b in self.list(query, **kwargs)['backups']]

    def as_admin(self, query=''):
        return self.ids(query, project=base.ADMIN_PROJECT, roles='admin')

    def walk(self, first_query, between_pages=None):
        """Follow next links from first_query; the pages' id lists."""
        pages = []
        body = self.list(first_query)
        while True:
            pages.append([b['id'] for b in body['backups']])
            if 'links' not in body:
                return pages
            self.assertEqual(1, len(body['links']))
            self.assertEqual('next', body['links'][0]['rel'])
            if between_pages:
                between_pages()
            response = self.http.get(body['links'][0]['href'])
            self.assertEqual(200, response.status_code, response.text)
            body = response.json()

    # Order and content.

    def test_empty(self):
        self.assertEqual({'backups': []}, self.list())

    def test_newest_first_with_every_field(self):
        created = self.make_backups(3)
        body = self.list()
        self.assertEqual({'backups': list(reversed(created))}, body)

    def test_trailing_slash(self):
        created = self.make_backups(1)
        self.assertEqual({'backups': created}, self.list('/'))

    def test_only_the_callers_project(self):
        mine = self.make_backups(1)
        self.make_backups(1, project=base.OTHER_PROJECT)
        self.assertEqual([mine[0]['id']], self.ids())

    # Filters.

    def test_filter_by_instance(self):
        instance = self.add_instance()
        first = self.create_backup(instance.id)
        self.make_backups(2)
        self.assertEqual([first['id']],
                         self.ids('?instance_id=%s' % instance.id))
        self.assertEqual(
            [], self.ids('?instance_id=%s' % uuidutils.generate_uuid()))

    def test_filter_by_datastore(self):
        mysql = self.make_backups(2)
        postgresql = self.make_backups(1, datastore='postgresql')
        self.assertEqual([b['id'] for b in reversed(mysql)],
                         self.ids('?datastore=mysql'))
        self.assertEqual([postgresql[0]['id']],
                         self.ids('?datastore=postgresql'))
        # Known to the instance source, but no backup of it.
        self.assertEqual([], self.ids('?datastore=sqlite'))

    def test_unknown_datastore(self):
        response = self.request('GET', '/backups?datastore=oracle')
        self.assertFault(response, 404, 'itemNotFound',
                         "Datastore 'oracle' cannot be found.")

    def test_instance_id_not_a_uuid(self):
        response = self.request('GET', '/backups?instance_id=inst-a')
        self.assertFault(response, 400, 'badRequest',
                         "instance_id 'inst-a' is not a UUID")

    # Other projects.

    def test_admin_lists_all_projects(self):
        mine = self.make_backups(1)
        other = self.make_backups(1, project=base.OTHER_PROJECT)
        expected = [other[0]['id'], mine[0]['id']]
        self.assertEqual([], self.as_admin())
        self.assertEqual(expected, self.as_admin('?all_projects=true'))
        self.assertEqual(expected, self.as_admin('?all_projects=1'))
        # python-troveclient sends Python's str(True).
        self.assertEqual(expected, self.as_admin('?all_projects=True'))
        self.assertEqual([], self.as_admin('?all_projects=false'))
        # all_projects combines with the other filters.
        self.assertEqual([other[0]['id']], self.as_admin(
            '?all_projects=true&instance_id=%s' % other[0]['instance_id']))

    def test_member_may_not_list_all_projects(self):
        self.make_backups(1, project=base.OTHER_PROJECT)
        for value in ('true', 'True', '1'):
            response = self.request('GET', '/backups?all_projects=' + value)
            self.assertFault(response, 403, 'forbidden',
                             "Policy doesn't allow backup:index:all_projects "
                             "to be performed.")

    def test_all_projects_false_is_the_plain_list(self):
        mine = self.make_backups(1)
        self.make_backups(1, project=base.OTHER_PROJECT)
        self.assertEqual([mine[0]['id']], self.ids('?all_projects=false'))

    def test_all_projects_garbage(self):
        response = self.request('GET', '/backups?all_projects=maybe')
        self.assertFault(response, 400, 'badRequest',
                         "all_projects 'maybe' is not a boolean")

    def test_admin_lists_a_named_project(self):
        self.make_backups(1)
        other = self.make_backups(2, project=base.OTHER_PROJECT)
        self.assertEqual([b['id'] for b in reversed(other)],
                         self.as_admin('?project_id=%s' % base.OTHER_PROJECT))

    def test_member_may_not_name_a_project_even_its_own(self):
        self.make_backups(1)
        for project in (base.PROJECT, base.OTHER_PROJECT):
            response = self.request('GET', '/backups?project_id=' + project)
            self.assertFault(response, 403, 'forbidden',
                             'backup:index:all_projects')

    # Paging.

    def test_walk_every_page(self):
        created = self.make_backups(5)
        pages = self.walk('?limit=2')
        self.assertEqual([2, 2, 1], [len(page) for page in pages])
        walked = [backup_id for page in pages for backup_id in page]
        self.assertEqual([b['id'] for b in reversed(created)], walked)

    def test_no_next_link_after_an_exactly_full_last_page(self):
        created = self.make_backups(4)
        pages = self.walk('?limit=2')
        self.assertEqual([[b['id'] for b in reversed(created[2:])],
                          [b['id'] for b in reversed(created[:2])]], pages)
        self.assertNotIn('links', self.list('?limit=4'))

    def test_next_link_keeps_the_filters(self):
        created = self.make_backups(3)
        self.make_backups(2, datastore='postgresql')
        pages = self.walk('?datastore=mysql&limit=2')
        self.assertEqual([[created[2]['id'], created[1]['id']],
                          [created[0]['id']]], pages)

    def test_marker_may_be_a_backup_id(self):
        created = self.make_backups(4)
        self.assertEqual([created[1]['id'], created[0]['id']],
                         self.ids('?marker=%s' % created[2]['id']))
        self.assertEqual([created[2]['id']], self.ids(
            '?limit=1&marker=%s' % created[3]['id']))

    def test_garbage_marker(self):
        self.make_backups(1)
        for marker in ('garbage', '12', 'b1.!!!', 'b1.' + 'A' * 40):
            response = self.request('GET', '/backups?marker=' +
                                    parse.quote(marker))
            self.assertFault(response, 400, 'badRequest', 'marker')

    def test_marker_of_an_unknown_backup(self):
        unknown = uuidutils.generate_uuid()
        response = self.request('GET', '/backups?marker=' + unknown)
        self.assertFault(response, 400, 'badRequest', unknown)

    def test_bad_limits(self):
        for limit in ('abc', '-1', '0', '1.5', ''):
            response = self.request('GET', '/backups?limit=' + limit)
            self.assertFault(response, 400, 'badRequest', 'limit')

    def test_limit_is_capped(self):
        self.conf.set_override('backups_max_page_size', 3)
        created = self.make_backups(4)
        body = self.list('?limit=100')
        self.assertEqual([b['id'] for b in reversed(created[1:])],
                         [b['id'] for b in body['backups']])
        self.assertEqual(['next'], [link['rel'] for link in body['links']])

    def test_limit_of_many_digits_is_capped(self):
        self.conf.set_override('backups_max_page_size', 1)
        self.make_backups(2)
        body = self.list('?limit=' + '9' * 30)
        self.assertEqual(1, len(body['backups']))
        self.assertIn('links', body)

    def test_default_page_size(self):
        self.conf.set_override('backups_page_size', 2)
        self.make_backups(3)
        body = self.list()
        self.assertEqual(2, len(body['backups']))
        self.assertIn('links', body)

    def test_paging_is_stable_while_backups_are_created(self):
        created = self.make_backups(5)
        added = []
        pages = self.walk('?limit=2', between_pages=lambda: added.extend(
            self.make_backups(1)))
        walked = [backup_id for page in pages for backup_id in page]
        # Every old backup exactly once, in order; the new ones (newer
        # than the first page) are not on later pages.
        self.assertEqual([b['id'] for b in reversed(created)], walked)
        self.assertEqual(2, len(added))
        self.assertEqual(7, len(self.ids()))

    # Malformed queries.

    def test_unknown_parameter(self):
        response = self.request('GET', '/backups?sort_key=name')
        message = self.assertFault(response, 400, 'badRequest', "'sort_key'")
        self.assertNotIn('body', message)

    def test_repeated_parameter(self):
        response = self.request('GET', '/backups?limit=1&limit=2')
        self.assertFault(response, 400, 'badRequest',
                         "query parameter 'limit' is given more than once")


(TestList_sqlite, TestList_mysql,
 TestList_postgresql) = base.for_each_backend(_ListTests, __name__)
