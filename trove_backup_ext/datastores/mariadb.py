"""The mariadb and mysql datastores: mariabackup, native incrementals."""

import collections
import os
import shutil
import signal
import subprocess
import tempfile
import threading

from oslo_config import cfg
from oslo_log import log as logging

from trove_backup_ext.datastores import base
from trove_backup_ext.datastores import mariadb_control
from trove_backup_ext.datastores import mariadb_link_files
from trove_backup_ext.datastores import mariadb_verify
from trove_backup_ext.datastores import xbstream
from trove_backup_ext import opt_groups

LOG = logging.getLogger(__name__)

MEMBER = 'backup.xbstream'
OK_LINE = 'completed OK!'
CHECKPOINTS = 'xtrabackup_checkpoints'
# In a backup's metadata: its stream held no link file (CheckedStream).
# Only backups with it are parents: older ones may hold one.
LINK_FILES_CHECKED = 'link_files_checked'
TAIL_LINES = 15
STOP_GRACE = 10       # seconds a tool gets to stop on SIGTERM
FINISH_TIMEOUT = 300  # seconds a tool gets to exit once its stream ended


def _opts(tool, stream_tool, admin_tool, server, checkpoint,
          in_process=False):
    opts = [
        cfg.HostAddressOpt('host', help='Server address; unset: socket.'),
        cfg.PortOpt('port', help='Server port, with host.'),
        cfg.StrOpt('socket', help='Server unix socket.'),
        cfg.StrOpt('user', help='Backup user: RELOAD, PROCESS, LOCK TABLES '
                                'and BINLOG MONITOR (MariaDB), BACKUP_ADMIN '
                                '(MySQL).'),
        cfg.StrOpt('password', secret=True,
                   help='Password of the backup user, handed to the tool in '
                        'a 0600 defaults file removed after the backup.'),
        cfg.StrOpt('datadir',
                   help='Data directory of the server, read directly by the '
                        'tool: the agent runs on the database host. Unset: '
                        'what the server option files say.'),
        cfg.StrOpt('%s_path' % tool, help='Unset: found on PATH.'),
        cfg.StrOpt('%s_path' % stream_tool, help='Unset: found on PATH.'),
        cfg.IntOpt('parallel', default=1, min=1,
                   help='Threads copying (backup) or writing (restore) '
                        'data files.'),
        cfg.StrOpt('prepare_memory',
                   help='--use-memory of the prepare step of a restore.'),
        cfg.StrOpt('tmp_dir',
                   help='Directory of the small per-backup files (defaults '
                        'file, LSN record); unset: the system default.'),
    ]
    if in_process:
        opts.append(cfg.BoolOpt(
            'extract_in_process', default=True,
            help='A restore extracts the stream in the agent (xbstream.py) '
                 'instead of piping it to %s -x: the same files, one '
                 'process and one copy fewer. False: the tool.'
                 % stream_tool))
    if checkpoint:
        opts.append(cfg.BoolOpt(
            'checkpoint_before_backup', default=True,
            help='Make the server write an InnoDB checkpoint as the backup '
                 'starts (--innodb-log-checkpoint-now; the backup user then '
                 'also needs SUPER, or the tool silently skips it). An '
                 'incremental holds every page changed since its parent\'s '
                 'checkpoint, which on a quiet server can be long ago. '
                 'Costs a burst of page flushing.'))
    return (opts + mariadb_control.opts(admin_tool) +
            mariadb_verify.opts(server))


mariadb_group = cfg.OptGroup('mariadb', title='MariaDB datastore')
mariadb_opts = _opts('mariabackup', 'mbstream', 'mariadb-admin', 'mariadbd',
                     checkpoint=True, in_process=True)
mysql_group = cfg.OptGroup('mysql', title='MySQL datastore (xtrabackup)')
mysql_opts = _opts('xtrabackup', 'xbstream', 'mysqladmin', 'mysqld',
                   checkpoint=False)


