"""The OpenAPI document against its checked-in copy, the api-ref and the
live app: the same operations, parameters and answers everywhere."""

import json
import os
import re

import jsonschema
from oslo_utils import uuidutils

from trove_backup_ext.api import app as backup_app
from trove_backup_ext.api.controllers import root
from trove_backup_ext.api import deploy
from trove_backup_ext.api import openapi
from trove_backup_ext.api.schemas import backup_schedules
from trove_backup_ext.api.schemas import backup_strategies
from trove_backup_ext.api.schemas import backups
from trove_backup_ext.api.schemas import instances
from trove_backup_ext.api.schemas import restores
from trove_backup_ext.tests import api_fuzz
from trove_backup_ext.tests import fuzz_requests
from trove_backup_ext.tests import base
from trove_backup_ext.tests import service_fixtures

_TOP = os.path.join(os.path.dirname(__file__), '..', '..', '..')
CHECKED_IN = os.path.join(_TOP, 'doc', 'source', 'reference', 'openapi.json')
API_REF = os.path.join(_TOP, 'api-ref', 'source')


def api_ref_operations():
    """{(method, path): {'params': {(name, in)}, 'codes': {int}}} of the
    api-ref's .inc files."""
    with open(os.path.join(API_REF, 'parameters.yaml')) as stream:
        where = dict(re.findall(r'^(\w+):\n(?:  .*\n)*?  in: (\w+)',
                                stream.read(), re.M))
    operations = {}
    for name in sorted(os.listdir(API_REF)):
        if not name.endswith('.inc'):
            continue
        with open(os.path.join(API_REF, name)) as stream:
            text = stream.read()
        for part in re.split(r'\n\.\. rest_method::\s+', text)[1:]:
            method, path = part.split('\n', 1)[0].split()
            codes = set()
            for block in re.findall(r'rest_status_code:: \w+ status.yaml'
                                    r'\n\n((?:   - .*\n)+)', part):
                codes |= {int(c) for c in re.findall(r'- (\d+)', block)}
            params = set()
            request = part.split('\nRequest\n-------\n', 1)
            if len(request) > 1:
                block = re.search(r'rest_parameters:: parameters.yaml\n\n'
                                  r'((?:   - .*\n)+)', request[1])
                params = {(name, where[key]) for name, key in re.findall(
                    r'- ([\w.]+): (\w+)', block.group(1))}
            operations[(method, path)] = {'params': params, 'codes': codes}
    return operations


def body_names(schema, prefix='', depth=0):
    """The dotted names of a request body as the api-ref lists them: the
    wrapper key, then its fields without it, nested ones dotted."""
    names = set()
    for key, value in schema.get('properties', {}).items():
        if value.get('not') == {} and depth and key != 'restore_from':
            continue    # Refused with a message, not a field (PATCH ids).
        names.add(prefix + key)
        if value.get('properties'):
            inner = '' if depth == 0 else prefix + key + '.'
            names |= body_names(value, inner, depth + 1)
    return names


class TestDocument(base.TestCase):

    def setUp(self):
        super().setUp()
        self.document = openapi.document()

    def test_checked_in_copy_is_current(self):
        with open(CHECKED_IN) as stream:
            checked_in = json.load(stream)
        self.assertEqual(
            checked_in, json.loads(json.dumps(self.document)),
            'doc/source/reference/openapi.json is stale: run '
            '"trove-backup-manage openapi --output '
            'doc/source/reference/openapi.json"')

    def test_bodies_and_queries_are_the_validators(self):
        # Every request schema of api/schemas is an operation's, as it is
        # (patterns aside), so nothing validated goes undocumented.
        used = []
        for operation in openapi.OPERATIONS:
            doc = self.document['paths'][operation.path][
                operation.method.lower()]
            if operation.body is not None:
                used.append(operation.body)
                self.assertEqual(
                    openapi._portable(operation.body),
                    doc['requestBody']['content']['application/json'][
                        'schema'])
            if operation.query is not None:
                used.append(operation.query)
                self.assertEqual(
                    sorted(operation.query['properties']),
                    sorted(p['name'] for p in doc['parameters']
                           if p['in'] == 'query'))
        for module in (backups, restores, backup_schedules,
                       backup_strategies, instances):
            for name, value in vars(module).items():
                if name.endswith(('_request_body', '_request_query')) or (
                        name == 'request_query'):
                    self.assertTrue(any(value is u for u in used),
                                    '%s.%s' % (module.__name__, name))

    def test_schemas_are_json_schema_2020_12(self):
        stack = [self.document]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                if isinstance(value.get('schema'), dict):
                    jsonschema.Draft202012Validator.check_schema(
                        value['schema'])
                stack.extend(value.values())
        for schema in self.document['components']['schemas'].values():
            jsonschema.Draft202012Validator.check_schema(schema)

    def test_portable_patterns_match_as_the_validators(self):
        samples = ('5', '5\n', '', 'true', 'TRUE', 'yes\n', 'maybe',
                   '0a1b2c3d-0000-4000-8000-00000000000A',
                   '0a1b2c3d-0000-4000-8000-00000000000a\n', '.', '..',
                   '...', 'a/b', 'x' * 64)
        for pattern in _patterns([o.body for o in openapi.OPERATIONS] +
                                 [o.query for o in openapi.OPERATIONS]):
            # ECMA-262 "$" without the m flag is Python's "\Z".
            portable = re.compile(openapi.portable_pattern(pattern).replace(
                '$', r'\Z'))
            for sample in samples:
                self.assertEqual(bool(re.search(pattern, sample)),
                                 bool(portable.search(sample)),
                                 (pattern, sample))

    def test_every_resource_is_documented(self):
        tags = {tag for path in self.document['paths'].values()
                for operation in path.values() for tag in operation['tags']}
        self.assertEqual(set(root.load_resource_controllers()),
                         tags - {'versions'})

    def test_api_ref_lists_the_same_operations(self):
        documented = {(o.method, o.path) for o in openapi.OPERATIONS
                      if o.path.startswith(openapi.PROJECT)}
        self.assertEqual(documented, set(api_ref_operations()))

    def test_api_ref_lists_the_same_parameters_and_codes(self):
        ref = api_ref_operations()
        for operation in openapi.OPERATIONS:
            if not operation.path.startswith(openapi.PROJECT):
                continue
            key = (operation.method, operation.path)
            doc = self.document['paths'][operation.path][
                operation.method.lower()]
            params = {(p['name'], p['in']) for p in doc['parameters']}
            self.assertEqual(
                params, {p for p in ref[key]['params'] if p[1] != 'body'},
                key)
            ref_body = {p[0] for p in ref[key]['params'] if p[1] == 'body'}
            if operation.body is not None and ref_body:
                names = body_names(operation.body)
                # An object the api-ref describes as a whole (a PATCH's
                # merge patch) need not list its fields again.
                self.assertTrue(ref_body <= names, (key, ref_body - names))
                wrappers = {n for n in names if '.' not in n and
                            n in operation.body['properties']}
                self.assertTrue(wrappers <= ref_body, key)
                if len(ref_body) > len(wrappers):
                    self.assertEqual(names, ref_body, key)
            else:
                self.assertEqual(set(), ref_body, key)
            self.assertEqual(set(int(c) for c in doc['responses']),
                             ref[key]['codes'], key)


