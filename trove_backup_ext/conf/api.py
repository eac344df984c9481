"""Options of the REST API in [api]."""

from keystonemiddleware import auth_token
from oslo_config import cfg

from trove_backup_ext import opt_groups

api_group = cfg.OptGroup('api', title='REST API options')

api_opts = [
    cfg.StrOpt('auth_strategy',
               default='keystone',
               choices=[('keystone', 'Validate tokens with keystonemiddleware '
                                     'auth_token.'),
                        ('noauth', 'Development only: the project comes from '
                                   'the URL and the roles from X-Roles.')],
               help='How API callers are authenticated.'),
    cfg.HostAddressOpt('host',
                       default='127.0.0.1',
                       help='Address trove-backup-api listens on.'),
    cfg.PortOpt('port',
                default=8779,
                help='Port trove-backup-api listens on.'),
    cfg.IntOpt('max_request_body_size',
               default=65536, min=1024,
               help='Largest request body accepted, in bytes; a larger one '
                    'gets 413.'),
    cfg.IntOpt('rpc_cast_retry',
               default=3, min=0,
               help='How often a cast to the worker is retried when the '
                    'message bus is unreachable, before the request fails '
                    'with 503 and its database changes are undone.'),
]


def register_opts(conf):
    opt_groups.register(conf, api_group, api_opts)
    # [keystone_authtoken] is read from our own ConfigOpts (see
    # deploy.py); registered here so it can be set before the middleware
    # is built.
    for group, opts in auth_token.list_opts():
        conf.register_opts(opts, group=group)


def list_opts():
    return {api_group: api_opts}
