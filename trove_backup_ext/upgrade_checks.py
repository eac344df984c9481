"""The checks of trove-backup-status upgrade check (oslo.upgradecheck)."""

import os

from oslo_policy import policy as oslo_policy
from oslo_upgradecheck import upgradecheck
from oslo_utils import fileutils

from trove_backup_ext import agent_auth
from trove_backup_ext import context
from trove_backup_ext.db import agent_keys as agent_keys_db
from trove_backup_ext.db import migration
from trove_backup_ext.db import storage_credentials as credentials_db
from trove_backup_ext import exception
from trove_backup_ext import instance_sources
from trove_backup_ext import policies
from trove_backup_ext import policy
from trove_backup_ext import schedule_credentials
from trove_backup_ext import service
from trove_backup_ext.services import schedule_health
from trove_backup_ext import storage
from trove_backup_ext.storage import base as storage_base
from trove_backup_ext.storage import local
from trove_backup_ext_swift import access_rules as swift_access_rules

Code = upgradecheck.Code
Result = upgradecheck.Result

# Listed in the container the storage probe reads: a name no backup has,
# so the answer is one small, empty listing however many backups exist.
STORAGE_PROBE_PREFIX = 'trove-backup-status-probe/'


def _reason(exc):
    """An exception's first line, without the SQL or traceback around it."""
    orig = getattr(exc, 'orig', None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else (
        type(orig).__name__)


class Checks(upgradecheck.UpgradeCommands):
    """Each check tells what is wrong and what to do about it."""

    display_title = 'trove-backup-ext upgrade check results'

    def __init__(self, conf):
        self.conf = conf

    def check(self):
        # Set up only now, when oslo.upgradecheck has parsed the command
        # line. No connection retries: a status check reports an
        # unreachable database at once instead of waiting for it.
        self.conf.set_override('max_retries', 0, group='database')
        service.setup(self.conf)
        return super().check()

    def _check_schema(self):
        head = migration.head()
        try:
            current = migration.version()
        except Exception as exc:
            return Result(Code.FAILURE, 'Cannot read the schema revision '
                          'from [database] connection: %s' % _reason(exc))
        if current is None:
            return Result(Code.FAILURE, 'The database has no schema: run '
                          '"trove-backup-manage db sync".')
        if current != head:
            return Result(Code.FAILURE, 'The schema is at revision %s, this '
                          'code needs %s: run "trove-backup-manage db sync" '
                          '(a revision this code does not know means the '
                          'database belongs to a newer release).'
                          % (current, head))
        return Result(Code.SUCCESS, 'At revision %s.' % head)

    def _check_policy_file(self):
        enforcer = policy.init(self.conf)
        name = self.conf.oslo_policy.policy_file
        path = self.conf.find_file(name)
        if path is None:
            return Result(Code.SUCCESS, 'No policy file %s: the rules in '
                          'code apply.' % name)
        try:
            with open(path) as source:
                rules = oslo_policy.parse_file_contents(source.read())
        except (OSError, ValueError) as exc:
            return Result(Code.FAILURE, 'Policy file %s cannot be read: %s'
                          % (path, ' '.join(str(exc).split())))
        if not isinstance(rules, dict):
            return Result(Code.FAILURE, 'Policy file %s is not a mapping of '
                          'rule names to rules.' % path)
        broken = sorted(rule for rule, text in rules.items()
                        if not _parses(text))
        if broken:
            return Result(Code.FAILURE, 'Policy file %s has rules that do '
                          'not parse (oslo.policy would deny them all): %s'
                          % (path, ', '.join(broken)))
        enforcer.load_rules(force_reload=True)
        if not enforcer.check_rules():
            return Result(Code.FAILURE, 'Policy file %s refers to rules '
                          'that are not defined, or its rules refer to each '
                          'other in a cycle (see the log).' % path)
        unknown = sorted(set(rules) - {rule.name for rule in
                                       policies.list_rules()})
        if unknown:
            return Result(Code.WARNING, 'Policy file %s sets rules this '
                          'service does not have (misspelt, or another '
                          "service's?): %s" % (path, ', '.join(unknown)))
        if fileutils.is_json(path):
            return Result(Code.WARNING, 'Policy file %s is JSON, which '
                          'oslo.policy deprecated: convert it with '
                          'oslopolicy-convert-json-to-yaml.' % path)
        return Result(Code.SUCCESS, 'Policy file %s: %d rules, all known.'
                      % (path, len(rules)))

    def _check_storage(self):
        name = self.conf.storage_strategy
        if 'swift' in self.conf:
            # A status check reports; it does not wait out a long outage.
            self.conf.set_override('retries', min(self.conf.swift.retries, 1),
                                   group='swift')
            self.conf.set_override('timeout', min(self.conf.swift.timeout,
                                                  10.0), group='swift')
        try:
            driver = storage.load(self.conf, name)
        except exception.ConfigurationError as exc:
            return Result(Code.FAILURE, '[DEFAULT] storage_strategy %s: %s'
                          % (name, exc))
        if isinstance(driver, local.LocalStorage):
            return _check_directory(driver.root)
        container = self.conf.backup_swift_container
        try:
            driver.list_objects(container, STORAGE_PROBE_PREFIX)
        except (storage_base.StorageError, ValueError) as exc:
            return Result(Code.FAILURE, 'Storage %s cannot be used: %s'
                          % (name, exc))
        return Result(Code.SUCCESS, 'Storage %s answered a listing of '
                      'container %s.' % (name, container))

    def _check_owner_account_filter(self):
        """Without our access_rules filter in Swift's proxy, a backup's
        storage token reaches every object of its owner's account through
        large objects and symlinks (doc: admin/threat-model)."""
        o = self.conf.swift if 'swift' in self.conf else None
        if (self.conf.storage_strategy != 'swift' or o is None
                or not o.store_in_owner_account
                or o.owner_account_credentials != 'application_credential'):
            return Result(Code.SUCCESS, 'No owner-account application '
                          'credentials: nothing to check.')
        try:
            info = storage.load(self.conf, 'swift').capabilities()
        except (storage_base.StorageError, ValueError) as exc:
            return Result(Code.FAILURE, 'Cannot read Swift\'s /info: %s'
                          % exc)
        if swift_access_rules.INFO_NAME not in info:
            return Result(Code.WARNING, 'Swift\'s proxy does not list %s '
                          'in /info: a backup\'s storage token can read '
                          'any object of its owner\'s account through '
                          'large objects and symlinks. Add the filter '
                          'swift_access_rules of trove-backup-ext after '
                          'keystoneauth (doc: admin/threat-model).'
                          % swift_access_rules.INFO_NAME)
        return Result(Code.SUCCESS, 'Swift\'s proxy runs %s.'
                      % swift_access_rules.INFO_NAME)

    def _check_instance_source(self):
        try:
            source = instance_sources.load(self.conf)
        except exception.ConfigurationError as exc:
            return Result(Code.FAILURE, str(exc))
        # One real read: a source that loads but cannot reach its data
        # (the trove source with wrong credentials) is not ready.
        try:
            source.datastore_exists(context.get_admin_context(),
                                    'upgrade-check')
        except Exception as exc:
            return Result(Code.FAILURE, 'Instance source %s cannot be read: '
                          '%s' % (self.conf.instance_source, exc))
        return Result(Code.SUCCESS, 'Instance source %s (%s) loaded and '
                      'read.' % (self.conf.instance_source,
                                 type(source).__name__))

    def _check_schedules(self):
        try:
            late = schedule_health.overdue(context.get_admin_context())
            missing, count = ([], 0)
            if schedule_credentials.needed(self.conf):
                missing, count = credentials_db.schedules_without(
                    context.get_admin_context())
        except Exception as exc:
            return Result(Code.FAILURE, 'Cannot read the backup schedules: '
                          '%s' % _reason(exc))
        if count:
            return Result(Code.WARNING, '%d enabled backup schedule(s) have '
                          'no storage credential, and backups are kept in '
                          'their owners\' Swift accounts: %s%s. Their slots '
                          'are skipped until their owner sets them enabled '
                          'again (openstack database backup schedule set '
                          '--enable), which makes them from the owner\'s '
                          'token.' % (count, '; '.join(
                              '%s (project %s)' % row for row in missing),
                              '; ...' if count > len(missing) else ''))
        if not late:
            return Result(Code.SUCCESS, 'Every enabled backup schedule had '
                          'a COMPLETED backup within twice its period.')
        shown = '; '.join(
            '%s (project %s, instance %s: %d failure(s), last %s)' % (
                item['schedule_id'], item['project_id'],
                item['instance_id'], item['consecutive_failures'],
                item['last_run_status'] or 'none')
            for item in late[:10])
        return Result(Code.WARNING, '%d backup schedule(s) had no COMPLETED '
                      'backup for twice their period: %s%s. Read their '
                      'last_run and the workers\' logs; "trove-backup-status '
                      'schedules" lists them all.' % (
                          len(late), shown, '; ...' if len(late) > 10
                          else ''))

    def _check_agent_keys(self):
        group = self.conf.worker
        if not group.agent_keys_master_key_file:
            if not group.require_signed_agent_messages:
                return Result(Code.WARNING, '[worker] '
                              'require_signed_agent_messages is False and '
                              'no agent_keys_master_key_file is set: agents\' '
                              'reports are believed whatever their sender.')
            return Result(Code.WARNING, '[worker] agent_keys_master_key_file '
                          'is not set: a worker with this configuration '
                          'refuses to start (no agent could sign a report '
                          'it accepts). Fine on a host that runs the API '
                          'only.')
        try:
            agent_auth.read_key_file(group.agent_keys_master_key_file,
                                     '[worker] agent_keys_master_key_file')
            keyed = agent_keys_db.count(context.get_admin_context())
        except Exception as exc:
            return Result(Code.FAILURE, _reason(exc))
        if not group.require_signed_agent_messages:
            return Result(Code.WARNING, '[worker] '
                          'require_signed_agent_messages is False: unsigned '
                          'reports of instances without a key are accepted '
                          '(%d instance(s) have one). Give every instance its '
                          'key (trove-backup-manage instance rotate-key) and '
                          'set it to True.' % keyed)
        return Result(Code.SUCCESS, 'The master key of agent keys is '
                      'readable; %d instance(s) have an agent key.' % keyed)

    _upgrade_checks = (
        ('Database schema', _check_schema),
        ('Policy file', _check_policy_file),
        ('Storage', _check_storage),
        ('Swift access rules filter', _check_owner_account_filter),
        ('Instance source', _check_instance_source),
        ('Backup schedules', _check_schedules),
        ('Agent keys', _check_agent_keys),
    )


def _parses(text):
    try:
        check = oslo_policy.Rules.from_dict({'rule': text})['rule']
    except Exception:
        return False
    # oslo.policy turns what it cannot parse into "!" (deny), silently.
    return str(check) != '!' or str(text).strip() == '!'


def _check_directory(path):
    if not os.path.isdir(path):
        return Result(Code.FAILURE, '[local_storage] storage_dir %s is not '
                      'a directory: create it (or mount the backup volume '
                      'there), writable by the service user.' % path)
    if not os.access(path, os.W_OK | os.X_OK):
        return Result(Code.FAILURE, '[local_storage] storage_dir %s is not '
                      'writable by this user.' % path)
    return Result(Code.SUCCESS, 'Local storage in %s is writable.' % path)
