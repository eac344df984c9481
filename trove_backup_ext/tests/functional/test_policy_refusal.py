"""Every route refuses a caller its policy rule denies, and changes nothing."""

import os
import tempfile

import fixtures
from oslo_policy import policy as oslo_policy
import sqlalchemy as sa
import yaml

from trove_backup_ext.db import backup_schedules as schedules_db
from trove_backup_ext.db import backup_strategies as strategies_db
from trove_backup_ext.db import backups as backups_db
from trove_backup_ext.db import restores as restores_db
from trove_backup_ext.db import models
from trove_backup_ext import policies
from trove_backup_ext.policies import backup_schedules as schedule_policies
from trove_backup_ext.policies import backup_strategies as strategy_policies
from trove_backup_ext.policies import backups as backup_policies
from trove_backup_ext.policies import instances as instance_policies
from trove_backup_ext.policies import restores as restore_policies
from trove_backup_ext import policy
from trove_backup_ext import states
from trove_backup_ext.tests import base

# Rules that define who is who; the rules of actions refer to them.
BASE_RULES = ('context_is_admin', 'admin', 'admin_or_owner')

ACTION_RULES = [rule for rule in policies.list_rules()
                if isinstance(rule, oslo_policy.DocumentedRuleDefault)]

# The request that exercises each rule: (method, path template, query).
# The routes tested are those of the rules' documented operations, so a rule
# or route added without an entry here fails
# test_every_route_and_rule_is_covered.
RULE_REQUESTS = {
    backup_policies.INDEX: ('GET', backup_policies.PATH, ''),
    backup_policies.INDEX_ALL_PROJECTS: ('GET', backup_policies.PATH,
                                         '?all_projects=true'),
    backup_policies.SHOW: ('GET', backup_policies.PATH_ID, ''),
    backup_policies.CREATE: ('POST', backup_policies.PATH, ''),
    backup_policies.DELETE: ('DELETE', backup_policies.PATH_ID, ''),
    backup_policies.VERIFY: ('POST', backup_policies.PATH_VERIFY, ''),
    strategy_policies.INDEX: ('GET', strategy_policies.PATH, ''),
    strategy_policies.CREATE: ('POST', strategy_policies.PATH, ''),
    strategy_policies.DELETE: ('DELETE', strategy_policies.PATH, ''),
    instance_policies.BACKUPS: ('GET', instance_policies.PATH_BACKUPS, ''),
    instance_policies.INDEX: ('GET', instance_policies.PATH, ''),
    instance_policies.INDEX_ALL_PROJECTS: ('GET', instance_policies.PATH,
                                           '?all_projects=true'),
    instance_policies.SHOW: ('GET', instance_policies.PATH_ID, ''),
    restore_policies.INDEX: ('GET', restore_policies.PATH, ''),
    restore_policies.INDEX_ALL_PROJECTS: ('GET', restore_policies.PATH,
                                          '?all_projects=true'),
    restore_policies.SHOW: ('GET', restore_policies.PATH_ID, ''),
    restore_policies.CREATE: ('POST', restore_policies.PATH, ''),
    schedule_policies.INDEX: ('GET', schedule_policies.PATH, ''),
    schedule_policies.INDEX_ALL_PROJECTS: ('GET', schedule_policies.PATH,
                                           '?all_projects=true'),
    schedule_policies.SHOW: ('GET', schedule_policies.PATH_ID, ''),
    schedule_policies.CREATE: ('POST', schedule_policies.PATH, ''),
    schedule_policies.UPDATE: ('PATCH', schedule_policies.PATH_ID, ''),
    schedule_policies.DELETE: ('DELETE', schedule_policies.PATH_ID, ''),
    schedule_policies.HEALTH: ('GET', schedule_policies.HEALTH_PATH, ''),
}
# Routes guarded by a rule of RULE_REQUESTS that has a second route.
SECOND_ROUTES = {
    ('POST', restore_policies.ALIAS): restore_policies.CREATE,
    ('GET', schedule_policies.PREVIEW): schedule_policies.SHOW,
}
# The body of each POST route.
POST_BODIES = {
    strategy_policies.PATH: lambda test: {
        'backup_strategy': {'swift_container': 'denied'}},
    restore_policies.PATH: lambda test: {'restore': {
        'backup_id': test.backup['id'], 'instance_id': test.instance.id}},
    restore_policies.ALIAS: lambda test: {'restore': {
        'instance_id': test.instance.id}},
    backup_policies.PATH_VERIFY: lambda test: {},
    schedule_policies.PATH: lambda test: {'backup_schedule': {
        'name': 'denied', 'instance_id': test.instance.id,
        'full_cron': '0 1 * * *'}},
}
# The body of each PATCH route.
PATCH_BODIES = {
    schedule_policies.PATH_ID: lambda test: {'backup_schedule': {
        'name': 'denied', 'full_cron': '0 2 * * *', 'enabled': False}},
}


def documented_routes():
    """{(method, path template): names of the rules guarding it}."""
    routes = {}
    for rule in ACTION_RULES:
        for operation in rule.operations:
            key = (operation['method'], operation['path'])
            routes.setdefault(key, set()).add(rule.name)
    return routes


