"""Base of the datastore drivers (namespace trove_backup_ext.datastores).

A driver knows one database engine: it produces a backup as named byte
streams (members) and restores members into a target. It never talks to
storage: the pipeline stands between, and gives it plain bytes.
"""

import abc
import dataclasses
import fcntl
import os
import stat
import typing

from trove_backup_ext import exception


_PIPE_SIZE = 1024 * 1024


def widen_pipe(stream):
    """Let a backup tool's output pipe hold 1 MiB instead of 64 KiB.

    The tool and the agent then wake each other a sixteenth as often:
    reading a tar through a pipe went from 0.6 to 1.9 GB/s, and both sides
    spent about 0.4 CPU-second per GB less in the kernel. Best effort: an
    unprivileged agent may be refused more than /proc/sys/fs/pipe-max-size,
    and other systems have no such call.
    """
    try:
        fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
    except (AttributeError, OSError):
        pass


class DatastoreError(exception.BackupExtError):
    """The database or its backup tool failed; the message says how."""
    code = 500
    message = '%(reason)s'


@dataclasses.dataclass
class Member:
    """One named byte stream of a backup: a file, or a tool's output.

    stream has read(n). Chunks are cut at fixed offsets from the start of
    each member, so a page changed in a file changes only its chunk.
    """
    name: str
    stream: typing.Any


class BackupSession(abc.ABC):
    """One running backup. Use as a context manager: leaving it stops any
    tool still running and releases locks."""

    @abc.abstractmethod
    def members(self):
        """Yield the Members, each read to its end before the next."""

    @abc.abstractmethod
    def finish(self):
        """After the last member: raise DatastoreError if the backup tool
        failed, else return the driver metadata (a JSON-able dict) that an
        incremental or a restore will need."""

    def close(self):
        """Stop what still runs; idempotent."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


@dataclasses.dataclass
class RestorePiece:
    """One backup of a restore chain: its driver metadata and a function
    returning its members as (name, iterator of bytes) pairs."""
    backup_id: str
    metadata: dict
    members: typing.Callable


class Datastore(abc.ABC):
    """One database engine.

    incremental is 'native' when the engine's own tool makes incrementals
    (a restore then applies the whole chain), or 'dedup' when every backup
    is complete and an incremental only skips chunks its parent stored (a
    restore needs the newest backup alone).
    """

    name = None
    incremental = 'dedup'

    def __init__(self, conf):
        self.conf = conf

    @abc.abstractmethod
    def backup(self, parent_metadata=None):
        """Start a backup; return a BackupSession. parent_metadata is the
        finish() result of the parent for an incremental, else None."""

    @abc.abstractmethod
    def restore(self, chain, target):
        """Restore into target (a directory to create) from chain, the
        pieces from the full backup to the one asked for. Return where
        the data is: a file in target, or target (or None: target)."""

    def verify(self, restored, metadata):
        """Check data restored at restored (what restore() returned) in a
        scratch place: start a throw-away server on it if the engine
        needs one (never the live one), run the engine's integrity check,
        and compare row counts with those metadata (the backup's
        finish() result) recorded. Return a list of checks, dicts
        {check, ok, detail}; raise DatastoreError if it cannot check."""
        raise DatastoreError(reason='The %s driver cannot verify a backup '
                                    'beyond its checksums.' % self.name)

    def estimated_size(self):
        """About how many bytes a backup will read, for progress: the
        size of the live data where the driver knows it (live_data());
        None otherwise. Backups hold the data files, so it is a fair
        estimate; percent never says 100 before the end."""
        try:
            return path_size(self.live_data())
        except (DatastoreError, OSError):
            return None

    # Restoring into the live instance (agent/in_place.py): the agent
    # restores beside the live data while the server runs, then stops
    # it, swaps the data whole, starts it and checks it, and puts the old
    # data back if any of that fails. A driver that cannot keeps the
    # default live_data(), and such restores fail before touching
    # anything.

    def live_data(self):
        """The path of the instance's live data (a file or a directory)
        that an in-place restore replaces whole. It must be on the same
        file system as its parent directory, where the restore stages."""
        raise DatastoreError(reason='The %s driver cannot restore into a '
                                    'live instance.' % self.name)

    def companions(self, path):
        """Files beside the data at path that belong to it and move with
        it (SQLite's -wal and -shm)."""
        return []

    def instance_files(self):
        """Names of files in the live data directory that configure the
        instance rather than hold its data (PostgreSQL's postgresql.conf
        and pg_hba.conf): a restore into the live instance keeps the
        instance's own, not the backup's."""
        return []

    def stop(self):
        """Stop the database server so its data can be swapped; nothing
        if it is stopped already."""

    def start(self):
        """Start the server on its live data; return once it answers."""

    def health_check(self):
        """Raise DatastoreError unless the started server answers and its
        data is sound."""


def path_size(path):
    """Bytes of the regular files at path (a file, or a tree walked
    without following links)."""
    if not os.path.isdir(path):
        return os.path.getsize(path)
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            try:
                status = os.lstat(os.path.join(directory, name))
            except FileNotFoundError:
                continue    # Removed by the server meanwhile.
            if stat.S_ISREG(status.st_mode):
                total += status.st_size
    return total


def compare_counts(expected, found):
    """The row_counts check: the tables and rows a backup recorded
    against those found in its restore."""
    wrong = sorted(table for table in set(expected) | set(found)
                   if expected.get(table) != found.get(table))
    if not wrong:
        return {'check': 'row_counts', 'ok': True,
                'detail': '%d tables, %d rows, as recorded'
                          % (len(found), sum(found.values()))}
    return {'check': 'row_counts', 'ok': False, 'detail': '; '.join(
        '%s: %s rows recorded, %s restored' % (
            table, expected.get(table, 'no table'),
            found.get(table, 'no table')) for table in wrong[:10])}
