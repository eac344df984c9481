"""trove-backup-manage: database schema and the instance registry."""

import json
import sys

from oslo_config import cfg
from oslo_utils import uuidutils

from trove_backup_ext import conf as backup_conf
from trove_backup_ext import context as backup_context
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import migration
from trove_backup_ext import exception
from trove_backup_ext import service

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


class InstanceCommands:

    @staticmethod
    def add(args):
        conf = backup_conf.CONF
        if args.datastore not in conf.registry.datastores:
            raise exception.BadRequest(
                reason="datastore '%s' is not one of [registry] "
                       "datastores: %s." % (args.datastore, ', '.join(
                           conf.registry.datastores)))
        instance_id = (args.id or uuidutils.generate_uuid()).lower()
        if not uuidutils.is_uuid_like(instance_id):
            raise exception.BadRequest(reason='--id must be a UUID.')
        row = instances_db.add(backup_context.get_admin_context(), {
            'id': instance_id, 'name': args.instance_name,
            'project_id': args.project_id, 'datastore': args.datastore,
            'datastore_version': args.datastore_version,
            'status': args.status})
        print(row.id)

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
        instances_db.remove(backup_context.get_admin_context(), args.id)

    @staticmethod
    def set_status(args):
        instances_db.set_status(backup_context.get_admin_context(),
                                args.id, args.status)


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
    add.set_defaults(func=InstanceCommands.add)
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


category_opt = cfg.SubCommandOpt('category', title='Commands',
                                 handler=add_command_parsers)


def main(argv=None):
    backup_conf.CONF.register_cli_opt(category_opt)
    # Answers go to stdout, so that scripts can read them; logs to stderr.
    backup_conf.CONF.set_default('use_stderr', True)
    conf = service.setup(service.parse_args(
        sys.argv[1:] if argv is None else argv))
    try:
        conf.category.func(conf.category)
    except exception.BackupExtError as exc:
        print('ERROR: %s' % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