def register_opts(conf):
    opt_groups.register(conf, mariadb_group, mariadb_opts)
    opt_groups.register(conf, mysql_group, mysql_opts)


def list_opts():
    return {mariadb_group: mariadb_opts, mysql_group: mysql_opts}


def _option_value(value):
    # Option-file syntax: quoted, with backslash escapes, so that '#',
    # quotes or spaces in a password survive.
    for char, escaped in (('\\', '\\\\'), ('"', '\\"'), ('\n', '\\n'),
                          ('\r', '\\r'), ('\t', '\\t')):
        value = value.replace(char, escaped)
    return '"%s"' % value


class _StderrTail(threading.Thread):
    """Drains a tool's stderr (so it never blocks on a full pipe), keeping
    the last lines for errors and whether the success line appeared."""

    def __init__(self, stream, secrets=()):
        super().__init__(daemon=True)
        self.stream = stream
        self.secrets = [secret for secret in secrets if secret]
        self.lines = collections.deque(maxlen=TAIL_LINES)
        self.ok = False
        self.start()

    def run(self):
        with self.stream:
            for raw in iter(self.stream.readline, b''):
                line = raw.decode('utf-8', 'replace').rstrip()
                self.ok = self.ok or OK_LINE in line
                self.lines.append(line)

    def text(self):
        text = '\n'.join(self.lines) or '(no output)'
        for secret in self.secrets:
            text = text.replace(secret, '***')
        return text


def _spawn(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
           cwd=None, secrets=()):
    """Start a tool in its own session (so that stopping it stops what it
    started); return it and its stderr tail."""
    LOG.debug('Running %s', ' '.join(command))
    try:
        process = subprocess.Popen(command, stdin=stdin, stdout=stdout,
                                   stderr=subprocess.PIPE, cwd=cwd,
                                   start_new_session=True)
    except OSError as exc:
        raise base.DatastoreError(reason='cannot run %s: %s'
                                  % (command[0], exc))
    return process, _StderrTail(process.stderr, secrets)


def _stop(process):
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            process.wait()


def _check(process, tail, what, need_ok=True, timeout=None):
    """Wait for a tool; DatastoreError with its last lines unless it exited
    0 (and, when need_ok, said it completed OK)."""
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        code = 'none: still running %s s after its stream ended' % timeout
    finally:
        _stop(process)
    tail.join(STOP_GRACE)  # its last line may still be in the pipe
    if code != 0 or (need_ok and not tail.ok):
        raise base.DatastoreError(reason='%s failed (exit %s): %s'
                                  % (what, code, tail.text()))


