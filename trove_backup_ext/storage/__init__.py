"""Finds the installed storage drivers."""

from stevedore import extension

NAMESPACE = 'trove_backup_ext.storage'


def installed_driver_names():
    """Names of the storage drivers installed, without loading them."""
    return frozenset(
        ep.name for ep in extension.ExtensionManager.list_entry_points(
            NAMESPACE))
