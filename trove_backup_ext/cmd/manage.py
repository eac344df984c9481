"""trove-backup-manage: schema, instance registry, agent keys, stuck
backups, the OpenAPI document."""

import json
import os
import sys

from oslo_config import cfg
import oslo_messaging as messaging
from oslo_utils import uuidutils

from trove_backup_ext import agent_auth
from trove_backup_ext.api import openapi
from trove_backup_ext import conf as backup_conf
from trove_backup_ext import context as backup_context
from trove_backup_ext.db import backup_schedules as schedules_db
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import lifecycle
from trove_backup_ext.db import migration
from trove_backup_ext import exception
from trove_backup_ext import notifications
from trove_backup_ext import service
from trove_backup_ext.services import storage_audit
from trove_backup_ext import states
from trove_backup_ext import storage_access

_INSTANCE_FIELDS = ('id', 'name', 'project_id', 'datastore',
                    'datastore_version', 'status')


class DbCommands:

    @staticmethod
    def sync(args):
        migration.upgrade(args.revision)
        print('Database schema at revision %s.' % migration.version())

    @staticmethod
    def version(args):
        print(migration.version() or 'None (run "db sync")')


def _key_file(conf, args, instance_id):
    """Where the agent's key file goes: --key-file, else [worker]
    agent_key_dir/<id>.key."""
    if args.key_file:
        return os.path.abspath(args.key_file)
    if conf.worker.agent_key_dir:
        return os.path.join(conf.worker.agent_key_dir, instance_id + '.key')
    raise exception.BadRequest(
        reason='Give --key-file (or set [worker] agent_key_dir): the '
               'agent\'s key file is written there.')


class InstanceCommands:

    ROTATE_KEY_HELP = (
        'Give the instance\'s agent a new key (its first, for an instance '
        'that has none) and write it to the agent\'s key file: --key-file, '
        'else [worker] agent_key_dir/<id>.key; install that file as the '
        'agent\'s [agent] key_file, mode 0600. The agent reads it at each '
        'report, so no restart is needed. The previous key is still '
        'accepted for --grace-period seconds ([worker] '
        'agent_key_grace_period), so that runs in flight finish; give 0 '
        'when the old key may have leaked. Works for any instance id, '
        'of any instance source.')

    @staticmethod
    def add(args):
        conf = backup_conf.CONF
        keyed = bool(conf.worker.agent_keys_master_key_file)
        if args.datastore not in conf.registry.datastores:
            raise exception.BadRequest(
                reason="datastore '%s' is not one of [registry] "
                       "datastores: %s." % (args.datastore, ', '.join(
                           conf.registry.datastores)))
        instance_id = (args.id or uuidutils.generate_uuid()).lower()
        if not uuidutils.is_uuid_like(instance_id):
            raise exception.BadRequest(reason='--id must be a UUID.')
        path = _key_file(conf, args, instance_id) if keyed else None
        context = backup_context.get_admin_context()
        row = instances_db.add(context, {
            'id': instance_id, 'name': args.instance_name,
            'project_id': args.project_id, 'datastore': args.datastore,
            'datastore_version': args.datastore_version,
            'status': args.status})
        if keyed:
            agent_auth.write_key_file(path, agent_auth.KeyStore(conf).rotate(
                context, instance_id, grace_period=0))
            print('Agent key file: %s' % path, file=sys.stderr)
        else:
            print('No agent key made: [worker] agent_keys_master_key_file '
                  'is not set.', file=sys.stderr)
        print(row.id)

    @staticmethod
    def rotate_key(args):
        conf = backup_conf.CONF
        instance_id = args.id.lower()
        path = _key_file(conf, args, instance_id)
        key = agent_auth.KeyStore(conf).rotate(
            backup_context.get_admin_context(), instance_id,
            grace_period=args.grace_period)
        agent_auth.write_key_file(path, key)
        print('Instance %s: new agent key %s written to %s.'
              % (instance_id, agent_auth.key_id(key), path))

    @staticmethod
    def list(args):
        rows = instances_db.list_all(backup_context.get_admin_context())
        items = [{field: getattr(r, field) for field in _INSTANCE_FIELDS}
                 for r in rows]
        if args.format == 'json':
            print(json.dumps(items, indent=2))
            return
        for item in items:
            print('  '.join(str(item[f]) for f in _INSTANCE_FIELDS))

    @staticmethod
    def remove(args):
        context = backup_context.get_admin_context()
        instances_db.remove(context, args.id)
        # Its agent's reports are refused from now on.
        agent_auth.KeyStore(backup_conf.CONF).remove(context, args.id)

    @staticmethod
    def set_status(args):
        instances_db.set_status(backup_context.get_admin_context(),
                                args.id, args.status)


