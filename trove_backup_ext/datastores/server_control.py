"""Stopping, starting and waiting for a database server on this host."""

import grp
import os
import pwd
import signal
import stat
import subprocess
import tempfile
import threading
import time

from oslo_log import log as logging

from trove_backup_ext.datastores import base

LOG = logging.getLogger(__name__)

TAIL_LINES = 20
# A socket path must fit in sockaddr_un (108 bytes with its NUL).
SOCKET_PATH_MAX = 100
_POLL = 0.5           # seconds between two looks at a starting server
_OUTPUT_LIMIT = 4000  # characters of a command's output kept in errors


def live_directory(path, option):
    """The absolute path of a data directory that an in-place restore can
    rename aside, or a DatastoreError saying why it cannot."""
    if not path:
        raise base.DatastoreError(
            reason='%s is not set: the agent does not know the live data '
                   'directory, and cannot restore into a live instance.'
                   % option)
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        raise base.DatastoreError(reason='%s %s is not a directory.'
                                  % (option, path))
    if os.path.ismount(path):
        raise base.DatastoreError(
            reason='%s %s is a mount point: an in-place restore renames the '
                   'live directory aside and the restored one into its '
                   'place, and a mount point cannot be renamed. Keep the data '
                   'in a directory below the mount point (e.g. <mount>/data)'
                   % (option, path))
    return path


def system_user(name, option):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise base.DatastoreError(reason='%s %r is not a user of this system'
                                  % (option, name))


def give_to(target, user):
    """chown -R target to user and their group; no-op unless root."""
    if os.geteuid() != 0:
        return
    os.chown(target, user.pw_uid, user.pw_gid)
    for directory, dirs, files in os.walk(target):
        for name in dirs + files:
            os.lchown(os.path.join(directory, name), user.pw_uid,
                      user.pw_gid)


def _popen(command, output, user, env):
    kwargs = {}
    if user is not None and os.geteuid() == 0:
        kwargs = {'user': user.pw_uid, 'group': user.pw_gid,
                  'extra_groups': []}
        # Its home, not root's: a tool may look there for its files.
        env = dict(os.environ if env is None else env, HOME=user.pw_dir)
    try:
        # A session of its own: a stop or a timeout reaches what it forked;
        # and cwd '/': a user switched to may not enter the agent's.
        return subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                stdout=output, stderr=subprocess.STDOUT,
                                cwd='/', env=env, start_new_session=True,
                                **kwargs)
    except OSError as exc:
        raise base.DatastoreError(reason='Cannot run %s: %s'
                                  % (command[0], exc))


def _read_output(output):
    output.seek(0)
    text = output.read().decode('utf-8', 'replace').strip()
    return text[-_OUTPUT_LIMIT:] or '(no output)'


def _kill_session(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def run(command, what, timeout, user=None, env=None):
    """Run command to its end; DatastoreError with its output unless it
    exits 0 within timeout seconds."""
    LOG.info('%s: running %s', what, ' '.join(command))
    # A file, not a pipe: a daemon forked by the command may keep its
    # output open long after the command has returned.
    with tempfile.TemporaryFile() as output:
        process = _popen(command, output, user, env)
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_session(process)
            raise base.DatastoreError(
                reason='%s: %s did not finish within %d s: %s' % (
                    what, command[0], timeout, _read_output(output)))
        if code:
            raise base.DatastoreError(
                reason='%s: %s exited with status %d: %s' % (
                    what, command[0], code, _read_output(output)))


def start(command, what, timeout, answers, log_file=None, user=None,
          env=None):
    """Run a start command and wait until answers() returns None (the
    server accepts connections; else it returns why not).

    The command may return once the server runs (pg_ctl -w, systemctl)
    or stay in the foreground as the server itself, which is then left
    running in a session of its own. DatastoreError, with the command's
    output and the server log's last lines, if the command fails or the
    server does not answer within timeout seconds. Returns the command's
    process (the server itself when it stays in the foreground).
    """
    LOG.info('%s: running %s', what, ' '.join(command))
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryFile() as output:
        process = _popen(command, output, user, env)
        while True:
            code = process.poll()
            if code:
                problem = '%s exited with status %d' % (command[0], code)
                break
            why_not = answers()
            if why_not is None:
                return process
            if time.monotonic() > deadline:
                problem = ('the server did not accept connections within '
                           '%d s (%s)' % (timeout, why_not))
                if process.poll() is None:
                    # Ours to stop: the rollback starts the old data next.
                    _kill_session(process)
                break
            time.sleep(_POLL)
        raise base.DatastoreError(reason='%s failed: %s. Its output: %s%s' % (
            what, problem, _read_output(output), log_tail(log_file)))


def log_tail(path, lines=TAIL_LINES):
    """'\\nServer log PATH: last lines', or '' when there is none."""
    if not path:
        return ''
    try:
        with open(path, 'rb') as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 64 * 1024))
            text = log.read().decode('utf-8', 'replace')
    except OSError as exc:
        return '\nServer log %s cannot be read: %s' % (path, exc)
    return '\nServer log %s (last lines):\n%s' % (
        path, '\n'.join(text.splitlines()[-lines:]))


