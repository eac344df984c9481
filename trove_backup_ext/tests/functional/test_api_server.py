"""trove-backup-api as a process: worker processes, keep-alive, a graceful
SIGTERM, and noauth kept off addresses other hosts can reach."""

import http.client
import json
import os
import re
import socket
import subprocess
import threading

import fixtures
import sqlalchemy as sa

from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import process_fixtures as pf
from trove_backup_ext.tests import service_fixtures
from trove_backup_ext.wsgi import server as wsgi_server

BACKUPS = '/v1.0/%s/backups' % base.PROJECT
REFUSED = "Refusing to listen on '0.0.0.0' with [api] auth_strategy = noauth"


def _children(pid):
    """The child processes of pid, whichever of its threads forked them."""
    children = []
    for task in os.listdir('/proc/%d/task' % pid):
        with open('/proc/%d/task/%s/children' % (pid, task)) as listed:
            children += [int(child) for child in listed.read().split()]
    return children


class APIServerTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.port = service_fixtures.free_port()

    def config(self, database_url='sqlite://', **api):
        api = dict({'auth_strategy': 'noauth', 'host': '127.0.0.1',
                    'port': self.port}, **api)
        return pf.write_config(os.path.join(self.dir, 'api.conf'), {
            'DEFAULT': {'transport_url': 'fake://', 'debug': 'true'},
            'api': api, 'database': {'connection': database_url}})

    def start_api(self, config):
        return self.useFixture(pf.Process(
            'api', [pf.command('trove-backup-api'), '--config-file', config],
            self.dir, 'trove-backup-api listening')).wait_ready()

    def wait_workers(self, api, count):
        ef.wait_for(lambda: len(re.findall(
            r'API worker process \d+ serving', api.log_text())) >= count,
            timeout=pf.START_TIMEOUT, interval=0.1)

    def get(self, connection, path=BACKUPS):
        connection.request('GET', path)
        response = connection.getresponse()
        return response, response.read()


class TestServerInProcess(base.TestCase):
    """The server as the aio and the test fixtures run it: threads of
    this process."""

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(service_fixtures.Conf()).conf
        self.release = threading.Event()
        self.server = wsgi_server.Server(
            self.conf, self.application,
            wsgi_server.listen(self.conf, port=0))
        self.server.start_thread()
        self.addCleanup(self.server.stop)
        self.addCleanup(self.release.set)

    def application(self, environ, start_response):
        if environ['PATH_INFO'] == '/slow':
            self.release.wait(60)
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [environ['PATH_INFO'].encode()]

    def connection(self):
        connection = http.client.HTTPConnection(*self.server.address,
                                                timeout=60)
        self.addCleanup(connection.close)
        return connection

    def test_keep_alive(self):
        connection = self.connection()
        for path in ('/a', '/b', '/c'):
            connection.request('GET', path)
            response = connection.getresponse()
            self.assertEqual((200, path.encode(), False), (
                response.status, response.read(), response.will_close))
            sock = connection.sock
        self.assertIs(sock, connection.sock)

    def test_stop_waits_for_the_request_in_flight(self):
        connection = self.connection()
        connection.request('GET', '/slow')
        ef.wait_for(lambda: self.server.in_flight == 1, timeout=30,
                    interval=0.05)
        stopping = threading.Thread(target=self.server.stop)
        stopping.start()
        ef.wait_for(lambda: not self.server.ready, timeout=30,
                    interval=0.05)
        self.assertTrue(stopping.is_alive())
        self.release.set()
        response = connection.getresponse()
        self.assertEqual((200, b'/slow'), (response.status, response.read()))
        stopping.join(30)
        self.assertFalse(stopping.is_alive())
        self.assertRaises(OSError, socket_connect, self.server.address)

    def raw(self, request):
        """The status, content type and body of the answer to request,
        bytes sent as they are."""
        with socket.create_connection(self.server.address,
                                      timeout=30) as sock:
            sock.sendall(request)
            response = http.client.HTTPResponse(sock)
            response.begin()
            return (response.status, response.getheader('Content-Type'),
                    response.read())

    def test_what_cheroot_refuses_gets_a_fault_body(self):
        # Refused by the server before the application (and its fault
        # middleware) sees the request.
        for request, code, name in [
                (b'GARBAGE\r\n\r\n', 400, 'badRequest'),
                (b'GET /a HTTP/1.1\r\nNo colon here\r\n\r\n', 400,
                 'badRequest'),
                (b'GET /a HTTP/2.0\r\n\r\n', 505, 'versionNotSupported'),
                (b'POST /a HTTP/1.1\r\nHost: x\r\n'
                 b'Transfer-Encoding: gzip\r\n\r\n', 501,
                 'notImplemented')]:
            status, content_type, body = self.raw(request)
            fault = json.loads(body)
            self.assertEqual((code, 'application/json', [name], code),
                             (status, content_type, list(fault),
                              fault[name]['code']), request)
            self.assertTrue(fault[name]['message'], request)
        # What the server answers itself is untouched.
        self.assertEqual((200, 'text/plain', b'/a'),
                         self.raw(b'GET /a HTTP/1.1\r\nHost: x\r\n'
                                  b'Connection: close\r\n\r\n'))