class _Session(base.BackupSession):
    """One run of the backup tool; its stdout is the single member."""

    def __init__(self, store, parent_metadata):
        self.store = store
        self.opts = store.opts
        self.process = None
        if (parent_metadata is not None
                and not parent_metadata.get(LINK_FILES_CHECKED)):
            # Its chain would hold what its stream held: maybe a link
            # file, which no restore takes.
            raise base.DatastoreError(
                reason='The parent backup was taken before backups were '
                       'checked for the link files of tables created with '
                       'DATA DIRECTORY, which no restore takes: an '
                       'incremental on it may never be restored. Take a '
                       'full backup.')
        # Before the copy: what the server wrote until the counts is
        # measured from here.
        self.counter = mariadb_verify.RowCounter(store)
        self.counter.start()
        self.workdir = tempfile.mkdtemp(prefix='trove-backup-%s-'
                                        % store.name, dir=self.opts.tmp_dir)
        try:
            self.lsndir = os.path.join(self.workdir, 'lsn')
            os.mkdir(self.lsndir)
            command = self._command(store.write_defaults(self.workdir),
                                    parent_metadata)
            self.process, self.tail = _spawn(
                command, stdout=subprocess.PIPE, cwd=self.workdir,
                secrets=[self.opts.password])
            base.widen_pipe(self.process.stdout)
            self.stream = mariadb_link_files.CheckedStream(
                self.process.stdout, store.tool_name, store.server,
                store.link_files_query, sparse=store.sparse_chunks)
        except BaseException:
            self.close()
            raise

    def _command(self, defaults, parent_metadata):
        opts = self.opts
        # --defaults-extra-file must come first; the host's option files
        # still apply, ours (read last) wins for user and password.
        command = [self.store.backup_tool(),
                   '--defaults-extra-file=' + defaults, '--backup',
                   '--stream=xbstream', '--extra-lsndir=' + self.lsndir,
                   '--target-dir=' + self.lsndir,
                   '--parallel=%d' % opts.parallel]
        for name in ('host', 'port', 'socket', 'datadir'):
            if opts[name]:
                command.append('--%s=%s' % (name, opts[name]))
        if self.store.checkpoint and opts.checkpoint_before_backup:
            command.append('--innodb-log-checkpoint-now')
        if parent_metadata is not None:
            command.append('--incremental-lsn=%d'
                           % self.store.parent_lsn(parent_metadata))
        return command

    def members(self):
        yield base.Member(MEMBER, self.stream)

    def finish(self):
        tool = self.store.tool_name
        _check(self.process, self.tail, tool + ' --backup',
               timeout=FINISH_TIMEOUT)
        self.stream.finish()
        try:
            with open(os.path.join(self.lsndir, CHECKPOINTS)) as source:
                values = dict((key.strip(), value.strip()) for key, _, value
                              in (line.partition('=') for line in source))
            metadata = {'tool': tool, 'format': 'xbstream',
                        'backup_type': values['backup_type'],
                        LINK_FILES_CHECKED: True}
            for name in ('from_lsn', 'to_lsn', 'last_lsn'):
                metadata[name] = int(values[name])
        except (OSError, KeyError, ValueError) as exc:
            raise base.DatastoreError(
                reason='%s reported success but its %s is unusable: %s'
                       % (tool, CHECKPOINTS, exc))
        if metadata['to_lsn'] < metadata['from_lsn']:
            # The server's log went back (its data was replaced since
            # the parent): such an incremental could never be prepared.
            raise base.DatastoreError(
                reason='The server\'s log sequence number %d is behind the '
                       'parent backup\'s %d: its data was replaced since. '
                       'Take a full backup.' % (metadata['to_lsn'],
                                                metadata['from_lsn']))
        metadata.update(self.counter.finish())
        self.close()
        return metadata

    def close(self):
        if self.process is not None:
            _stop(self.process)
            self.process.stdout.close()
            self.tail.join(STOP_GRACE)
        if self.workdir:
            # Holds the defaults file with the password.
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


