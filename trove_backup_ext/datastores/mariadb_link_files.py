"""MariaDB tables created with DATA DIRECTORY (InnoDB link files, .isl),
which no restore takes: a backup whose stream holds one fails, a restore
refuses a backup holding one."""

import os
import re

from oslo_log import log as logging
import pymysql

from trove_backup_ext.datastores import base
from trove_backup_ext.datastores import xbstream

LOG = logging.getLogger(__name__)

# InnoDB's link file: where a DATA DIRECTORY table's tablespace lives.
LINK_FILE_SUFFIX = '.isl'
# Every InnoDB table (each partition its own) whose dictionary flags say
# DATA DIRECTORY (bit 6, as MariaDB documents it; tested with 10.11).
# Only names the tables of a backup that failed for a link file in its
# stream: the flag stays on a table whose tablespace was discarded (no
# .isl, no .ibd), and the query cannot see what the tool's option files
# leave out (databases-exclude), so it never fails a backup itself.
# Needs PROCESS, as mariabackup does.
MARIADB_QUERY = ('SELECT NAME FROM information_schema.INNODB_SYS_TABLES '
                 'WHERE FLAG & 64 ORDER BY NAME')
# The worker keeps fail_reason[:1024]: the advice must fit in it.
REASON_LIMIT = 1024
_SHOWN = 10
_PARTITIONS_SHOWN = 4
# A file name's table and partition parts: db/table#P#part#SP#subpart.
_PARTITION = re.compile('#[Pp]#')
_SUBPARTITION = re.compile('#[Ss][Pp]#')
# Names shown as they are; others in backquotes, as SQL would take them.
_PLAIN = re.compile('[A-Za-z0-9_$]*[A-Za-z_$][A-Za-z0-9_$]*$')
_HEAD = ('Tables created with DATA DIRECTORY cannot be restored by this '
         'service: ')
ADVICE = ('Recreate each in the data directory (CREATE TABLE ... LIKE '
          'leaves DATA DIRECTORY out; then INSERT ... SELECT and RENAME '
          'TABLE) and back up again.')


def _listed(items, budget, shown=_SHOWN):
    """items joined by ', ', at most shown of them, those left out
    counted ('and 3 more'), in at most budget characters: an item that
    does not fit ends the list, a first one too long is cut."""
    text, count = '', 0
    for item in items[:shown]:
        candidate = text + ', ' + item if text else item
        if len(candidate) + len(_more(len(items) - count - 1)) > budget:
            break
        text, count = candidate, count + 1
    if not count and items:
        room = budget - len(_more(len(items) - 1)) - 3
        text, count = items[0][:max(room, 0)] + '...', 1
    return text + _more(len(items) - count)


def _more(left_out):
    return ' and %d more' % left_out if left_out else ''


def refusal(tables):
    """The DatastoreError of a backup that holds the tables named; its
    message fits in REASON_LIMIT characters, the advice whole."""
    tail = '. ' + ADVICE
    return base.DatastoreError(reason=_HEAD + _listed(
        tables, REASON_LIMIT - len(_HEAD) - len(tail)) + tail)


def _split(name):
    """(database, table, partition or None) of InnoDB's name of a
    tablespace (db/t, db/t#P#p0, db/t#P#p0#SP#s0), still encoded as on
    disk; a subpartition is named alone, as SQL names it."""
    database, _, rest = name.partition('/')
    parts = _PARTITION.split(rest, 1)
    partition = None
    if len(parts) == 2:
        partition = _SUBPARTITION.split(parts[1], 1)[-1]
    return database, parts[0], partition


def _decoded(parts, cursor):
    """{part: its name in SQL} of the names encoded as on disk (``@002d``
    for ``-``), decoded by the server, which has the table; as on disk
    without a cursor or if the server cannot."""
    names = {part: part for part in parts if part is not None}
    encoded = sorted(part for part in names if '@' in part)
    if encoded and cursor is not None:
        try:
            cursor.execute('SELECT ' + ', '.join(
                ['CONVERT(CAST(%s AS BINARY) USING filename)'] *
                len(encoded)), encoded)
            names.update((part, name) for part, name
                         in zip(encoded, cursor.fetchone()) if name)
        except pymysql.err.MySQLError as exc:
            LOG.warning('Could not decode the table names %s: %s',
                        encoded, exc)
    return names


def _quoted(name):
    return name if _PLAIN.match(name) else '`%s`' % name.replace('`', '``')


