"""DATA DIRECTORY tables refused by MariaDB backups, on streams built here
and a server faked (the real ones: test_datastore_mariadb)."""

import io
import logging

import fixtures
import pymysql

from trove_backup_ext.datastores import base
from trove_backup_ext.datastores import mariadb_link_files as link_files
from trove_backup_ext.tests import base as test_base
from trove_backup_ext.tests.unit import test_xbstream as built

QUERY = link_files.MARIADB_QUERY
# The on-disk (filename-encoded) names the fake server decodes.
DECODED = {'my@002ddb': 'my-db', 't@0020@1o': 't \u00fc'}


class FakeCursor(object):

    def __init__(self, server):
        self.server = server
        self.rows = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass

    def execute(self, sql, args=None):
        self.server.queries.append(sql)
        if sql == QUERY:
            self.rows = [(name,) for name in self.server.tablespaces]
        else:
            self.rows = [tuple(DECODED[arg] for arg in args)]

    def fetchall(self):
        return self.rows

    def fetchone(self):
        return self.rows[0]


class FakeServer(object):
    """mariadb_control.Server's connect(), to a server holding the
    tablespaces named (InnoDB's names) or failing with error."""

    def __init__(self, tablespaces=(), error=None):
        self.tablespaces = list(tablespaces)
        self.error = error
        self.queries = []
        self.closed = 0

    def connect(self):
        if self.error:
            raise self.error
        return self

    def cursor(self):
        return FakeCursor(self)

    def close(self):
        self.closed += 1


class TestCase(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            name=link_files.__name__, level=logging.WARNING))


class DescribeTest(TestCase):

    def test_tables_partitions_and_subpartitions(self):
        self.assertEqual(
            ['db.t', 'db.p (partitions p0, p1)', 'db.s (partition s1)',
             'db.q (partition q0)'],
            link_files.describe(['db/t', 'db/p#P#p0', 'db/p#P#p1',
                                 'db/s#P#p0#SP#s1', 'db/q#p#q0']))

    def test_names_decoded_by_the_server_and_quoted_as_sql(self):
        server = FakeServer()
        self.assertEqual(['`my-db`.`t \u00fc`', '`my-db`.t2'],
                         link_files.describe(['my@002ddb/t@0020@1o',
                                              'my@002ddb/t2'],
                                             server.cursor()))
        # One query for every name that needs it, none for the others.
        self.assertEqual(1, len(server.queries))
        self.assertEqual(['db.t'], link_files.describe(['db/t'],
                                                       server.cursor()))
        self.assertEqual(1, len(server.queries))

    def test_names_as_on_disk_when_the_server_cannot_decode(self):
        cursor = FakeServer().cursor()
        cursor.execute = lambda sql, args: (_ for _ in ()).throw(
            pymysql.err.OperationalError(2013, 'lost'))
        self.assertEqual(['`my@002ddb`.t'],
                         link_files.describe(['my@002ddb/t'], cursor))
        self.assertIn('Could not decode the table names', self.log.output)

    def test_refusal_names_ten_tables_and_counts_the_others(self):
        error = link_files.refusal(['db.t%02d' % n for n in range(13)])
        message = str(error)
        self.assertIsInstance(error, base.DatastoreError)
        self.assertTrue(message.startswith(
            'Tables created with DATA DIRECTORY cannot be restored by this '
            'service: db.t00, db.t01, '), message)
        self.assertIn('db.t09 and 3 more. Recreate each in the data '
                      'directory', message)
        self.assertNotIn('db.t10', message)

    def test_partitions_shown_four_per_table(self):
        self.assertEqual(
            ['db.p (partitions p0, p1, p2, p3 and 6 more)',
             'db.q (partitions q0, q1, q2, q3)'],
            link_files.describe(['db/p#P#p%d' % n for n in range(10)]
                                + ['db/q#P#q%d' % n for n in range(4)]))

    def assertFits(self, error):
        # The worker keeps fail_reason[:1024]: the advice whole.
        message = str(error)
        self.assertLessEqual(len(message), 1024)
        self.assertTrue(message.endswith('. ' + link_files.ADVICE), message)
        return message

    def test_the_longest_names_leave_the_advice_whole(self):
        # Names of 64 characters, encoded on disk as 5 each (not decoded),
        # in backquotes, each with partitions of such names.
        name = '@0440' * 64
        tables = link_files.describe(
            ['%s/%s%d#P#%s%d' % (name, name, t, name, p)
             for t in range(12) for p in range(6)])
        self.assertEqual(12, len(tables))
        message = self.assertFits(link_files.refusal(tables))
        # The first, cut, and the others counted.
        self.assertIn('... and 11 more. Recreate', message)
        for count in (1, 2, 3, 30, 1000):
            tables = ['`%s`.`%s%d`' % ('d' * 64, 't' * 60, n)
                      for n in range(count)]
            message = self.assertFits(link_files.refusal(tables))
            self.assertIn(tables[0], message)
            if count >= 30:
                self.assertIn(' more. Recreate', message)
        # A link file's path of the longest a stream may name.
        self.assertFits(link_files.refusal(['db.t, link file ' + 'x' * 4096]))


