"""Fixtures: throwaway PostgreSQL servers in temporary directories."""

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile

import fixtures

# A backup reads a whole cluster and needs a replication line in
# pg_hba.conf, which the machine's main cluster does not have: each test
# gets a cluster of its own instead, on a free port, removed afterwards.
BACKUP_ROLE = 'tbe_backup'
_TIMEOUT = 60


def bin_dir():
    found = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'))
    if found:
        return os.path.dirname(found[-1])
    return os.path.dirname(shutil.which('initdb') or '/usr/bin/initdb')


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def _as_postgres():
    # PostgreSQL refuses to run as root: when root, run as postgres.
    if os.geteuid() == 0:
        return {'user': 'postgres', 'group': 'postgres', 'extra_groups': []}
    return {}


def run(command, **kwargs):
    """Run a command (as postgres when root); its stdout, or an error
    carrying its output."""
    if 'input' not in kwargs:
        kwargs['stdin'] = subprocess.DEVNULL
    result = subprocess.run(command, capture_output=True, text=True,
                            timeout=_TIMEOUT, **dict(_as_postgres(), **kwargs))
    if result.returncode:
        raise RuntimeError('%s exited %d:\n%s%s' % (
            ' '.join(command), result.returncode, result.stdout,
            result.stderr))
    return result.stdout


def give_to_postgres(path):
    if os.geteuid() == 0:
        shutil.chown(path, 'postgres', 'postgres')


class WorkDir(fixtures.Fixture):
    """A temporary directory the postgres user owns, removed after."""

    def _setUp(self):
        # Not under TMPDIR: oslotest makes that a root-only directory the
        # postgres user cannot enter.
        self.path = tempfile.mkdtemp(prefix='tbe-pg-', dir='/tmp')
        self.addCleanup(shutil.rmtree, self.path, ignore_errors=True)
        give_to_postgres(self.path)


class Server(fixtures.Fixture):
    """A postmaster on datadir, on a free TCP port of 127.0.0.1 and a Unix
    socket of its own; stopped (killed if need be) on cleanup."""

    def __init__(self, datadir, socket_dir):
        super().__init__()
        self.datadir = datadir
        self.socket_dir = socket_dir
        self.bin = bin_dir()

    def _setUp(self):
        self.port = free_port()
        self.log = self.datadir + '.log'
        self.addCleanup(self._stop)
        options = ('-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off'
                   % (self.port, self.socket_dir))
        try:
            run([os.path.join(self.bin, 'pg_ctl'), '-D', self.datadir, '-o',
                 options, '-l', self.log, '-w', '-t', str(_TIMEOUT),
                 'start'])
        except RuntimeError as exc:
            raise RuntimeError('%s\n%s' % (exc, self._log_tail()))

    def persist_settings(self):
        """Write the port, socket and fsync settings given on pg_ctl's
        command line into postgresql.conf, so that a plain pg_ctl -D
        datadir start (the driver's) starts the server as this fixture
        did, and the data's backups carry them too."""
        with open(os.path.join(self.datadir, 'postgresql.conf'), 'a') as pc:
            pc.write("port = %d\nunix_socket_directories = '%s'\n"
                     "listen_addresses = '127.0.0.1'\nfsync = off\n"
                     % (self.port, self.socket_dir))

    def _log_tail(self):
        try:
            with open(self.log) as log:
                return log.read()[-3000:]
        except OSError:
            return ''

    def _stop(self):
        try:
            run([os.path.join(self.bin, 'pg_ctl'), '-D', self.datadir,
                 '-m', 'immediate', '-w', 'stop'])
        except (RuntimeError, subprocess.TimeoutExpired):
            self._kill()

    def _kill(self):
        try:
            with open(os.path.join(self.datadir, 'postmaster.pid')) as pid:
                os.kill(int(pid.readline()), signal.SIGKILL)
        except (OSError, ValueError):
            pass

    def psql(self, sql, database='postgres'):
        """Run sql over the Unix socket as postgres; unaligned output."""
        # On stdin, not argv: the SQL may hold a password.
        return run([os.path.join(self.bin, 'psql'), '-X', '-q', '-A', '-t',
                    '-v', 'ON_ERROR_STOP=1', '-h', self.socket_dir,
                    '-p', str(self.port), '-U', 'postgres', '-d', database],
                   input=sql).strip()


class Cluster(fixtures.Fixture):
    """A new cluster (initdb) and its running server. Unix socket: trust
    for postgres; TCP: BACKUP_ROLE with password (scram), which may make
    replication connections, and nobody else."""

    def __init__(self, password):
        super().__init__()
        self.password = password

    def _setUp(self):
        self.workdir = self.useFixture(WorkDir()).path
        self.datadir = os.path.join(self.workdir, 'data')
        bindir = bin_dir()
        run([os.path.join(bindir, 'initdb'), '-D', self.datadir,
             '-U', 'postgres', '--auth-local=trust',
             '--auth-host=scram-sha-256', '--no-sync'],
            cwd=self.workdir)
        with open(os.path.join(self.datadir, 'pg_hba.conf'), 'w') as hba:
            hba.write('local all postgres trust\n'
                      'host replication %s 127.0.0.1/32 scram-sha-256\n'
                      % BACKUP_ROLE)
        with open(os.path.join(self.datadir, 'postgresql.conf'), 'a') as pc:
            # Pages change only when the test changes rows, so what an
            # incremental stores is measured, not autovacuum's timing.
            pc.write('autovacuum = off\n')
        self.server = self.useFixture(Server(self.datadir, self.workdir))
        self.port = self.server.port
        self.psql("CREATE ROLE %s LOGIN REPLICATION PASSWORD '%s'"
                  % (BACKUP_ROLE, self.password))

    def psql(self, sql, database='postgres'):
        return self.server.psql(sql, database)


# A sample table for backup tests: its digest, how to fill it and how to
# change 1% of it (a contiguous range, plus as many new rows).
ITEMS_DIGEST = ("SELECT count(*) || ':' || md5(string_agg(t::text, ',' "
                "ORDER BY id)) FROM items t")


def load_items(target, rows):
    """Create and fill items on target (anything with psql(sql))."""
    target.psql(
        "CREATE TABLE items (id int PRIMARY KEY, name text, qty int, "
        "payload text);"
        "INSERT INTO items SELECT i, 'item ' || i, i %% 97, "
        "md5(i::text) || md5((i * 7)::text) "
        "FROM generate_series(1, %d) i;"
        # A table at rest has its hint bits set; without this the first
        # read after the full backup rewrites every page, and the
        # incremental stores them all.
        "VACUUM ANALYZE items;" % rows)


def change_items(target, rows):
    """Change 1% of the rows (one range) and add 1% more."""
    target.psql(
        "UPDATE items SET qty = qty + 1000, name = name || ' changed' "
        "WHERE id BETWEEN 20001 AND %d;"
        "INSERT INTO items SELECT i, 'new ' || i, 1, md5(i::text) "
        "FROM generate_series(%d, %d) i;"
        % (20000 + rows // 100, rows + 1, rows + rows // 100))