def _patterns(schemas):
    stack = [s for s in schemas if s]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if isinstance(value.get('pattern'), str):
                yield value['pattern']
            stack.extend(value.values())


class TestLiveApp(base.TestCase):
    """The document against the app, in process, on a real database."""

    def setUp(self):
        super().setUp()
        conf = self.useFixture(service_fixtures.Conf()).conf
        database = self.useFixture(service_fixtures.Database('sqlite'))
        self.useFixture(service_fixtures.WorkerServer(conf))
        app = deploy.deploy(conf, backup_app.setup_app(conf))
        self.runner = api_fuzz.Runner(app, database.engine)
        self.addCleanup(self.runner.close)
        self.runner.seed()

    def _path(self, template, ids):
        path = template.replace('{project_id}', api_fuzz.PROJECT)
        for name, value in ids.items():
            path = path.replace('{%s}' % name, value)
        return path

    def test_every_operation_answers_as_documented(self):
        runner = self.runner
        ours = [i for i in runner.ids['instanceId'] if i.endswith(('2', '3'))]
        ids = {'instanceId': ours[0],
               'restoreId': runner.ids['restoreId'][0]}
        for operation in openapi.OPERATIONS:
            runner.settle()
            ids['backupId'] = self._our_backup()
            ids['scheduleId'] = runner.ids['scheduleId'][0]
            body = fuzz_requests.valid_body(runner, operation.path, _First())
            if operation.path.endswith('/restores'):
                body['restore'].update(backup_id=ids['backupId'],
                                       instance_id=ours[1])
            if operation.path.endswith(('/restore', '/backups')):
                key = 'restore' if 'restore' in body else 'backup'
                body[key]['instance' if key == 'backup'
                          else 'instance_id'] = ours[0]
            if operation.path.endswith('/backup_schedules'):
                body['backup_schedule']['instance_id'] = ours[1]
            headers = {'X-Roles': 'admin'} if 'health' in operation.path \
                else {}
            if operation.body is not None:
                headers['Content-Type'] = 'application/json'
            response = runner.exchange(
                operation.method, self._path(operation.path, ids),
                operation.path,
                body=(json.dumps(body).encode()
                      if operation.body is not None else None),
                headers=headers)
            self.assertEqual(operation.success[0], response.status_code,
                             (operation, response.body))
        self.assertEqual([], runner.findings)

    def _our_backup(self):
        response = self.runner.send('GET', '/v1.0/%s/backups'
                                    % api_fuzz.PROJECT)
        return [b['id'] for b in response.json['backups']
                if b['parent_id'] is None][0]

    def test_every_route_served_is_documented(self):
        # Every method on every documented path, on the paths beside
        # them, and with odd ids: what the document does not list is a
        # 404 or a 405 fault, never an answer.
        any_id = uuidutils.generate_uuid()
        runner = self.runner
        ids = {name: pool[0] for name, pool in runner.ids.items()}
        templates = {o.path for o in openapi.OPERATIONS}
        paths = set()
        for template in templates:
            for values in (ids, {name: any_id for name in ids}):
                path = self._path(template, values)
                paths |= {path, path + '/x', path + '/' + any_id}
        # (Methods outside HTTP's are a 400 before routing:
        # test_hostile_input.)
        methods = ('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS',
                   'TRACE', 'CONNECT')
        for path in sorted(paths):
            for method in methods:
                runner.settle()
                response = runner.exchange(
                    method, path, body=b'{}',
                    headers={'Content-Type': 'application/json'})
                if not runner._documented(method, path):
                    self.assertIn(response.status_code, (404, 405),
                                  (method, path, response.body))
                if response.status_code == 405:
                    # Allow names what the document lists for the path.
                    allowed = set(response.headers['Allow'].split(', '))
                    self.assertTrue(allowed, (method, path))
                    for other in allowed:
                        self.assertTrue(runner._documented(other, path),
                                        (method, path, allowed))
        self.assertEqual([], [f for f in runner.findings
                              if f.kind != 'undocumented status'])


class _First:
    """A random.Random stand-in that always picks the first."""

    def randrange(self, stop):
        return 0

    def choice(self, items):
        return items[0]
