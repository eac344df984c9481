"""The live PostgreSQL server of an in-place restore: stop, start, check."""

import os
import subprocess
import time

from oslo_config import cfg
from oslo_log import log as logging

from trove_backup_ext.datastores import base
from trove_backup_ext.datastores import server_control

LOG = logging.getLogger(__name__)
OPTION = '[postgresql] data_directory'

opts = [
    cfg.StrOpt('data_directory',
               help='The live data directory (PGDATA) of the server, which '
                    'a restore into the live instance replaces whole. It '
                    'must not be a mount point (it is renamed), and its '
                    'parent must have room for the restored copy beside '
                    'it. Unset: no restore into the live instance.'),
    cfg.ListOpt('start_command',
                help='Command starting the server on data_directory, run '
                     'without a shell, e.g. systemctl,start,postgresql@15-'
                     'main. It may return once the server runs or stay in '
                     'the foreground. Never put a secret in it: any user of '
                     'the host can read a command line. Unset: pg_ctl -D '
                     '<data_directory> -l <log_file> -w -t <start_timeout> '
                     'start, run as restore_owner when the agent is root.'),
    cfg.ListOpt('stop_command',
                help='Command stopping the server, run without a shell, '
                     'e.g. systemctl,stop,postgresql@15-main. Unset: pg_ctl '
                     '-D <data_directory> -w -t <stop_timeout> -m fast stop, '
                     'run as restore_owner when the agent is root.'),
    cfg.StrOpt('log_file',
               help='The server log, whose last lines a failed start '
                    'reports. Unset: <data_directory>.log, which the default '
                    'start command gives pg_ctl -l.'),
    cfg.StrOpt('pg_ctl_path',
               help='Default: pg_ctl of the data directory\'s major version '
                    'in /usr/lib/postgresql/<version>/bin, else PATH.'),
    cfg.StrOpt('psql_path',
               help='Default: psql on PATH, else the newest in '
                    '/usr/lib/postgresql/<version>/bin.'),
    cfg.IntOpt('start_timeout', default=300, min=1,
               help='Seconds a started server may take to accept '
                    'connections and finish recovery (a restored directory '
                    'replays its WAL first).'),
    cfg.IntOpt('stop_timeout', default=300, min=1,
               help='Seconds a stopping server may take to exit.'),
    cfg.StrOpt('check_database', default='postgres',
               help='Database the health check after a restore connects to '
                    'first; it then runs a query in every database that '
                    'allows connections, as user (pg_hba.conf must let it '
                    'connect to them, not only for replication).'),
]


def conninfo(**values):
    # libpq syntax: a quoted value may hold spaces, quotes, '='.
    return ' '.join("%s='%s'" % (key, str(value).replace('\\', '\\\\')
                                 .replace("'", "\\'"))
                    for key, value in values.items() if value is not None)


class _Unavailable(Exception):
    """psql could not run a query: the server is not there (yet)."""