class BackupCommands:

    RESET_STATUS_HELP = (
        'Set a backup stuck in NEW, BUILDING or SAVING to FAILED, freeing '
        'its instance for the next backup: for when its agent died and '
        'you will not wait for the worker\'s reaper ([worker] '
        'backup_timeout). Whatever it stored stays until the backup is '
        'deleted. FAILED is the only target: whether a backup is whole is '
        'known only to its agent. Sends dbaas.backup_create.error, as the '
        'worker does when a backup fails. A DELETE_FAILED backup (whose '
        'retries the worker backs off, and stops after [worker] '
        'delete_refused_attempts refusals of its storage credential) is '
        'retried instead: the reaper tries to delete it at its next pass, '
        'counting refusals from zero again. Another backup being deleted '
        'is refused. Exit status 1 when the backup is refused or does not '
        'exist.')

    @staticmethod
    def reset_status(args):
        context = backup_context.get_admin_context()
        backup = lifecycle.get(context, args.backup_id)
        if backup is None:
            raise exception.BackupNotFound('Backup %s cannot be found.'
                                           % args.backup_id)
        if (backup.status == states.DELETE_FAILED and
                backup.delete_requested_at is not None):
            return BackupCommands._retry_delete(context, backup, args.status)
        if args.status == states.DELETE_FAILED:
            raise exception.BadRequest(
                'Backup %s is %s: only a backup whose deletion failed '
                '(DELETE_FAILED) can be reset to DELETE_FAILED, which '
                'retries its deletion.' % (backup.id, backup.status))
        status = args.status or states.FAILED
        if backup.delete_requested_at is not None:
            raise exception.BadRequest(
                'Backup %s is being deleted (%s): the worker retries the '
                'deletion; nothing to reset.' % (backup.id, backup.status))
        if backup.status == status:
            print('Backup %s is already %s.' % (backup.id, backup.status))
            return
        if backup.status not in states.RUNNING:
            raise exception.BadRequest(
                'Backup %s is %s, not running (%s): only a running backup '
                'can be reset.' % (backup.id, backup.status,
                                   ', '.join(sorted(states.RUNNING))))
        reason = ('Reset by an operator with trove-backup-manage backup '
                  'reset-status.')
        if not lifecycle.transition(
                context, backup.id, states.RUNNING, status,
                fail_reason=reason):
            now = lifecycle.get(context, backup.id)
            raise exception.BadRequest(
                'Backup %s changed meanwhile (now %s); run the command '
                'again if it is still stuck.' % (backup.id, (
                    'gone' if now is None else now.status +
                    (', being deleted' if now.delete_requested_at else ''))))
        print('Backup %s: %s -> %s.' % (backup.id, backup.status, status))
        _backup_failed(context, lifecycle.get(context, backup.id), reason)

    @staticmethod
    def _retry_delete(context, backup, status):
        if status not in (None, states.DELETE_FAILED):
            raise exception.BadRequest(
                'Backup %s is DELETE_FAILED: it is being deleted and cannot '
                'become %s. Without --status (or with --status '
                'DELETE_FAILED) reset-status retries its deletion.'
                % (backup.id, status))
        if not lifecycle.retry_delete_now(context, backup.id):
            raise exception.BadRequest(
                'Backup %s changed meanwhile (deleted, or its deletion '
                'succeeded); nothing to retry.' % backup.id)
        # The reaper's attempt sends dbaas.backup_delete.start, and .end
        # or .error.
        print('Backup %s: DELETE_FAILED; the worker retries its deletion '
              'at its next pass ([worker] reaper_interval).' % backup.id)