class MariaDBDatastore(base.Datastore):
    """MariaDB through mariabackup (Debian package mariadb-backup).

    A backup is the tool's xbstream output, one member; an incremental is
    the tool's own (pages changed since the parent's checkpoint LSN), so a
    restore extracts and prepares the whole chain. Tested against MariaDB
    10.11.
    """

    name = 'mariadb'
    incremental = 'native'
    tool_name = 'mariabackup'
    tool_candidates = ('mariadb-backup', 'mariabackup')
    stream_name = 'mbstream'
    admin_candidates = ('mariadb-admin', 'mysqladmin')
    server_programs = ('mariadbd', 'mysqld')
    checkpoint = True
    # Since MariaDB 10.2 a prepared full backup takes incrementals as is.
    apply_log_only = False
    # Names the tables with a link file once one failed a backup's
    # stream (which alone decides).
    link_files_query = mariadb_link_files.MARIADB_QUERY
    # Chunk types of the tool's stream besides payload and end of file.
    sparse_chunks = False

    def __init__(self, conf):
        super().__init__(conf)
        register_opts(conf)
        self.opts = conf[self.name]
        self.server = mariadb_control.Server(self)

    # A restore into the live instance: mariadb_control.Server stops,
    # starts and checks the server of datadir.

    def live_data(self):
        return self.server.live_data()

    def stop(self):
        self.server.stop()

    def start(self):
        self.server.start()

    def health_check(self):
        self.server.health_check()

    def _binary(self, option, candidates):
        if self.opts[option]:
            return self.opts[option]
        for candidate in candidates:
            if shutil.which(candidate):
                return shutil.which(candidate)
        raise base.DatastoreError(
            reason='%s not found on PATH: install it (tools/install-backup-'
                   'tools.sh) or set [%s] %s' % (candidates[-1], self.name,
                                                 option))

    def write_defaults(self, directory):
        """An option file in directory with user and password; its path."""
        lines = ['[client]']
        for name in ('user', 'password'):
            if self.opts[name]:
                lines.append('%s = %s' % (name,
                                          _option_value(self.opts[name])))
        path = os.path.join(directory, 'defaults.cnf')
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'w') as out:
            out.write('\n'.join(lines) + '\n')
        return path

    def backup_tool(self):
        return self._binary('%s_path' % self.tool_name, self.tool_candidates)

    def stream_tool(self):
        return self._binary('%s_path' % self.stream_name,
                            (self.stream_name,))

    def parent_lsn(self, metadata):
        try:
            return int(metadata['to_lsn'])
        except (KeyError, TypeError, ValueError):
            raise base.DatastoreError(
                reason='the parent backup has no to_lsn: it was not made by '
                       'the %s datastore' % self.name)

    def backup(self, parent_metadata=None):
        return _Session(self, parent_metadata)

    def restore(self, chain, target):
        self._check_chain(chain)
        target = os.path.abspath(target)
        if os.path.exists(target) and os.listdir(target):
            raise base.DatastoreError(
                reason='restore target %s is not empty' % target)
        created = not os.path.exists(target)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        # Beside the target: same file system, so move-back renames.
        work = tempfile.mkdtemp(prefix='.%s.restore-'
                                % os.path.basename(target),
                                dir=os.path.dirname(target))
        try:
            full = os.path.join(work, 'full')
            self._extract(chain[0], full)
            self._prepare(full, last=len(chain) == 1)
            for number, piece in enumerate(chain[1:], 2):
                incremental = os.path.join(work, 'incremental')
                self._extract(piece, incremental)
                self._prepare(full, incremental, last=number == len(chain))
                shutil.rmtree(incremental)
            # What --prepare wrote (from an incremental) is checked too.
            mariadb_link_files.refuse_in_restore(full, chain[-1].backup_id)
            # No option files: the host's my.cnf must not send files
            # elsewhere than target (its log or undo directories).
            self._run('move-back', '--target-dir=' + full,
                      '--datadir=' + target,
                      '--parallel=%d' % self.opts.parallel)
            # The server's user must own its files, not the agent's.
            self.server.give_to_owner(target)
        except BaseException:
            # Never leave a half-restored datadir for a server to start on.
            shutil.rmtree(target, ignore_errors=True)
            if not created:
                os.mkdir(target)
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return target

    def verify(self, restored, metadata):
        """Start a throw-away server on the restored copy (--no-defaults,
        its own socket, no TCP, no binlog) and check it there: CHECK TABLE
        of every table, and the row counts recorded at backup time (see
        mariadb_verify)."""
        return mariadb_verify.verify(self, restored, metadata)

    def _check_chain(self, chain):
        if not chain:
            raise base.DatastoreError(reason='nothing to restore')
        wanted = ('full-backuped', 0)
        for piece in chain:
            meta = piece.metadata or {}
            found = (meta.get('backup_type'), meta.get('from_lsn'))
            if found != wanted:
                raise base.DatastoreError(
                    reason='backup %s does not fit the restore chain: it is '
                           '%s from LSN %s, the chain needs %s from LSN %s'
                           % ((piece.backup_id,) + found + wanted))
            wanted = ('incremental', meta.get('to_lsn'))

    def _extract(self, piece, directory):
        os.mkdir(directory)
        # Only MariaDB's group has the option: xtrabackup's stream can hold
        # chunk types xbstream.py does not read.
        if ('extract_in_process' in self.opts
                and self.opts.extract_in_process):
            self._extract_here(piece, directory)
        else:
            self._extract_with_tool(piece, directory)
        mariadb_link_files.refuse_in_restore(directory, piece.backup_id)

    def _extract_with_tool(self, piece, directory):
        process, tail = _spawn([self.stream_tool(), '-x', '-C', directory,
                                '--parallel=%d' % self.opts.parallel],
                               stdin=subprocess.PIPE)
        # As a backup's pipe: the tool and the agent wake each other a
        # sixteenth as often (a restore of 1.1 GB: 4.5 s to 3.4 s).
        base.widen_pipe(process.stdin)
        try:
            self._feed(piece, process.stdin)
        except BaseException:
            _stop(process)
            raise
        finally:
            try:
                process.stdin.close()
            except BrokenPipeError:
                pass  # it stopped reading: its exit code says why
        _check(process, tail, '%s -x of backup %s' % (self.stream_name,
                                                      piece.backup_id),
               need_ok=False)

    def _extract_here(self, piece, directory):
        extractor = xbstream.Extractor(directory)
        try:
            for chunks in self._stream(piece):
                for chunk in chunks:
                    try:
                        extractor.feed(chunk)
                    except OSError as exc:
                        # A full disk, as mbstream's failure would say.
                        raise base.DatastoreError(
                            reason='cannot write the files of backup %s '
                                   'in %s: %s' % (piece.backup_id,
                                                  directory, exc))
            extractor.finish()
        except xbstream.XbstreamError as exc:
            raise base.DatastoreError(
                reason='the stream of backup %s cannot be extracted: %s'
                       % (piece.backup_id, exc))
        finally:
            extractor.close()

    @classmethod
    def _feed(cls, piece, pipe):
        for chunks in cls._stream(piece):
            try:
                for chunk in chunks:
                    pipe.write(chunk)
            except BrokenPipeError:
                return

    @staticmethod
    def _stream(piece):
        """The chunks of the backup's one member, an iterable of them."""
        names = []
        for name, chunks in piece.members():
            names.append(name)
            if names != [MEMBER]:
                raise base.DatastoreError(
                    reason='backup %s has members %s, not only %s'
                           % (piece.backup_id, names, MEMBER))
            yield chunks
        if not names:
            raise base.DatastoreError(reason='backup %s has no %s'
                                      % (piece.backup_id, MEMBER))

    def _prepare(self, full, incremental=None, last=True):
        arguments = ['--target-dir=' + full]
        if incremental:
            arguments.append('--incremental-dir=' + incremental)
        if self.apply_log_only and not last:
            arguments.append('--apply-log-only')
        if self.opts.prepare_memory:
            arguments.append('--use-memory=' + self.opts.prepare_memory)
        self._run('prepare', *arguments)

    def _run(self, step, *arguments):
        command = [self.backup_tool(), '--no-defaults', '--' + step]
        _check(*_spawn(command + list(arguments)),
               '%s --%s' % (self.tool_name, step))


class MySQLDatastore(MariaDBDatastore):
    """MySQL 8 through Percona xtrabackup: the MariaDB code with the
    xtrabackup names. UNTESTED: no MySQL 8 nor xtrabackup on the machine
    this was written on; take it as a starting point, not a proven driver.
    """

    name = 'mysql'
    tool_name = 'xtrabackup'
    tool_candidates = ('xtrabackup',)
    stream_name = 'xbstream'
    admin_candidates = ('mysqladmin',)
    server_programs = ('mysqld',)
    checkpoint = False
    # xtrabackup rolls back uncommitted transactions at prepare, which
    # makes later incrementals unusable: all but the last step skip it.
    apply_log_only = True
    # MySQL 8 writes no link files (its data dictionary keeps the paths
    # of DATA DIRECTORY tables): its stream is checked all the same, and
    # no query names such tables.
    link_files_query = None
    sparse_chunks = True
