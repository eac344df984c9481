"""Options in [DEFAULT], named as Trove names them (trove.conf habits)."""

from oslo_config import cfg

backup_opts = [
    cfg.IntOpt('max_backups_per_tenant',
               default=50, min=-1,
               deprecated_name='max_backups_per_user',
               help='Most backups a project may hold, whatever their '
                    'status, until they are deleted. -1 means unlimited. '
                    'Enforced by the database, so parallel creates cannot '
                    'overshoot it.'),
    cfg.IntOpt('backups_page_size',
               default=20, min=1,
               help='Backups per page of a list when the request gives no '
                    '"limit".'),
    cfg.IntOpt('backups_max_page_size',
               default=1000, min=1,
               help='Largest "limit" a list request may ask for; a larger '
                    'one is capped to this value.'),
    cfg.StrOpt('storage_strategy',
               default='local',
               help='Storage driver (an entry point name in the '
                    'trove_backup_ext.storage namespace) used when a create '
                    'request names none.'),
    cfg.StrOpt('backup_swift_container',
               default='database_backups',
               help='Swift container for backups whose request names none.'),
    cfg.IntOpt('running_backups_expires',
               default=3, min=0,
               help='Days after which a backup still NEW or BUILDING may be '
                    'deleted anyway. Younger running backups refuse '
                    'deletion with 422.'),
    cfg.StrOpt('instance_source',
               default='registry',
               help='Where instances are looked up: an entry point name in '
                    'the trove_backup_ext.instance_sources namespace.'),
]


def register_opts(conf):
    conf.register_opts(backup_opts)


def list_opts():
    return {'DEFAULT': backup_opts}
