"""Hostile input for the whole API, in process, on a real database.

Two sources of requests (tests/fuzz_requests.py), both deterministic for
a given seed:

- schemathesis reads the OpenAPI document (api/openapi.py) and makes
  requests that fit it and requests that break it, for every operation;
  path ids and body ids are often swapped for ids that exist, so that
  requests get past "not found" to the code behind it;
- hostile_requests() makes what no schema describes: bodies nested
  100,000 levels deep, numbers of 5,000 digits or 1e999999, NaN, invalid
  UTF-8, repeated keys, wrong or lying Content-Type and Content-Length,
  odd methods, raw query strings and paths with undecodable bytes, and
  identity headers a caller should not be able to abuse.

Every answer is checked by Runner.check: no 5xx; every 4xx is Trove's
fault body naming its code; a rejected request leaves every table as it
was; a documented operation answers only with a documented code and, on
success, a body matching its documented schema; a method or path the
document does not list never succeeds; and no request makes the service
log an error.

In keystone mode (Runner(keystone=True), tests/fuzz_keystone.py) the
requests come with tokens, a share of them from someone else or with
forged identity headers, and every answer is checked too for what its
caller should not get: anything but a 401 without a valid token; for a
member, success on another project's URL or another project's row.
"""

import collections
import hashlib
import json
import logging
import re
import time
import urllib.parse

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import jsonschema
from oslo_utils import timeutils
import sqlalchemy as sa
import webob

from trove_backup_ext.api import faults
from trove_backup_ext.api import openapi
from trove_backup_ext.db import models
from trove_backup_ext.tests import fuzz_keystone
from trove_backup_ext.tests import fuzz_requests

PROJECT = fuzz_requests.PROJECT
OTHER_PROJECT = fuzz_requests.OTHER_PROJECT
_SKIP_TABLES = ('alembic_version',)
# Served, and not part of the API document: oslo.middleware's answer.
_UNDOCUMENTED_OK = ('/healthcheck',)

Finding = collections.namedtuple('Finding', 'kind method path status detail')


def _operations():
    """{(method, path template): Operation} of the document."""
    return {(op.method, op.path): op for op in openapi.OPERATIONS}