class Server:
    """The server of [postgresql] data_directory, as the driver sees it."""

    def __init__(self, opts, find_tool):
        self.opts = opts
        self.find_tool = find_tool

    # -- paths and users

    def live_data(self):
        path = server_control.live_directory(self.opts.data_directory,
                                             OPTION)
        if os.geteuid() == 0:
            owner = self.owner()
            found = os.stat(path).st_uid
            if found != owner.pw_uid:
                raise base.DatastoreError(
                    reason='%s %s belongs to uid %d, but [postgresql] '
                           'restore_owner is %s (uid %d): a restored '
                           'directory would belong to another user than '
                           'the server\'s' % (OPTION, path, found,
                                              owner.pw_name, owner.pw_uid))
        return path

    def owner(self):
        return server_control.system_user(self.opts.restore_owner,
                                          '[postgresql] restore_owner')

    def log_file(self):
        return self.opts.log_file or self.live_data() + '.log'

    def _major(self):
        """The major version of the live data, or None."""
        try:
            with open(os.path.join(self.live_data(), 'PG_VERSION')) as v:
                return v.read().strip()
        except OSError:
            return None

    def _pg_ctl(self, *arguments):
        """The default command, and the user it runs as when root."""
        live = self.live_data()
        tool = self.find_tool('pg_ctl', self.opts.pg_ctl_path, self._major())
        owner = self.owner() if os.geteuid() == 0 else None
        return [tool, '-D', live] + list(arguments), owner

    def _running_pid(self):
        pid = server_control.read_pid(os.path.join(self.live_data(),
                                                   'postmaster.pid'))
        if pid is None or server_control.process_gone(pid):
            return None
        return pid

    # -- the hooks

    def stop(self):
        pid = self._running_pid()
        if pid is None:
            return
        if self.opts.stop_command:
            command, user = list(self.opts.stop_command), None
        else:
            command, user = self._pg_ctl(
                '-w', '-t', str(self.opts.stop_timeout), '-m', 'fast',
                'stop')
        # The command's own wait, plus a margin to report it ourselves.
        server_control.run(command, 'Stopping PostgreSQL',
                           self.opts.stop_timeout + 30, user=user,
                           env=self._env())
        server_control.wait_gone(pid, self.opts.stop_timeout,
                                 'Stopping PostgreSQL')

    def start(self):
        if self._running_pid() is not None:
            # A stop that failed left it running: a rollback has nothing
            # to start (a second postmaster would refuse the directory).
            LOG.info('PostgreSQL already runs on %s', self.live_data())
            return
        if self.opts.start_command:
            command, user = list(self.opts.start_command), None
        else:
            command, user = self._pg_ctl(
                '-l', self.log_file(), '-w', '-t',
                str(self.opts.start_timeout), 'start')
        server_control.start(
            command, 'Starting PostgreSQL on %s' % self.live_data(),
            self.opts.start_timeout, self._answers, self.log_file(),
            user=user, env=self._env())

    def health_check(self):
        """The server is out of recovery and every database that allows
        connections answers a catalog query."""
        deadline = time.monotonic() + self.opts.start_timeout
        while True:
            try:
                in_recovery = self._query(self.opts.check_database,
                                          'SELECT pg_is_in_recovery()')
            except _Unavailable as exc:
                raise self._unhealthy(exc)
            if in_recovery == 'f':
                break
            if time.monotonic() > deadline:
                raise self._unhealthy(
                    'it is still in recovery %d s after starting (a '
                    'standby.signal or recovery.signal file?)'
                    % self.opts.start_timeout)
            time.sleep(1)
        try:
            names = self._query(
                self.opts.check_database,
                'SELECT datname FROM pg_database WHERE datallowconn '
                'ORDER BY datname', separator_zero=True)
            for name in filter(None, names.split('\0')):
                # Reads the database's own catalog: its files are there.
                self._query(name, 'SELECT count(*) FROM pg_class')
        except _Unavailable as exc:
            raise self._unhealthy(exc)

    def _unhealthy(self, problem):
        return base.DatastoreError(
            reason='PostgreSQL on %s failed its health check: %s'
                   % (self.live_data(), problem))

    # -- queries, through psql

    def _env(self):
        env = dict(os.environ, LC_ALL='C',
                   PGCONNECT_TIMEOUT=str(self.opts.connect_timeout))
        env.pop('PGPASSWORD', None)
        if self.opts.password:
            env['PGPASSWORD'] = self.opts.password
        return env

    def _answers(self):
        try:
            self._query(self.opts.check_database, 'SELECT 1')
        except _Unavailable as exc:
            if self._accepting():
                # It has started but refuses our login (restored data
                # brings the backed-up cluster's roles): waiting would not
                # change that; the health check names it at once.
                return None
            return str(exc)
        return None

    def _accepting(self):
        """Whether pg_isready, which does not log in, finds the server
        accepting connections (not starting up or in recovery); False
        where there is no pg_isready."""
        try:
            tool = self.find_tool('pg_isready', None, self._major())
        except base.DatastoreError:
            return False
        opts = self.opts
        try:
            result = subprocess.run(
                [tool, '-q', '-t', str(opts.connect_timeout), '-d',
                 conninfo(host=opts.host, port=opts.port, user=opts.user,
                          dbname=opts.check_database)],
                stdin=subprocess.DEVNULL, capture_output=True,
                env=self._env(), timeout=opts.connect_timeout + 60)
        except subprocess.TimeoutExpired:
            return False
        return result.returncode == 0

    def _query(self, database, sql, separator_zero=False):
        """The unaligned result of sql in database, or _Unavailable."""
        opts = self.opts
        command = [self.find_tool('psql', opts.psql_path), '-X', '-q', '-A',
                   '-t', '-w', '-v', 'ON_ERROR_STOP=1', '-c', sql, '-d',
                   conninfo(host=opts.host, port=opts.port,
                            user=opts.user, dbname=database)]
        if separator_zero:
            command.insert(1, '--record-separator-zero')
        try:
            result = subprocess.run(
                command, stdin=subprocess.DEVNULL, capture_output=True,
                env=self._env(), timeout=opts.connect_timeout + 60)
        except subprocess.TimeoutExpired:
            raise _Unavailable('%r in database %r did not answer within '
                               '%d s' % (sql, database,
                                         opts.connect_timeout + 60))
        if result.returncode:
            raise _Unavailable('%r in database %r: %s' % (
                sql, database,
                result.stderr.decode('utf-8', 'replace').strip()[-1000:]))
        return result.stdout.decode('utf-8', 'replace').strip()
