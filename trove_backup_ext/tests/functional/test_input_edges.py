"""Characters no field may hold, patterns as full matches, odd path ids.

Each case once answered 500 (a lone surrogate everywhere, NUL on
PostgreSQL) or was quietly accepted (a trailing newline); now every string
of a request is checked in one place and refused with a 400 naming the
field, before anything is written.
"""

import sqlalchemy as sa

from trove_backup_ext.db import models
from trove_backup_ext.tests import base

# What no string may hold; each would reach the database or the storage
# as it is. \x9b is C1's CSI, which terminals take as an escape sequence.
BAD_VALUES = (
    ('a lone surrogate', 'a\ud800'),
    ('a lone low surrogate', '\udc00a'),
    ('NUL', 'n\x00'),
    ('a trailing newline', 'abc\n'),
    ('a tab', 'a\tb'),
    ('an escape sequence', 'a\x1b[31m'),
    ('DEL', 'a\x7f'),
    ('a C1 control', 'a\x9bb'),
)

# The same characters in a URL.
BAD_QUERY_VALUES = ('de%00mo', 'abc%0A', 'a%09b', 'a%1B', 'a%7F', 'a%C2%9Bb')
# A surrogate can only arrive in a URL as the bytes of its UTF-8 encoding,
# which is not valid UTF-8, as \xff is not.
UNDECODABLE = ('a%ED%A0%80', '%FF')


