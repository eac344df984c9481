"""RPC version caps in [upgrade_levels], for rolling upgrades."""

from oslo_config import cfg

from trove_backup_ext import opt_groups

upgrade_group = cfg.OptGroup(
    'upgrade_levels', title='RPC version caps',
    help='During a rolling upgrade, cap the RPC version sent to a role at a '
         'release name (see the RPC API documentation) or a version number, '
         'so that services not yet upgraded understand it.')

upgrade_opts = [
    cfg.StrOpt('worker', default='latest',
               help='Cap for casts to trove-backup-worker.'),
    cfg.StrOpt('agent', default='latest',
               help='Cap for messages to trove-backup-agent.'),
]


def register_opts(conf):
    opt_groups.register(conf, upgrade_group, upgrade_opts)


def list_opts():
    return {upgrade_group: upgrade_opts}
