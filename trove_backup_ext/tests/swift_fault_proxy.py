"""An HTTP proxy before a real Swift that fails object requests on cue.

Everything is forwarded to the Swift proxy behind it (tempauth included,
whose X-Storage-Url is rewritten to point here, so the client's later
requests come back through). Once armed with fail(), the object requests
of one method after the first `after` of them answer 503, or have their
connection dropped halfway through the body: a PUT's request body (half
of it reaches Swift, then both connections close) or a GET's response
body. Stdlib only; a thread per connection.
"""

import collections
import http.client
import http.server
import socket
import threading
from urllib import parse

import fixtures

UNAVAILABLE = '503'
DROP = 'drop'
# Not forwarded: they describe one hop, not the request.
_HOP_BY_HOP = frozenset(('connection', 'keep-alive', 'proxy-connection',
                         'transfer-encoding', 'te', 'trailer', 'upgrade',
                         'expect', 'host', 'content-length'))
_METHODS = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY', 'OPTIONS')
_BODY_503 = b'<html><h1>Service Unavailable</h1><p>Injected.</p></html>'


def object_path(path):
    """(container, object) of a Swift object request's path, or None:
    /v1/<account>/<container>/<object>."""
    parts = parse.urlsplit(path).path.split('/', 4)
    if len(parts) == 5 and parts[1] == 'v1' and parts[3] and parts[4]:
        return parse.unquote(parts[3]), parse.unquote(parts[4])
    return None


class _Fault:

    def __init__(self, method, after, mode):
        self.method = method
        self.after = after
        self.mode = mode
        self.seen = 0


class _Handler(http.server.BaseHTTPRequestHandler):

    protocol_version = 'HTTP/1.1'

    def log_message(self, format, *args):
        pass    # The proxy's record() says what happened.

    def _forward(self):
        proxy = self.server.proxy
        mode = proxy.fault_of(self.command, self.path)
        cut = mode == DROP and self.command != 'GET'
        length, body = self._read_body(half=cut)
        if mode == UNAVAILABLE:
            self._answer_503()
            return proxy.record(self.command, self.path, 503)
        upstream = http.client.HTTPConnection(proxy.upstream.hostname,
                                              proxy.upstream.port,
                                              timeout=proxy.timeout)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True,
                                skip_accept_encoding=True)
            upstream.putheader('Host', proxy.upstream.netloc)
            for name, value in self.headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    upstream.putheader(name, value)
            upstream.putheader('Content-Length', str(length))
            upstream.endheaders()
            upstream.send(body)
            if cut:
                # Swift was promised the whole body and got half of it.
                return self._drop()
            response = upstream.getresponse()
            data = response.read()
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() in _HOP_BY_HOP:
                    continue
                if name.lower() == 'x-storage-url':
                    value = proxy.rewritten(value)
                self.send_header(name, value)
            sent = response.getheader('Content-Length')
            if self.command != 'HEAD' or sent is None:
                sent = len(data)
            self.send_header('Content-Length', str(sent))
            self.end_headers()
            if mode == DROP:
                self.wfile.write(data[:len(data) // 2])
                return self._drop()
            self.wfile.write(data)
            proxy.record(self.command, self.path, response.status)
        finally:
            upstream.close()

    def _read_body(self, half=False):
        """(the body's length, the body or, with half, its first half)."""
        if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b';')[0], 16)
                if not size:
                    while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                        pass    # Trailers.
                    body = b''.join(parts)
                    return len(body), body[:len(body) // 2] if half else body
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get('Content-Length') or 0)
        return length, self.rfile.read(length // 2 if half else length)

    def _answer_503(self):
        self.send_response(503, 'Service Unavailable')
        self.send_header('Content-Type', 'text/html; charset=UTF-8')
        self.send_header('Content-Length', str(len(_BODY_503)))
        self.end_headers()
        self.wfile.write(_BODY_503)

    def _drop(self):
        """Close the client's connection now, without another byte."""
        self.close_connection = True
        self.wfile.flush()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.server.proxy.record(self.command, self.path, 'dropped')


for _method in _METHODS:
    setattr(_Handler, 'do_' + _method, _Handler._forward)


class _Server(http.server.ThreadingHTTPServer):

    daemon_threads = True
    block_on_close = False


class SwiftFaultProxy(fixtures.Fixture):
    """The proxy before the Swift whose tempauth URL is auth_url; its own
    tempauth URL is self.auth_url."""

    def __init__(self, auth_url, timeout=60):
        super().__init__()
        self.upstream = parse.urlsplit(auth_url)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._fault = None
        self.requests = collections.deque(maxlen=10000)

    def _setUp(self):
        self._server = _Server(('127.0.0.1', 0), _Handler)
        self._server.proxy = self
        self.port = self._server.server_address[1]
        self.netloc = '127.0.0.1:%d' % self.port
        self.auth_url = parse.urlunsplit(self.upstream._replace(
            netloc=self.netloc))
        thread = threading.Thread(target=self._server.serve_forever,
                                  daemon=True, name='swift-fault-proxy')
        thread.start()
        self.addCleanup(self._stop, thread)

    def _stop(self, thread):
        self._server.shutdown()
        thread.join()
        self._server.server_close()

    def rewritten(self, url):
        """A storage URL of the Swift behind, pointing here instead."""
        parts = parse.urlsplit(url)
        if parts.netloc != self.upstream.netloc:
            return url
        return parse.urlunsplit(parts._replace(netloc=self.netloc))

    def fail(self, method, after=0, mode=UNAVAILABLE):
        """From now on, fail the object requests of method (GET or PUT)
        after the first `after` of them: answer 503, or drop them
        halfway through their body (mode DROP)."""
        with self._lock:
            self._fault = _Fault(method, after, mode)

    def clear(self):
        """Forward everything again."""
        with self._lock:
            self._fault = None

    def fault_of(self, method, path):
        """The fault the request gets (UNAVAILABLE, DROP), or None."""
        with self._lock:
            fault = self._fault
            if (fault is None or fault.method != method or
                    object_path(path) is None):
                return None
            fault.seen += 1
            return fault.mode if fault.seen > fault.after else None

    def record(self, method, path, outcome):
        self.requests.append((method, object_path(path), outcome))

    def objects(self, method, prefix, outcomes=(200, 201, 206)):
        """Object names under prefix of the method's requests that had
        one of outcomes (a status, 'dropped')."""
        return [where[1] for seen, where, outcome in list(self.requests)
                if seen == method and where and
                where[1].startswith(prefix) and outcome in outcomes]
