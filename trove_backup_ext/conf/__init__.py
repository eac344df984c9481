"""Configuration of trove-backup-ext.

The plugin keeps its own ConfigOpts object: when it is loaded into a Trove
API process through api-paste.ini it must neither read nor change Trove's
global cfg.CONF, whose [database] is Trove's own database.
"""

from oslo_config import cfg
from oslo_log import log

from trove_backup_ext.conf import agent
from trove_backup_ext.conf import agent_auth
from trove_backup_ext.conf import api
from trove_backup_ext.conf import backup
from trove_backup_ext.conf import database
from trove_backup_ext.conf import default
from trove_backup_ext.conf import drivers
from trove_backup_ext.conf import messaging
from trove_backup_ext.conf import registry
from trove_backup_ext.conf import scheduler
from trove_backup_ext.conf import upgrade_levels
from trove_backup_ext.conf import worker

CONF = cfg.ConfigOpts()


def register_opts(conf):
    default.register_opts(conf)
    api.register_opts(conf)
    backup.register_opts(conf)
    agent.register_opts(conf)
    database.register_opts(conf)
    registry.register_opts(conf)
    messaging.register_opts(conf)
    upgrade_levels.register_opts(conf)
    worker.register_opts(conf)
    scheduler.register_opts(conf)
    agent_auth.register_opts(conf)
    drivers.register_opts(conf)
    log.register_options(conf)


register_opts(CONF)
