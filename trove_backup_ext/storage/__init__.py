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


_GrantFields = collections.namedtuple('Grant',
                                      'token storage_url expires renew')


class Grant(_GrantFields):
    """A Keystone token the worker issued for one phase of one backup (of
    its application credential, or of its trust), and the owner's Swift
    account it works in: what an agent stores and reads with. renew(),
    if given, asks the worker for the next one (a storage_access dict, or
    a false value) when this one nears its expiry."""

    __slots__ = ()

    def __new__(cls, token, storage_url, expires=None, renew=None):
        return super().__new__(cls, token, storage_url, expires, renew)

    def __repr__(self):
        # Never the token: a repr ends up in logs and tracebacks.
        return 'Grant(storage_url=%r, expires=%r)' % (self.storage_url,
                                                      self.expires)


def access_of(info, renew=None):
    """What an agent reaches a backup's storage with, from the backup's
    info in a worker's message: a Grant (renewed with renew()), a trust id
    (from a worker older than RPC 1.2: the agent then needs the [swift]
    user's password), or None (the service's own account)."""
    access = info.get('storage_access')
    if access:
        return Grant(access['token'], access['storage_url'],
                     access.get('expires'), renew)
    return info.get('trust_id')


def load(conf, name, trust_id=None, session=None):
    """The storage driver called name, made once per configuration (and
    Keystone trust: a driver given one works in the trustor's account).

    trust_id may also be a Grant (agent/restore.py passes it under that
    name), and session a keystoneauth session of a backup's application
    credential (the worker's own storage work): such drivers hold a
    token or a credential, so they are made afresh and never kept."""
    if isinstance(trust_id, Grant) or session is not None:
        kwargs = ({'grant': trust_id} if isinstance(trust_id, Grant)
                  else {'session': session})
        return _make(conf, name, kwargs)
    with _LOCK:
        key = (id(conf), name, trust_id)
        if key not in _LOADED:
            kwargs = {'trust_id': trust_id} if trust_id else {}
            loaded = _make(conf, name, kwargs)
            # The entry keeps conf alive, so its id is never reused by
            # another configuration while the entry exists.
            _LOADED[key] = (conf, loaded)
            while len(_LOADED) > _MAX_LOADED:
                _LOADED.popitem(last=False)
        _LOADED.move_to_end(key)
        return _LOADED[key][1]


def _make(conf, name, kwargs):
    try:
        return driver.DriverManager(
            NAMESPACE, name, invoke_on_load=True,
            invoke_args=(conf,), invoke_kwds=kwargs).driver
    except Exception as exc:
        raise exception.ConfigurationError(
            'Cannot load storage driver %r: %s' % (name, exc))