class _TestInputEdges:

    def setUp(self):
        super().setUp()
        self.instance = self.add_instance()

    def backup_rows(self):
        with self.database.engine.connect() as connection:
            return connection.execute(
                sa.select(sa.func.count()).select_from(models.Backup)
            ).scalar()

    def backup_ids(self):
        response = self.request('GET', '/backups')
        self.assertEqual(200, response.status_code, response.text)
        return [b['id'] for b in response.json()['backups']]

    def assertBadRequest(self, response, *fragments):
        message = self.assertFault(response, 400, 'badRequest')
        for fragment in fragments:
            self.assertIn(fragment, message)
        return message

    # Bodies.

    def test_every_string_field_refuses_bad_characters(self):
        parent = self.create_backup(self.instance.id)['id']
        self.complete(parent)
        self.assertTrue(self.worker.received.wait(5))
        rows = self.backup_rows()
        fields = {'name': 'nightly', 'description': 'before the upgrade',
                  'swift_container': 'mine', 'storage_driver': 'local',
                  'instance': self.instance.id, 'parent_id': parent}
        for field, good in sorted(fields.items()):
            for what, bad in BAD_VALUES:
                # Appended to a good value, so that only the character is
                # wrong.
                spec = dict(fields, **{field: good + bad})
                response = self.request('POST', '/backups',
                                        json={'backup': spec})
                self.assertBadRequest(response, "backup['%s']" % field)
                self.assertEqual(rows, self.backup_rows(), (field, what))
        self.assertEqual([('create_backup', parent)], self.worker.calls)

    def test_message_says_what_is_wrong(self):
        for bad, fragment in (('a\ud800', 'surrogate U+D800'),
                              ('n\x00', 'control character U+0000'),
                              ('a\x9bb', 'control character U+009B')):
            response = self.request('POST', '/backups', json={'backup': {
                'name': bad, 'instance': self.instance.id}})
            self.assertBadRequest(response, "backup['name']", fragment)
        self.assertEqual(0, self.backup_rows())

    def test_delete_takes_the_id_from_the_path_only(self):
        backup = self.create_backup(self.instance.id)['id']
        self.complete(backup)
        response = self.request('DELETE', '/backups?backup_id=%s' % backup)
        self.assertFault(response, 405, 'badMethod')
        response = self.request('DELETE', '/backups', json={
            'backup_id': backup})
        self.assertFault(response, 405, 'badMethod')
        self.assertEqual([backup], self.backup_ids())
        self.assertEqual(200, self.request(
            'GET', '/backups/%s' % backup).status_code)

    def test_container_dot_names(self):
        # Once a 202, then a backup FAILED that could never be deleted.
        for name in ('.', '..'):
            response = self.request('POST', '/backups', json={'backup': {
                'name': 'b', 'instance': self.instance.id,
                'swift_container': name}})
            self.assertBadRequest(response, 'swift_container', '".."')
        self.assertEqual(0, self.backup_rows())
        self.create_backup(self.instance.id, swift_container='...')

    def test_container_with_trailing_newline(self):
        # Once accepted: "$" matches before a final newline.
        response = self.request('POST', '/backups', json={'backup': {
            'name': 'b', 'instance': self.instance.id,
            'swift_container': 'abc\n'}})
        self.assertBadRequest(response, "backup['swift_container']")
        self.assertEqual(0, self.backup_rows())

    def test_name_keeps_trove_rule(self):
        # A letter or digit anywhere, as Trove's search; other printable
        # characters, spaces and non-ASCII letters stay valid.
        for name in ('--- x ---', 'ü 1', 'sauvegarde de nuit'):
            self.create_backup(self.add_instance().id, name=name,
                               description=name)
        response = self.request('POST', '/backups', json={'backup': {
            'name': '--- ---', 'instance': self.instance.id}})
        self.assertBadRequest(response, 'at least one letter or digit')
        self.assertEqual(3, self.backup_rows())

    def test_bad_characters_in_a_key(self):
        response = self.request('POST', '/backups', json={'backup': {
            'name': 'b', 'instance': self.instance.id, 'na\x00me': 'x'}})
        self.assertBadRequest(response, 'na\\x00me')
        self.assertEqual(0, self.backup_rows())

    # Query strings.

    def test_every_query_parameter_refuses_bad_characters(self):
        self.create_backup(self.instance.id)
        good = {'instance_id': self.instance.id, 'datastore': 'mysql',
                'marker': self.backup_ids()[0], 'project_id': base.PROJECT,
                'all_projects': 'true', 'limit': '5'}
        for parameter, value in sorted(good.items()):
            for bad in BAD_QUERY_VALUES:
                # As an administrator: project_id and all_projects are
                # theirs, and no policy answer may hide a 500.
                response = self.request(
                    'GET', '/backups?%s=%s%s' % (parameter, value, bad),
                    project=base.ADMIN_PROJECT, roles='admin')
                self.assertBadRequest(response, parameter)

    def test_query_that_is_not_utf8(self):
        # pecan refuses it before our code sees the parameters, with a
        # message of its own.
        for bad in UNDECODABLE:
            response = self.request('GET', '/backups?datastore=' + bad,
                                    project=base.ADMIN_PROJECT, roles='admin')
            self.assertBadRequest(response)

    def test_instance_id_with_trailing_newline(self):
        # Once a 200 with an empty list: the pattern's "$" let it through.
        self.create_backup(self.instance.id)
        response = self.request(
            'GET', '/backups?instance_id=%s%%0A' % self.instance.id)
        self.assertBadRequest(response, 'instance_id', 'U+000A')

    def test_project_id_with_nul(self):
        response = self.request('GET', '/backups?project_id=de%00mo',
                                project=base.ADMIN_PROJECT, roles='admin')
        self.assertBadRequest(response, 'project_id', 'U+0000')

    def test_query_parameter_name_with_nul(self):
        response = self.request('GET', '/backups?li%00mit=1')
        self.assertBadRequest(response, 'li\\x00mit')

    # Path ids: an id that cannot exist is an unknown one, as in Trove.

    def test_path_ids_that_cannot_exist(self):
        backup = self.create_backup(self.instance.id)['id']
        self.assertTrue(self.worker.received.wait(5))
        for path_id in ('not-a-uuid', backup + '%0A', backup + '%00',
                        'a%00b', backup[:-1] + '%C2%9B'):
            for method in ('GET', 'DELETE'):
                response = self.request(method, '/backups/' + path_id)
                self.assertFault(response, 404, 'itemNotFound')
        self.assertEqual([backup], self.backup_ids())
        self.assertEqual([('create_backup', backup)], self.worker.calls)

    def test_body_nested_too_deeply_for_pecan(self):
        # pecan parses a JSON body before our code: 950 levels were a
        # 500 (RecursionError), whatever the route.
        for depth in (950, 30000):
            deep = '[' * depth + ']' * depth
            for path in ('/backups', '/restores',
                         '/backups/%s' % self.instance.id):
                for body in ('{"backup": {"name": %s}}' % deep,
                             '{"x": %s}' % deep, deep):
                    response = self.request(
                        'POST', path, data=body,
                        headers={'Content-Type': 'application/json'})
                    self.assertBadRequest(response, 'nested')
        # 100,000 levels are more bytes than a body may have.
        deep = '[' * 100000 + ']' * 100000
        response = self.request('POST', '/backups', data=deep,
                                headers={'Content-Type': 'application/json'})
        self.assertFault(response, 413, 'overLimit')
        # Brackets inside strings are not nesting.
        backup = self.create_backup(self.instance.id,
                                    name='[' * 200 + 'x')['id']
        self.assertEqual([backup], self.backup_ids())
        self.assertEqual(1, self.backup_rows())

    def test_body_too_large_is_refused_before_parsing(self):
        body = '{"backup": {"name": "%s"}}' % ('x' * 70000)
        response = self.request(
            'POST', '/backups', data=body,
            headers={'Content-Type': 'application/json'})
        self.assertFault(response, 413, 'overLimit', '65536')
        self.assertEqual(0, self.backup_rows())

    def test_path_that_is_not_utf8(self):
        # Once a plain-text 500 in noauth mode: the filter and the fault
        # wrapper both decoded the path.
        backup = self.create_backup(self.instance.id)['id']
        for bad in UNDECODABLE:
            for method in ('GET', 'DELETE'):
                response = self.request(method, '/backups/' + bad)
                self.assertBadRequest(response, 'UTF-8')
        self.assertEqual([backup], self.backup_ids())

    def test_project_in_the_url_with_nul(self):
        for method, kwargs in (('GET', {}), ('POST', {'json': {'backup': {
                'name': 'b', 'instance': self.instance.id}}})):
            # noauth takes the caller's project from the URL.
            response = self.request(method, '/backups', roles='admin',
                                    url_project='de%00mo', **kwargs)
            self.assertFault(response, 404, 'itemNotFound')
        self.assertEqual(0, self.backup_rows())


(TestInputEdges_sqlite, TestInputEdges_mysql,
 TestInputEdges_postgresql) = base.for_each_backend(
    _TestInputEdges, __name__)
