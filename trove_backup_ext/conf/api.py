"""Options of the REST API in [api]."""

from keystonemiddleware import auth_token
from oslo_config import cfg
from oslo_service import opts as service_opts

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
                       help='Address trove-backup-api and trove-backup-aio '
                            'listen on.'),
    cfg.PortOpt('port',
                default=8779,
                help='Port trove-backup-api and trove-backup-aio listen '
                     'on.'),
    cfg.BoolOpt('allow_noauth_on_non_loopback',
                default=False,
                help='Development only: let auth_strategy = noauth serve on '
                     'an address that is not a loopback address. Anyone who '
                     'can reach it then acts as any project, and as admin '
                     'with X-Roles: admin; without this option the commands '
                     'refuse to start.'),
    cfg.IntOpt('workers',
               min=1,
               sample_default='<number of CPUs>',
               help='Processes of trove-backup-api, forked after the API is '
                    'built and sharing one listening socket. Default: the '
                    'number of CPUs the process may run on. '
                    'trove-backup-aio always serves in one process.'),
    cfg.IntOpt('threads',
               default=10, min=1,
               help='Threads serving requests in each API process; each '
                    'can hold a database connection while it works.'),
    cfg.IntOpt('backlog',
               default=128, min=1,
               help='Connections the kernel queues before the API accepts '
                    'them (listen() backlog).'),
    cfg.IntOpt('client_socket_timeout',
               default=60, min=1,
               help='Seconds a client connection may stay idle, between '
                    'keep-alive requests or while a request is read, '
                    'before the API closes it.'),
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
    # [DEFAULT] graceful_shutdown_timeout: how long a stopping API (and
    # its worker processes, under oslo.service's launcher) lets requests
    # in flight finish.
    service_opts.register_service_opts(conf)
    # [keystone_authtoken] is read from our own ConfigOpts (see
    # deploy.py); registered here so it can be set before the middleware
    # is built.
    for group, opts in auth_token.list_opts():
        conf.register_opts(opts, group=group)


def _shutdown_opts():
    # oslo.service's own option objects, without its eventlet backdoor's.
    from oslo_service import service
    return [opt for _, opts in service.list_opts() for opt in opts
            if opt.name == 'graceful_shutdown_timeout']


def list_opts():
    return {api_group: api_opts, 'DEFAULT': _shutdown_opts()}