class StorageCommands:

    AUDIT_HELP = (
        'Walk the storage and list the stored objects no backup row points '
        'at (orphans) and the COMPLETED backups whose objects are missing. '
        'Every container of the service\'s own account is walked (of each '
        'storage driver the backups use, or --driver), or --container. '
        'Backups kept in their owners\' Swift accounts are checked through '
        'their own delete credential (unchecked when it is refused); '
        'orphans in owners\' accounts cannot be seen. Read-only. Exit '
        'status 0 when nothing is found, 2 when something is, 1 on error.')

    @staticmethod
    def audit(args):
        audit = storage_audit.StorageAudit(
            backup_conf.CONF, backup_context.get_admin_context(),
            drivers=args.driver, containers=args.container,
            owner_accounts=not args.no_owner_accounts)
        report = audit.run()
        if args.format == 'json':
            print(json.dumps(report, indent=2, sort_keys=True))
        else:
            _print_audit(report, args.no_owner_accounts)
        return 2 if audit.found() else 0


def _print_audit(report, no_owner_accounts):
    for place in report['walked']:
        print('Walked %(driver)s container %(container)s: %(objects)d '
              'objects.' % place)
    for place in report['not_walked']:
        print('NOT WALKED %s%s: %s' % (
            place['driver'], ' container %s' % place['container']
            if place['container'] else '', place['reason']))
    for orphan in report['orphans']:
        print('ORPHAN %(driver)s %(container)s %(prefix)s (%(objects)d '
              'objects): %(reason)s' % orphan)
    for backup in report['missing']:
        print('MISSING %s (%s account, %s %s): %d objects, e.g. %s' % (
            backup['backup_id'], backup['account'], backup['driver'],
            backup['container'], backup['missing_count'],
            ', '.join(backup['missing'][:3])))
    for backup in report['unchecked']:
        print('UNCHECKED %(backup_id)s (owner account): %(reason)s' % backup)
    if report['owner_account_backups']:
        print('%d backups are kept in their owners\' accounts%s.' % (
            report['owner_account_backups'], ': not checked'
            if no_owner_accounts else ''))
    counts = [(len(report[key]), key) for key in
              ('orphans', 'missing', 'unchecked')]
    print('Found: %s.' % ', '.join('%d %s' % pair for pair in counts)
          if any(n for n, _ in counts) else 'Nothing found.')


def _backup_failed(context, backup, reason):
    """What the worker does when a backup fails (worker/manager.py),
    for one an operator failed: revoke the credentials it no longer
    needs, record it on its schedule, and notify."""
    conf = backup_conf.CONF
    storage_access.ended(conf, context, backup.id, states.FAILED)
    run = schedules_db.run_of_backup(context, backup.id)
    if run is not None:
        schedules_db.record_run_result(context, run.schedule_id, run.slot,
                                       states.FAILED, backup.id)
    transport = messaging.get_notification_transport(conf)
    try:
        notifications.Notifier(conf, 'trove-backup-manage', transport).error(
            context, 'dbaas.backup_create.error',
            notifications.backup_payload(backup, message=reason))
    finally:
        transport.cleanup()


def print_openapi(args):
    """The API's OpenAPI 3.1 document, as JSON, to stdout or --output."""
    text = json.dumps(openapi.document(), indent=2, sort_keys=True) + '\n'
    if args.output:
        with open(args.output, 'w') as output:
            output.write(text)
    else:
        sys.stdout.write(text)


