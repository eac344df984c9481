"""trove-backup-api: serve the API in [api] workers processes.

The master binds [api] host:port, builds the API once and forks the
workers, each serving the shared socket with [api] threads threads
(cheroot). SIGTERM stops it gracefully: requests in flight finish, for
up to [DEFAULT] graceful_shutdown_timeout seconds, then it exits 0.
trove_backup_ext.wsgi.api:application serves under another WSGI server.
"""

import sys

from oslo_log import log as logging

from trove_backup_ext.api import deploy
from trove_backup_ext import service
from trove_backup_ext.wsgi import server as wsgi_server

LOG = logging.getLogger(__name__)


def main(argv=None):
    conf = service.setup(service.parse_args(
        sys.argv[1:] if argv is None else argv))
    try:
        sock = wsgi_server.listen(conf)
    except wsgi_server.ListenError as exc:
        print('ERROR: %s' % exc, file=sys.stderr)
        return 2
    application = deploy.deploy(conf)
    service.freeze_startup_objects()
    host, port = sock.getsockname()[:2]
    LOG.info('trove-backup-api listening on http://%s:%s/ (%d processes '
             'of %d threads)', host, port, wsgi_server.workers(conf),
             conf.api.threads)
    return wsgi_server.serve_processes(conf, application, sock) or 0
