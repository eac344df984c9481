"""openstack database backup schedule create|list|show|set|delete|health."""

import argparse

from osc_lib.cli import format_columns
from osc_lib.command import command
from osc_lib import exceptions

COLUMNS = ('id', 'name', 'description', 'instance_id', 'project_id',
           'full_cron', 'incremental_cron', 'timezone', 'retention',
           'enabled', 'next_run', 'last_run', 'last_success',
           'consecutive_failures', 'created', 'updated')
LIST_COLUMNS = ('ID', 'Name', 'Instance ID', 'Full Cron',
                'Incremental Cron', 'Timezone', 'Enabled', 'Next Run',
                'Project ID')
RETENTION_RULES = ('keep_last', 'keep_daily', 'keep_weekly', 'keep_monthly',
                   'keep_yearly', 'max_age_days')
_RULE_HELP = {
    'keep_last': 'the N newest backups',
    'keep_daily': 'the newest backup of each of the last N days',
    'keep_weekly': 'the newest backup of each of the last N weeks',
    'keep_monthly': 'the newest backup of each of the last N months',
    'keep_yearly': 'the newest backup of each of the last N years',
    'max_age_days': 'no backup older than N days (a cap on the rules '
                    'above, or alone a time to live)',
}


class RetentionColumn(format_columns.DictColumn):
    """The retention rules: all six in -f json/yaml; in a table only the
    rules that are set (or "none": pruning deletes nothing)."""

    def human_readable(self):
        rules = {key: value for key, value in self._value.items()
                 if value is not None}
        return (format_columns.DictColumn(rules).human_readable()
                if rules else 'none')


def schedule_data(schedule):
    """(columns, values) of a schedule for ShowOne; retention and
    last_run are dicts in -f json/yaml, key='value' text in a table."""
    def value(key):
        if key == 'retention':
            return RetentionColumn(schedule[key])
        if key == 'last_run' and schedule.get(key) is not None:
            return format_columns.DictColumn(schedule[key])
        return schedule.get(key)
    return COLUMNS, tuple(value(key) for key in COLUMNS)


def _count(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not an integer' % text)
    if value < 0:
        raise argparse.ArgumentTypeError('%d is negative' % value)
    return value


def _count_or_none(text):
    return None if text.lower() == 'none' else _count(text)


class _RetentionGiven(argparse.Action):
    """Stores a retention rule and notes that it was given, so that
    "none" (clear) and "not given" (keep) differ."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.retention_given = namespace.retention_given | {self.dest}


def _add_retention_options(parser, clearable):
    group = parser.add_argument_group(
        'retention', 'After each successful scheduled backup, the '
        'schedule\'s backups no rule keeps are deleted (never the last '
        'full backup of the instance, nor a backup another one needs).')
    for rule in RETENTION_RULES:
        group.add_argument(
            '--' + rule.replace('_', '-'), metavar='<N>', dest=rule,
            type=_count_or_none if clearable else _count,
            action=_RetentionGiven if clearable else 'store',
            help='Keep %s.%s' % (_RULE_HELP[rule], ' "none" removes the '
                                 'rule.' if clearable else ''))


def _retention(parsed_args, clearable):
    given = {rule: getattr(parsed_args, rule) for rule in RETENTION_RULES}
    if clearable:
        # A rule given as "none" is cleared (None); one not given stays.
        return {rule: value for rule, value in given.items()
                if rule in parsed_args.retention_given}
    return {rule: value for rule, value in given.items()
            if value is not None}


class CreateBackupSchedule(command.ShowOne):
    """Create a backup schedule of an instance."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='<name>',
                            help='Name of the schedule.')
        parser.add_argument('--instance', metavar='<instance>',
                            required=True,
                            help='ID of the instance to back up.')
        parser.add_argument('--full-cron', metavar='<cron>', required=True,
                            help='When to take a full backup: a five-field '
                                 'cron expression, such as "0 2 * * *" '
                                 '(02:00 every day), in --timezone.')
        parser.add_argument('--incremental-cron', metavar='<cron>',
                            help='When to take an incremental backup (on '
                                 'the last one), such as "0 * * * *"; a '
                                 'time that is also a full one takes a '
                                 'full.')
        parser.add_argument('--timezone', metavar='<zone>',
                            help='IANA time zone the crons are read in, '
                                 'such as Europe/Berlin (default: UTC).')
        parser.add_argument('--description', metavar='<description>',
                            help='Description of the schedule.')
        parser.add_argument('--disable', action='store_true',
                            help='Create it disabled (it fires nothing '
                                 'until enabled with "set --enable").')
        _add_retention_options(parser, clearable=False)
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.database_backup
        schedule = client.create_backup_schedule(
            parsed_args.name, parsed_args.instance, parsed_args.full_cron,
            incremental_cron=parsed_args.incremental_cron,
            timezone=parsed_args.timezone,
            description=parsed_args.description,
            retention=_retention(parsed_args, clearable=False) or None,
            enabled=False if parsed_args.disable else None)
        return schedule_data(schedule)