def add_command_parsers(subparsers):
    db = subparsers.add_parser('db', help='Database schema.')
    db_sub = db.add_subparsers(dest='action', required=True)
    sync = db_sub.add_parser('sync', help='Migrate the schema to the latest '
                                          'revision (or --revision).')
    sync.add_argument('--revision', default='head')
    sync.set_defaults(func=DbCommands.sync)
    db_sub.add_parser('version', help='Print the schema revision.'
                      ).set_defaults(func=DbCommands.version)

    instance = subparsers.add_parser(
        'instance', help='Instances of the "registry" instance source.')
    inst_sub = instance.add_subparsers(dest='action', required=True)
    add = inst_sub.add_parser('add', help='Register an instance.')
    add.add_argument('--id', help='Instance UUID (generated if absent).')
    add.add_argument('--name', dest='instance_name', required=True)
    add.add_argument('--project-id', required=True)
    add.add_argument('--datastore', required=True)
    add.add_argument('--datastore-version', required=True)
    add.add_argument('--status', default='ACTIVE')
    add.add_argument('--key-file',
                     help='Where to write the agent\'s key file (default: '
                          '[worker] agent_key_dir/<id>.key); made only when '
                          '[worker] agent_keys_master_key_file is set.')
    add.set_defaults(func=InstanceCommands.add)
    rotate = inst_sub.add_parser(
        'rotate-key', help='Give an instance\'s agent a new key.',
        description=InstanceCommands.ROTATE_KEY_HELP)
    rotate.add_argument('id')
    rotate.add_argument('--key-file',
                        help='Where to write the agent\'s key file.')
    rotate.add_argument('--grace-period', type=int, metavar='SECONDS',
                        help='Seconds the previous key stays valid.')
    rotate.set_defaults(func=InstanceCommands.rotate_key)
    listing = inst_sub.add_parser('list', help='List registered instances.')
    listing.add_argument('--format', choices=('table', 'json'),
                         default='table')
    listing.set_defaults(func=InstanceCommands.list)
    remove = inst_sub.add_parser('remove', help='Forget an instance.')
    remove.add_argument('id')
    remove.set_defaults(func=InstanceCommands.remove)
    status = inst_sub.add_parser('set-status',
                                 help='Set an instance status.')
    status.add_argument('id')
    status.add_argument('status')
    status.set_defaults(func=InstanceCommands.set_status)

    backup = subparsers.add_parser('backup', help='Backups stuck running.')
    backup_sub = backup.add_subparsers(dest='action', required=True)
    reset = backup_sub.add_parser(
        'reset-status', help='Fail a backup stuck running.',
        description=BackupCommands.RESET_STATUS_HELP)
    reset.add_argument('backup_id')
    reset.add_argument('--status',
                       choices=(states.FAILED, states.DELETE_FAILED),
                       help='FAILED (the default for a running backup) or '
                            'DELETE_FAILED (the default for a '
                            'DELETE_FAILED backup: retry its deletion).')
    reset.set_defaults(func=BackupCommands.reset_status)

    storage_parser = subparsers.add_parser('storage',
                                           help='The stored objects.')
    storage_sub = storage_parser.add_subparsers(dest='action',
                                                required=True)
    audit = storage_sub.add_parser(
        'audit', help='List orphaned objects and backups missing objects.',
        description=StorageCommands.AUDIT_HELP)
    audit.add_argument('--driver', action='append', metavar='NAME',
                       help='Walk this storage driver only (repeatable).')
    audit.add_argument('--container', action='append', metavar='NAME',
                       help='Walk this container only (repeatable).')
    audit.add_argument('--no-owner-accounts', action='store_true',
                       help='Do not check the backups kept in their '
                            'owners\' Swift accounts (no Keystone calls).')
    audit.add_argument('--format', choices=('table', 'json'),
                       default='table')
    audit.set_defaults(func=StorageCommands.audit)

    spec = subparsers.add_parser(
        'openapi', help='Print the API\'s OpenAPI 3.1 document (JSON).')
    spec.add_argument('--output', metavar='FILE',
                      help='Write it to FILE instead of stdout.')
    spec.set_defaults(func=print_openapi)


category_opt = cfg.SubCommandOpt('category', title='Commands',
                                 handler=add_command_parsers)


def main(argv=None):
    backup_conf.CONF.register_cli_opt(category_opt)
    # Answers go to stdout, so that scripts can read them; logs to stderr.
    backup_conf.CONF.set_default('use_stderr', True)
    conf = service.setup(service.parse_args(
        sys.argv[1:] if argv is None else argv))
    try:
        # A command may return an exit status of its own (storage audit).
        return conf.category.func(conf.category) or 0
    except exception.BackupExtError as exc:
        print('ERROR: %s' % exc, file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
