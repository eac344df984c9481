"""Lists every option for oslo-config-generator."""

from trove_backup_ext.conf import agent
from trove_backup_ext.conf import agent_auth
from trove_backup_ext.conf import api
from trove_backup_ext.conf import backup
from trove_backup_ext.conf import default
from trove_backup_ext.conf import drivers
from trove_backup_ext.conf import registry
from trove_backup_ext.conf import scheduler
from trove_backup_ext.conf import upgrade_levels
from trove_backup_ext.conf import worker

_MODULES = (default, api, backup, agent, registry, upgrade_levels, worker,
            scheduler, drivers, agent_auth)


def list_opts():
    groups = {}
    for module in _MODULES:
        for group, opts in module.list_opts().items():
            groups.setdefault(group, []).extend(opts)
    return list(groups.items())


def set_defaults():
    """Our defaults of library options, for the sample generator (which
    calls this hook without arguments and reads the options' own
    defaults)."""
    from oslo_config import cfg
    from oslo_db import options as db_options

    from oslo_middleware import cors

    from trove_backup_ext.api import paste
    from trove_backup_ext.conf import database
    cfg.set_defaults(db_options.database_opts,
                     connection=database.DEFAULT_CONNECTION)
    cors.set_defaults(**paste.CORS_DEFAULTS)
