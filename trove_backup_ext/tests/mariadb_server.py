"""A throwaway mariadbd on its own datadir, port and socket, for tests."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import fixtures
import pymysql

MARIADBD = os.environ.get('TBE_TEST_MARIADBD', '/usr/sbin/mariadbd')
INSTALL_DB = os.environ.get('TBE_TEST_MARIADB_INSTALL_DB',
                            'mariadb-install-db')
START_TIMEOUT = 60
STOP_TIMEOUT = 30


def _free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


class MariaDBServer(fixtures.Fixture):
    """mariadbd as user (root by default) on datadir (a fresh one when
    None), stopped and its files removed at cleanup, even when the test
    fails; a server a driver started again on the same files too.

    --no-defaults everywhere: the machine's my.cnf describes the shared
    server (its port, socket, pid file), which this one must not touch.
    """

    def __init__(self, datadir=None, user='root'):
        super().__init__()
        self.given_datadir = datadir
        self.user = user

    def _setUp(self):
        # Short: a unix socket path must fit in 108 bytes. In /tmp: the
        # test's own temporary directory is root's alone.
        self.base = tempfile.mkdtemp(prefix='tbe-mdb-', dir='/tmp')
        self.addCleanup(shutil.rmtree, self.base, ignore_errors=True)
        if self.user != 'root':
            shutil.chown(self.base, self.user, self.user)
        self.datadir = self.given_datadir or os.path.join(self.base, 'data')
        self.socket = os.path.join(self.base, 'mysqld.sock')
        self.port = _free_port()
        self.log = os.path.join(self.base, 'error.log')
        self.pid_file = os.path.join(self.base, 'mysqld.pid')
        if self.given_datadir is None:
            self._install()
        self._start()

    def _install(self):
        result = subprocess.run(
            [INSTALL_DB, '--no-defaults', '--datadir=' + self.datadir,
             '--user=' + self.user,
             '--auth-root-authentication-method=normal',
             '--skip-test-db'],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=START_TIMEOUT)
        if result.returncode:
            raise RuntimeError('mariadb-install-db failed: %s'
                               % result.stdout.decode()[-2000:])

    def command(self):
        """The command line of this server: a start command."""
        return [MARIADBD, '--no-defaults', '--datadir=' + self.datadir,
                '--user=' + self.user, '--port=%d' % self.port,
                '--bind-address=127.0.0.1', '--socket=' + self.socket,
                '--pid-file=' + self.pid_file, '--log-error=' + self.log,
                '--skip-name-resolve', '--innodb-buffer-pool-size=64M']

    def _start(self):
        self.process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self.addCleanup(self._stop_restarted)
        self.addCleanup(self._stop)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.connect().close()
                return
            except pymysql.err.OperationalError:
                if self.process.poll() is not None:
                    raise RuntimeError('mariadbd exited (%s): %s' % (
                        self.process.returncode, self.error_log()))
                if time.monotonic() > deadline:
                    raise RuntimeError('mariadbd did not answer within '
                                       '%d s: %s' % (START_TIMEOUT,
                                                     self.error_log()))
                time.sleep(0.2)

    def _stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _stop_restarted(self):
        """Stop a server started on these files by someone else."""
        try:
            with open(self.pid_file) as pid_file:
                pid = int(pid_file.read().strip())
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            return
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with open('/proc/%d/stat' % pid, 'rb') as stat:
                    if stat.read().rsplit(b')', 1)[-1].split()[0] == b'Z':
                        return
            except OSError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    def error_log(self, lines=20):
        try:
            with open(self.log, errors='replace') as log:
                return ''.join(log.readlines()[-lines:])
        except OSError:
            return ''

    def connect(self, user='root', password='', database=None):
        return pymysql.connect(unix_socket=self.socket, user=user,
                               password=password, database=database,
                               autocommit=True, connect_timeout=5)

    def execute(self, sql, args=None):
        """Run one statement as root; return its rows."""
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return cursor.fetchall()
        finally:
            connection.close()
