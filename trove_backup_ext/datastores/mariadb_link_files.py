"""MariaDB tables created with DATA DIRECTORY (InnoDB link files, .isl),
which no restore takes: backups refuse them before the copy and as the
stream passes, restores refuse a backup holding one."""

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
# DATA DIRECTORY (bit 6, as MariaDB documents it; tested with 10.11):
# exactly those InnoDB writes a link file for. The dictionary has every
# table; INNODB_SYS_TABLESPACES, since 10.6, has the tablespaces InnoDB
# holds in memory at the moment. Needs PROCESS, as mariabackup does.
MARIADB_QUERY = ('SELECT NAME FROM information_schema.INNODB_SYS_TABLES '
                 'WHERE FLAG & 64 ORDER BY NAME')
# fail_reason keeps 1024 characters.
_SHOWN = 10
# A file name's table and partition parts: db/table#P#part#SP#subpart.
_PARTITION = re.compile('#[Pp]#')
_SUBPARTITION = re.compile('#[Ss][Pp]#')
# Names shown as they are; others in backquotes, as SQL would take them.
_PLAIN = re.compile('[A-Za-z0-9_$]*[A-Za-z_$][A-Za-z0-9_$]*$')
ADVICE = ('Recreate each in the data directory (CREATE TABLE ... LIKE '
          'leaves DATA DIRECTORY out; then INSERT ... SELECT and RENAME '
          'TABLE) and back up again.')


def refusal(tables):
    """The DatastoreError of a backup that holds the tables named."""
    shown = ', '.join(tables[:_SHOWN])
    if len(tables) > _SHOWN:
        shown += ' and %d more' % (len(tables) - _SHOWN)
    return base.DatastoreError(
        reason='Tables created with DATA DIRECTORY cannot be restored by '
               'this service: %s. %s' % (shown, ADVICE))


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
    return ['%s (partition%s %s)' % (table, 's' if len(parts) > 1 else '',
                                     ', '.join(parts)) if parts else table
            for table, parts in tables.items()]


def find(server, query):
    """The readable names of the tables of the live server (a
    mariadb_control.Server) that have a link file; pymysql's errors
    raised."""
    connection = server.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute(query)
            return describe([row[0] for row in cursor.fetchall()], cursor)
    finally:
        connection.close()


def check_server(server, query):
    """Before a backup: raise the refusal if the server holds such
    tables. A server that cannot tell is logged and the backup goes on:
    its stream is checked anyway (CheckedStream)."""
    if query is None:
        return
    try:
        tables = find(server, query)
    except pymysql.err.MySQLError as exc:
        LOG.warning('Could not list the tables created with DATA DIRECTORY '
                    'before the backup (%s); the backup stream is checked '
                    'for their link files as it is read.', exc)
        return
    if tables:
        raise refusal(tables)


class CheckedStream(object):
    """A backup tool's xbstream output as the pipeline reads it, its chunk
    headers followed (xbstream.Scanner): a link file fails the backup as
    its header passes, before its bytes, or any after, reach storage.

    The stream holds exactly what a restore will get, so this catches
    what the query before the backup cannot: a table created with DATA
    DIRECTORY during the copy, a server that could not be asked. It names
    the tables the server lists then, or the link file.
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
        if not path.endswith(LINK_FILE_SUFFIX):
            return
        tables = []
        if self.server is not None and self.query is not None:
            try:
                tables = find(self.server, self.query)
            except pymysql.err.MySQLError as exc:
                LOG.warning('Could not list the tables created with DATA '
                            'DIRECTORY: %s', exc)
        link = path[:-len(LINK_FILE_SUFFIX)]
        raise refusal(tables or ['%s, link file %s' % (describe([link])[0],
                                                       path)])


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