class NameTablesTest(TestCase):
    """The tables named once a link file was found in the stream."""

    def test_that_table_first_then_the_others_the_server_lists(self):
        server = FakeServer(['db/a', 'db/far', 'db/p#P#p1',
                             'my@002ddb/t@0020@1o', 'db/p#P#p0'])
        self.assertEqual(['db.p (partitions p1, p0)', 'db.a', 'db.far',
                          '`my-db`.`t \u00fc`'],
                         link_files.name_tables('db/p#P#p1', server, QUERY))
        self.assertEqual(1, server.closed)

    def test_the_link_file_when_the_server_does_not_list_it(self):
        # Not listed (or not asked): named from the link file, decoded by
        # the server if it can be reached.
        link = 'my@002ddb/p#P#p0'
        for server in (FakeServer(['db/x']), FakeServer([])):
            self.assertEqual(
                ['`my-db`.p (partition p0), link file my@002ddb/p#P#p0.isl'],
                link_files.name_tables(link, server, QUERY))
            self.assertEqual(1, server.closed)
        # No server or no query (not asked), or a server that cannot
        # answer: as on disk.
        for server, query in (
                (None, QUERY), (FakeServer(['db/x']), None),
                (FakeServer(error=pymysql.err.OperationalError(
                    2002, 'no server')), QUERY)):
            self.assertEqual(
                ['`my@002ddb`.p (partition p0), link file '
                 'my@002ddb/p#P#p0.isl'],
                link_files.name_tables(link, server, query))
            self.assertEqual([], getattr(server, 'queries', []))
        self.assertIn('Could not list the tables created with DATA '
                      'DIRECTORY: (2002', self.log.output)


class CheckedStreamTest(TestCase):

    def read_all(self, stream, size=7):
        data = b''
        while True:
            piece = stream.read(size)
            if not piece:
                return data
            data += piece

    def checked(self, data, server=None, query=QUERY):
        return link_files.CheckedStream(io.BytesIO(data), 'mariabackup',
                                        server, query)

    def test_a_stream_without_link_files_passes_unchanged(self):
        stream = self.checked(built.STREAM)
        self.assertEqual(built.STREAM, self.read_all(stream))
        stream.finish()
        self.assertEqual(len(built.PATHS), stream.scanner.chunks)

    def test_link_file_fails_before_its_bytes_are_read(self):
        before = built.payload('db/t.ibd', b'data' * 10, 0)
        link = built.payload('db/far.isl', b'/srv/far/db/far.ibd', 0)
        after = built.payload('db/secret', b'after', 0)
        stream = self.checked(before + link + after,
                              server=FakeServer(['db/far', 'db/p#P#p0']))
        self.assertEqual(before, stream.read(len(before)))
        error = self.assertRaises(base.DatastoreError, stream.read, 1024)
        # The server, asked when the link file passed, names every table.
        self.assertIn('this service: db.far, db.p (partition p0). Recreate',
                      str(error))

    def test_link_file_named_when_the_server_cannot_be_asked(self):
        link = built.payload('my@002ddb/p#P#p0.isl', b'/srv/x', 0)
        for server, query in ((None, QUERY),
                              (FakeServer(error=pymysql.err.OperationalError(
                                  2002, 'no server')), QUERY)):
            stream = self.checked(link, server, query)
            error = self.assertRaises(base.DatastoreError, self.read_all,
                                      stream, 5)
            self.assertIn('this service: `my@002ddb`.p (partition p0), '
                          'link file my@002ddb/p#P#p0.isl. Recreate',
                          str(error))

    def test_tables_the_server_lists_alone_never_fail_it(self):
        # A discarded tablespace keeps its DATA DIRECTORY flag, an
        # excluded database its tables: without a link file in the
        # stream, the backup goes on; the server is not even asked.
        server = FakeServer(['db/discarded', 'excluded/far'])
        stream = self.checked(built.STREAM, server)
        self.assertEqual(built.STREAM, self.read_all(stream))
        stream.finish()
        self.assertEqual([], server.queries)

    def test_a_stream_no_restore_could_take(self):
        for data, fragment in (
                (built.payload('../x', b'x', 0), 'plain relative path'),
                (built.end('f', kind='S'), "type 'S'")):
            error = self.assertRaises(base.DatastoreError, self.read_all,
                                      self.checked(data))
            self.assertIn('the stream of mariabackup is not one a restore '
                          'can take', str(error))
            self.assertIn(fragment, str(error))

    def test_a_cut_stream_fails_at_finish(self):
        stream = self.checked(built.STREAM[:-3])
        self.read_all(stream)
        error = self.assertRaises(base.DatastoreError, stream.finish)
        self.assertIn('the stream of mariabackup is cut', str(error))

    def test_xtrabackup_sparse_chunks(self):
        data = built.sparse('db/s.ibd', [(0, 2)], b'ab') + built.end(
            'db/s.ibd')
        stream = link_files.CheckedStream(io.BytesIO(data), 'xtrabackup',
                                          sparse=True)
        self.assertEqual(data, self.read_all(stream))
        stream.finish()
