"""pecan's routing, without re-reading controllers' signatures per request.

pecan 1.8 looks up a controller's signature (``pecan.util.getargspec``)
about seven times per request while routing, and each lookup runs
``inspect.getfullargspec`` and builds a new ``namedtuple`` class: in our
profile (doc: admin/benchmarks, "Where the time goes") that is the largest
single cost of a request that does no SQL. Controllers' signatures never
change while the process runs, so the answer for a function is kept.

install() replaces the name in the pecan modules that imported it; the
cached function answers exactly what pecan's does (a unit test compares
them on every controller of the API).
"""

import functools

from pecan import core
from pecan import decorators
from pecan import rest
from pecan import routing
from pecan import util

_pecan_getargspec = util.getargspec
_MODULES = (util, core, decorators, rest, routing)


@functools.lru_cache(maxsize=4096)
def _argspec_of(function):
    return _pecan_getargspec(function)


def getargspec(method):
    """pecan.util.getargspec, remembered per underlying function.

    A bound method's spec is its function's (inspect reports ``self``
    for both), so the methods of every controller instance share one
    entry; anything unhashable is looked up each time."""
    try:
        return _argspec_of(getattr(method, '__func__', method))
    except TypeError:
        return _pecan_getargspec(method)


def install():
    """Make pecan's modules use the remembering getargspec (idempotent)."""
    for module in _MODULES:
        module.getargspec = getargspec
