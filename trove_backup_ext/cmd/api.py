"""trove-backup-api: serve the API with a small threaded WSGI server.

For production, run trove_backup_ext.wsgi.api:application under a real
WSGI server (uwsgi, mod_wsgi, gunicorn) instead.
"""

import socketserver
import sys
from wsgiref import simple_server

from oslo_log import log as logging

from trove_backup_ext.api import deploy
from trove_backup_ext import service

LOG = logging.getLogger(__name__)


class ThreadingWSGIServer(socketserver.ThreadingMixIn,
                          simple_server.WSGIServer):
    daemon_threads = True
    # socketserver's backlog of 5 resets connections under a burst of
    # parallel clients before the API ever sees them.
    request_queue_size = 128


class QuietHandler(simple_server.WSGIRequestHandler):

    def log_message(self, fmt, *args):
        LOG.debug('%s - %s', self.address_string(), fmt % args)


def make_server(conf, application, host=None, port=None):
    return simple_server.make_server(
        host or conf.api.host, conf.api.port if port is None else port,
        application, server_class=ThreadingWSGIServer,
        handler_class=QuietHandler)


def main(argv=None):
    conf = service.setup(service.parse_args(
        sys.argv[1:] if argv is None else argv))
    server = make_server(conf, deploy.deploy(conf))
    service.freeze_startup_objects()
    LOG.info('trove-backup-api listening on http://%s:%s/',
             *server.server_address[:2])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
