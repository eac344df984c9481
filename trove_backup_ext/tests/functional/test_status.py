"""trove-backup-status upgrade check, run as a process on real setups.

Exit codes as oslo.upgradecheck defines them: 0 every check passed, 1 a
check warns, 2 a check failed.
"""

import configparser
import datetime
import json
import os
import subprocess
import sys
import uuid

import fixtures
import sqlalchemy as sa

from trove_backup_ext import agent_auth
from trove_backup_ext.db import migration
from trove_backup_ext.db import models
from trove_backup_ext.tests import base
from trove_backup_ext.tests.functional import test_swift_trusts
from trove_backup_ext.tests import keystone_fixture
from trove_backup_ext.tests import swift_fixture

SUCCESS, WARNING, FAILURE = 0, 1, 2


class StatusTestCase(base.TestCase):
    """Each test builds a deployment in a temporary directory: a config
    file, a SQLite database (migrated unless told) and a storage dir."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.db_url = 'sqlite:///%s/backups.sqlite' % self.dir
        self.storage_dir = os.path.join(self.dir, 'backups')
        self.sections = {
            'DEFAULT': {'transport_url': 'fake:///'},
            'database': {'connection': self.db_url},
            'local_storage': {'storage_dir': self.storage_dir},
            # A worker's configuration: the master key of agent keys.
            'worker': {'agent_keys_master_key_file': self.master_key()},
        }

    def master_key(self):
        path = os.path.join(self.dir, 'agent-master.key')
        agent_auth.write_key_file(path, agent_auth.new_key())
        return path

    def migrate(self):
        engine = sa.create_engine(self.db_url)
        self.addCleanup(engine.dispose)
        migration.upgrade(engine=engine)
        return engine

    def good_setup(self):
        self.migrate()
        os.mkdir(self.storage_dir)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def status(self, *extra):
        """Run the command; (exit code, {check: (result, details)})."""
        parser = configparser.ConfigParser()
        parser.read_dict(self.sections)
        config_file = os.path.join(self.dir, 'trove-backup-ext.conf')
        with open(config_file, 'w') as f:
            parser.write(f)
        result = subprocess.run(
            [sys.executable, '-m', 'trove_backup_ext.cmd.status',
             '--config-file', config_file, 'upgrade', 'check'] + list(extra),
            capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL)
        self.assertIn(result.returncode, (SUCCESS, WARNING, FAILURE),
                      result.stdout + result.stderr)
        self.output = result.stdout
        return result.returncode, _parse_table(result.stdout)

    def assertCheck(self, checks, name, result, *fragments):
        self.assertIn(name, checks, self.output)
        self.assertEqual(result, checks[name][0], self.output)
        for fragment in fragments:
            self.assertIn(fragment, checks[name][1], self.output)


def _parse_table(text):
    """{check name: (result, details)} from oslo.upgradecheck's table."""
    checks, current = {}, None
    for line in text.splitlines():
        cell = line.strip('|').strip() if line.startswith('|') else None
        if cell is None:
            current = None
        elif cell.startswith('Check: '):
            current = cell[len('Check: '):]
            checks[current] = [None, '']
        elif current and cell.startswith('Result: '):
            checks[current][0] = cell[len('Result: '):]
        elif current and cell.startswith('Details: '):
            checks[current][1] = cell[len('Details: '):]
        elif current:
            checks[current][1] += ' ' + cell
    return {name: tuple(value) for name, value in checks.items()}


