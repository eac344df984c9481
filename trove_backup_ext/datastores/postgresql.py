"""The postgresql datastore: pg_basebackup's tar stream, one member a file."""

import collections
import glob
import io
import os
import posixpath
import re
import shutil
import subprocess
import threading

from oslo_config import cfg
from oslo_log import log as logging

from trove_backup_ext.datastores import base
from trove_backup_ext.datastores import pg_control
from trove_backup_ext.datastores import pg_verify
from trove_backup_ext.datastores import server_control
from trove_backup_ext.datastores import tar_stream
from trove_backup_ext import opt_groups

LOG = logging.getLogger(__name__)

FORMAT = 1
_STDERR_LINES = 20
_KEPT_FILES = ('PG_VERSION', 'backup_label')   # small, read into metadata
# backup_manifest comes last: having it proves the stream was whole.
_REQUIRED_FILES = ('PG_VERSION', 'backup_label', 'global/pg_control',
                   'backup_manifest')
_TAR_BUFFER = 1024 * 1024
# Only local OS users logging in as themselves, until an operator decides.
_MINIMAL_CONFIG = (
    ('postgresql.conf', '# The backed-up server kept its configuration '
                        'outside its data directory.\n'),
    ('pg_hba.conf', 'local all all peer\n'),
    ('pg_ident.conf', ''),
)

# Files of a data directory that configure the server, not its data.
_INSTANCE_FILES = ('postgresql.conf', 'postgresql.auto.conf', 'pg_hba.conf',
                   'pg_ident.conf')

postgresql_group = cfg.OptGroup('postgresql',
                                title='PostgreSQL datastore (pg_basebackup)')
postgresql_opts = [
    cfg.StrOpt('host', default='127.0.0.1',
               help='Address, or Unix socket directory, of the server.'),
    cfg.PortOpt('port', default=5432, help='Port of the server.'),
    cfg.StrOpt('user', default='postgres',
               help='Role to connect as: it needs REPLICATION and a '
                    '"replication" line in pg_hba.conf.'),
    cfg.StrOpt('password', secret=True,
               help='Its password, given to pg_basebackup in PGPASSWORD, '
                    'never on a command line. Unset: trust, peer, .pgpass.'),
    cfg.StrOpt('pg_basebackup_path',
               help='Default: pg_basebackup on PATH, else the newest in '
                    '/usr/lib/postgresql/<version>/bin.'),
    cfg.StrOpt('pg_verifybackup_path',
               help='Default: the backup\'s major version\'s in '
                    '/usr/lib/postgresql/<version>/bin, else PATH.'),
    cfg.BoolOpt('verify_restore', default=True,
                help='Check a restored directory, WAL included, against '
                     'the backup_manifest pg_basebackup wrote.'),
    cfg.StrOpt('checkpoint', default='fast', choices=['fast', 'spread'],
               help='The checkpoint a backup starts with: spread spares '
                    'the server\'s I/O, fast starts at once.'),
    cfg.StrOpt('max_rate', help='pg_basebackup --max-rate, e.g. 32M.'),
    cfg.IntOpt('connect_timeout', default=30, min=1,
               help='Seconds pg_basebackup waits to connect.'),
    cfg.IntOpt('exit_timeout', default=60, min=1,
               help='Seconds pg_basebackup may take to exit once its tar '
                    'stream has ended.'),
    cfg.StrOpt('restore_owner', default='postgres',
               help='System user given a directory restored by root '
                    '(PostgreSQL refuses to run as root); for a restore '
                    'into the live instance, the owner of data_directory.'),
] + pg_control.opts + pg_verify.opts


def register_opts(conf):
    opt_groups.register(conf, postgresql_group, postgresql_opts)


def list_opts():
    return {postgresql_group: postgresql_opts}


def find_tool(name, configured=None, major=None):
    """Path of a PostgreSQL client program, or DatastoreError."""
    if configured:
        candidates = [configured]
    else:
        # Debian keeps most tools (pg_verifybackup, pg_waldump) off PATH.
        candidates = ['/usr/lib/postgresql/%s/bin/%s' % (major, name)
                      ] if major else []
        candidates.append(shutil.which(name))
        candidates += sorted(
            glob.glob('/usr/lib/postgresql/*/bin/' + name), reverse=True,
            key=lambda path: [int(n) for n in re.findall(r'\d+', path)])
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    raise base.DatastoreError(
        reason='%s not found (%s): install the PostgreSQL client programs '
               'or set [postgresql] %s_path'
               % (name, configured or 'PATH, /usr/lib/postgresql/*/bin',
                  name))


