"""Options of trove-backup-worker in [worker]."""

from oslo_config import cfg

from trove_backup_ext import opt_groups

worker_group = cfg.OptGroup('worker', title='Backup worker options')

worker_opts = [
    cfg.IntOpt('backup_timeout', default=600, min=10,
               help='Seconds a NEW or BUILDING backup may go without any '
                    'progress report before the reaper marks it FAILED and '
                    'removes what it had stored. Agents report progress '
                    'every [agent] progress_interval seconds.'),
    cfg.IntOpt('reaper_interval', default=60, min=1,
               help='Seconds between two runs of the reaper.'),
    cfg.IntOpt('delete_retry_interval', default=300, min=1,
               help='Seconds after its last attempt (the delete request, '
                    'or the failure that made it DELETE_FAILED) after '
                    'which an unfinished deletion is tried again.'),
]


def register_opts(conf):
    opt_groups.register(conf, worker_group, worker_opts)


def list_opts():
    return {worker_group: worker_opts}
