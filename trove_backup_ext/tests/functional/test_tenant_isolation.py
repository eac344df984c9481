"""Tenant isolation on every route and filter, in noauth and keystone mode.

Project A owns an instance, a backup, a restore, a schedule and two
backup strategies; project B owns the same. B's member names A's ids on
every route, in every body field and every query filter that takes one
(REQUESTS). Each answer must be the one an unknown id gets (so an id
tells B nothing), no answer may show any of A's ids, and nothing may
change in the database. Admin-only filters are refused to B (403), and in
keystone mode B's token on A's URL is refused on every route (403) and
identity headers a caller adds change none of this.

An administrator gets A's rows with the same requests (ADMIN_SEES): the
ids are real, so the 404s above come from isolation, not from a typo.
test_every_route_and_filter_is_covered fails when a route or a query
filter is added without a row here.
"""

import time

from keystonemiddleware import fixture as ksm_fixture
from oslo_utils import uuidutils
import sqlalchemy as sa

from trove_backup_ext.api import pagination
from trove_backup_ext.api.schemas import backup_schedules as schedule_schemas
from trove_backup_ext.api.schemas import backup_strategies as strategy_schemas
from trove_backup_ext.api.schemas import backups as backup_schemas
from trove_backup_ext.api.schemas import instances as instance_schemas
from trove_backup_ext.api.schemas import restores as restore_schemas
from trove_backup_ext.db import backup_schedules as schedules_db
from trove_backup_ext.db import backup_strategies as strategies_db
from trove_backup_ext.db import backups as backups_db
from trove_backup_ext.db import models
from trove_backup_ext.db import restores as restores_db
from trove_backup_ext.policies import backup_schedules as schedule_policies
from trove_backup_ext.policies import backup_strategies as strategy_policies
from trove_backup_ext.policies import backups as backup_policies
from trove_backup_ext.policies import instances as instance_policies
from trove_backup_ext.policies import restores as restore_policies
from trove_backup_ext import states
from trove_backup_ext.tests import base
from trove_backup_ext.tests.functional import test_policy_refusal

A = base.PROJECT
B = base.OTHER_PROJECT

# The names of A's ids in the templates below; {b_...} are B's own.
A_IDS = ('a_backup', 'a_instance', 'a_restore', 'a_schedule')
SCHEDULE_BODY = {'name': 'b', 'full_cron': '0 1 * * *'}

