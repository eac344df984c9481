"""Options of the stand-alone instance registry in [registry]."""

from oslo_config import cfg

from trove_backup_ext import opt_groups

registry_group = cfg.OptGroup(
    'registry', title='Instance registry options',
    help='The "registry" instance source: instances are listed in the '
         'plugin\'s own database with trove-backup-manage instance add.')

registry_opts = [
    cfg.ListOpt('datastores',
                default=['sqlite', 'mariadb', 'mysql', 'postgresql'],
                help='Datastore types an instance may be registered with. '
                     'A list filter naming any other datastore gets 404.'),
]


def register_opts(conf):
    opt_groups.register(conf, registry_group, registry_opts)


def list_opts():
    return {registry_group: registry_opts}
