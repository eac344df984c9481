"""openstack database backup restore, openstack database restore list|show."""

import sys

from osc_lib.cli import format_columns
from osc_lib.command import command
from osc_lib import exceptions
from oslo_utils import uuidutils

from trove_backup_ext.osc import progress

COLUMNS = ('id', 'backup_id', 'instance_id', 'source_instance_id',
           'project_id', 'restore_point', 'status', 'progress', 'fault',
           'created', 'updated', 'started', 'finished')
LIST_COLUMNS = ('ID', 'Backup ID', 'Instance ID', 'Status', 'Created',
                'Updated', 'Project ID')
_NESTED = ('progress', 'fault')


def restore_data(restore):
    """(columns, values) of a restore for ShowOne; progress and fault are
    dicts in -f json/yaml, key='value' text in a table."""
    return COLUMNS, tuple(
        format_columns.DictColumn(restore[key])
        if key in _NESTED and restore.get(key) else restore.get(key)
        for key in COLUMNS)


def wait_for_restore(client, restore, stream=None):
    """Follow restore until COMPLETED; CommandError naming the fault when
    it ends FAILED."""
    restore = progress.follow(
        lambda: client.get_restore(restore['id']),
        lambda item: item['status'], ('COMPLETED',), ('FAILED',),
        stream or sys.stderr)
    if restore['status'] == 'FAILED':
        fault = ((restore.get('fault') or {}).get('message')
                 or 'no reason given')
        raise exceptions.CommandError('Restore %s FAILED: %s'
                                      % (restore['id'], fault))
    return restore


class RestoreBackup(command.ShowOne):
    """Restore a backup into a database instance (replaces its data)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('backup', metavar='<backup>',
                            help='ID or name of the backup to restore '
                                 '(a COMPLETED one).')
        parser.add_argument('--instance', metavar='<instance>',
                            required=True,
                            help='ID of the instance to restore into: the '
                                 'backup\'s own or another ACTIVE instance '
                                 'of its datastore. Its current data is '
                                 'replaced; if the restore fails it keeps '
                                 'it.')
        parser.add_argument('--wait', action='store_true',
                            help='Wait for the restore to end, showing its '
                                 'progress on stderr; exit non-zero if it '
                                 'FAILED.')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.database_backup
        backup = client.find_backup(parsed_args.backup)
        restore = client.restore_backup(backup['id'], parsed_args.instance)
        if parsed_args.wait:
            restore = wait_for_restore(client, restore, self.app.stderr)
        return restore_data(restore)


class ListRestores(command.Lister):
    """List restores, newest first."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--instance', metavar='<instance>',
                            help='Only restores into this instance (ID).')
        parser.add_argument('--backup', metavar='<backup>',
                            help='Only restores of this backup (ID or '
                                 'name).')
        parser.add_argument('--limit', metavar='<limit>', type=int,
                            help='Return one page of at most this many '
                                 '(default: every restore, page by page).')
        parser.add_argument('--marker', metavar='<marker>',
                            help='Begin after this restore ID (or the '
                                 'marker of a next link).')
        parser.add_argument('--all-projects', action='store_true',
                            help='Restores of every project (admin only).')
        parser.add_argument('--project-id', metavar='<project-id>',
                            help='Restores of this project (admin only).')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.database_backup
        backup_id = parsed_args.backup
        # An ID is taken as is: its backup may be deleted, its restores not.
        if backup_id and not uuidutils.is_uuid_like(backup_id):
            backup_id = client.find_backup(backup_id)['id']
        restores = client.list_restores(
            instance_id=parsed_args.instance, backup_id=backup_id,
            limit=parsed_args.limit, marker=parsed_args.marker,
            all_projects=parsed_args.all_projects,
            project_id=parsed_args.project_id)
        keys = [column.lower().replace(' ', '_') for column in LIST_COLUMNS]
        return LIST_COLUMNS, [tuple(r[key] for key in keys)
                              for r in restores]


class ShowRestore(command.ShowOne):
    """Show a restore: its status, progress and, if it failed, why."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('restore', metavar='<restore>',
                            help='ID of the restore.')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.database_backup
        return restore_data(client.get_restore(parsed_args.restore))