# (method, route template, query, body, status for B). Templates name A's
# ids as {a_backup}, ... and B's as {b_backup}, ...; {a_marker} is the
# opaque marker of A's backup. The route template is the policy's, so the
# coverage test can compare them with the documented routes.
REQUESTS = [
    # backups
    ('GET', backup_policies.PATH_ID, '', None, 404),
    ('DELETE', backup_policies.PATH_ID, '', None, 404),
    ('POST', backup_policies.PATH_VERIFY, '', {}, 404),
    ('POST', restore_policies.ALIAS, '',
     {'restore': {'instance_id': '{b_instance}'}}, 404),
    ('POST', backup_policies.PATH, '',
     {'backup': {'name': 'b', 'instance': '{a_instance}'}}, 404),
    ('POST', backup_policies.PATH, '',
     {'backup': {'name': 'b', 'instance': '{b_instance}',
                 'parent_id': '{a_backup}'}}, 404),
    ('GET', backup_policies.PATH, '?instance_id={a_instance}', None, 200),
    ('GET', backup_policies.PATH, '?marker={a_backup}', None, 400),
    ('GET', backup_policies.PATH, '?marker={a_marker}', None, 200),
    ('GET', backup_policies.PATH, '?datastore=mysql&limit=1000', None,
     200),
    ('GET', backup_policies.PATH, '?all_projects=true', None, 403),
    ('GET', backup_policies.PATH, '?project_id=' + A, None, 403),
    # restores
    ('GET', restore_policies.PATH_ID, '', None, 404),
    ('POST', restore_policies.PATH, '',
     {'restore': {'backup_id': '{a_backup}',
                  'instance_id': '{b_instance}'}}, 404),
    ('POST', restore_policies.PATH, '',
     {'restore': {'backup_id': '{b_backup}',
                  'instance_id': '{a_instance}'}}, 404),
    ('POST', restore_policies.ALIAS.replace('backupId', 'b_backup'), '',
     {'restore': {'instance_id': '{a_instance}'}}, 404),
    ('GET', restore_policies.PATH, '?instance_id={a_instance}', None, 200),
    ('GET', restore_policies.PATH, '?backup_id={a_backup}', None, 200),
    ('GET', restore_policies.PATH, '?marker={a_restore}&limit=1000', None,
     400),
    ('GET', restore_policies.PATH, '?all_projects=true', None, 403),
    ('GET', restore_policies.PATH, '?project_id=' + A, None, 403),
    # backup_schedules
    ('GET', schedule_policies.PATH_ID, '', None, 404),
    ('GET', schedule_policies.PREVIEW, '', None, 404),
    ('PATCH', schedule_policies.PATH_ID, '',
     {'backup_schedule': {'enabled': False}}, 404),
    ('DELETE', schedule_policies.PATH_ID, '', None, 404),
    ('POST', schedule_policies.PATH, '',
     {'backup_schedule': dict(SCHEDULE_BODY,
                              instance_id='{a_instance}')}, 404),
    # B's own schedule cannot be moved to A's instance or project.
    ('PATCH', schedule_policies.PATH_ID.replace('scheduleId', 'b_schedule'),
     '', {'backup_schedule': {'instance_id': '{a_instance}'}}, 400),
    ('PATCH', schedule_policies.PATH_ID.replace('scheduleId', 'b_schedule'),
     '', {'backup_schedule': {'project_id': A}}, 400),
    ('GET', schedule_policies.PATH, '?instance_id={a_instance}', None, 200),
    ('GET', schedule_policies.PATH, '?marker={a_schedule}&limit=1000', None,
     400),
    ('GET', schedule_policies.PATH, '?all_projects=true', None, 403),
    ('GET', schedule_policies.PATH, '?project_id=' + A, None, 403),
    ('GET', schedule_policies.HEALTH_PATH, '?limit=1000', None, 403),
    # instances
    ('GET', instance_policies.PATH_ID, '', None, 404),
    ('GET', instance_policies.PATH_BACKUPS, '?limit=1000', None, 404),
    ('GET', instance_policies.PATH_BACKUPS.replace('instanceId',
                                                   'b_instance'),
     '?marker={a_backup}', None, 400),
    ('GET', instance_policies.PATH, '?marker={a_instance}', None, 400),
    ('GET', instance_policies.PATH, '?include_clustered=true&limit=1000',
     None, 200),
    ('GET', instance_policies.PATH, '?all_projects=true', None, 403),
    ('GET', instance_policies.PATH, '?project_id=' + A, None, 403),
    # backup_strategies
    ('POST', strategy_policies.PATH, '',
     {'backup_strategy': {'swift_container': 'b',
                          'instance_id': '{a_instance}'}}, 404),
    ('GET', strategy_policies.PATH, '?instance_id={a_instance}', None, 200),
    ('DELETE', strategy_policies.PATH, '?instance_id={a_instance}', None,
     202),
    ('GET', strategy_policies.PATH, '?project_id=' + A, None, 403),
    ('DELETE', strategy_policies.PATH, '?project_id=' + A, None, 403),
]

