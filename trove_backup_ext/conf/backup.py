"""Options of backups themselves, in [backup]."""

from oslo_config import cfg

from trove_backup_ext import opt_groups

backup_group = cfg.OptGroup('backup', title='Backup options')

backup_opts = [
    cfg.BoolOpt('verify_after_create', default=False,
                help='Verify every backup once it is COMPLETED: restore it '
                     'into a scratch place, start a throw-away database on '
                     'it and check it (as POST /backups/{id}/verify does). '
                     'It reads the whole backup again.'),
    cfg.StrOpt('verify_on', default='agent', choices=[
        ('agent', 'the agent of the backup\'s instance, which has the '
                  'datastore\'s tools'),
        ('worker', 'the worker that handles the request, which then needs '
                   'the datastore drivers\' tools and options')],
        help='Where a verification runs. Never on the live database: it '
             'restores into [agent] scratch_dir.'),
]


def register_opts(conf):
    opt_groups.register(conf, backup_group, backup_opts)


def list_opts():
    return {backup_group: backup_opts}