class SchemaAndSourceTest(StatusTestCase):

    def test_good_setup_passes_every_check(self):
        self.good_setup()
        code, checks = self.status()
        self.assertEqual(SUCCESS, code, self.output)
        self.assertEqual(['Database schema', 'Policy file', 'Storage',
                          'Swift access rules filter', 'Instance source',
                          'Backup schedules', 'Agent keys'],
                         list(checks))
        self.assertCheck(checks, 'Database schema', 'Success',
                         migration.head())
        self.assertCheck(checks, 'Storage', 'Success', self.storage_dir)
        self.assertCheck(checks, 'Instance source', 'Success', 'registry')

    def test_unknown_instance_source_fails_in_json(self):
        self.good_setup()
        self.sections['DEFAULT']['instance_source'] = 'nonexistent'
        code, _ = self.status('--json')
        self.assertEqual(FAILURE, code)
        checks = {c['check']: c for c in json.loads(self.output)['checks']}
        self.assertEqual({'Database schema': 0, 'Policy file': 0,
                          'Storage': 0, 'Swift access rules filter': 0,
                          'Instance source': 2, 'Backup schedules': 0,
                          'Agent keys': 0},
                         {name: c['result'] for name, c in checks.items()})
        self.assertIn('nonexistent', checks['Instance source']['details'])

    def test_unreadable_trove_source_fails(self):
        # It loads, but its database refuses: not ready.
        self.good_setup()
        self.sections['DEFAULT']['instance_source'] = 'trove'
        self.sections.setdefault('trove_database', {})['connection'] = (
            'mysql+pymysql://nobody:wrong@127.0.0.1:3306/nowhere')
        code, checks = self.status()
        self.assertEqual(FAILURE, code, self.output)
        self.assertCheck(checks, 'Instance source', 'Failure',
                         'cannot be read')
        self.assertNotIn('wrong', self.output)

    def test_fresh_deployment_fails_schema_and_storage(self):
        # Nothing done yet: no "db sync", no storage directory.
        code, checks = self.status()
        self.assertEqual(FAILURE, code)
        self.assertCheck(checks, 'Database schema', 'Failure', 'db sync')
        self.assertCheck(checks, 'Storage', 'Failure', self.storage_dir,
                         'not a directory')
        self.assertCheck(checks, 'Policy file', 'Success')

    def test_schema_of_an_unknown_revision_fails(self):
        engine = self.migrate()
        os.mkdir(self.storage_dir)
        with engine.begin() as connection:
            connection.execute(sa.text(
                "UPDATE alembic_version SET version_num = 'ffffffffffff'"))
        code, checks = self.status()
        self.assertEqual(FAILURE, code)
        self.assertCheck(checks, 'Database schema', 'Failure',
                         'ffffffffffff', migration.head())

    def test_unreachable_database_fails_without_showing_the_password(self):
        os.mkdir(self.storage_dir)
        self.sections['database']['connection'] = (
            'mysql+pymysql://tbe:s3cr3t-pw@127.0.0.1:1/tbe')
        code, checks = self.status()
        self.assertEqual(FAILURE, code)
        self.assertCheck(checks, 'Database schema', 'Failure',
                         'Cannot read the schema revision')
        self.assertNotIn('s3cr3t-pw', self.output)


class PolicyCheckTest(StatusTestCase):

    def setUp(self):
        super().setUp()
        self.good_setup()

    def policy(self, text, name='policy.yaml'):
        # Found, as oslo.policy finds it, beside the config file.
        self.write(name, text)
        if name != 'policy.yaml':
            self.sections['oslo_policy'] = {'policy_file': name}

    def test_known_rules_pass(self):
        self.policy('"backup:index": "rule:admin"\n'
                    '"backup:create": "role:admin or project_id:%(tenant)s"\n')
        code, checks = self.status()
        self.assertEqual(SUCCESS, code, self.output)
        self.assertCheck(checks, 'Policy file', 'Success', '2 rules')

    def test_unknown_rule_name_warns(self):
        self.policy('"backup:index": "rule:admin"\n'
                    '"backup:shwo": "rule:admin"\n')
        code, checks = self.status()
        self.assertEqual(WARNING, code, self.output)
        self.assertCheck(checks, 'Policy file', 'Warning', 'backup:shwo')
        self.assertNotIn('backup:index', checks['Policy file'][1])

    def test_json_policy_file_warns(self):
        self.policy('{"backup:index": "rule:admin"}', name='policy.json')
        code, checks = self.status()
        self.assertEqual(WARNING, code, self.output)
        self.assertCheck(checks, 'Policy file', 'Warning', 'JSON')

    def test_yaml_syntax_error_fails(self):
        self.policy('"backup:index": [\n')
        code, checks = self.status()
        self.assertEqual(FAILURE, code, self.output)
        self.assertCheck(checks, 'Policy file', 'Failure', 'cannot be read')

    def test_rule_that_does_not_parse_fails(self):
        self.policy('"backup:index": "role:admin or"\n')
        code, checks = self.status()
        self.assertEqual(FAILURE, code, self.output)
        self.assertCheck(checks, 'Policy file', 'Failure', 'backup:index')

    def test_reference_to_an_undefined_rule_fails(self):
        self.policy('"backup:index": "rule:no_such_rule"\n')
        code, checks = self.status()
        self.assertEqual(FAILURE, code, self.output)
        self.assertCheck(checks, 'Policy file', 'Failure', 'not defined')