# What an administrator gets with the same read requests: A's rows.
ADMIN_SEES = [
    (backup_policies.PATH_ID, '', 'a_backup'),
    (backup_policies.PATH, '?project_id=' + A, 'a_backup'),
    (backup_policies.PATH, '?instance_id={a_instance}&all_projects=true',
     'a_backup'),
    (restore_policies.PATH_ID, '', 'a_restore'),
    (restore_policies.PATH, '?backup_id={a_backup}&all_projects=true',
     'a_restore'),
    (schedule_policies.PATH_ID, '', 'a_schedule'),
    (schedule_policies.PREVIEW, '', None),
    (schedule_policies.PATH, '?instance_id={a_instance}&all_projects=true',
     'a_schedule'),
    (instance_policies.PATH_ID, '', 'a_instance'),
    (instance_policies.PATH_BACKUPS, '', 'a_backup'),
    (instance_policies.PATH, '?project_id=' + A, 'a_instance'),
]

# Each list route's query schema: every filter it takes must be tried.
LIST_QUERIES = {
    backup_policies.PATH: backup_schemas.list_request_query,
    restore_policies.PATH: restore_schemas.list_request_query,
    schedule_policies.PATH: schedule_schemas.list_request_query,
    schedule_policies.HEALTH_PATH: schedule_schemas.health_request_query,
    instance_policies.PATH: instance_schemas.list_request_query,
    instance_policies.PATH_BACKUPS: instance_schemas.backups_request_query,
    strategy_policies.PATH: strategy_schemas.request_query,
}

FAULTS = {400: 'badRequest', 403: 'forbidden', 404: 'itemNotFound'}


def _fill(value, ids):
    """value (a template, or a body holding templates) with ids."""
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    if isinstance(value, str):
        return value.format(**ids)
    return value


def _route(template):
    """The policy's route template of a REQUESTS template."""
    for ours, policy_name in (('b_backup', 'backupId'),
                              ('b_schedule', 'scheduleId'),
                              ('b_instance', 'instanceId')):
        template = template.replace(ours, policy_name)
    return template


