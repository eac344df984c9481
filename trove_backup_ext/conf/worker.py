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
                    'which an unfinished deletion is tried again; after '
                    'each failure in a row the wait doubles, up to '
                    'delete_retry_max_interval.'),
    cfg.IntOpt('delete_retry_max_interval', default=3600, min=1,
               help='Longest wait, in seconds, between two attempts at a '
                    'deletion that keeps failing.'),
    cfg.IntOpt('delete_refused_attempts', default=5, min=0,
               help='Failed attempts in a row at a deletion, each refused '
                    'for the backup\'s storage credential (Keystone '
                    'refusing the trust or application credential of a '
                    'backup in its owner\'s Swift account: 401, 403 or '
                    '404), after which the worker stops retrying it. The '
                    'backup stays DELETE_FAILED with the reason as its '
                    'fault; trove-backup-manage backup reset-status '
                    'retries it. 0: never stop. Other failures (storage '
                    'down) are retried for as long as they last.'),
]


def register_opts(conf):
    opt_groups.register(conf, worker_group, worker_opts)


def list_opts():
    return {worker_group: worker_opts}
