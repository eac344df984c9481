"""The sqlite datastore: an online, consistent copy of a live database file.

SQLite offers no streaming snapshot here (no sqlite_dbpage), and its
backup API writes a second database file. Instead the session takes the
write lock (BEGIN IMMEDIATE: readers go on, writers wait) and streams the
database file page by page, replacing each page by its newest committed
copy in the write-ahead log when the database is in WAL mode. Pages come
out in order at their file offsets, so an incremental stores only the
chunks whose pages changed.
"""

import os
import pathlib
import sqlite3

from oslo_config import cfg

from trove_backup_ext.datastores import base
from trove_backup_ext.datastores import sqlite_wal
from trove_backup_ext import opt_groups

MEMBER = 'database.sqlite'

sqlite_group = cfg.OptGroup('sqlite', title='SQLite datastore')
sqlite_opts = [
    cfg.StrOpt('database_path',
               help='The SQLite database file this agent backs up.'),
    cfg.IntOpt('busy_timeout', default=30, min=1,
               help='Seconds to wait for the write lock a backup holds '
                    'while it reads the database.'),
]


def register_opts(conf):
    opt_groups.register(conf, sqlite_group, sqlite_opts)


def list_opts():
    return {sqlite_group: sqlite_opts}


class _PageStream:
    """read(n) over the database's pages as of the locked snapshot."""

    def __init__(self, db_file, wal_file, wal_pages, page_size, page_count):
        self.db_file = db_file
        self.wal_file = wal_file
        self.wal_pages = wal_pages
        self.page_size = page_size
        self.page_count = page_count
        self.next_page = 1
        self.buffer = b''

    def read(self, size):
        parts, have = [self.buffer], len(self.buffer)
        while have < size and self.next_page <= self.page_count:
            page = self._page(self.next_page)
            parts.append(page)
            have += len(page)
            self.next_page += 1
        data = b''.join(parts)
        self.buffer = data[size:]
        return data[:size]

    def _page(self, number):
        offset = self.wal_pages.get(number)
        if offset is not None:
            self.wal_file.seek(offset)
            source = self.wal_file
        else:
            self.db_file.seek((number - 1) * self.page_size)
            source = self.db_file
        page = source.read(self.page_size)
        if len(page) != self.page_size:
            raise base.DatastoreError(
                reason='page %d of the database is short: the file changed '
                       'under the backup lock' % number)
        return page


def _quoted(identifier):
    return '"%s"' % identifier.replace('"', '""')


def row_counts(connection):
    """{table: rows} of every table of the database (not SQLite's own)."""
    tables = [row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND "
        "name NOT LIKE 'sqlite_%' ORDER BY name")]
    counts = {}
    for table in tables:
        sql = 'SELECT count(*) FROM %s' % _quoted(table)  # nosec B608
        counts[table] = connection.execute(sql).fetchone()[0]
    return counts


class _Session(base.BackupSession):

    def __init__(self, path, busy_timeout):
        self.path = path
        self.busy_timeout = busy_timeout
        self.connection = None
        self.files = []
        self.metadata = None

    def members(self):
        if not os.path.isfile(self.path):
            raise base.DatastoreError(
                reason='SQLite database %s does not exist' % self.path)
        try:
            self.connection = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None)
            self.connection.execute('BEGIN IMMEDIATE')
            mode = self._pragma('journal_mode')
            page_size = self._pragma('page_size')
            page_count = self._pragma('page_count')
        except sqlite3.Error as exc:
            raise base.DatastoreError(
                reason='Cannot lock SQLite database %s for a backup: %s'
                       % (self.path, exc))
        db_file = self._open(self.path)
        wal_file, wal_pages = None, {}
        if mode == 'wal' and os.path.exists(self.path + '-wal'):
            wal_file = self._open(self.path + '-wal')
            wal_pages = sqlite_wal.committed_pages(wal_file, page_size)
        self.metadata = {'page_size': page_size, 'page_count': page_count,
                         'journal_mode': mode,
                         'sqlite_version': sqlite3.sqlite_version,
                         # Under the lock the copy is taken under: the
                         # very rows the backup holds, for verification.
                         'row_counts': row_counts(self.connection)}
        yield base.Member(MEMBER, _PageStream(db_file, wal_file, wal_pages,
                                              page_size, page_count))

    def _pragma(self, name):
        return self.connection.execute('PRAGMA %s' % name).fetchone()[0]

    def _open(self, path):
        handle = open(path, 'rb')
        self.files.append(handle)
        return handle

    def finish(self):
        if self.metadata is None:
            raise base.DatastoreError(reason='The backup produced no data.')
        return self.metadata

    def close(self):
        for handle in self.files:
            handle.close()
        self.files = []
        if self.connection is not None:
            try:
                self.connection.execute('ROLLBACK')
            except sqlite3.Error:
                pass
            self.connection.close()
            self.connection = None