def process_gone(pid):
    """Whether process pid has exited (a zombie has)."""
    try:
        with open('/proc/%d/stat' % pid, 'rb') as stat:
            # pid (comm) state ...: comm may hold spaces and parentheses.
            return stat.read().rsplit(b')', 1)[1].split()[0] in (b'Z', b'X')
    except FileNotFoundError:
        return True
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        return False


def wait_gone(pid, timeout, what):
    """Wait until process pid has exited; DatastoreError after timeout:
    its data must not be moved while it may still write."""
    deadline = time.monotonic() + timeout
    while not process_gone(pid):
        if time.monotonic() > deadline:
            raise base.DatastoreError(
                reason='%s: the server (pid %d) still runs %d s after the '
                       'stop command returned' % (what, pid, timeout))
        time.sleep(0.1)


def read_pid(path):
    """The pid on the first line of a pid file, or None."""
    try:
        with open(path) as pid_file:
            return int(pid_file.readline().strip())
    except (OSError, ValueError):
        return None


def blocked_for(path, user):
    """The first directory on the way to path (path included) that user
    cannot enter, or None."""
    groups = {user.pw_gid} | {group.gr_gid for group in _groups(user)}
    path = os.path.abspath(path)
    ways = [path]
    while os.path.dirname(ways[-1]) != ways[-1]:
        ways.append(os.path.dirname(ways[-1]))
    for directory in reversed(ways):
        info = os.stat(directory)
        if info.st_uid == user.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return directory
    return None


def socket_directory(parent, prefix, socket_name, owner):
    """A new directory for a throw-away server's socket: in parent, or,
    when that path is too long for a Unix socket, in the temporary
    directory or /tmp, the first that owner (None: this process's user)
    can enter. The agent's TMPDIR may be its user's alone (pam_tmpdir
    makes /tmp/user/0, 0700): a server running as another user could
    not create its socket there."""
    # mkdtemp: a new 0700 directory of a random name, also in /tmp.
    for where in (parent, tempfile.gettempdir(), '/tmp'):  # nosec B108
        work = tempfile.mkdtemp(prefix=prefix, dir=where)
        fits = len(os.path.join(work, socket_name)) <= SOCKET_PATH_MAX
        # work itself is given to owner afterwards.
        if fits and (owner is None or
                     blocked_for(work, owner) in (None, work)):
            return work
        os.rmdir(work)
    raise base.DatastoreError(
        reason='No directory for the socket of the throw-away server: %s '
               'makes too long a path, and %s cannot enter %s nor /tmp'
               % (parent, owner.pw_name if owner else 'the agent',
                  tempfile.gettempdir()))


def _groups(user):
    return [group for group in grp.getgrall() if user.pw_name in group.gr_mem]


class ScratchServer:
    """A throw-away server started in a session of its own on a copy of
    the data, for checks run inside the with block. Leaving the block
    stops it (stop_signal, then SIGKILL of its whole session after
    stop_timeout), whatever happened; once timeout seconds have passed
    since the start it is killed, and leaving raises DatastoreError."""

    def __init__(self, command, what, timeout, answers, stop_signal,
                 stop_timeout, log_file=None, user=None, env=None):
        self.command = command
        self.what = what
        self.timeout = timeout
        self.answers = answers
        self.stop_signal = stop_signal
        self.stop_timeout = stop_timeout
        self.log_file = log_file
        self.user = user
        self.env = env
        self.process = None
        self.expired = threading.Event()
        self._timer = None

    def __enter__(self):
        self.process = start(self.command, self.what, self.timeout,
                             self.answers, self.log_file, self.user,
                             self.env)
        # The start took its share of timeout already.
        self._timer = threading.Timer(self.timeout, self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def _expire(self):
        self.expired.set()
        LOG.warning('%s: still running after %d s, killing it',
                    self.what, self.timeout)
        _kill_session(self.process)

    def __exit__(self, exc_type, exc, traceback):
        self._timer.cancel()
        self.stop()
        if self.expired.is_set():
            raise base.DatastoreError(
                reason='%s: the checks did not finish within %d s; the '
                       'server was killed' % (self.what, self.timeout)
            ) from exc

    def stop(self):
        process = self.process
        if process.poll() is None:
            try:
                process.send_signal(self.stop_signal)
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                LOG.warning('%s: did not stop within %d s, killing it',
                            self.what, self.stop_timeout)
        # Its children too, should one have outlived it.
        _kill_session(process)
