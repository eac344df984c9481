"""MariaDB/MySQL: row counts at backup time; checking a restore on a
throw-away server."""

import os
import shutil
import signal

from oslo_config import cfg
from oslo_log import log as logging
import pymysql

from trove_backup_ext.datastores import base
from trove_backup_ext.datastores import row_counts
from trove_backup_ext.datastores import server_control

LOG = logging.getLogger(__name__)

_ERRORS_SHOWN = 5
# Every table but the system schemas'.
_TABLES = ("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
           "WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND "
           "TABLE_SCHEMA NOT IN ('mysql', 'information_schema', "
           "'performance_schema', 'sys') ORDER BY 1, 2")
# What moves when a row or a table changes, replicated ones included
# (Handler_* count row events too); reads and temporary tables do not.
_WRITES = ('Handler_write', 'Handler_update', 'Handler_delete',
           'Com_create_table', 'Com_drop_table', 'Com_alter_table',
           'Com_rename_table', 'Com_truncate', 'Com_drop_db')
# Settings of the copied files that the server must be given again;
# mariabackup notes them in backup-my.cnf.
_KEPT_SETTINGS = ('innodb_page_size', 'innodb_data_file_path',
                  'innodb_undo_tablespaces', 'innodb_checksum_algorithm')


def opts(server_program):
    return [
        cfg.BoolOpt('record_row_counts', default=True,
                    help='At the end of each backup, count the rows of '
                         'every table of every non-system database (one '
                         'consistent snapshot) for verification to compare; '
                         'this reads every table once more on the live '
                         'server, and user then needs SELECT on them. A '
                         'failure to count does not fail the backup: its '
                         'verification says why nothing was compared.'),
        cfg.StrOpt('server_path',
                   help='The server program a verification starts on the '
                        'restored copy. Unset: %s on PATH, else in '
                        '/usr/sbin.' % server_program),
        cfg.StrOpt('verify_buffer_pool', default='128M',
                   help='--innodb-buffer-pool-size of the throw-away '
                        'server of a verification.'),
        cfg.IntOpt('verify_timeout', default=3600, min=1,
                   help='Seconds a verification\'s throw-away server may '
                        'run (start, recovery, CHECK TABLE of every table, '
                        'counts), after which it is killed and the '
                        'verification fails; also the bound of each query '
                        'counting rows at backup time.'),
    ]


def _quoted(name):
    return '`%s`' % name.replace('`', '``')


def _status(cursor):
    cursor.execute('SHOW GLOBAL STATUS WHERE Variable_name IN (%s)'
                   % ', '.join(["%s"] * len(_WRITES)), _WRITES)
    return dict(cursor.fetchall())


def _count_tables(cursor):
    """{db.table: rows} of every non-system table, read in cursor's
    transaction."""
    cursor.execute(_TABLES)
    counts = {}
    for schema, table in cursor.fetchall():
        cursor.execute('SELECT COUNT(*) FROM %s.%s'  # nosec B608
                       % (_quoted(schema), _quoted(table)))
        counts['%s.%s' % (schema, table)] = cursor.fetchone()[0]
    return counts


class RowCounter:
    """The row counts of the live server, read after a backup; the write
    counters read before it tell whether they are exact."""

    def __init__(self, store):
        self.store = store
        self.opts = store.opts
        self.before = None
        self.error = None

    def _connect(self):
        return self.store.server.connect(read_timeout=self.opts.verify_timeout)

    def start(self):
        if not self.opts.record_row_counts:
            return
        try:
            connection = self._connect()
            try:
                with connection.cursor() as cursor:
                    self.before = _status(cursor)
            finally:
                connection.close()
        except pymysql.err.MySQLError as exc:
            self.error = exc

    def finish(self):
        if not self.opts.record_row_counts:
            return {}
        if self.error is not None:
            return row_counts.not_recorded(self.error)
        try:
            connection = self._connect()
            try:
                with connection.cursor() as cursor:
                    # Without it the tables it may not read are not even
                    # listed to it: counts would silently lack them.
                    cursor.execute("SELECT 1 FROM information_schema."
                                   "USER_PRIVILEGES WHERE PRIVILEGE_TYPE = "
                                   "'SELECT'")
                    if not cursor.fetchall():
                        return row_counts.not_recorded(
                            'access denied: [%s] user needs SELECT ON *.* '
                            'to count rows' % self.store.name)
                    cursor.execute('START TRANSACTION WITH CONSISTENT '
                                   'SNAPSHOT, READ ONLY')
                    counts = _count_tables(cursor)
                    cursor.execute('COMMIT')
                    after = _status(cursor)
            finally:
                connection.close()
        except pymysql.err.MySQLError as exc:
            return row_counts.not_recorded(exc)
        quiet = after == self.before
        LOG.info('Counted %d rows in %d tables (%s)', sum(counts.values()),
                 len(counts), 'exact' if quiet else
                 'written during the backup: approximate')
        return row_counts.recorded(counts, quiet)


def _server_program(store):
    if store.opts.server_path:
        return store.opts.server_path
    for name in store.server_programs:
        for path in (shutil.which(name), '/usr/sbin/' + name):
            if path and os.access(path, os.X_OK):
                return path
    raise base.DatastoreError(
        reason='%s not found on PATH nor in /usr/sbin: install the server '
               'or set [%s] server_path' % (store.server_programs[0],
                                            store.name))


