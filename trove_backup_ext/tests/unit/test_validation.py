"""Request bodies and their validation messages."""

import importlib
import pkgutil
import re

import jsonschema
import webob

from trove_backup_ext.api import schemas as schemas_package
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


def _patterns(schema):
    """Every "pattern" in a schema, however deep."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == 'pattern':
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _patterns(value)


class FullMatchTest(base.TestCase):
    """Patterns match whole strings: Python's "$" matches before a final
    newline, and jsonschema searches."""

    def test_every_pattern_is_a_full_match(self):
        found = 0
        for module_info in pkgutil.iter_modules(schemas_package.__path__):
            module = importlib.import_module(
                '%s.%s' % (schemas_package.__name__, module_info.name))
            for name, value in vars(module).items():
                for pattern in _patterns(value):
                    found += 1
                    self.assertTrue(
                        pattern.startswith('\\A(?:') and
                        pattern.endswith(')\\Z'),
                        '%s.%s: %r is not written with full_match()' % (
                            module_info.name, name, pattern))
                    re.compile(pattern)
        self.assertGreater(found, 0)

    def test_trailing_newline_does_not_match(self):
        # The schemas alone, without validate()'s character check.
        query = schemas.list_request_query['properties']
        body = schemas.create_request_body['properties']['backup'][
            'properties']
        for schema, good in ((schemas.uuid, INSTANCE),
                             (query['limit'], '5'),
                             (query['all_projects'], 'True'),
                             (body['swift_container'], 'abc'),
                             (schemas.non_empty_string, 'nightly')):
            jsonschema.validate(good, schema)
            self.assertRaises(jsonschema.ValidationError,
                              jsonschema.validate, good + '\n', schema)

    def test_name_is_a_letter_or_digit_anywhere(self):
        # Trove's semantics, a search, kept inside the full match.
        for name in ('a', '--1--', 'x ---', 'Sauvegarde n°1', '.b'):
            jsonschema.validate(name, schemas.non_empty_string)
        for name in ('-', ' ', 'é', '°'):
            self.assertRaises(jsonschema.ValidationError,
                              jsonschema.validate, name,
                              schemas.non_empty_string)


class ForbiddenCharacterTest(base.TestCase):

    def _message(self, data, schema=None):
        exc = self.assertRaises(exception.ValidationError,
                                validation.validate, schema or {}, data)
        return str(exc)

    def test_forbidden(self):
        for char in ('\x00', '\n', '\t', '\x1f', '\x7f', '\x80', '\x9b',
                     '\x9f', '\ud800', '\udbff', '\udc00', '\udfff'):
            self.assertEqual(char, validation.forbidden_character(
                'a' + char + 'b'))

    def test_allowed(self):
        # Printable text of any script, no-break space, astral characters.
        for text in ('backup 1', 'ü', '\xa0', '\xa0\xff', '\u2028',
                     '\U0001f600', '日本', ''):
            self.assertIsNone(validation.forbidden_character(text))

    def test_message_names_field_and_character(self):
        message = self._message({'backup': {'name': 'a\ud800'}})
        self.assertIn("backup['name'] 'a\\ud800' has lone surrogate U+D800",
                      message)
        message = self._message({'marker': 'x\x00'},
                                schemas.list_request_query)
        self.assertIn("marker 'x\\x00' has control character U+0000", message)

    def test_said_once_per_field(self):
        # The pattern would refuse the value too; the character is what
        # to fix.
        message = self._message({'backup': {'name': 'n', 'instance':
                                            INSTANCE + '\n'}},
                                schemas.create_request_body)
        self.assertEqual(1, message.count("backup['instance']"), message)
        self.assertIn('U+000A', message)
        self.assertNotIn('UUID', message)

    def test_other_problems_are_still_named(self):
        message = self._message({'backup': {'name': 'n\x00',
                                            'colour': 'red'}},
                                schemas.create_request_body)
        for fragment in ("backup['name']", 'U+0000', "'instance' is a "
                         "required property", "'colour'"):
            self.assertIn(fragment, message)

    def test_keys_and_nested_values(self):
        self.assertIn("backup key 'na\\x00me' has control character",
                      self._message({'backup': {'na\x00me': 'x'}}))
        self.assertIn("backup['tags'][1] '\\x7f'",
                      self._message({'backup': {'tags': ['a', '\x7f']}}))

    def test_deep_nesting_is_no_recursion_error(self):
        deep = 'x\x00'
        for _ in range(5000):
            deep = [deep]
        self.assertIn('U+0000', self._message({'backup': deep}))

    def test_deeply_nested_body(self):
        exc = self.assertRaises(exception.BadRequest,
                                validation.read_json_body,
                                _request('[' * 5000 + ']' * 5000), 20000)
        self.assertIn('nested too deeply', str(exc))