class SQLiteDatastore(base.Datastore):

    name = 'sqlite'
    incremental = 'dedup'

    def __init__(self, conf):
        super().__init__(conf)
        register_opts(conf)

    def backup(self, parent_metadata=None):
        path = self.conf.sqlite.database_path
        if not path:
            raise base.DatastoreError(
                reason='[sqlite] database_path is not set.')
        return _Session(path, self.conf.sqlite.busy_timeout)

    def restore(self, chain, target):
        """Write the newest backup's pages as target/database.sqlite."""
        os.makedirs(target, exist_ok=True)
        path = os.path.join(target, MEMBER)
        if os.path.exists(path):
            raise base.DatastoreError(reason='%s already exists' % path)
        piece = chain[-1]
        partial = path + '.partial'
        try:
            with open(partial, 'wb') as out:
                for name, chunks in piece.members():
                    if name != MEMBER:
                        raise base.DatastoreError(
                            reason='Unexpected member %r in an SQLite '
                                   'backup' % name)
                    for chunk in chunks:
                        out.write(chunk)
            # The copy was taken under a lock with the WAL folded in: it
            # is a complete database in rollback-journal form.
            self._set_rollback_journal(partial)
            os.replace(partial, path)
        except BaseException:
            if os.path.exists(partial):
                os.unlink(partial)
            raise
        return path

    def verify(self, restored, metadata):
        """SQLite needs no server: the restored file itself is opened."""
        connection = sqlite3.connect(restored)
        try:
            integrity = [row[0] for row in connection.execute(
                'PRAGMA integrity_check')]
            counts = row_counts(connection)
        except sqlite3.Error as exc:
            return [{'check': 'open', 'ok': False,
                     'detail': 'The restored database cannot be read: %s'
                               % exc}]
        finally:
            connection.close()
        checks = [{'check': 'integrity_check', 'ok': integrity == ['ok'],
                   'detail': '; '.join(integrity[:5])}]
        expected = metadata.get('row_counts')
        if expected is None:
            checks.append({'check': 'row_counts', 'ok': True,
                           'detail': 'not recorded by the release that '
                                     'took this backup'})
        else:
            checks.append(base.compare_counts(expected, counts))
        return checks

    def live_data(self):
        path = self.conf.sqlite.database_path
        if not path:
            raise base.DatastoreError(
                reason='[sqlite] database_path is not set.')
        return path

    def companions(self, path):
        # A WAL, its index and a hot rollback journal belong to the file
        # they were written for: left beside a restored file, SQLite
        # would replay them into it.
        return [path + suffix for suffix in ('-wal', '-shm', '-journal')]

    # An embedded database has no server to stop or start: the file is
    # swapped by rename, so a process that still holds the old file open
    # goes on with it until it opens the database again.

    def health_check(self):
        path = self.live_data()
        try:
            # Read-write: a WAL database cannot be opened read-only
            # before its -shm exists. The check itself writes nothing.
            connection = sqlite3.connect(
                pathlib.Path(os.path.abspath(path)).as_uri() + '?mode=rw',
                uri=True, timeout=self.conf.sqlite.busy_timeout)
            try:
                result = connection.execute(
                    'PRAGMA integrity_check').fetchall()
            finally:
                connection.close()
        except sqlite3.Error as exc:
            raise base.DatastoreError(
                reason='SQLite database %s cannot be read: %s' % (path, exc))
        if result != [('ok',)]:
            raise base.DatastoreError(
                reason='SQLite integrity check of %s failed: %s' % (
                    path, '; '.join(str(row[0]) for row in result[:5])))

    @staticmethod
    def _set_rollback_journal(path):
        # Bytes 18 and 19 of the header say "WAL"; a restored file has no
        # WAL beside it, so mark it as a rollback-journal database.
        with open(path, 'r+b') as db:
            db.seek(18)
            if db.read(2) == b'\x02\x02':
                db.seek(18)
                db.write(b'\x01\x01')