def socket_connect(address):
    with socket.create_connection(address, timeout=5):
        pass


class TestWorkers(APIServerTestCase):
    """Two worker processes on PostgreSQL, where a test can hold a lock
    that keeps a request waiting and see the request wait for it."""

    def setUp(self):
        super().setUp()
        self.database = self.useFixture(
            service_fixtures.Database('postgresql'))
        self.api = self.start_api(self.config(self.database.url,
                                              workers=2, threads=4))
        self.wait_workers(self.api, 2)

    def test_two_processes_serve_concurrent_keep_alive_clients(self):
        self.assertEqual(2, len(_children(self.api.process.pid)))
        results = []

        def client():
            connection = http.client.HTTPConnection('127.0.0.1', self.port,
                                                    timeout=30)
            sockets = set()
            statuses = []
            for _ in range(20):
                response, body = self.get(connection)
                statuses.append((response.status, response.will_close,
                                 json.loads(body)))
                sockets.add(id(connection.sock))
            connection.close()
            results.append((statuses, sockets))

        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        self.assertEqual(8, len(results))
        for statuses, sockets in results:
            self.assertEqual([(200, False, {'backups': []})] * 20, statuses)
            # One TCP connection carried all 20 requests.
            self.assertEqual(1, len(sockets))

    def test_sigterm_lets_the_request_in_flight_finish(self):
        # A request that waits on a lock this test holds is in flight.
        locker = self.database.engine.connect()
        self.addCleanup(locker.close)
        transaction = locker.begin()
        locker.execute(sa.text('LOCK TABLE backups IN ACCESS EXCLUSIVE MODE'))
        answer = {}

        def slow_request():
            connection = http.client.HTTPConnection('127.0.0.1', self.port,
                                                    timeout=120)
            try:
                response, body = self.get(connection)
                answer.update(status=response.status, body=json.loads(body))
            except Exception as exc:
                answer.update(error=exc)
            finally:
                connection.close()

        request = threading.Thread(target=slow_request)
        request.start()
        self.addCleanup(request.join, 120)

        def waiting_on_lock():
            with self.database.engine.connect() as connection:
                return connection.execute(sa.text(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND "
                    "relation = 'backups'::regclass")).scalar()
        ef.wait_for(waiting_on_lock, timeout=60, interval=0.1)

        self.api.process.terminate()
        # The process serving it has begun its graceful stop with the
        # request still inside, and the other one stopped too.
        self.api.wait_log(r'API worker process \d+ stopped')
        self.api.wait_log('1 requests in flight finish first')
        self.assertTrue(self.api.running)
        transaction.rollback()

        request.join(120)
        self.assertEqual({'status': 200, 'body': {'backups': []}}, answer)
        self.assertEqual(0, self.api.process.wait(pf.STOP_TIMEOUT))
        self.assertEqual(2, len(re.findall(r'API worker process \d+ stopped',
                                           self.api.log_text())))


class TestNoauthAddress(APIServerTestCase):

    def run_command(self, argv):
        return subprocess.run(argv, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, cwd=self.dir,
                              timeout=pf.START_TIMEOUT)

    def test_api_refuses_noauth_on_any_address(self):
        result = self.run_command([pf.command('trove-backup-api'),
                                   '--config-file',
                                   self.config(host='0.0.0.0')])
        self.assertEqual(2, result.returncode, result.stderr)
        self.assertIn(REFUSED, result.stderr)
        self.assertIn('allow_noauth_on_non_loopback', result.stderr)

    def test_api_serves_noauth_on_any_address_when_forced(self):
        database = self.useFixture(service_fixtures.Database('sqlite'))
        api = self.start_api(self.config(
            database.url, host='0.0.0.0', workers=1,
            allow_noauth_on_non_loopback='true'))
        self.wait_workers(api, 1)
        connection = http.client.HTTPConnection('127.0.0.1', self.port,
                                                timeout=30)
        self.addCleanup(connection.close)
        response, body = self.get(connection)
        self.assertEqual(200, response.status, body)
        self.assertIn("Serving [api] auth_strategy = noauth on '0.0.0.0'",
                      api.log_text())
        api.process.terminate()
        self.assertEqual(0, api.process.wait(pf.STOP_TIMEOUT))

    def test_aio_refuses_noauth_on_any_address(self):
        extra = pf.write_config(os.path.join(self.dir, 'extra.conf'),
                                {'api': {'host': '0.0.0.0'}})
        result = self.run_command([
            pf.command('trove-backup-aio'), '--port', str(self.port),
            '--state-dir', os.path.join(self.dir, 'state'),
            '--config-file', extra])
        self.assertEqual(2, result.returncode, result.stderr)
        self.assertIn(REFUSED, result.stderr)
        # Refused before anything started: no database was made.
        self.assertFalse(os.path.exists(os.path.join(
            self.dir, 'state', 'trove-backup-ext.sqlite')))