class _MemberStream:
    """read(n) over one tar member; a stream cut short inside it becomes
    the DatastoreError that says why."""

    def __init__(self, session, stream):
        self.session = session
        self.stream = stream

    def read(self, size=-1):
        try:
            return self.stream.read(size)
        except tar_stream.TarStreamError as exc:
            raise self.session.broken(exc)


class _Session(base.BackupSession):

    def __init__(self, command, env, where, exit_timeout, password,
                 counter):
        self.counter = counter
        self.where = where
        self.exit_timeout = exit_timeout
        self.password = password
        self.stderr_tail = collections.deque(maxlen=_STDERR_LINES)
        self.directories, self.symlinks, self.modes = {}, {}, {}
        self.kept = {}
        self.ended = False
        # Buffered: tar headers are read 512 bytes at a time.
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env, bufsize=_TAR_BUFFER)
        base.widen_pipe(self.process.stdout)
        # Drained aside, or a chatty tool would block on a full pipe.
        self._stderr_reader = threading.Thread(
            target=self._read_stderr, name='pg_basebackup-stderr',
            daemon=True)
        self._stderr_reader.start()

    def _read_stderr(self):
        for line in self.process.stderr:
            line = line.decode('utf-8', 'replace').rstrip()
            if self.password:
                line = line.replace(self.password, '***')
            self.stderr_tail.append(line)

    def members(self):
        try:
            for entry in tar_stream.TarStream(self.process.stdout):
                member = self._take(entry)
                if member is not None:
                    yield member
        except tar_stream.TarStreamError as exc:
            raise self.broken(exc)
        self.ended = True

    def broken(self, exc):
        # Closing our end stops a tool still writing (SIGPIPE); one that
        # failed has exited already and keeps its status.
        self.process.stdout.close()
        return self._failure('its output is not a complete tar stream (%s)'
                             % exc)

    def _take(self, entry):
        # pg_basebackup writes some names as ./pg_wal/...
        name = posixpath.normpath(entry.name)
        if name == '.':
            pass
        elif entry.type == tar_stream.DIRECTORY:
            self.directories[name] = entry.mode & 0o777
        elif entry.type == tar_stream.SYMLINK:
            if name.startswith('pg_tblspc/'):
                self.close()
                raise self._failure('', tablespace=True)
            self.symlinks[name] = entry.linkname
        elif entry.type == tar_stream.REGULAR:
            self.modes[name] = entry.mode & 0o777
            stream = _MemberStream(self, entry.reader)
            if name in _KEPT_FILES:
                self.kept[name] = stream.read()
                stream = io.BytesIO(self.kept[name])
            return base.Member(name, stream)
        else:
            self.close()
            raise self._failure('unexpected tar entry %r (type %r)'
                                % (name, entry.type))
        return None

    def _wait(self):
        """The exit status, or None after killing a tool that hung."""
        try:
            return self.process.wait(self.exit_timeout)
        except subprocess.TimeoutExpired:
            self.close()
            return None
        finally:
            self._stderr_reader.join(self.exit_timeout)

    def _failure(self, problem, tablespace=False):
        """The DatastoreError saying why the backup failed, with the
        tool's last stderr lines; waits for the tool to end first."""
        code = self._wait()
        tail = '\n'.join(self.stderr_tail)
        if tablespace or 'single tablespace' in tail:
            problem = ('the cluster has tablespaces besides pg_default and '
                       'pg_global; this driver backs up single-tablespace '
                       'clusters only (pg_basebackup streams one tar)')
        elif code and code > 0:
            # Its own message (the tail) says more than a broken stream.
            problem = 'it exited with status %d' % code
        elif code:
            problem = ('%s; ' % problem if problem else '') + (
                'it was killed by signal %d' % -code)
        return base.DatastoreError(
            reason='pg_basebackup of %s failed: %s%s' % (
                self.where, problem, ('\n' + tail) if tail else ''))

    def finish(self):
        if not self.ended:
            self.close()
            raise self._failure('its tar stream was not read to the end')
        # The reader stops at the first end-of-archive block; the second
        # and the padding to a whole tar record follow.
        while self.process.stdout.read(65536):
            pass
        code = self._wait()
        if code is None:
            raise self._failure('it did not exit within %ds of ending its '
                                'output' % self.exit_timeout)
        if code:
            raise self._failure('')
        missing = [n for n in _REQUIRED_FILES if n not in self.modes]
        if missing:
            raise self._failure('the backup lacks %s' % ', '.join(missing))
        label = self.kept.get('backup_label', b'').decode('utf-8', 'replace')
        file_mode = collections.Counter(
            self.modes.values()).most_common(1)[0][0]
        return {
            'format': FORMAT,
            'tool': 'pg_basebackup',
            'server_version': self.kept['PG_VERSION'].decode().strip(),
            'backup_label': dict(line.split(': ', 1) for line in
                                 label.splitlines() if ': ' in line),
            'directories': self.directories,
            'symlinks': self.symlinks,
            'file_mode': file_mode,
            'file_modes': {n: m for n, m in self.modes.items()
                           if m != file_mode},
            'files': len(self.modes),
            **self.counter.finish(),
        }

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self._stderr_reader.join(self.exit_timeout)
        if not self._stderr_reader.is_alive():
            self.process.stderr.close()


