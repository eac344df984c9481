"""Request bodies and their validation messages."""

import webob

from trove_backup_ext.api.schemas import backups as schemas
from trove_backup_ext.api import validation
from trove_backup_ext import exception
from trove_backup_ext.tests import base

INSTANCE = '6c7fd926-3e81-44c9-aaaa-bbb73b9bf56b'


def _request(body, content_type='application/json'):
    request = webob.Request.blank('/', method='POST')
    request.body = body if isinstance(body, bytes) else body.encode()
    if content_type:
        request.content_type = content_type
    return request


class ReadBodyTest(base.TestCase):

    def test_decodes_json(self):
        self.assertEqual({'a': 1},
                         validation.read_json_body(_request('{"a": 1}'), 100))

    def test_empty_body(self):
        exc = self.assertRaises(exception.BadRequest,
                                validation.read_json_body, _request(''), 100)
        self.assertIn('empty', str(exc))

    def test_too_large(self):
        exc = self.assertRaises(exception.RequestTooLarge,
                                validation.read_json_body,
                                _request('{"a": "%s"}' % ('x' * 200)), 100)
        self.assertEqual(413, exc.code)

    def test_wrong_content_type(self):
        exc = self.assertRaises(exception.UnsupportedMediaType,
                                validation.read_json_body,
                                _request('{}', 'text/plain'), 100)
        self.assertIn('text/plain', str(exc))

    def test_bad_json(self):
        exc = self.assertRaises(exception.BadRequest,
                                validation.read_json_body,
                                _request('{"backup": '), 100)
        self.assertIn('not valid JSON', str(exc))

    def test_bad_utf8(self):
        self.assertRaises(exception.BadRequest, validation.read_json_body,
                          _request(b'{"a": "\xff"}'), 100)


class CreateSchemaTest(base.TestCase):

    def _errors(self, backup):
        exc = self.assertRaises(exception.ValidationError,
                                validation.validate,
                                schemas.create_request_body,
                                {'backup': backup})
        return str(exc)

    def test_minimal_body_is_valid(self):
        validation.validate(schemas.create_request_body,
                            {'backup': {'name': 'n', 'instance': INSTANCE}})

    def test_boolean_incremental_named_once(self):
        message = self._errors({'name': 'n', 'instance': INSTANCE,
                                'incremental': True})
        self.assertIn("backup['incremental'] True is not of type 'integer'",
                      message)
        self.assertEqual(1, message.count('incremental'))

    def test_long_name_is_not_echoed_whole(self):
        message = self._errors({'name': 'a' * 10000, 'instance': INSTANCE})
        self.assertIn("backup['name']", message)
        self.assertIn('10000 characters', message)
        self.assertLess(len(message), 400)

    def test_name_without_letters_or_digits(self):
        self.assertIn('at least one letter or digit',
                      self._errors({'name': '---', 'instance': INSTANCE}))

    def test_every_problem_is_named(self):
        message = self._errors({'name': '', 'instance': 'x',
                                'parent_id': 'y', 'colour': 'red'})
        for fragment in ("backup['name']", "backup['instance'] 'x' is not a "
                         "UUID", "backup['parent_id']", "'colour'"):
            self.assertIn(fragment, message)

    def test_missing_backup_key(self):
        exc = self.assertRaises(exception.ValidationError,
                                validation.validate,
                                schemas.create_request_body, {})
        self.assertIn("'backup' is a required property", str(exc))

    def test_restore_from_is_refused_with_reason(self):
        self.assertIn('not supported', self._errors(
            {'name': 'n', 'instance': INSTANCE,
             'restore_from': {'remote_location': 'x'}}))

    def test_container_with_slash(self):
        self.assertIn('Swift container', self._errors(
            {'name': 'n', 'instance': INSTANCE, 'swift_container': 'a/b'}))


class QueryTest(base.TestCase):

    def test_repeated_parameter(self):
        request = webob.Request.blank('/?limit=1&limit=2')
        self.assertRaises(exception.ValidationError,
                          validation.single_valued_query, request)

    def test_known_parameters_pass(self):
        query = {'limit': '5', 'marker': 'm', 'datastore': 'mysql',
                 'instance_id': INSTANCE, 'all_projects': 'True',
                 'project_id': 'p'}
        validation.validate(schemas.list_request_query, query)

    def test_bad_values(self):
        for key, value in (('limit', 'abc'), ('limit', '-1'),
                           ('all_projects', 'maybe'),
                           ('instance_id', 'nope'), ('sort', 'name')):
            exc = self.assertRaises(exception.ValidationError,
                                    validation.validate,
                                    schemas.list_request_query,
                                    {key: value})
            self.assertIn(key, str(exc))
