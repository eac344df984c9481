"""Options of the plugin: [service_available] and [database_backup]."""

from oslo_config import cfg

service_option = cfg.BoolOpt(
    'trove_backup_ext', default=True,
    help='Whether the trove-backup-ext backups API is deployed.')

database_backup_group = cfg.OptGroup(
    name='database_backup', title='trove-backup-ext backups API options')

DatabaseBackupGroup = [
    cfg.StrOpt('catalog_type', default='database',
               help='Catalog type of the service serving '
                    '/v1.0/{project_id}/backups: Trove\'s, when the plugin '
                    'is routed inside the Trove API, or its own.'),
    cfg.StrOpt('endpoint_type', default='publicURL',
               choices=['public', 'admin', 'internal', 'publicURL',
                        'adminURL', 'internalURL'],
               help='The endpoint type of that catalog entry.'),
    cfg.StrOpt('region', default='',
               help='The region of that endpoint; empty: [identity] '
                    'region.'),
    cfg.IntOpt('build_interval', default=2,
               help='Seconds between two looks at a backup\'s status.'),
    cfg.IntOpt('build_timeout', default=600,
               help='Seconds a backup may take to complete or to go.'),
    cfg.StrOpt('instance_id',
               help='An ACTIVE instance of the primary credentials\' project '
                    'whose backups complete (an agent serves it). Without '
                    'it the tests are skipped.'),
    cfg.StrOpt('admin_instance_id',
               help='An ACTIVE instance of the admin credentials\' project, '
                    'in another project than instance_id, whose backups '
                    'complete. Tests that need two projects are skipped '
                    'without it.'),
    cfg.StrOpt('inactive_instance_id',
               help='An instance of the primary project that is not ACTIVE '
                    '(e.g. BUILD): creating a backup of it must give 422.'),
    cfg.StrOpt('stalled_instance_id',
               help='An ACTIVE instance of the primary project that no '
                    'agent serves, so its backups stay NEW until [worker] '
                    'backup_timeout fails them: the deterministic way to '
                    'have a backup running. Set the deployment\'s '
                    'backup_timeout low (the test waits for it).'),
    cfg.BoolOpt('restore_into_instances', default=True,
                help='Whether the restore tests may replace the data of '
                     'instance_id (with a backup of it taken moments '
                     'before) and of admin_instance_id (with a backup of '
                     'instance_id). Set false for instances whose data '
                     'matters: those tests are then skipped.'),
    cfg.StrOpt('datastore', default='sqlite',
               help='Datastore type of instance_id, for the datastore '
                    'filter.'),
]


def list_opts():
    return [(database_backup_group.name, DatabaseBackupGroup),
            ('service_available', [service_option])]
