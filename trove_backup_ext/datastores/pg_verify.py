"""PostgreSQL: row counts at backup time; checking a restore on a
throw-away server."""

import json
import os
import shutil
import signal
import subprocess

from oslo_config import cfg
from oslo_log import log as logging

from trove_backup_ext.datastores import base
from trove_backup_ext.datastores import pg_control
from trove_backup_ext.datastores import row_counts
from trove_backup_ext.datastores import server_control

LOG = logging.getLogger(__name__)

_SCRATCH_PORT = 5432   # names the socket file only: no TCP is opened
_ERRORS_SHOWN = 5

opts = [
    cfg.BoolOpt('record_row_counts', default=True,
                help='At the end of each backup, count the rows of every '
                     'table of every database (SELECT count(*), one '
                     'snapshot per database) for verification to compare; '
                     'this reads every table once more on the live server. '
                     'user then needs to connect to every database (a '
                     'pg_hba.conf line besides "replication") and read '
                     'every table (GRANT pg_read_all_data). A failure to '
                     'count does not fail the backup: its verification '
                     'says why nothing was compared.'),
    cfg.StrOpt('verify_check', default='auto',
               choices=[('auto', 'pg_amcheck when found, else full_read'),
                        ('pg_amcheck', 'pg_amcheck --all: heap and btree '
                                       'structure of every database'),
                        ('full_read', 'SELECT count(*) of every table: '
                                      'reads every heap page')],
               help='Integrity check of a verification, run on a '
                    'throw-away server started on the restored copy.'),
    cfg.StrOpt('pg_amcheck_path',
               help='Default: pg_amcheck of the backup\'s major version in '
                    '/usr/lib/postgresql/<version>/bin, else PATH.'),
    cfg.StrOpt('postgres_path',
               help='The server program a verification starts on the '
                    'restored copy. Default: postgres of the backup\'s '
                    'major version in /usr/lib/postgresql/<version>/bin, '
                    'else PATH.'),
    cfg.StrOpt('verify_user', default='postgres',
               help='A superuser role of the backed-up cluster, which '
                    'verification connects as to its throw-away server '
                    '(trust, over a Unix socket in a directory only the '
                    'server\'s user can enter; no TCP).'),
    cfg.IntOpt('verify_timeout', default=3600, min=1,
               help='Seconds a verification\'s throw-away server may run '
                    '(start, recovery, checks), after which it is killed '
                    'and the verification fails; also the bound of the row '
                    'counting at backup time.'),
]

_DATABASES = ("SELECT datname FROM pg_database WHERE datallowconn AND NOT "
              "datistemplate ORDER BY datname")
# Unlogged tables come back empty from a backup and temporary ones are
# not in it: only permanent tables are counted. One notice per table (the
# markers survive a translated "NOTICE:"), an error caught per table so
# that it names its table.
_COUNT_TABLES = r"""
SET client_min_messages = notice;
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
DO $tbe$
DECLARE r record; n bigint;
BEGIN
  FOR r IN SELECT ns.nspname AS s, c.relname AS t
           FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
           WHERE c.relkind = 'r' AND c.relpersistence = 'p'
             AND ns.nspname NOT IN ('pg_catalog', 'information_schema')
             AND ns.nspname !~ '^pg_(toast|temp_)'
           ORDER BY 1, 2
  LOOP
    RAISE NOTICE 'tbe-table %', json_build_array(r.s, r.t);
    BEGIN
      EXECUTE format('SELECT count(*) FROM %I.%I', r.s, r.t) INTO n;
      RAISE NOTICE 'tbe-count %', json_build_array(r.s, r.t, n);
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE 'tbe-error %', json_build_array(r.s, r.t, SQLERRM);
    END;
  END LOOP;
END $tbe$;
COMMIT;
"""
# No committed or aborted transaction with an id between two equal
# snapshots: no row can have changed (DDL and DML all take an id).
_SNAPSHOT = 'SELECT txid_current_snapshot()'


class _PsqlFailed(Exception):
    """psql failed; the message says how."""