def _kept_settings(restored):
    """--name=value of the settings backup-my.cnf records, if any."""
    settings = []
    try:
        with open(os.path.join(restored, 'backup-my.cnf')) as cnf:
            for line in cnf:
                name, _, value = line.partition('=')
                if name.strip() in _KEPT_SETTINGS and value.strip():
                    settings.append('--%s=%s' % (name.strip(),
                                                 value.strip()))
    except OSError:
        pass
    return settings


def _scratch_dir(restored, owner):
    """A directory beside restored (in /tmp when that path is too long
    for a socket) for the socket, pid file, temporary files and error log
    of the throw-away server, which owner can reach."""
    parent = os.path.dirname(os.path.abspath(restored))
    if owner is not None:
        blocked = server_control.blocked_for(restored, owner)
        if blocked == parent and os.stat(parent).st_uid == os.geteuid():
            # The verification's own directory: traversable, not
            # listable.
            os.chmod(parent, 0o711)  # nosec B103
            blocked = server_control.blocked_for(restored, owner)
        if blocked:
            raise base.DatastoreError(
                reason='The server runs as %s, who cannot enter %s on the '
                       'way to the restored copy %s: make [agent] '
                       'scratch_dir reachable by that user'
                       % (owner.pw_name, blocked, restored))
    work = server_control.socket_directory(parent, 'tbe-mdbv-', 'mysqld.sock',
                                           owner)
    os.mkdir(os.path.join(work, 'tmp'))
    if owner is not None:
        server_control.give_to(work, owner)
    return work


def _server_command(store, restored, work, owner):
    # No option file (the host's my.cnf is the live server's), no TCP, no
    # binary log, no replica threads, no events to change the rows; no
    # grant tables: only root and the owner can reach the socket.
    command = [_server_program(store), '--no-defaults',
               '--datadir=' + restored,
               '--socket=' + os.path.join(work, 'mysqld.sock'),
               '--pid-file=' + os.path.join(work, 'mysqld.pid'),
               '--tmpdir=' + os.path.join(work, 'tmp'),
               '--log-error=' + os.path.join(work, 'error.log'),
               '--skip-networking', '--skip-log-bin', '--skip-grant-tables',
               '--skip-slave-start', '--event-scheduler=DISABLED',
               '--innodb-buffer-pool-size=' + store.opts.verify_buffer_pool]
    if os.geteuid() == 0:
        command.append('--user=' + (owner.pw_name if owner else 'root'))
    return command + _kept_settings(restored)


def verify(store, restored, metadata):
    """The checks of the copy restored at restored (see
    base.Datastore.verify)."""
    opts = store.opts
    owner = store.server.owner() if os.geteuid() == 0 else None
    work = _scratch_dir(restored, owner)
    socket = os.path.join(work, 'mysqld.sock')

    def connect():
        return pymysql.connect(unix_socket=socket, user='root',
                               connect_timeout=10,
                               read_timeout=opts.verify_timeout)

    def answers():
        try:
            connect().close()
        except pymysql.err.MySQLError as exc:
            return str(exc)
        return None

    try:
        with server_control.ScratchServer(
                _server_command(store, restored, work, owner),
                'Verification server on %s' % restored, opts.verify_timeout,
                answers, signal.SIGTERM, opts.stop_timeout,
                log_file=os.path.join(work, 'error.log')):
            connection = connect()
            try:
                return _checks(connection.cursor(), metadata)
            finally:
                connection.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _checks(cursor, metadata):
    cursor.execute(_TABLES)
    tables = ['%s.%s' % (_quoted(schema), _quoted(name))
              for schema, name in cursor.fetchall()]
    problems, counts = {}, {}
    for table in tables:
        name = table.replace('`', '')
        try:
            cursor.execute('CHECK TABLE %s' % table)
            rows = cursor.fetchall()
            status = [row[3] for row in rows if row[2] == 'status']
            said = ['%s: %s' % (row[2], row[3]) for row in rows
                    if row[2] != 'status']
            if status != ['OK'] or any(row[2] == 'error' for row in rows):
                problems[name] = '; '.join(said + status)[:120]
                continue
            cursor.execute('SELECT COUNT(*) FROM %s' % table)  # nosec B608
            counts[name] = cursor.fetchone()[0]
        except pymysql.err.MySQLError as exc:
            problems[name] = str(exc)[:120]
            if isinstance(exc, (pymysql.err.OperationalError,
                                pymysql.err.InterfaceError)) and \
                    exc.args and exc.args[0] in (2006, 2013, 0):
                problems[name] += ' (the server went away checking it)'
                break
    if problems:
        shown = sorted(problems.items())[:_ERRORS_SHOWN]
        return [{'check': 'check_table', 'ok': False,
                 'detail': 'CHECK TABLE found problems: ' + '; '.join(
                     '%s: %s' % item for item in shown)},
                {'check': 'row_counts', 'ok': False,
                 'detail': 'not compared: %d tables failed CHECK TABLE'
                           % len(problems)}]
    return [{'check': 'check_table', 'ok': True,
             'detail': 'CHECK TABLE: %d tables OK' % len(tables)},
            row_counts.check(metadata, counts)]
