"""Wraps the pecan app in the middleware stack of a stand-alone API."""

import functools

from oslo_middleware import request_id

from trove_backup_ext.api import app as backup_app
from trove_backup_ext.api import faults
from trove_backup_ext.api import paste


def deploy(conf, application=None):
    """The WSGI application: the pecan app inside its middleware."""
    application = application or backup_app.setup_app(conf)
    # Outermost first, the same stack as the "main" pipeline of
    # etc/trove-backup-ext/api-paste.ini, which says why each sits where
    # it does: keep the two in step.
    stack = [
        request_id.RequestId,
        functools.partial(paste.cors_middleware, conf),
        functools.partial(paste.Healthcheck, conf),
        faults.FaultWrapper,
        functools.partial(paste.proxy_middleware, conf),
        functools.partial(paste.auth_middleware, conf),
    ]
    for middleware in reversed(stack):
        application = middleware(application)
    return application
