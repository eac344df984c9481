"""Finds the installed storage drivers."""

from importlib import metadata

NAMESPACE = 'trove_backup_ext.storage'


def installed_driver_names():
    """Names of the storage drivers installed, without importing them."""
    return frozenset(ep.name for ep in metadata.entry_points(group=NAMESPACE))
