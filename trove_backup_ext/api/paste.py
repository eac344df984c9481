"""Paste factories: the API in its own pipeline, or inside Trove's.

etc/trove-backup-ext/api-paste.ini shows both. Every factory reads the
plugin's own configuration files (``config_file``, comma separated, in the
section or in [DEFAULT]; else $TROVE_BACKUP_EXT_CONFIG_FILES; else
/etc/trove-backup-ext/trove-backup-ext.conf), never the host's cfg.CONF.
"""

import os
import re
import threading

from keystonemiddleware import auth_token
from oslo_log import log as logging
from oslo_middleware import cors
from oslo_middleware import healthcheck
from oslo_middleware import http_proxy_to_wsgi
from oslo_middleware import request_id

from trove_backup_ext.api import app as backup_app
from trove_backup_ext.api import faults
from trove_backup_ext.api import noauth
from trove_backup_ext.db import api as db_api
from trove_backup_ext import exception
from trove_backup_ext import service

LOG = logging.getLogger(__name__)

CONFIG_FILES_ENV = 'TROVE_BACKUP_EXT_CONFIG_FILES'
HEALTHCHECK_PATH = '/healthcheck'
# What a browser client of this API sends and may read; [cors] overrides.
CORS_DEFAULTS = {
    'allow_headers': ['X-Auth-Token', 'X-OpenStack-Request-ID',
                      'Content-Type', 'Accept'],
    'expose_headers': ['X-OpenStack-Request-ID', 'WWW-Authenticate'],
    'allow_methods': ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'OPTIONS'],
}
# Our resources, after any prefix the host is mounted on; group "path" is
# what our own app routes on: /v1.0/{project_id}/backups, /restores,
# /backup_schedules and /backup_strategies and below, and of the instances
# (Trove's) only /instances/{id}/backups, which Trove also serves from the
# backups table.
_BACKUPS_URL = re.compile(
    r'^(?P<prefix>.*?)(?P<path>/v1\.0/[^/]+/'
    r'(?:(?:backups|restores|backup_schedules|backup_strategies)(?:/.*)?|'
    r'instances/[^/]+/backups/?))$')

_LOCK = threading.Lock()
_LOADED = {}


def config_files(local_conf, global_conf=None):
    """The plugin's configuration files named for a paste section."""
    value = (local_conf.get('config_file') or
             (global_conf or {}).get('config_file') or
             os.environ.get(CONFIG_FILES_ENV, ''))
    return tuple(f.strip() for f in value.split(',') if f.strip())


def load_conf(files, own_process=True):
    """The plugin's ConfigOpts from files, parsed and set up once.

    In a host's process (own_process=False) logging stays the host's: only
    the plugin's private database context is configured. One process
    serves one plugin configuration; a second, different one is refused
    rather than silently changing the first app's settings.
    """
    with _LOCK:
        if _LOADED and _LOADED['files'] != files:
            raise exception.ConfigurationError(
                'The plugin is already configured from %s; one process '
                'cannot also use %s' % (list(_LOADED['files']), list(files)))
        if not _LOADED:
            conf = service.parse_args([], default_config_files=(
                list(files) or None))
            if own_process:
                service.setup(conf)
            else:
                db_api.configure(conf)
            _LOADED.update(files=files, conf=conf)
        return _LOADED['conf']


def _filter(make):
    """A paste filter factory from make(conf, application)."""
    def factory(global_conf, **local_conf):
        conf = load_conf(config_files(local_conf, global_conf))
        return lambda application: make(conf, application)
    return factory


# The middleware, each from the plugin's configuration.

def cors_middleware(conf, application):
    """CORS from [cors]; absent (the app itself) unless allowed_origin
    is set, so an unconfigured API answers no preflight."""
    conf.register_opts(cors.OPTS, 'cors')
    for name, value in CORS_DEFAULTS.items():
        # On our ConfigOpts, not cors.set_defaults(), which would change
        # the defaults of every service in the process.
        conf.set_default(name, value, group='cors')
    if not conf.cors.allowed_origin:
        return application
    return cors.CORS(application, conf)