class SwiftStorageCheckTest(StatusTestCase):
    """Against the real Swift of tools/swift-aio.sh."""

    def setUp(self):
        super().setUp()
        self.migrate()

    def use_swift(self, **overrides):
        auth = swift_fixture.swift_auth()
        self.sections['DEFAULT']['storage_strategy'] = 'swift'
        self.sections['swift'] = dict({
            'auth_version': '1', 'auth_url': auth['ST_AUTH'],
            'user': auth['ST_USER'], 'key': auth['ST_KEY']}, **overrides)

    def test_reachable_swift_passes(self):
        self.use_swift()
        code, checks = self.status()
        self.assertEqual(SUCCESS, code, self.output)
        self.assertCheck(checks, 'Storage', 'Success', 'swift')

    def test_swift_refusing_the_credentials_fails(self):
        self.use_swift(key='not-the-key')
        code, checks = self.status()
        self.assertEqual(FAILURE, code, self.output)
        self.assertCheck(checks, 'Storage', 'Failure', '401')
        self.assertNotIn('not-the-key', self.output)

    def test_swift_misconfigured_fails(self):
        self.use_swift(user='')
        code, checks = self.status()
        self.assertEqual(FAILURE, code, self.output)
        self.assertCheck(checks, 'Storage', 'Failure', '[swift] user')


class SwiftAccessRulesFilterTest(StatusTestCase):
    """Owner-account application credentials need our access_rules filter
    in Swift's proxy: the check reads the proxy's /info for it."""

    def setUp(self):
        super().setUp()
        self.migrate()

    def owner_account(self, swift):
        self.sections['DEFAULT']['storage_strategy'] = 'swift'
        self.sections['swift'] = dict(swift, **{
            'store_in_owner_account': 'true',
            'credential_secret_key': 'c0' * 32})

    def test_proxy_with_the_filter_passes(self):
        # tools/swift-aio.sh's Keystone proxy runs it.
        env = keystone_fixture.keystone_env()
        test_swift_trusts.keystone_swift_url()
        self.owner_account({
            'auth_version': '3', 'auth_url': env['TBE_KEYSTONE_URL'],
            'user': env['TBE_KEYSTONE_SERVICE_USER'],
            'key': env['TBE_KEYSTONE_SERVICE_PASSWORD'],
            'project_name': env['TBE_KEYSTONE_SERVICE_PROJECT']})
        code, checks = self.status()
        self.assertCheck(checks, 'Swift access rules filter', 'Success',
                         'trove_backup_access_rules')

    def test_proxy_without_the_filter_warns(self):
        # Its tempauth proxy does not.
        auth = swift_fixture.swift_auth()
        self.owner_account({'auth_version': '1', 'auth_url': auth['ST_AUTH'],
                            'user': auth['ST_USER'], 'key': auth['ST_KEY']})
        code, checks = self.status()
        self.assertEqual(WARNING, code, self.output)
        self.assertCheck(checks, 'Swift access rules filter', 'Warning',
                         'large objects and symlinks')

    def test_nothing_to_check_without_owner_account_storage(self):
        code, checks = self.status()
        self.assertCheck(checks, 'Swift access rules filter', 'Success',
                         'nothing to check')