class _PolicyRefusalTests:

    def setUp(self):
        super().setUp()
        self.policy_dir = self.useFixture(fixtures.TempDir()).path
        self.instance = self.add_instance()
        self.backup = self.create_backup(self.instance.id)
        self.complete(self.backup['id'])
        self.assertTrue(self.worker.received.wait(5))
        # So that a delete let through would show.
        strategies_db.put(self.admin_context, base.PROJECT,
                          strategies_db.PROJECT_WIDE, 'kept')
        # A finished restore, for the routes that show one.
        self.restore_id = restores_db.create(self.admin_context, {
            'id': '9b1e1a0e-6d7c-4f7e-8a39-1c5d3f0b2a77',
            'project_id': base.PROJECT, 'backup_id': self.backup['id'],
            'instance_id': self.instance.id}).id
        self.assertTrue(restores_db.transition(
            self.admin_context, self.restore_id, states.RESTORE_RUNNING,
            states.COMPLETED))
        # A schedule, for the routes that show, change or delete one.
        self.schedule_id = schedules_db.create(self.admin_context, {
            'name': 'kept', 'project_id': base.PROJECT,
            'instance_id': self.instance.id, 'full_cron': '0 1 * * *',
            'timezone': 'UTC', 'enabled': True}).id

    # Helpers.

    def deny(self, rule_names):
        """Load a policy file that sets each of rule_names to "!"."""
        # A new file each time: oslo.policy caches files by mtime, which a
        # rewrite within the same second would not change.
        fd, path = tempfile.mkstemp(suffix='.yaml', dir=self.policy_dir)
        with os.fdopen(fd, 'w') as policy_file:
            yaml.safe_dump({name: '!' for name in rule_names}, policy_file)
        # The Conf fixture's policy.init() registered oslo.policy's options.
        self.assertIn('policy_file', self.conf.oslo_policy)
        self.conf.set_override('policy_file', path, group='oslo_policy')
        policy.reset()
        self.assertEqual(path, policy.init(self.conf).policy_file)

    def call(self, method, path_template, query='', roles='member'):
        path = path_template.format(project_id=base.PROJECT,
                                    backupId=self.backup['id'],
                                    instanceId=self.instance.id,
                                    restoreId=self.restore_id,
                                    scheduleId=self.schedule_id)
        kwargs = {}
        if method == 'PATCH':
            kwargs['json'] = PATCH_BODIES[path_template](self)
        elif method == 'POST' and path_template in POST_BODIES:
            kwargs['json'] = POST_BODIES[path_template](self)
        elif method == 'POST':
            kwargs['json'] = {'backup': {'name': 'denied',
                                         'instance': self.instance.id}}
        return self.http.request(method, self.api.endpoint + path + query,
                                 headers={'X-Roles': roles}, **kwargs)

    def state(self):
        """What a refused request must leave as it was."""
        with self.database.engine.connect() as connection:
            rows = connection.execute(sa.select(
                models.Backup.id, models.Backup.status,
                models.Backup.delete_requested_at)).all()
            strategies = connection.execute(sa.select(
                models.BackupStrategy.instance_id,
                models.BackupStrategy.swift_container)).all()
            restores = connection.execute(sa.select(
                models.Restore.id, models.Restore.status)).all()
            verifications = connection.execute(sa.select(
                models.Backup.id, models.Backup.verification_status)).all()
            schedules = connection.execute(sa.select(
                models.BackupSchedule.id, models.BackupSchedule.name,
                models.BackupSchedule.full_cron,
                models.BackupSchedule.enabled,
                models.BackupSchedule.next_run,
                models.BackupSchedule.version)).all()
        return (sorted(tuple(row) for row in rows),
                sorted(tuple(row) for row in strategies),
                sorted(tuple(row) for row in restores),
                sorted(tuple(row) for row in verifications),
                sorted(tuple(row) for row in schedules),
                backups_db.usage(self.admin_context, base.PROJECT))

    def assertRefusedBy(self, response, rule_names):
        message = self.assertFault(response, 403, 'forbidden')
        self.assertIn(message, ["Policy doesn't allow %s to be performed."
                                % name for name in rule_names])

    # Tests.

    def test_every_route_and_rule_is_covered(self):
        self.assertEqual({rule.name for rule in ACTION_RULES},
                         set(RULE_REQUESTS))
        for name, (method, path, _) in RULE_REQUESTS.items():
            self.assertIn(name, documented_routes()[(method, path)])
        self.assertEqual(set(documented_routes()),
                         {(method, path) for method, path, _ in
                          RULE_REQUESTS.values()} | set(SECOND_ROUTES))
        for route, name in SECOND_ROUTES.items():
            self.assertIn(name, documented_routes()[route])

    def test_member_refused_on_every_route(self):
        self.deny(rule.name for rule in policies.list_rules()
                  if rule.name not in BASE_RULES)
        before = self.state()
        for (method, path), rule_names in sorted(documented_routes().items()):
            response = self.call(method, path)
            self.assertRefusedBy(response, rule_names)
        self.assertEqual(before, self.state())
        # Only the setUp backup's create was cast; nothing else was.
        self.assertEqual([('create_backup', self.backup['id'])],
                         self.worker.calls)

    def test_admin_refused_by_each_rule_alone(self):
        for name, (method, path, query) in sorted(RULE_REQUESTS.items()):
            self.deny([name])
            before = self.state()
            response = self.call(method, path, query, roles='admin')
            self.assertRefusedBy(response, [name])
            self.assertEqual(before, self.state())

    def test_member_refused_admin_only_filters_by_default(self):
        for query in ('?all_projects=true', '?all_projects=True',
                      '?project_id=%s' % base.OTHER_PROJECT,
                      '?project_id=%s' % base.PROJECT):
            response = self.call('GET', backup_policies.PATH, query)
            self.assertRefusedBy(response,
                                 [backup_policies.INDEX_ALL_PROJECTS])
            # The same request is fine for an admin.
            response = self.call('GET', backup_policies.PATH, query,
                                 roles='admin')
            self.assertEqual(200, response.status_code, response.text)


(TestPolicyRefusal_sqlite, TestPolicyRefusal_mysql,
 TestPolicyRefusal_postgresql) = base.for_each_backend(_PolicyRefusalTests,
                                                       __name__)
