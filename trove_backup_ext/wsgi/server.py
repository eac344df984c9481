"""The HTTP server of trove-backup-api and trove-backup-aio (cheroot).

One listening socket, bound before anything forks; each process serves
it with a pool of threads (HTTP/1.1, keep-alive) and stops gracefully:
it closes its copy of the socket and idle connections, and lets the
requests in flight finish. doc/source/admin/serving.rst says why.
"""

import ipaddress
import logging as std_logging
import os
import socket
import threading

from cheroot import errors as cheroot_errors
from cheroot import server as cheroot_server
from cheroot import wsgi as cheroot_wsgi
from oslo_log import log as logging
from oslo_service import service as oslo_service

from trove_backup_ext.api import faults

LOG = logging.getLogger(__name__)


class ListenError(Exception):
    """The API cannot listen where it is told to."""


class InsecureBind(ListenError):
    """noauth asked to listen where other hosts can reach it."""


def is_loopback(host):
    """Whether every address host stands for is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(info[4][0].split('%')[0]).is_loopback
        for info in infos)


def check_bind(conf, host):
    """Refuse noauth on an address other hosts can reach, unless forced:
    with noauth every caller chooses its project and its roles."""
    if conf.api.auth_strategy != 'noauth' or is_loopback(host):
        return
    if not conf.api.allow_noauth_on_non_loopback:
        raise InsecureBind(
            'Refusing to listen on %r with [api] auth_strategy = noauth: '
            'anyone who can reach that address could act as any project, '
            'and as admin. Listen on a loopback address ([api] host = '
            '127.0.0.1), use auth_strategy = keystone, or, for a closed '
            'test network only, set [api] allow_noauth_on_non_loopback = '
            'true.' % host)
    LOG.warning('Serving [api] auth_strategy = noauth on %r, as [api] '
                'allow_noauth_on_non_loopback = true allows: anyone who can '
                'reach it can act as any project, and as admin.', host)


def workers(conf):
    """[api] workers, or the number of CPUs this process may run on."""
    if conf.api.workers:
        return conf.api.workers
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def listen(conf, host=None, port=None):
    """A socket listening on host:port ([api] host and port by default),
    after check_bind."""
    host = conf.api.host if host is None else host
    port = conf.api.port if port is None else port
    check_bind(conf, host)
    try:
        family, _, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.create_server(address, family=family,
                                    backlog=conf.api.backlog)
    except OSError as exc:
        raise ListenError('Cannot listen on %s port %s: %s' % (
            host, port, exc.strerror or exc))
    # Accepted sockets inherit it: small JSON answers leave at once.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _logging(environ, start_response):
    """start_response, logging the request line and status (debug)."""
    def logged(status, headers, exc_info=None):
        LOG.debug('%s "%s %s" %s', environ.get('REMOTE_ADDR'),
                  environ.get('REQUEST_METHOD'), environ.get('PATH_INFO'),
                  status)
        return start_response(status, headers, exc_info)
    return logged


class FaultRequest(cheroot_server.HTTPRequest):
    """cheroot's request, refusing what cheroot refuses itself, before the
    application sees it (a malformed request line or header, an unknown
    HTTP version or transfer coding, too long a line or body), with
    Trove's fault body instead of plain text: clients read every error's
    message from that body."""

    def simple_response(self, status, msg=''):
        status = str(status)
        code = int(status[:3])
        if code < 400:
            return super().simple_response(status, msg)
        message = msg if isinstance(msg, str) else msg.decode('latin-1')
        body = faults.fault_body(code, message or status[4:] or 'Error')
        headers = [b'Content-Length: %d\r\n' % len(body),
                   b'Content-Type: application/json\r\n']
        if code in (413, 414):
            # As cheroot does: the rest of the request is not read, so
            # the connection cannot carry another one.
            self.close_connection = True
            if self.response_protocol == 'HTTP/1.1':
                headers.append(b'Connection: close\r\n')
        line = '%s %s\r\n' % (self.server.protocol, status)
        try:
            self.conn.wfile.write(line.encode('latin-1') + b''.join(headers)
                                  + b'\r\n' + body)
        except OSError as exc:
            if exc.args[0] not in cheroot_errors.socket_errors_to_ignore:
                raise


class FaultConnection(cheroot_server.HTTPConnection):
    RequestHandlerClass = FaultRequest


class Server(cheroot_wsgi.Server):
    """cheroot's threaded WSGI server on a socket bound beforehand (maybe
    shared with other processes), logging through oslo.log."""

    ConnectionClass = FaultConnection

    def __init__(self, conf, application, sock):
        self.address = sock.getsockname()[:2]
        threads = conf.api.threads
        super().__init__(
            self.address, self._counted, numthreads=threads, max=threads,
            request_queue_size=conf.api.backlog,
            timeout=conf.api.client_socket_timeout,
            shutdown_timeout=conf.graceful_shutdown_timeout or None)
        self.application = application
        self._listener = sock
        self._lock = threading.Lock()
        self.in_flight = 0
        self._thread = None

    def bind(self, family, type, proto=0):
        # Called by prepare(): the socket exists already.
        self.socket = self._listener

    def prepare(self):
        super().prepare()
        # Non-blocking accept: when processes share the socket, one that
        # loses the race for a connection goes straight back to its own
        # keep-alive connections instead of waiting in accept().
        self.socket.settimeout(0)

    def _counted(self, environ, start_response):
        with self._lock:
            self.in_flight += 1
        try:
            if LOG.isEnabledFor(std_logging.DEBUG):
                start_response = _logging(environ, start_response)
            return self.application(environ, start_response)
        finally:
            with self._lock:
                self.in_flight -= 1

    def error_log(self, msg='', level=std_logging.INFO, traceback=False):
        LOG.log(level, '%s', msg, exc_info=traceback)

    def start_thread(self):
        """Serve from a thread of this process; stop() ends it."""
        self.prepare()
        self._thread = threading.Thread(target=self.serve,
                                        name='api-server', daemon=True)
        self._thread.start()

    def stop(self):
        if self.ready:
            LOG.info('Stopping the API server on %s:%s: no new '
                     'connections; %d requests in flight finish first',
                     self.address[0], self.address[1], self.in_flight)
        super().stop()

    def wait(self):
        if self._thread is not None:
            self._thread.join()


class APIService(oslo_service.ServiceBase):
    """The server as an oslo.service service, run by its ProcessLauncher
    in each worker process."""

    def __init__(self, conf, application, sock):
        self.conf = conf
        self.application = application
        self.sock = sock
        self.server = None

    def start(self):
        self.server = Server(self.conf, self.application, self.sock)
        self.server.start_thread()
        LOG.info('API worker process %d serving', os.getpid())

    def stop(self):
        if self.server is not None:
            self.server.stop()
            LOG.info('API worker process %d stopped', os.getpid())

    def wait(self):
        if self.server is not None:
            self.server.wait()

    def reset(self):
        pass


def serve_processes(conf, application, sock):
    """Run application on sock in [api] workers forked processes until
    SIGTERM, which each of them turns into a graceful stop."""
    launcher = oslo_service.ProcessLauncher(conf, restart_method='mutate')
    launcher.launch_service(APIService(conf, application, sock),
                            workers=workers(conf))
    return launcher.wait()
