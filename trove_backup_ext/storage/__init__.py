"""Finds and loads the storage drivers."""

import collections
import functools
from importlib import metadata
import threading

from stevedore import driver

from trove_backup_ext import exception

NAMESPACE = 'trove_backup_ext.storage'
# Drivers scoped to a trust are one per backup owner's trust; keep only
# the most recently used ones.
_MAX_LOADED = 64
_LOADED = collections.OrderedDict()
_LOCK = threading.Lock()


@functools.lru_cache(maxsize=None)
def installed_driver_names():
    """Names of the storage drivers installed, without importing them.

    Read once: scanning every installed package's metadata costs ~8 ms,
    most of a create request, and what is installed does not change while
    a process runs.
    """
    return frozenset(ep.name for ep in metadata.entry_points(group=NAMESPACE))


def load(conf, name, trust_id=None):
    """The storage driver called name, made once per configuration (and
    Keystone trust: a driver given one works in the trustor's account)."""
    with _LOCK:
        key = (id(conf), name, trust_id)
        if key not in _LOADED:
            kwargs = {'trust_id': trust_id} if trust_id else {}
            try:
                loaded = driver.DriverManager(
                    NAMESPACE, name, invoke_on_load=True,
                    invoke_args=(conf,), invoke_kwds=kwargs).driver
            except Exception as exc:
                raise exception.ConfigurationError(
                    'Cannot load storage driver %r: %s' % (name, exc))
            # The entry keeps conf alive, so its id is never reused by
            # another configuration while the entry exists.
            _LOADED[key] = (conf, loaded)
            while len(_LOADED) > _MAX_LOADED:
                _LOADED.popitem(last=False)
        _LOADED.move_to_end(key)
        return _LOADED[key][1]
