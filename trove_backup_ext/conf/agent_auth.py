"""Options of the agents' message signing, in [worker] and [agent]."""

from oslo_config import cfg

from trove_backup_ext.conf import agent
from trove_backup_ext.conf import worker
from trove_backup_ext import opt_groups

worker_opts = [
    cfg.BoolOpt('require_signed_agent_messages', default=True,
                help='Refuse every agent report that is not signed with '
                     'the key of the instance it names. An instance that '
                     'has a key (trove-backup-manage instance add or '
                     'rotate-key) always needs signed reports; set this to '
                     'False only during an upgrade from a release without '
                     'agent keys, while instances get theirs: reports of '
                     'instances with no key are then accepted unsigned, '
                     'each with a warning.'),
    cfg.StrOpt('agent_keys_master_key_file',
               help='File of the master key (64 hexadecimal digits, mode '
                    '0600 or stricter) that seals the agents\' keys in the '
                    'database: the same file on every worker and where '
                    'trove-backup-manage runs, nowhere else. Without it '
                    'no instance can get a key.'),
    cfg.IntOpt('agent_key_grace_period', default=3600, min=0,
               help='Seconds the key an instance had before a rotation is '
                    'still accepted, so that reports in flight and agents '
                    'not yet given the new key file are not refused '
                    '(trove-backup-manage instance rotate-key '
                    '--grace-period overrides it; 0 after a leak).'),
    cfg.IntOpt('agent_message_max_age', default=300, min=10,
               help='Seconds an agent\'s signed report stays valid after '
                    'it was signed (either way, for clock skew): a report '
                    'recorded off the bus and replayed later is refused.'),
    cfg.StrOpt('agent_key_dir',
               help='Directory where trove-backup-manage instance add and '
                    'rotate-key write an agent\'s key file, '
                    '<instance id>.key, when --key-file is not given.'),
]

agent_opts = [
    cfg.StrOpt('key_file',
               help='File of this agent\'s own key (64 hexadecimal digits, '
                    'mode 0600 or stricter, as trove-backup-manage instance '
                    'add or rotate-key wrote it): every report to the '
                    'worker is signed with it. Read again for each report, '
                    'so a rotated key is used without a restart.'),
]


def register_opts(conf):
    opt_groups.register(conf, worker.worker_group, worker_opts)
    opt_groups.register(conf, agent.agent_group, agent_opts)


def list_opts():
    return {worker.worker_group: worker_opts, agent.agent_group: agent_opts}