class Runner:
    """Sends requests to app and checks every answer."""

    def __init__(self, app, engine, settle_every=200, keystone=False):
        self.app = app
        self.engine = engine
        self.keystone = keystone
        self.settle_every = settle_every
        self.document = openapi.document()
        self.operations = _operations()
        self.sent = 0
        self.statuses = collections.Counter()
        self.findings = []
        self.ids = {'backupId': [], 'instanceId': [], 'restoreId': [],
                    'scheduleId': []}
        self.owners = {}        # {id of a row: its project}
        self.started = time.monotonic()
        # An error a client's request makes the service log (with a
        # traceback) hides real ones and lets anyone fill the logs.
        self.errors_logged = []
        handler = logging.Handler(logging.ERROR)
        handler.emit = lambda record: self.errors_logged.append(
            '%s: %s' % (record.name, record.getMessage()[:200]))
        logging.getLogger().addHandler(handler)
        self.log_handler = handler

    def close(self):
        logging.getLogger().removeHandler(self.log_handler)

    # The data requests can find.

    def seed(self):
        """Instances, backups (one with a child), a restore, a schedule
        and a strategy in PROJECT, an instance and a backup elsewhere."""
        instances = [self._instance(PROJECT, i) for i in range(4)]
        other = self._instance(OTHER_PROJECT, 9)
        ours = []
        for instance in instances[:2] + [other]:
            project = PROJECT if instance != other else OTHER_PROJECT
            backup = self._expect(201, 202, 'POST', '/v1.0/%s/backups'
                                  % project, body={'backup': {
                                      'name': 'seed', 'instance': instance}},
                                  project=project)
            ours.append(backup['backup']['id'])
            self.settle()
            self._expect(202, 202, 'POST', '/v1.0/%s/backups' % project,
                         body={'backup': {'name': 'child',
                                          'instance': instance,
                                          'parent_id': backup['backup']['id'],
                                          'incremental': 1}},
                         project=project)
            self.settle()
        self._expect(202, 202, 'POST', '/v1.0/%s/restores' % PROJECT,
                     body={'restore': {
                         'backup_id': ours[0],
                         'instance_id': instances[2]}})
        self.settle()
        self._expect(201, 201, 'POST', '/v1.0/%s/backup_schedules' % PROJECT,
                     body={'backup_schedule': {
                         'name': 'nightly', 'instance_id': instances[3],
                         'full_cron': '0 1 * * *',
                         'retention': {'keep_last': 3}}})
        self._expect(202, 202, 'POST', '/v1.0/%s/backup_strategies'
                     % PROJECT, body={'backup_strategy': {
                         'swift_container': 'fuzz'}})
        self.refresh_ids()

    def _instance(self, project, number):
        instance_id = '00000000-0000-4000-8000-%012d' % number
        with self.engine.begin() as connection:
            connection.execute(sa.insert(models.RegistryInstance).values(
                id=instance_id, name='db%d' % number, project_id=project,
                datastore='mysql', datastore_version='10.11',
                status='ACTIVE', created=timeutils.utcnow()))
        return instance_id

    def _expect(self, low, high, method, path, body, project=PROJECT):
        headers = {'Content-Type': 'application/json'}
        if self.keystone:
            headers['X-Auth-Token'] = fuzz_keystone.member_token(project)
        response = self.send(method, path, body=json.dumps(body).encode(),
                             headers=headers)
        if not low <= response.status_code <= high:
            raise AssertionError('seed %s %s: %s %s' % (
                method, path, response.status, response.body[:300]))
        return response.json

    def settle(self):
        """What the worker would do: every running backup or restore
        ends, every deleted backup goes; the instances are free again."""
        with self.engine.begin() as connection:
            connection.execute(sa.delete(models.InstanceOperation))
            backups = models.Backup.__table__
            gone = [row.id for row in connection.execute(
                sa.select(backups.c.id).where(
                    backups.c.delete_requested_at.is_not(None)))]
            # Children before parents.
            while gone:
                children = {row.parent_id for row in connection.execute(
                    sa.select(backups.c.parent_id).where(
                        backups.c.parent_id.in_(gone)))}
                removable = [i for i in gone if i not in children]
                if not removable:
                    break
                connection.execute(sa.delete(backups).where(
                    backups.c.id.in_(removable)))
                gone = [i for i in gone if i in children]
            connection.execute(sa.update(backups).values(
                status='COMPLETED', running_instance_id=None,
                verification_status=None))
            connection.execute(sa.update(models.Restore).where(
                models.Restore.status.in_(('NEW', 'RESTORING'))).values(
                    status='COMPLETED'))
        self.refresh_ids()

    def refresh_ids(self):
        with self.engine.connect() as connection:
            for key, model in (('backupId', models.Backup),
                               ('instanceId', models.RegistryInstance),
                               ('restoreId', models.Restore),
                               ('scheduleId', models.BackupSchedule)):
                rows = connection.execute(
                    sa.select(model.id, model.project_id)).all()
                self.ids[key] = sorted(row.id for row in rows)
                self.owners.update((row.id, row.project_id) for row in rows)

    def snapshot(self):
        """A digest of every row of every table."""
        digest = hashlib.sha256()
        with self.engine.connect() as connection:
            for table in models.Base.metadata.sorted_tables:
                if table.name in _SKIP_TABLES:
                    continue
                rows = connection.execute(sa.select(table)).all()
                digest.update(table.name.encode())
                digest.update(repr(sorted(map(repr, rows))).encode())
        return digest.hexdigest()

    # Sending and checking.

    def send(self, method, path, query=b'', body=None, headers=None,
             environ=None):
        """One request; path and query are raw (percent-encoded) URL
        parts, as a client puts them on the wire."""
        if isinstance(path, str):
            path = path.encode('utf-8')
        if isinstance(query, str):
            query = query.encode('utf-8')
        env = {
            'REQUEST_METHOD': method,
            'SCRIPT_NAME': '',
            # WSGI: the unquoted bytes, as latin-1 characters.
            'PATH_INFO': urllib.parse.unquote_to_bytes(path).decode(
                'latin-1'),
            'QUERY_STRING': query.decode('latin-1'),
            'SERVER_NAME': 'localhost', 'SERVER_PORT': '80',
            'HTTP_HOST': 'localhost', 'wsgi.url_scheme': 'http',
        }
        env.update(environ or {})
        request = webob.Request(env)
        if body is not None:
            request.body = body
        for name, value in self.headers(headers).items():
            if name.lower() == 'content-length':
                request.environ['CONTENT_LENGTH'] = value
            else:
                request.headers[name] = value
        self.sent += 1
        response = request.get_response(self.app)
        self.statuses[response.status_code] += 1
        return response

    def headers(self, headers):
        """The headers sent for headers: in keystone mode with the
        token of PROJECT's member unless X-Auth-Token is given; a header
        given as None is not sent."""
        sent = {'X-Auth-Token': fuzz_keystone.member_token(PROJECT)
                } if self.keystone else {}
        sent.update(headers or {})
        return {name: value for name, value in sent.items()
                if value is not None}

    def exchange(self, method, path, template=None, query=b'', body=None,
                 headers=None, environ=None):
        """send, with the database compared before and after and the
        answer checked; path template names the documented operation
        (None: whatever the path is)."""
        if self.sent and self.sent % self.settle_every == 0:
            self.settle()
        before = self.snapshot()
        logged = len(self.errors_logged)
        response = self.send(method, path, query, body, headers, environ)
        self.check(method, template or path, response, before, logged)
        if self.keystone:
            self.check_identity(method, path, template or path,
                                self.headers(headers).get('X-Auth-Token'),
                                response)
        return response

    def check_identity(self, method, path, template, token, response):
        """Record what response gives a caller with token (None: none)
        that it should not get (fuzz_keystone.identity_problem)."""
        problem = fuzz_keystone.identity_problem(path, token, response,
                                                 self.owners)
        if problem:
            self._found(problem[0], method, template, response, problem[1])

    def check(self, method, template, response, before, logged):
        """Record what is wrong with response: before is the snapshot
        taken before the request, logged the count of errors logged
        then."""
        code = response.status_code
        if code >= 500:
            self._found('server error', method, template, response)
        elif code >= 400:
            problem = fault_problem(response, method)
            if problem:
                self._found('not a fault body: ' + problem, method,
                            template, response)
            if self.snapshot() != before:
                self._found('rejected but wrote', method, template,
                            response)
        if len(self.errors_logged) > logged:
            self._found('error logged', method, template, response,
                        self.errors_logged[-1])
        operation = self.operations.get((method, template))
        if operation is None:
            if code < 400 and not self._documented(method, template):
                self._found('undocumented route answered', method,
                            template, response)
            return
        documented = {operation.success[0]} | set(
            openapi.error_codes(operation))
        if code not in documented:
            self._found('undocumented status', method, template, response)
        elif code < 300 and operation.success[1]:
            schema = self.document['components']['schemas'][
                operation.success[1]]
            try:
                jsonschema.validate(
                    response.json, _resolved(schema, self.document))
            except (ValueError, jsonschema.ValidationError) as exc:
                self._found('answer off schema', method, template,
                            response, str(exc).split('\n')[0])

    def _documented(self, method, path):
        """Whether a concrete path (a trailing "/" dropped, as pecan does)
        is a documented route of method."""
        path = path.rstrip('/') or '/'
        if path in _UNDOCUMENTED_OK:
            return True
        for op_method, template in self.operations:
            pattern = re.sub(r'\\{\w+\\}', '[^/]+', re.escape(
                template.rstrip('/') or '/'))
            if op_method == method and re.fullmatch(pattern, path):
                return True
        return False

    def _found(self, kind, method, path, response, detail=None):
        self.findings.append(Finding(
            kind, method, path, response.status_code,
            detail or response.body[:300].decode('utf-8', 'replace')))

    def summary(self):
        kinds = collections.Counter(
            (f.kind, f.method, f.path, f.status) for f in self.findings)
        return {'requests': self.sent,
                'seconds': round(time.monotonic() - self.started, 1),
                'statuses': dict(sorted(self.statuses.items())),
                'findings': [dict(zip(('kind', 'method', 'path', 'status'),
                                      key), count=count)
                             for key, count in kinds.most_common()]}


