"""Options of the backup scheduler (run by each worker) in [scheduler]."""

from oslo_config import cfg

from trove_backup_ext import opt_groups

scheduler_group = cfg.OptGroup(
    'scheduler', title='Backup scheduler options',
    help='Every trove-backup-worker (and trove-backup-aio) runs the '
         'scheduler; any number of them can, each slot of a schedule '
         'fires once (a unique row in the database decides).')

scheduler_opts = [
    cfg.BoolOpt('enabled', default=True,
                help='Run the backup scheduler in this worker. Schedules '
                     'fire as long as one worker runs it.'),
    cfg.IntOpt('tick_interval', default=30, min=1,
               help='Seconds between two passes over the due schedules. '
                    'A slot fires at most this long after its time.'),
    cfg.IntOpt('grace_period', default=3600, min=60,
               help='Seconds after its time within which a slot may still '
                    'fire: a slot missed while every worker was down fires '
                    '(once) if it is younger than this, else it is recorded '
                    'MISSED; a slot whose instance is busy is retried until '
                    'this much time has passed, then recorded SKIPPED. '
                    'Keep it above tick_interval, or slots are missed.'),
    cfg.IntOpt('batch_size', default=100, min=1,
               help='Most due schedules (and, apart, most slots waiting '
                    'for a retry) one pass handles; the rest wait for the '
                    'next pass, which comes at once when a pass was full.'),
    cfg.IntOpt('max_missed_slots', default=1000, min=1,
               help='Most missed slots of one schedule recorded in one '
                    'pass (a minutely schedule down for a week has 10,080); '
                    'the next pass records the next ones.'),
]


def register_opts(conf):
    opt_groups.register(conf, scheduler_group, scheduler_opts)


def list_opts():
    return {scheduler_group: scheduler_opts}
