"""Wraps the pecan app in the middleware stack of a stand-alone API."""

from keystonemiddleware import auth_token
from oslo_middleware import http_proxy_to_wsgi
from oslo_middleware import request_id

from trove_backup_ext.api import app as backup_app
from trove_backup_ext.api import faults
from trove_backup_ext.api import noauth


def _auth_middleware(conf):
    if conf.api.auth_strategy == 'noauth':
        return noauth.NoAuthMiddleware

    def keystone(application):
        # Our own ConfigOpts, not the global one: see conf/__init__.py.
        return auth_token.AuthProtocol(application,
                                       {'oslo_config_config': conf})
    return keystone


def deploy(conf, application=None):
    """The WSGI application: the pecan app inside its middleware."""
    application = application or backup_app.setup_app(conf)
    # Outermost first. The request id comes first so every response, even
    # a fault, carries one; the fault wrapper sits above authentication so
    # that auth_token's 401 gets Trove's fault body too; proxy headers are
    # applied before anything reads the request's URL.
    stack = [
        request_id.RequestId,
        faults.FaultWrapper,
        lambda app: http_proxy_to_wsgi.HTTPProxyToWSGI(app, conf),
        _auth_middleware(conf),
    ]
    for middleware in reversed(stack):
        application = middleware(application)
    return application