class BackupSchedulesTest(StatusTestCase):
    """Schedules with no COMPLETED backup for twice their period warn."""

    def add_schedule(self, engine, cron, age, last_success_age=None):
        now = datetime.datetime.utcnow()
        schedule_id = str(uuid.uuid4())
        with engine.begin() as connection:
            connection.execute(sa.insert(models.BackupSchedule).values(
                id=schedule_id, name='s', project_id='p', user_id='u',
                instance_id=str(uuid.uuid4()), full_cron=cron,
                timezone='UTC', enabled=True, next_run=now,
                last_success=(now - last_success_age
                              if last_success_age else None),
                consecutive_failures=3, version=1, created=now - age,
                updated=now))
        return schedule_id

    def test_overdue_schedules_warn_and_are_listed(self):
        engine = self.migrate()
        os.mkdir(self.storage_dir)
        day, hour = datetime.timedelta(days=1), datetime.timedelta(hours=1)
        late = self.add_schedule(engine, '0 2 * * *', 10 * day, 3 * day)
        never = self.add_schedule(engine, '0 * * * *', 3 * hour)
        fine = self.add_schedule(engine, '0 2 * * *', 10 * day, day)
        young = self.add_schedule(engine, '0 * * * *', hour)
        code, checks = self.status()
        self.assertEqual(WARNING, code, self.output)
        self.assertCheck(checks, 'Backup schedules', 'Warning',
                         '2 backup schedule(s)')
        details = checks['Backup schedules'][1].replace(' ', '')
        for schedule_id in (late, never):
            self.assertIn(schedule_id.replace('-', ''),
                          details.replace('-', ''))
        for schedule_id in (fine, young):
            self.assertNotIn(schedule_id.replace('-', ''),
                             details.replace('-', ''))

        result = subprocess.run(
            [sys.executable, '-m', 'trove_backup_ext.cmd.status',
             '--config-file', self._config_file(), 'schedules'],
            capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL)
        self.assertEqual(1, result.returncode, result.stderr)
        summary = json.loads(result.stdout)
        self.assertEqual(4, summary['enabled_schedules'])
        self.assertEqual([late, never], [item['schedule_id']
                                         for item in summary['overdue']])
        self.assertEqual(86400, summary['overdue'][0]['period_seconds'])

    def _config_file(self):
        parser = configparser.ConfigParser()
        parser.read_dict(self.sections)
        path = os.path.join(self.dir, 'schedules.conf')
        with open(path, 'w') as f:
            parser.write(f)
        return path


class AgentKeysTest(StatusTestCase):

    def setUp(self):
        super().setUp()
        self.good_setup()

    def test_readable_master_key_passes_and_counts_keys(self):
        code, checks = self.status()
        self.assertEqual(SUCCESS, code, self.output)
        self.assertCheck(checks, 'Agent keys', 'Success',
                         '0 instance(s) have an agent key')

    def test_no_master_key_warns_that_a_worker_would_not_start(self):
        del self.sections['worker']
        code, checks = self.status()
        self.assertEqual(WARNING, code, self.output)
        self.assertCheck(checks, 'Agent keys', 'Warning', 'refuses to start')

    def test_transition_warns(self):
        self.sections['worker']['require_signed_agent_messages'] = 'false'
        code, checks = self.status()
        self.assertEqual(WARNING, code, self.output)
        self.assertCheck(checks, 'Agent keys', 'Warning', 'rotate-key')

    def test_master_key_others_can_read_fails(self):
        os.chmod(self.sections['worker']['agent_keys_master_key_file'],
                 0o644)
        code, checks = self.status()
        self.assertEqual(FAILURE, code, self.output)
        self.assertCheck(checks, 'Agent keys', 'Failure', '0o644')
