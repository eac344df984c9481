"""Finds and loads the storage drivers."""

from importlib import metadata
import threading

from stevedore import driver

from trove_backup_ext import exception

NAMESPACE = 'trove_backup_ext.storage'
_LOADED = {}
_LOCK = threading.Lock()


def installed_driver_names():
    """Names of the storage drivers installed, without importing them."""
    return frozenset(ep.name for ep in metadata.entry_points(group=NAMESPACE))


def load(conf, name):
    """The storage driver called name, made once per configuration."""
    with _LOCK:
        key = (id(conf), name)
        if key not in _LOADED:
            try:
                loaded = driver.DriverManager(
                    NAMESPACE, name, invoke_on_load=True,
                    invoke_args=(conf,)).driver
            except Exception as exc:
                raise exception.ConfigurationError(
                    'Cannot load storage driver %r: %s' % (name, exc))
            # The entry keeps conf alive, so its id is never reused by
            # another configuration while the entry exists.
            _LOADED[key] = (conf, loaded)
        return _LOADED[key][1]