class _IsolationTests:

    def setUp(self):
        super().setUp()
        self.make_callers()
        self.ids = {'project_id': B}
        for project, prefix in ((A, 'a_'), (B, 'b_')):
            for name, value in self.add_rows(project).items():
                self.ids[prefix + name] = value
        # Both creates' casts are in: later ones would be B's doing.
        deadline = time.monotonic() + 10
        while len(self.worker.calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(2, len(self.worker.calls))
        self.ids['a_marker'] = pagination.make_marker(
            backups_db.get(self.admin_context, self.ids['a_backup'], None))
        # Placeholders of the policies' templates: A's ids.
        self.ids.update(backupId=self.ids['a_backup'],
                        instanceId=self.ids['a_instance'],
                        restoreId=self.ids['a_restore'],
                        scheduleId=self.ids['a_schedule'])

    def add_rows(self, project):
        instance = self.add_instance(project_id=project)
        backup = self.create_backup_in(project, instance.id)
        self.complete(backup['id'])
        restore = restores_db.create(self.admin_context, {
            'id': uuidutils.generate_uuid(), 'project_id': project,
            'backup_id': backup['id'], 'instance_id': instance.id})
        self.assertTrue(restores_db.transition(
            self.admin_context, restore.id, states.RESTORE_RUNNING,
            states.COMPLETED))
        schedule = schedules_db.create(self.admin_context, {
            'name': 'kept', 'project_id': project,
            'instance_id': instance.id, 'full_cron': '0 1 * * *',
            'timezone': 'UTC', 'enabled': True})
        strategies_db.put(self.admin_context, project,
                          strategies_db.PROJECT_WIDE, 'kept-%s' % project)
        strategies_db.put(self.admin_context, project, instance.id,
                          'kept-%s-instance' % project)
        return {'instance': instance.id, 'backup': backup['id'],
                'restore': restore.id, 'schedule': schedule.id}

    def state(self):
        """Every row of every table."""
        with self.database.engine.connect() as connection:
            return [sorted(map(repr, connection.execute(
                sa.select(table)).all()))
                for table in models.Base.metadata.sorted_tables]

    def unknown_ids(self):
        """self.ids with A's ids replaced by ids nobody has."""
        unknown = dict(self.ids)
        for name in A_IDS:
            unknown[name] = uuidutils.generate_uuid()
        for placeholder, name in (('backupId', 'a_backup'),
                                  ('instanceId', 'a_instance'),
                                  ('restoreId', 'a_restore'),
                                  ('scheduleId', 'a_schedule')):
            unknown[placeholder] = unknown[name]
        return unknown

    def send(self, method, template, query, body, ids, caller):
        path = template.format(**ids)
        kwargs = {} if body is None else {'json': _fill(body, ids)}
        return caller.call(method, path + _fill(query, ids), **kwargs)

    def assertShowsNothingOfA(self, response, what):
        for name in A_IDS:
            self.assertNotIn(self.ids[name], response.text, what)
        self.assertNotIn(A, response.text, what)

    # Tests.

    def test_every_route_and_filter_is_covered(self):
        tried = {(method, _route(template))
                 for method, template, _, _, _ in REQUESTS}
        self.assertEqual(set(test_policy_refusal.documented_routes()),
                         tried)
        for route, schema in LIST_QUERIES.items():
            filters = set()
            for method, template, query, _, _ in REQUESTS:
                if method in ('GET', 'DELETE') and _route(template) == route:
                    filters.update(part.split('=')[0] for part in
                                   query.lstrip('?').split('&') if part)
            self.assertEqual(set(schema['properties']), filters, route)

    def test_b_gets_nothing_of_a_on_any_route(self):
        before = self.state()
        casts = list(self.worker.calls)
        unknown = self.unknown_ids()
        for method, template, query, body, status in REQUESTS:
            what = '%s %s%s' % (method, template, query)
            response = self.send(method, template, query, body, self.ids,
                                 self.member_b)
            self.assertEqual(status, response.status_code,
                             '%s: %s' % (what, response.text))
            if status in FAULTS:
                self.assertFault(response, status, FAULTS[status])
            elif response.text:
                self.assertShowsNothingOfA(response, what)
            # The same answer as for ids that do not exist.
            same = self.send(method, template, query, body, unknown,
                             self.member_b)
            self.assertEqual(status, same.status_code,
                             '%s: %s' % (what, same.text))
        self.assertEqual(before, self.state())
        self.assertEqual(casts, self.worker.calls)

    def test_b_lists_only_its_own(self):
        for method, template, query, body, status in REQUESTS:
            if method != 'GET' or status != 200:
                continue
            response = self.send(method, template, query, body, self.ids,
                                 self.member_b)
            (listed,) = response.json().values()
            for item in listed:
                self.assertEqual(B, item.get('project_id', item.get(
                    'tenant_id', B)), template + query)
        # Not vacuous: B's own rows are there.
        response = self.member_b.call('GET', '/v1.0/%s/backups' % B)
        self.assertEqual([self.ids['b_backup']],
                         [b['id'] for b in response.json()['backups']])

    def test_admin_sees_the_same_ids(self):
        for template, query, expected in ADMIN_SEES:
            response = self.send('GET', template, query, None, self.ids,
                                 self.admin)
            self.assertEqual(200, response.status_code,
                             template + query + response.text)
            if expected:
                self.assertIn(self.ids[expected], response.text,
                              template + query)


class _NoAuthCaller:
    """A caller of noauth mode: the URL names the project, X-Roles the
    roles."""

    def __init__(self, test, roles):
        self.test = test
        self.roles = roles

    def call(self, method, path, **kwargs):
        return self.test.http.request(
            method, self.test.api.endpoint + path,
            headers={'X-Roles': self.roles}, **kwargs)


class _NoAuthIsolationTests(_IsolationTests):

    def make_callers(self):
        self.member_b = _NoAuthCaller(self, 'member')
        self.admin = _NoAuthCaller(self, 'admin')

    def create_backup_in(self, project, instance_id):
        return self.create_backup(instance_id, project=project)

    def test_a_project_named_as_a_in_other_case_sees_nothing(self):
        # Project ids compare as they are spelled, on every database
        # (MySQL's default collations would call these equal).
        other = A.upper()
        caller = _NoAuthCaller(self, 'member')
        for kind in ('backups', 'restores', 'backup_schedules',
                     'instances'):
            listed = caller.call('GET', '/v1.0/%s/%s' % (other, kind))
            self.assertEqual(200, listed.status_code, listed.text)
            self.assertShowsNothingOfA(listed, kind)
        for path in ('backups/{a_backup}', 'restores/{a_restore}',
                     'backup_schedules/{a_schedule}',
                     'instances/{a_instance}'):
            self.assertFault(caller.call('GET', '/v1.0/%s/%s' % (
                other, path.format(**self.ids))), 404, 'itemNotFound')


(NoAuthIsolationTest_sqlite, NoAuthIsolationTest_mysql,
 NoAuthIsolationTest_postgresql) = base.for_each_backend(
    _NoAuthIsolationTests, __name__)


class _TokenCaller:
    """A caller of keystone mode: its token, plus any headers of its own
    (forged identity headers among them)."""

    def __init__(self, test, token, headers=None):
        self.test = test
        self.token = token
        self.headers = headers or {}

    def call(self, method, path, **kwargs):
        headers = dict(self.headers)
        if self.token:
            headers['X-Auth-Token'] = self.token
        return self.test.http.request(method, self.test.api.endpoint + path,
                                      headers=headers, **kwargs)


# Identity headers a caller may add to try to be someone else.
FORGED = {'X-Roles': 'admin', 'X-Role': 'admin', 'X-Project-Id': A,
          'X-Tenant-Id': A, 'X-Tenant': A, 'X-Project-Name': A,
          'X-User-Id': 'a-member', 'X-Identity-Status': 'Confirmed',
          'X-Is-Admin-Project': 'True', 'X-Service-Roles': 'admin'}


class KeystoneIsolationTest(_IsolationTests, base.FunctionalTestCase):
    """The same with keystonemiddleware's auth_token deciding, B's member
    forging identity headers on every request."""

    conf_overrides = {
        'api.auth_strategy': 'keystone',
        # What a deployer sets; auth_token names it in WWW-Authenticate.
        'keystone_authtoken.www_authenticate_uri':
            'http://keystone.example/identity'}

    def make_callers(self):
        self.token_fixture = self.useFixture(ksm_fixture.AuthTokenFixture())
        for token, project, roles in (('a-member', A, ['member']),
                                      ('b-member', B, ['member']),
                                      ('admin', base.ADMIN_PROJECT,
                                       ['admin'])):
            self.token_fixture.add_token_data(
                token_id=token, user_id=token, project_id=project,
                role_list=roles)
        self.tokens = {A: _TokenCaller(self, 'a-member'),
                       B: _TokenCaller(self, 'b-member')}
        self.member_b = _TokenCaller(self, 'b-member', FORGED)
        self.admin = _TokenCaller(self, 'admin')

    def create_backup_in(self, project, instance_id):
        response = self.tokens[project].call(
            'POST', '/v1.0/%s/backups' % project,
            json={'backup': {'name': 'backup', 'instance': instance_id}})
        self.assertEqual(202, response.status_code, response.text)
        return response.json()['backup']

    def test_b_on_as_url_is_403_on_every_route(self):
        before = self.state()
        ids = dict(self.ids, project_id=A)
        for method, template, query, body, _ in REQUESTS:
            for caller in (self.tokens[B], self.member_b):
                response = self.send(method, template, query, body, ids,
                                     caller)
                self.assertFault(response, 403, 'forbidden', A)
        self.assertEqual(before, self.state())

    def test_forged_headers_without_a_token_are_401(self):
        caller = _TokenCaller(self, None, FORGED)
        for method, template, query, body, _ in REQUESTS:
            response = self.send(method, template, query, body, self.ids,
                                 caller)
            self.assertFault(response, 401, 'unauthorized')
