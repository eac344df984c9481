"""Lists every option for oslo-config-generator."""

from trove_backup_ext.conf import api
from trove_backup_ext.conf import default
from trove_backup_ext.conf import registry
from trove_backup_ext.conf import upgrade_levels
from trove_backup_ext.storage import local as local_storage

_MODULES = (default, api, registry, upgrade_levels, local_storage)


def list_opts():
    groups = {}
    for module in _MODULES:
        for group, opts in module.list_opts().items():
            groups.setdefault(group, []).extend(opts)
    return list(groups.items())


def set_defaults(conf):
    """Our defaults for library options, applied by the generator too."""
    from trove_backup_ext.conf import database
    database.register_opts(conf)
