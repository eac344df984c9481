"""The live MariaDB/MySQL server of an in-place restore: stop, start,
check."""

import os
import pwd
import shutil
import signal
import tempfile

from oslo_config import cfg
from oslo_log import log as logging
import pymysql

from trove_backup_ext.datastores import base
from trove_backup_ext.datastores import server_control

LOG = logging.getLogger(__name__)
# pymysql's "can't connect" (no socket, connection refused): no server.
_NO_SERVER = (2002, 2003)
# A login refused (ER_DBACCESS_DENIED, ER_ACCESS_DENIED, ER_ACCESS_DENIED_
# NO_PASSWORD): the server runs and checks logins, so it has started.
_LOGIN_REFUSED = (1044, 1045, 1698)
_QUERY_TIMEOUT = 60


def opts(admin_tool):
    return [
        cfg.ListOpt('start_command',
                    help='Command starting the server on datadir, run '
                         'without a shell: e.g. systemctl,start,mariadb. It '
                         'may return once the server runs, or stay in the '
                         'foreground as the server itself (mariadbd ...), '
                         'which is then left running in a session of its '
                         'own. Never put a secret in it: any user of the '
                         'host can read a command line. Required for a '
                         'restore into the live instance.'),
        cfg.ListOpt('stop_command',
                    help='Command stopping the server, run without a shell, '
                         'e.g. systemctl,stop,mariadb. Unset: %s shutdown '
                         'over socket (or host and port) as user, who then '
                         'needs the SHUTDOWN privilege; the password goes in '
                         'a 0600 option file, as for backups.' % admin_tool),
        cfg.StrOpt('admin_path',
                   help='%s of the default stop command; unset: found on '
                        'PATH.' % admin_tool),
        cfg.StrOpt('log_file',
                   help='The server\'s error log (its log_error), whose last '
                        'lines a failed start reports.'),
        cfg.IntOpt('start_timeout', default=300, min=1,
                   help='Seconds a started server may take to accept '
                        'connections (InnoDB recovers first).'),
        cfg.IntOpt('stop_timeout', default=300, min=1,
                   help='Seconds a stopping server may take to exit.'),
        cfg.StrOpt('restore_owner',
                   help='System user (and their group) given a restored '
                        'data directory when the agent runs as root: the '
                        'user the server runs as. Unset: the owner of '
                        'datadir, when set; else the agent\'s user.'),
    ]


