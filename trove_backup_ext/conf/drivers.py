"""Options of the built-in storage and datastore drivers.

Registered up front, not when a driver loads, so a configuration file or
the sample generator can name them before any driver runs.
"""

import importlib

DRIVER_MODULES = (
    'trove_backup_ext.storage.local',
    'trove_backup_ext.storage.swift',
    'trove_backup_ext.datastores.sqlite',
    'trove_backup_ext.datastores.mariadb',
    'trove_backup_ext.datastores.postgresql',
    'trove_backup_ext.instance_sources.trove',
)


def _modules():
    return [importlib.import_module(name) for name in DRIVER_MODULES]


def register_opts(conf):
    for module in _modules():
        module.register_opts(conf)


def list_opts():
    groups = {}
    for module in _modules():
        groups.update(module.list_opts())
    return groups