def describe(names, cursor=None):
    """Readable names (db.t, db.t (partitions p0, p1), `my-db`.t) of
    InnoDB's names of tablespaces, in their order."""
    split = [_split(name) for name in names]
    sql = {part: _quoted(name) for part, name in _decoded(
        [part for parts in split for part in parts], cursor).items()}
    tables = {}
    for database, table, partition in split:
        partitions = tables.setdefault('%s.%s' % (sql[database],
                                                  sql[table]), [])
        if partition is not None:
            partitions.append(sql[partition])
    return ['%s (partition%s %s)' % (
        table, 's' if len(parts) > 1 else '',
        ', '.join(parts[:_PARTITIONS_SHOWN])
        + _more(len(parts[_PARTITIONS_SHOWN:]))) if parts else table
        for table, parts in tables.items()]


def name_tables(link, server=None, query=None):
    """Readable names of the tables of a backup whose stream holds the
    link file of link (InnoDB's name of a tablespace: db/t, db/t#P#p0):
    that table first, then the others the live server (a
    mariadb_control.Server) lists with DATA DIRECTORY, if it lists that
    one too; else that table and its link file (decoded by the server
    if it answered). The server only names tables: what it cannot tell
    is logged."""
    names = None
    cursor = connection = None
    try:
        if server is not None and query is not None:
            connection = server.connect()
            cursor = connection.cursor()
            cursor.execute(query)
            names = [row[0] for row in cursor.fetchall()]
    except pymysql.err.MySQLError as exc:
        LOG.warning('Could not list the tables created with DATA '
                    'DIRECTORY: %s', exc)
        cursor = None
    try:
        if names and link in names:
            return describe([link] + [name for name in names
                                      if name != link], cursor)
        return ['%s, link file %s%s' % (describe([link], cursor)[0], link,
                                        LINK_FILE_SUFFIX)]
    finally:
        if connection is not None:
            connection.close()


class CheckedStream(object):
    """A backup tool's xbstream output as the pipeline reads it, its chunk
    headers followed (xbstream.Scanner): a link file fails the backup as
    its header passes, before its bytes, or any after, reach storage.

    This alone decides: the stream holds exactly what a restore will
    get, whatever the tool's options left out, a table created with DATA
    DIRECTORY during the copy included. The server (and query) only name
    the tables in the failure (name_tables).
    """

    def __init__(self, stream, tool, server=None, query=None,
                 sparse=False):
        self.stream = stream
        self.tool = tool
        self.server = server
        self.query = query
        self.scanner = xbstream.Scanner(self._chunk, sparse=sparse)

    def read(self, size=-1):
        data = self.stream.read(size)
        try:
            self.scanner.feed(data)
        except xbstream.XbstreamError as exc:
            raise base.DatastoreError(
                reason='the stream of %s is not one a restore can take: %s'
                       % (self.tool, exc))
        return data

    def finish(self):
        """After the tool ended well: its stream did too."""
        try:
            self.scanner.finish()
        except xbstream.XbstreamError as exc:
            raise base.DatastoreError(reason='the stream of %s is cut: %s'
                                      % (self.tool, exc))

    def _chunk(self, path):
        if path.endswith(LINK_FILE_SUFFIX):
            raise refusal(name_tables(path[:-len(LINK_FILE_SUFFIX)],
                                      self.server, self.query))


def refuse_in_restore(directory, backup_id):
    """Refuse a restore whose files include an InnoDB link file (.isl).

    A table made with DATA DIRECTORY keeps its tablespace where its .isl
    says, and --move-back moves the .ibd to that absolute path, creating
    directories on the way: a backup, which its database host writes,
    could so put a file of its choosing anywhere on the restoring host
    (another instance's host, or a worker's for a verification), and a
    genuine one would write over the source's live tablespace when
    restored beside it. Backups since this release refuse such tables;
    older ones may hold them."""
    for root, _, names in os.walk(directory):
        for name in names:
            if name.endswith(LINK_FILE_SUFFIX):
                raise base.DatastoreError(
                    reason='backup %s holds %s: a table created with DATA '
                           'DIRECTORY, whose tablespace a restore would '
                           'write where that link file points, outside the '
                           'restored data directory. Such tables are not '
                           'restored: keep every table in the data '
                           'directory of the instance.'
                           % (backup_id, os.path.relpath(
                               os.path.join(root, name), directory)))
