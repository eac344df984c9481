"""openstack database backup verify."""

import sys

from osc_lib.cli import format_columns
from osc_lib.command import command
from osc_lib import exceptions

from trove_backup_ext.osc import progress

# python-troveclient's `backup show` fields, then what verify adds.
COLUMNS = ('id', 'name', 'status', 'instance_id', 'datastore',
           'datastore_version', 'size', 'created', 'updated',
           'verification', 'progress')


def _status(backup):
    return (backup.get('verification') or {}).get('status')


def backup_data(backup):
    datastore = backup.get('datastore') or {}
    values = dict(backup, datastore=datastore.get('type'),
                  datastore_version=datastore.get('version'))
    return COLUMNS, tuple(
        format_columns.DictColumn(values[key])
        if key in ('verification', 'progress') and values.get(key)
        else values.get(key) for key in COLUMNS)


def wait_for_verification(client, backup, stream=None):
    """Follow backup's verification until PASSED; CommandError with its
    details when it ends FAILED."""
    backup = progress.follow(lambda: client.get_backup(backup['id']),
                             _status, ('PASSED',), ('FAILED',),
                             stream or sys.stderr)
    if _status(backup) == 'FAILED':
        details = backup['verification'].get('details') or 'no details given'
        raise exceptions.CommandError('Verification of backup %s FAILED: %s'
                                      % (backup['id'], details))
    return backup


class VerifyBackup(command.ShowOne):
    """Check that a backup restores: into a scratch place and a throw-away
    database, never the live instance."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('backup', metavar='<backup>',
                            help='ID or name of the backup to verify.')
        parser.add_argument('--wait', action='store_true',
                            help='Wait for the verification to end, '
                                 'showing its progress on stderr; exit '
                                 'non-zero if it FAILED.')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.database_backup
        backup = client.verify_backup(
            client.find_backup(parsed_args.backup)['id'])
        if parsed_args.wait:
            backup = wait_for_verification(client, backup, self.app.stderr)
        return backup_data(backup)