class ListBackupSchedules(command.Lister):
    """List backup schedules, newest first."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--instance', metavar='<instance>',
                            help='Only schedules of this instance (ID).')
        parser.add_argument('--limit', metavar='<limit>', type=int,
                            help='Return one page of at most this many '
                                 '(default: every schedule, page by page).')
        parser.add_argument('--marker', metavar='<marker>',
                            help='Begin after this schedule ID (or the '
                                 'marker of a next link).')
        parser.add_argument('--all-projects', action='store_true',
                            help='Schedules of every project (admin only).')
        parser.add_argument('--project-id', metavar='<project-id>',
                            help='Schedules of this project (admin only).')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.database_backup
        schedules = client.list_backup_schedules(
            instance_id=parsed_args.instance, limit=parsed_args.limit,
            marker=parsed_args.marker,
            all_projects=parsed_args.all_projects,
            project_id=parsed_args.project_id)
        keys = [column.lower().replace(' ', '_') for column in LIST_COLUMNS]
        return LIST_COLUMNS, [tuple(s[key] for key in keys)
                              for s in schedules]


class ShowBackupSchedule(command.ShowOne):
    """Show a backup schedule: its times, retention and last run."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('schedule', metavar='<schedule>',
                            help='ID or name of the schedule.')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.database_backup
        return schedule_data(client.find_backup_schedule(
            parsed_args.schedule))


class SetBackupSchedule(command.ShowOne):
    """Change a backup schedule; what is not given stays."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('schedule', metavar='<schedule>',
                            help='ID or name of the schedule.')
        parser.add_argument('--name', metavar='<name>',
                            help='New name.')
        description = parser.add_mutually_exclusive_group()
        description.add_argument('--description', metavar='<description>',
                                 help='New description.')
        description.add_argument('--no-description', action='store_true',
                                 help='Remove the description.')
        parser.add_argument('--full-cron', metavar='<cron>',
                            help='New time of the full backups.')
        incremental = parser.add_mutually_exclusive_group()
        incremental.add_argument('--incremental-cron', metavar='<cron>',
                                 help='New time of the incremental '
                                      'backups.')
        incremental.add_argument('--no-incremental-cron',
                                 action='store_true',
                                 help='Take full backups only.')
        parser.add_argument('--timezone', metavar='<zone>',
                            help='New IANA time zone of the crons.')
        enabled = parser.add_mutually_exclusive_group()
        enabled.add_argument('--enable', action='store_true',
                             help='Enable it: it fires from its next time '
                                  'on (times passed while it was disabled '
                                  'are not made up).')
        enabled.add_argument('--disable', action='store_true',
                             help='Disable it: it fires nothing.')
        _add_retention_options(parser, clearable=True)
        parser.set_defaults(retention_given=set())
        return parser

    def take_action(self, parsed_args):
        changes = {key: getattr(parsed_args, key) for key in (
            'name', 'description', 'full_cron', 'incremental_cron',
            'timezone') if getattr(parsed_args, key) is not None}
        if parsed_args.no_description:
            changes['description'] = None
        if parsed_args.no_incremental_cron:
            changes['incremental_cron'] = None
        if parsed_args.enable or parsed_args.disable:
            changes['enabled'] = bool(parsed_args.enable)
        retention = _retention(parsed_args, clearable=True)
        if retention:
            changes['retention'] = retention
        if not changes:
            raise exceptions.CommandError(
                'Nothing to change: give at least one option.')
        client = self.app.client_manager.database_backup
        schedule = client.find_backup_schedule(parsed_args.schedule)
        return schedule_data(client.update_backup_schedule(schedule['id'],
                                                           **changes))


class DeleteBackupSchedule(command.Command):
    """Delete backup schedules (the backups they made stay)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('schedules', metavar='<schedule>', nargs='+',
                            help='ID or name of a schedule.')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.database_backup
        failed = []
        for name_or_id in parsed_args.schedules:
            try:
                schedule = client.find_backup_schedule(name_or_id)
                client.delete_backup_schedule(schedule['id'])
            except Exception as exc:
                failed.append('%s: %s' % (name_or_id, exc))
        if failed:
            raise exceptions.CommandError(
                'Failed to delete %d of %d backup schedules:\n%s' % (
                    len(failed), len(parsed_args.schedules),
                    '\n'.join(failed)))


class BackupSchedulesHealth(command.Lister):
    """List the backup schedules of every project with no successful
    backup for twice their period, longest overdue first (admin only)."""

    COLUMNS = ('Schedule ID', 'Name', 'Project ID', 'Instance ID',
               'Last Success', 'Seconds Since Success', 'Period Seconds',
               'Consecutive Failures', 'Last Run Status')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--limit', metavar='<limit>', type=int,
                            help='List at most this many (default: the '
                                 'API\'s page size).')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.database_backup
        health = client.backup_schedules_health(limit=parsed_args.limit)
        # The counts go to stderr: stdout stays the table (or -f json).
        self.app.stderr.write(
            '%d of %d enabled backup schedules overdue (%d listed), '
            'checked at %s\n' % (
                health['overdue_count'], health['enabled_schedules'],
                len(health['overdue']), health['checked_at']))
        keys = ['schedule_id'] + [column.lower().replace(' ', '_')
                                  for column in self.COLUMNS[1:]]
        return self.COLUMNS, [tuple(item[key] for key in keys)
                              for item in health['overdue']]