def _resolved(schema, document):
    """schema with its local $refs replaced by what they point at."""
    if isinstance(schema, dict):
        if '$ref' in schema:
            name = schema['$ref'].rsplit('/', 1)[-1]
            return _resolved(document['components']['schemas'][name],
                             document)
        return {key: _resolved(value, document)
                for key, value in schema.items()}
    if isinstance(schema, list):
        return [_resolved(item, document) for item in schema]
    return schema


def fault_problem(response, method='GET'):
    """What is wrong with a 4xx answer as a Trove fault body, or None."""
    if not (response.content_type or '').startswith('application/json'):
        return 'Content-Type %r' % response.content_type
    if method == 'HEAD':
        return None         # No body, by definition.
    try:
        body = json.loads(response.body)
    except ValueError:
        return 'not JSON'
    name = faults.fault_name(response.status_code)
    if not (isinstance(body, dict) and list(body) == [name] and
            isinstance(body[name], dict) and
            body[name].get('code') == response.status_code and
            isinstance(body[name].get('message'), str) and
            body[name]['message']):
        return 'not {"%s": {"code": %d, "message": ...}}' % (
            name, response.status_code)
    return None


def run(runner, examples, seed=0, hostile_share=0.4):
    """Send examples generated requests (after seeding), checking each;
    a hostile_share of them from hostile_requests, the rest from the
    document."""
    import hypothesis
    from hypothesis import Phase

    document = fuzz_requests.document_requests(runner)
    hostile = fuzz_requests.hostile_requests(runner)
    if runner.keystone:
        document = fuzz_keystone.with_identity(document)
        hostile = fuzz_keystone.with_identity(hostile)

    @hypothesis.seed(seed)
    @settings(max_examples=examples, database=None, deadline=None,
              phases=[Phase.generate], derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def one(data):
        source = hostile if data.draw(st.floats(0, 1)) < hostile_share \
            else document
        method, path, template, query, body, headers = data.draw(source)
        runner.exchange(method, path, template, query, body, headers)
    one()
    return runner.summary()