class Server:
    """The server of [<group>] datadir, as the driver sees it."""

    def __init__(self, store):
        self.store = store
        self.opts = store.opts
        self.group = store.name
        # Where the server keeps its pid, learnt at the first stop: a
        # restored server that refuses our login (its users are the
        # backup's) must still be stopped before the old data goes back.
        self.pid_file = None

    def option(self, name):
        return '[%s] %s' % (self.group, name)

    # -- paths and users

    def live_data(self):
        path = server_control.live_directory(self.opts.datadir,
                                             self.option('datadir'))
        if not self.opts.start_command:
            raise base.DatastoreError(
                reason='%s is not set: the agent cannot start the server '
                       'after a restore into the live instance.'
                       % self.option('start_command'))
        if not (self.opts.socket or self.opts.host):
            raise base.DatastoreError(
                reason='Set %s or %s: the agent connects to the server to '
                       'stop and check it.' % (self.option('socket'),
                                               self.option('host')))
        owner = self.owner()
        found = os.stat(path).st_uid
        if os.geteuid() == 0 and owner and found != owner.pw_uid:
            raise base.DatastoreError(
                reason='%s %s belongs to uid %d, but %s is %s (uid %d): a '
                       'restored directory would belong to another user '
                       'than the server\'s' % (
                           self.option('datadir'), path, found,
                           self.option('restore_owner'), owner.pw_name,
                           owner.pw_uid))
        return path

    def owner(self):
        """The pwd entry restored data is given to when root, or None."""
        if self.opts.restore_owner:
            return server_control.system_user(
                self.opts.restore_owner, self.option('restore_owner'))
        if self.opts.datadir and os.path.isdir(self.opts.datadir):
            return pwd.getpwuid(os.stat(self.opts.datadir).st_uid)
        return None

    def give_to_owner(self, target):
        owner = self.owner()
        if owner is not None:
            server_control.give_to(target, owner)

    # -- the hooks

    def stop(self):
        what = 'Stopping %s' % self.group
        try:
            connection = self.connect()
        except pymysql.err.OperationalError as exc:
            if exc.args and exc.args[0] in _NO_SERVER:
                return  # stopped already
            if (exc.args and exc.args[0] in _LOGIN_REFUSED and
                    self.pid_file is not None):
                return self._stop_refusing(what)
            raise self._error('Stopping', exc)
        try:
            with connection.cursor() as cursor:
                cursor.execute('SELECT @@pid_file, @@datadir')
                pid_file, datadir = cursor.fetchone()
        finally:
            connection.close()
        self.pid_file = os.path.join(datadir, pid_file)
        pid = server_control.read_pid(self.pid_file)
        if self.opts.stop_command:
            server_control.run(list(self.opts.stop_command), what,
                               self.opts.stop_timeout + 30)
        else:
            self._admin_shutdown(what)
        if pid is not None:
            server_control.wait_gone(pid, self.opts.stop_timeout, what)

    def _stop_refusing(self, what):
        """Stop a server that refuses our login, by its pid: the stop
        command if there is one, else SIGTERM (a clean shutdown, as
        mariadb-admin shutdown)."""
        pid = server_control.read_pid(self.pid_file)
        if pid is None or server_control.process_gone(pid):
            return
        if self.opts.stop_command:
            server_control.run(list(self.opts.stop_command), what,
                               self.opts.stop_timeout + 30)
        else:
            os.kill(pid, signal.SIGTERM)
        server_control.wait_gone(pid, self.opts.stop_timeout, what)

    def _admin_shutdown(self, what):
        tool = self.opts.admin_path or next(
            filter(None, map(shutil.which, self.store.admin_candidates)),
            None)
        if not tool:
            raise base.DatastoreError(
                reason='%s not found on PATH: install it or set %s'
                       % (self.store.admin_candidates[0],
                          self.option('admin_path')))
        workdir = tempfile.mkdtemp(prefix='trove-backup-%s-' % self.group,
                                   dir=self.opts.tmp_dir)
        try:
            # --defaults-extra-file must come first.
            command = [tool, '--defaults-extra-file='
                       + self.store.write_defaults(workdir)]
            for name in ('host', 'port', 'socket'):
                if self.opts[name]:
                    command.append('--%s=%s' % (name, self.opts[name]))
            server_control.run(
                command + ['--shutdown-timeout=%d' % self.opts.stop_timeout,
                           'shutdown'], what, self.opts.stop_timeout + 30)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def start(self):
        if self._server_up():
            # A stop that failed left it running: a rollback has nothing
            # to start (a second server would find the files locked).
            LOG.info('%s already runs on %s', self.group, self.live_data())
            return
        server_control.start(
            list(self.opts.start_command),
            'Starting %s on %s' % (self.group, self.live_data()),
            self.opts.start_timeout, self._answers, self.opts.log_file)

    def health_check(self):
        """The server answers, InnoDB is up and reads its dictionary, and
        it runs on the live data directory."""
        live = self.live_data()
        try:
            connection = self.connect()
            try:
                with connection.cursor() as cursor:
                    cursor.execute('SELECT 1, @@datadir')
                    _, datadir = cursor.fetchone()
                    cursor.execute("SELECT SUPPORT FROM information_schema"
                                   ".ENGINES WHERE ENGINE = 'InnoDB'")
                    innodb = cursor.fetchone()
                    if innodb and innodb[0] in ('YES', 'DEFAULT'):
                        cursor.execute('SELECT COUNT(*) FROM '
                                       'information_schema.INNODB_SYS_TABLES')
            finally:
                connection.close()
        except pymysql.err.MySQLError as exc:
            raise self._unhealthy(live, exc)
        if not innodb or innodb[0] not in ('YES', 'DEFAULT'):
            raise self._unhealthy(live, 'InnoDB is not available (%s)'
                                  % (innodb[0] if innodb else 'absent'))
        if os.path.realpath(datadir) != os.path.realpath(live):
            raise self._unhealthy(live, 'the server answering runs on %s'
                                  % datadir)

    def _unhealthy(self, live, problem):
        return base.DatastoreError(
            reason='%s on %s failed its health check: %s%s' % (
                self.group, live, problem,
                server_control.log_tail(self.opts.log_file)))

    def _error(self, what, exc):
        return base.DatastoreError(reason='%s %s: cannot connect to the '
                                          'server: %s' % (what, self.group,
                                                          exc))

    # -- connections

    def connect(self, read_timeout=_QUERY_TIMEOUT):
        opts = self.opts
        where = ({'unix_socket': opts.socket} if opts.socket else
                 {'host': opts.host, 'port': opts.port or 3306})
        return pymysql.connect(user=opts.user, password=opts.password or '',
                               connect_timeout=10,
                               read_timeout=read_timeout,
                               write_timeout=_QUERY_TIMEOUT, **where)

    def _server_up(self):
        try:
            self.connect().close()
        except pymysql.err.OperationalError as exc:
            # Any other error (a refused login) came from a server.
            return not (exc.args and exc.args[0] in _NO_SERVER)
        return True

    def _answers(self):
        try:
            self.connect().close()
        except pymysql.err.MySQLError as exc:
            if exc.args and exc.args[0] in _LOGIN_REFUSED:
                # Waiting would not change it (restored data brings the
                # backed-up server's users): the health check names it
                # now, rather than after start_timeout of downtime.
                return None
            return str(exc)
        return None