class _Client:
    """psql and pg_amcheck towards one server."""

    def __init__(self, find_tool, opts, major, env, timeout, **where):
        self.find_tool = find_tool
        self.opts = opts
        self.major = major
        self.env = env
        self.timeout = timeout
        self.where = where

    def run(self, database, sql):
        """(stdout, stderr) of sql fed to psql in database."""
        command = [self.find_tool('psql', self.opts.psql_path, self.major),
                   '-X', '-q', '-A', '-t', '-w', '-v', 'ON_ERROR_STOP=1',
                   '-f', '-', '-d', pg_control.conninfo(dbname=database,
                                                        **self.where)]
        try:
            result = subprocess.run(command, input=sql.encode(),
                                    capture_output=True, env=self.env,
                                    timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise _PsqlFailed('no answer from database %r within %d s'
                              % (database, self.timeout))
        stderr = result.stderr.decode('utf-8', 'replace')
        if result.returncode:
            raise _PsqlFailed('database %r: %s' % (
                database, stderr.strip()[-1000:]))
        return result.stdout.decode('utf-8', 'replace'), stderr

    def value(self, database, sql):
        return self.run(database, sql)[0].strip()

    def databases(self, maintenance):
        return self.value(maintenance, _DATABASES).splitlines()

    def count_tables(self, database):
        """({table: rows}, {table: error}, table being read when the
        session died or None) of database; a table is db.schema.name."""
        try:
            _, stderr = self.run(database, _COUNT_TABLES)
            died = None
        except _PsqlFailed as exc:
            stderr, died = str(exc), str(exc)
        counts, errors, reading = {}, {}, None
        for line in stderr.splitlines():
            for marker in ('tbe-table ', 'tbe-count ', 'tbe-error '):
                at = line.find(marker)
                if at < 0:
                    continue
                values = json.loads(line[at + len(marker):])
                name = '.'.join([database] + values[:2])
                if marker == 'tbe-table ':
                    reading = name
                elif marker == 'tbe-count ':
                    counts[name], reading = values[2], None
                else:
                    errors[name], reading = values[2], None
                break
        if died is not None:
            errors[reading or database] = died
        return counts, errors


class RowCounter:
    """The row counts of the live server, read after a backup; the
    snapshot read before it tells whether they are exact."""

    def __init__(self, opts, find_tool):
        self.opts = opts
        env = dict(os.environ, LC_ALL='C',
                   PGCONNECT_TIMEOUT=str(opts.connect_timeout))
        env.pop('PGPASSWORD', None)
        if opts.password:
            env['PGPASSWORD'] = opts.password
        self.client = _Client(find_tool, opts, None, env,
                              opts.verify_timeout, host=opts.host,
                              port=opts.port, user=opts.user)
        self.before = None
        self.error = None

    def start(self):
        """Before the backup starts."""
        if not self.opts.record_row_counts:
            return
        try:
            self.before = self.client.value(self.opts.check_database,
                                            _SNAPSHOT)
        except (_PsqlFailed, base.DatastoreError) as exc:
            self.error = exc

    def finish(self):
        """After the backup: the metadata entries of the counts."""
        if not self.opts.record_row_counts:
            return {}
        if self.error is not None:
            return row_counts.not_recorded(self.error)
        try:
            counts = {}
            for database in self.client.databases(self.opts.check_database):
                found, errors = self.client.count_tables(database)
                if errors:
                    return row_counts.not_recorded(_describe(errors))
                counts.update(found)
            after = self.client.value(self.opts.check_database, _SNAPSHOT)
        except (_PsqlFailed, base.DatastoreError) as exc:
            return row_counts.not_recorded(exc)
        LOG.info('Counted %d rows in %d tables (%s)', sum(counts.values()),
                 len(counts), 'exact' if after == self.before else
                 'written during the backup: approximate')
        return row_counts.recorded(counts, after == self.before)


def _describe(errors):
    # The details of a verification keep 2048 characters in all.
    return '; '.join('%s: %s' % (name, str(error)[:120]) for name, error in
                     sorted(errors.items())[:_ERRORS_SHOWN]) + (
        ' (and %d more)' % (len(errors) - _ERRORS_SHOWN)
        if len(errors) > _ERRORS_SHOWN else '')


def _scratch_dir(restored, owner):
    """A directory for the socket and the pg_hba.conf of the throw-away
    server, beside restored (in /tmp when that path is too long for a
    socket); owner's, made reachable by them."""
    parent = os.path.dirname(os.path.abspath(restored))
    if owner is not None:
        blocked = server_control.blocked_for(restored, owner)
        if blocked == parent and os.stat(parent).st_uid == os.geteuid():
            # The verification's own temporary directory (0700):
            # traversable, not listable.
            os.chmod(parent, 0o711)  # nosec B103
            blocked = server_control.blocked_for(restored, owner)
        if blocked:
            raise base.DatastoreError(
                reason='The PostgreSQL server runs as %s, who cannot enter '
                       '%s on the way to the restored copy %s: make [agent] '
                       'scratch_dir reachable by that user' % (
                           owner.pw_name, blocked, restored))
    work = server_control.socket_directory(
        parent, 'tbe-pgv-', '.s.PGSQL.%d' % _SCRATCH_PORT, owner)
    with open(os.path.join(work, 'pg_hba.conf'), 'w') as hba:
        hba.write('local all all trust\n')
    if owner is not None:
        server_control.give_to(work, owner)
    return work


def _server_command(postgres, restored, work):
    # Nothing of the backed-up configuration may reach outside the copy:
    # no TCP, no archiving, no streaming, no waiting for a synchronous
    # standby; fsync off, the copy is thrown away.
    settings = {'listen_addresses': '', 'port': _SCRATCH_PORT,
                'unix_socket_directories': work,
                'hba_file': os.path.join(work, 'pg_hba.conf'),
                'archive_mode': 'off', 'archive_command': '',
                'restore_command': '', 'primary_conninfo': '',
                'primary_slot_name': '', 'synchronous_standby_names': '',
                'autovacuum': 'off', 'fsync': 'off',
                'logging_collector': 'off', 'log_destination': 'stderr'}
    command = [postgres, '-D', restored]
    for name, value in settings.items():
        command += ['-c', '%s=%s' % (name, value)]
    return command


def verify(opts, server, find_tool, restored, metadata):
    """The checks of the copy restored at restored (see
    base.Datastore.verify)."""
    major = metadata.get('server_version')
    postgres = find_tool('postgres', opts.postgres_path, major)
    amcheck = None
    if opts.verify_check != 'full_read':
        try:
            amcheck = find_tool('pg_amcheck', opts.pg_amcheck_path, major)
        except base.DatastoreError:
            if opts.verify_check == 'pg_amcheck':
                raise
    owner = server.owner() if os.geteuid() == 0 else None
    for name in ('standby.signal', 'recovery.signal'):
        # The copy starts as a primary of its own, never a standby.
        if os.path.exists(os.path.join(restored, name)):
            os.unlink(os.path.join(restored, name))
    work = _scratch_dir(restored, owner)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith('PG')}
    env['LC_ALL'] = 'C'
    client = _Client(find_tool, opts, major, env, opts.verify_timeout,
                     host=work, port=_SCRATCH_PORT, user=opts.verify_user)

    def answers():
        try:
            client.value('template1', 'SELECT 1')
        except _PsqlFailed as exc:
            return str(exc)
        return None

    try:
        with server_control.ScratchServer(
                _server_command(postgres, restored, work),
                'Verification server on %s' % restored, opts.verify_timeout,
                answers, signal.SIGINT, opts.stop_timeout, user=owner,
                env=env):
            return _checks(client, amcheck, metadata)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _checks(client, amcheck, metadata):
    databases = client.databases('template1')
    checks = []
    if amcheck:
        checks.append(_amcheck(client, amcheck, len(databases)))
    counts, errors = {}, {}
    for database in databases:
        found, failed = client.count_tables(database)
        counts.update(found)
        errors.update(failed)
    if errors:
        checks.append({'check': 'full_read', 'ok': False,
                       'detail': 'tables that cannot be read: '
                                 + _describe(errors)})
    elif not amcheck:
        checks.append({'check': 'integrity_check', 'ok': True,
                       'detail': 'full read (SELECT count(*) of every '
                                 'table; pg_amcheck not used): %d tables of '
                                 '%d databases read' % (len(counts),
                                                        len(databases))})
    if errors:
        checks.append({'check': 'row_counts', 'ok': False,
                       'detail': 'not compared: %d tables cannot be read'
                                 % len(errors)})
    else:
        checks.append(row_counts.check(metadata, counts))
    return checks


def _amcheck(client, tool, databases):
    command = [tool, '--all', '--install-missing', '--no-password',
               '--maintenance-db=template1', '-h', client.where['host'],
               '-p', str(client.where['port']), '-U', client.where['user']]
    try:
        result = subprocess.run(command, stdin=subprocess.DEVNULL,
                                capture_output=True, env=client.env,
                                timeout=client.timeout)
    except subprocess.TimeoutExpired:
        return {'check': 'integrity_check', 'ok': False,
                'detail': 'pg_amcheck did not finish within %d s'
                          % client.timeout}
    output = (result.stdout + result.stderr).decode('utf-8', 'replace')
    if result.returncode == 0 and not output.strip():
        return {'check': 'integrity_check', 'ok': True,
                'detail': 'pg_amcheck --all (heap and btree): no '
                          'corruption in %d databases' % databases}
    return {'check': 'integrity_check', 'ok': False,
            'detail': 'pg_amcheck --all (heap and btree) exited %d: %s' % (
                result.returncode, output.strip()[:700])}
