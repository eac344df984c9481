"""Pecan hooks: the request context, the service, and error translation."""

from oslo_log import log as logging
import pecan
import webob.exc

from trove_backup_ext.api import faults
from trove_backup_ext import context as backup_context
from trove_backup_ext import exception
from trove_backup_ext import policy

LOG = logging.getLogger(__name__)


class ContextHook(pecan.hooks.PecanHook):
    """Builds the RequestContext from the identity headers.

    Those headers are set by keystonemiddleware auth_token (which first
    strips any a caller sent) or, in development, by the noauth filter.
    """

    def on_route(self, state):
        context = backup_context.RequestContext.from_environ(
            state.request.environ)
        context.is_admin = policy.check_is_admin(context)
        state.request.context = context


class ServiceHook(pecan.hooks.PecanHook):
    """Hands controllers the configuration and the domain services
    (request.backup_service, request.restore_service)."""

    def __init__(self, conf, services):
        self.conf = conf
        self.services = services

    def on_route(self, state):
        state.request.conf = self.conf
        for name, service in self.services.items():
            setattr(state.request, name, service)


class FaultHook(pecan.hooks.PecanHook):
    """The one place exceptions become Trove fault responses."""

    def on_error(self, state, exc):
        if isinstance(exc, exception.BackupExtError):
            if exc.code >= 500:
                LOG.warning('Request failed: %s', exc)
            return faults.fault_response(exc.code, str(exc))
        if isinstance(exc, webob.exc.HTTPException):
            # Pecan's own routing answers: no such resource or method.
            if exc.code == 404:
                message = 'The resource could not be found.'
            elif exc.code == 405:
                message = 'Method %s is not allowed on %s.' % (
                    state.request.method, state.request.path)
            else:
                message = exc.detail or exc.explanation
            return faults.fault_response(exc.code, message,
                                         headers=_allow_header(exc))
        request_id = state.request.environ.get('openstack.request_id', '-')
        LOG.exception('Unexpected error serving %s %s (request %s)',
                      state.request.method, state.request.path, request_id)
        return faults.internal_error_response(request_id)


def _allow_header(exc):
    allow = exc.headers.get('Allow') if exc.headers else None
    return {'Allow': allow} if allow else {}