class Healthcheck:
    """Answers /healthcheck with oslo.middleware's healthcheck (backends
    and their options in [healthcheck]); every other path goes on."""

    def __init__(self, conf, application):
        self.application = application
        # The healthcheck passes requests it ignores (a caller outside
        # [healthcheck] allowed_source_ranges) to the application.
        self.check = healthcheck.Healthcheck(application, conf)

    def __call__(self, environ, start_response):
        if environ.get('PATH_INFO', '').rstrip('/') == HEALTHCHECK_PATH:
            return self.check(environ, start_response)
        return self.application(environ, start_response)


def proxy_middleware(conf, application):
    """Honours Forwarded/X-Forwarded-* when [oslo_middleware]
    enable_proxy_headers_parsing is set."""
    return http_proxy_to_wsgi.HTTPProxyToWSGI(application, conf)


def auth_middleware(conf, application):
    """As [api] auth_strategy says: keystonemiddleware auth_token reading
    [keystone_authtoken] of our configuration, or development noauth."""
    if conf.api.auth_strategy == 'noauth':
        LOG.warning('[api] auth_strategy = noauth: callers choose their '
                    'project and roles. Never expose this API.')
        return noauth.NoAuthMiddleware(application)
    return auth_token.AuthProtocol(application, {'oslo_config_config': conf})


# Factories of the stand-alone pipeline (see api-paste.ini for its order).

cors_filter_factory = _filter(cors_middleware)
healthcheck_filter_factory = _filter(Healthcheck)
faultwrap_filter_factory = _filter(
    lambda conf, application: faults.FaultWrapper(application))
http_proxy_to_wsgi_filter_factory = _filter(proxy_middleware)
auth_filter_factory = _filter(auth_middleware)


def app_factory(global_conf, **local_conf):
    """The bare pecan app; the pipeline in front supplies authentication
    and the fault wrapper."""
    conf = load_conf(config_files(local_conf, global_conf))
    return backup_app.setup_app(conf)


# Inside Trove's pipeline.

class BackupsRouter:
    """Sends our resources (_BACKUPS_URL) to the backups app and every
    other request down the host's pipeline.

    It must sit after keystonemiddleware auth_token: the app trusts the
    identity headers auth_token set (having first removed any a caller
    sent), and auth_token leaves keystone.token_auth in the environment
    as the proof it ran. Without that proof nothing is served.
    """

    def __init__(self, application, backups_app):
        self.application = application
        # Our own faults, not the host's: the app has no auth middleware
        # of its own but still answers in Trove's fault body.
        self.backups = faults.FaultWrapper(backups_app)
        self.backups_with_id = request_id.RequestId(self.backups)

    def __call__(self, environ, start_response):
        match = _BACKUPS_URL.match(environ.get('SCRIPT_NAME', '') +
                                   environ.get('PATH_INFO', ''))
        if match is None:
            return self.application(environ, start_response)
        # A host mounted under a urlmap (Trove maps /v1.0) moved /v1.0
        # into SCRIPT_NAME: give the app its whole path back, in a copy so
        # the host's middleware above still sees what it passed down.
        environ = dict(environ, SCRIPT_NAME=match.group('prefix'),
                       PATH_INFO=match.group('path'))
        response = self._refusal(environ)
        if response is not None:
            return response(environ, start_response)
        if request_id.ENV_REQUEST_ID in environ:
            return self.backups(environ, start_response)
        return self.backups_with_id(environ, start_response)

    @staticmethod
    def _refusal(environ):
        if 'keystone.token_auth' not in environ:
            LOG.error('backups_router got %s without keystonemiddleware '
                      'auth_token before it in the pipeline: refused. Put '
                      'it after authtoken.', environ.get('PATH_INFO'))
            return faults.internal_error_response(
                environ.get(request_id.ENV_REQUEST_ID, '-'))
        if environ.get('HTTP_X_IDENTITY_STATUS') != 'Confirmed':
            # auth_token with delay_auth_decision lets invalid or absent
            # tokens through for the app to decide: ours says no.
            return faults.fault_response(
                401, 'Authentication required: send a valid token in '
                     'X-Auth-Token.')
        return None


def backups_router_factory(global_conf, **local_conf):
    """Paste filter factory for a host's (Trove's) pipeline.

    local_conf config_file names the plugin's configuration; the host's
    [DEFAULT] is the host's and is not read.
    """
    conf = load_conf(config_files(local_conf), own_process=False)
    backups_app = backup_app.setup_app(conf)
    return lambda application: BackupsRouter(application, backups_app)