def _inside(target, name):
    """target/name, refusing names that could land outside target."""
    parts = name.split('/')
    if (not name or name.startswith('/') or '\0' in name or
            any(p in ('', '.', '..') for p in parts)):
        raise base.DatastoreError(reason='Refusing backup entry %r: not a '
                                         'plain relative path' % name)
    return os.path.join(target, *parts)


def _prepare_target(target):
    """Create target (mode 0700), or take an existing empty directory."""
    if os.path.lexists(target) and (not os.path.isdir(target) or
                                    os.listdir(target)):
        raise base.DatastoreError(reason='Restore target %s exists and is '
                                         'not an empty directory' % target)
    os.makedirs(target, 0o700, exist_ok=True)
    os.chmod(target, 0o700)


def _clear(target):
    """Empty target after a failed restore, so that a retry may use it."""
    for entry in os.scandir(target):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)


def _complete_config(target):
    """Write the configuration files a data directory needs to start and
    the backup lacks (Debian keeps them in /etc); return their names."""
    written = []
    for name, text in _MINIMAL_CONFIG:
        path = os.path.join(target, name)
        if not os.path.exists(path):
            with open(path, 'w') as config:
                config.write(text)
            os.chmod(path, 0o600)
            written.append(name)
    return written


class PostgreSQLDatastore(base.Datastore):
    """pg_basebackup writes the cluster as one tar to stdout; the session
    parses it on the fly and hands each regular file to the pipeline as a
    member of its own, so chunks are cut at offsets within a file and a
    changed page changes only its chunk. --wal-method=fetch puts the WAL
    the copy needs in pg_wal and backup_label makes the server replay it
    at first start, so each backup is complete and startable alone."""

    name = 'postgresql'
    incremental = 'dedup'

    def __init__(self, conf):
        super().__init__(conf)
        register_opts(conf)
        self.server = pg_control.Server(self.opts, find_tool)

    @property
    def opts(self):
        return self.conf.postgresql

    # A restore into the live instance: pg_control.Server stops, starts
    # and checks the server of [postgresql] data_directory.

    def live_data(self):
        return self.server.live_data()

    def instance_files(self):
        # The port, addresses, authentication and ALTER SYSTEM settings of
        # this server: the backup's are the source instance's, which
        # another instance must not take (the same port, the source's
        # pg_hba.conf), nor the source take back from an older backup.
        return list(_INSTANCE_FILES)

    def stop(self):
        self.server.stop()

    def start(self):
        self.server.start()

    def health_check(self):
        self.server.health_check()

    def backup(self, parent_metadata=None):
        """Every backup is complete: an incremental differs only in that
        the pipeline skips the chunks its parent already stored."""
        opts = self.opts
        command = [find_tool('pg_basebackup', opts.pg_basebackup_path),
                   '--pgdata=-', '--format=tar', '--wal-method=fetch',
                   '--checkpoint=%s' % opts.checkpoint, '--no-password',
                   '--label=trove-backup-ext', '--host', opts.host,
                   '--port', str(opts.port), '--username', opts.user]
        if opts.max_rate:
            command += ['--max-rate', opts.max_rate]
        env = dict(os.environ, PGCONNECT_TIMEOUT=str(opts.connect_timeout),
                   LC_ALL='C')   # stable messages to read back
        if opts.password:
            env['PGPASSWORD'] = opts.password
        where = '%s@%s:%s' % (opts.user, opts.host, opts.port)
        counter = pg_verify.RowCounter(opts, find_tool)
        counter.start()
        LOG.info('Starting pg_basebackup of %s', where)
        try:
            return _Session(command, env, where, opts.exit_timeout,
                            opts.password, counter)
        except OSError as exc:
            raise base.DatastoreError(reason='Cannot run %s: %s'
                                      % (command[0], exc))

    def restore(self, chain, target):
        """Write the newest backup of chain as a data directory at target,
        startable by the PostgreSQL of its major version."""
        piece = chain[-1]
        metadata = piece.metadata
        if metadata.get('tool') != 'pg_basebackup':
            raise base.DatastoreError(
                reason='Backup %s was not made by the postgresql driver'
                       % piece.backup_id)
        _prepare_target(target)
        try:
            self._write(piece, target)
            added = _complete_config(target)
            if self.opts.verify_restore:
                self._verify(target, metadata, added)
            self._give_to_owner(target)
        except BaseException:
            _clear(target)
            raise
        LOG.info('Restored PostgreSQL %s backup %s into %s',
                 metadata['server_version'], piece.backup_id, target)
        return target

    def _write(self, piece, target):
        metadata = piece.metadata
        for name in sorted(metadata['directories']):
            os.makedirs(_inside(target, name), 0o700, exist_ok=True)
        written = set()
        for name, chunks in piece.members():
            path = _inside(target, name)
            os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
            # O_EXCL and O_NOFOLLOW: a duplicate entry or a planted link
            # cannot redirect a write.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL |
                         os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, 'wb') as out:
                for chunk in chunks:
                    out.write(chunk)
            # Never setuid/setgid bits, whatever the metadata says.
            os.chmod(path, metadata['file_modes'].get(
                name, metadata['file_mode']) & 0o777)
            written.add(name)
        missing = [n for n in _REQUIRED_FILES if n not in written]
        if missing or len(written) != metadata['files']:
            raise base.DatastoreError(
                reason='Backup %s is incomplete: %d of %d files%s' % (
                    piece.backup_id, len(written), metadata['files'],
                    (', missing ' + ', '.join(missing)) if missing else ''))
        for name, link in sorted(metadata['symlinks'].items()):
            os.symlink(link, _inside(target, name))
        # Last: a directory's mode may forbid writing into it.
        for name, mode in metadata['directories'].items():
            os.chmod(_inside(target, name), mode & 0o777)

    def _verify(self, target, metadata, added):
        tool = find_tool('pg_verifybackup', self.opts.pg_verifybackup_path,
                         metadata['server_version'])
        ignored = ['--ignore=%s' % name for name in added]
        result = subprocess.run([tool, '--quiet'] + ignored + [target],
                                stdin=subprocess.DEVNULL, capture_output=True)
        if result.returncode:
            raise base.DatastoreError(
                reason='The restored directory %s does not match the '
                       'backup manifest: %s' % (
                           target, result.stderr.decode('utf-8', 'replace')
                           .strip()[-2000:]))

    def verify(self, restored, metadata):
        """Start a throw-away server on the restored copy (its own socket,
        no TCP) and check it there: pg_amcheck or a full read, and the row
        counts recorded at backup time (see pg_verify)."""
        return pg_verify.verify(self.opts, self.server, find_tool,
                                restored, metadata)

    def _give_to_owner(self, target):
        if os.geteuid() == 0:
            server_control.give_to(target, self.server.owner())
