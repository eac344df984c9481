"""openstack database backup verify."""

import json
import sys

from cliff import columns
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


def why_failed(details):
    """A line of a FAILED verification's details: {"error": text} when it
    could not check, {"checks": [{check, ok, detail}]} when it did."""
    if not details:
        return 'no details given'
    if isinstance(details, dict):
        if details.get('error'):
            return details['error']
        failed = [check for check in details.get('checks') or ()
                  if not check.get('ok')]
        if failed:
            return '; '.join('%s: %s' % (check.get('check'),
                                         check.get('detail'))
                             for check in failed)
    return json.dumps(details)


def _summary(details):
    if isinstance(details, dict) and details.get('checks'):
        return '; '.join('%s: %s' % (check.get('check'), check.get('detail'))
                         for check in details['checks'])
    return why_failed(details)


class VerificationColumn(columns.FormattableColumn):
    """``PASSED at <checked>: <check>: <detail>; ...`` in a table, the
    API's dict in -f json/yaml."""

    def human_readable(self):
        value = self._value
        if value.get('status') == 'RUNNING':
            return 'RUNNING'
        return '%s at %s: %s' % (value.get('status'), value.get('checked'),
                                 _summary(value.get('details')))

    def machine_readable(self):
        return self._value


def backup_data(backup):
    datastore = backup.get('datastore') or {}
    values = dict(backup, datastore=datastore.get('type'),
                  datastore_version=datastore.get('version'))
    if values.get('verification'):
        values['verification'] = VerificationColumn(values['verification'])
    if values.get('progress'):
        values['progress'] = format_columns.DictColumn(values['progress'])
    return COLUMNS, tuple(values.get(key) for key in COLUMNS)


def wait_for_verification(client, backup, stream=None):
    """Follow backup's verification until PASSED; CommandError with its
    details when it ends FAILED."""
    backup = progress.follow(lambda: client.get_backup(backup['id']),
                             _status, ('PASSED',), ('FAILED',),
                             stream or sys.stderr)
    if _status(backup) == 'FAILED':
        raise exceptions.CommandError(
            'Verification of backup %s FAILED: %s'
            % (backup['id'], why_failed(backup['verification'].get(
                'details'))))
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
