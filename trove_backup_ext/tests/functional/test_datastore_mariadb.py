"""The mariadb datastore against real mariadbd servers and mariabackup."""

import functools
import glob
import hashlib
import logging
import os
import stat
import struct
from unittest import mock
import zlib

import fixtures
from oslo_config import cfg
import testtools

from trove_backup_ext.datastores import base as datastore_base
from trove_backup_ext.datastores import mariadb
from trove_backup_ext.datastores import mariadb_link_files
from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import reader as backup_reader
from trove_backup_ext.pipeline import writer as backup_writer
from trove_backup_ext.storage import local
from trove_backup_ext.tests import base
from trove_backup_ext.tests import mariadb_server

CONTAINER = 'backups'
ROWS = 50000
# Characters an option file would take for syntax, unless quoted.
PASSWORD_SUFFIX = ' #"\\;\''


def _xbstream_file(path, data):
    """The xbstream chunks of one whole file."""
    raw = path.encode()
    header = struct.pack('<8sBBI', b'XBSTCK01', 0, ord('P'), len(raw))
    end = struct.pack('<8sBBI', b'XBSTCK01', 0, ord('E'), len(raw))
    return (header + raw + struct.pack('<QQI', len(data), 0,
                                       zlib.crc32(data)) + data + end + raw)


def _tree_digest(directory):
    """{relative path: SHA-256 of the file} of every file below."""
    found = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            with open(path, 'rb') as f:
                found[os.path.relpath(path, directory)] = hashlib.sha256(
                    f.read()).hexdigest()
    return found


class _Rest(object):
    """A session whose one member was read from already."""

    def __init__(self, session, member):
        self.session = session
        self.member = member

    def members(self):
        yield self.member

    def finish(self):
        return self.session.finish()


class MariaDBDatastoreTest(base.TestCase):
    """Each test runs its own mariadbd; the machine's MariaDB is never
    touched."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(240, gentle=True))
        self.log = self.useFixture(fixtures.FakeLogger(
            name=mariadb.__name__, level=logging.DEBUG))
        self.server = self.useFixture(mariadb_server.MariaDBServer())
        self.password = os.urandom(12).hex() + PASSWORD_SUFFIX
        self.server.execute("CREATE USER 'tbe_backup'@'localhost' "
                            "IDENTIFIED BY %s", (self.password,))
        # SUPER: for the checkpoint that keeps incrementals small.
        self.server.execute(
            "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SUPER "
            "ON *.* TO 'tbe_backup'@'localhost'")
        temp = self.useFixture(fixtures.TempDir()).path
        self.tmp_dir = os.path.join(temp, 'tmp')
        os.mkdir(self.tmp_dir)
        self.restore_dir = os.path.join(temp, 'restores')
        self.conf = cfg.ConfigOpts()
        mariadb.register_opts(self.conf)
        local.register_opts(self.conf)
        self.conf([], default_config_files=[])
        self.addCleanup(self.conf.reset)
        for name, value in (('socket', self.server.socket),
                            ('user', 'tbe_backup'),
                            ('password', self.password),
                            ('datadir', self.server.datadir),
                            ('tmp_dir', self.tmp_dir)):
            self.conf.set_override(name, value, group='mariadb')
        self.conf.set_override('storage_dir', os.path.join(temp, 'storage'),
                               group='local_storage')
        self.storage = local.LocalStorage(self.conf)
        self.codec = chunk_codec.ChunkCodec(key=os.urandom(32))
        self.reader = backup_reader.BackupReader(self.storage, self.codec)
        self.driver = mariadb.MariaDBDatastore(self.conf)

    def run_sql(self, *statements, server=None):
        for sql in statements:
            (server or self.server).execute(sql)

    def table_digest(self, server=None):
        rows = (server or self.server).execute(
            'SELECT id, v, n FROM tbe.r ORDER BY id')
        return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()

    def backup(self, backup_id, parent=None):
        writer = backup_writer.BackupWriter(
            self.storage, CONTAINER, backup_id, self.codec,
            chunk_size=1024 * 1024, parallel=4, parent=parent)
        with self.driver.backup(parent['metadata'] if parent else None) \
                as session:
            return writer.write(session, {'instance_id': 'i',
                                          'datastore': 'mariadb'})

    def pieces(self, backup_id):
        def members(manifest):
            for member in manifest['members']:
                yield member['name'], self.reader.member_chunks(CONTAINER,
                                                                member)
        return [datastore_base.RestorePiece(
                    manifest['backup_id'], manifest['metadata'],
                    functools.partial(members, manifest))
                for manifest in self.reader.chain(CONTAINER, backup_id)]

    def restored_digest(self, backup_id):
        target = os.path.join(self.restore_dir, backup_id)
        self.driver.restore(self.pieces(backup_id), target)
        self.assertEqual([], glob.glob(os.path.join(self.restore_dir, '.*')),
                         'restore left its work directory behind')
        server = self.useFixture(mariadb_server.MariaDBServer(target))
        return self.table_digest(server)

    def test_full_and_incrementals_restore_each_point(self):
        self.run_sql(
            'CREATE DATABASE tbe',
            'CREATE TABLE tbe.r (id INT PRIMARY KEY, v VARCHAR(100), n INT)',
            'INSERT INTO tbe.r SELECT seq, concat(md5(seq), sha1(seq)), seq '
            'FROM tbe.seq_1_to_%d' % ROWS)
        states, results = {}, {}
        states['full'] = self.table_digest()
        results['full'] = self.backup('full')
        # ~1% of the rows changed, some added: a day of a small database.
        self.run_sql(
            "UPDATE tbe.r SET v = md5(concat('one', id)), n = n + 1 "
            "WHERE id BETWEEN 20001 AND 20500",
            "INSERT INTO tbe.r SELECT seq, 'added-one', 0 "
            "FROM tbe.seq_%d_to_%d" % (ROWS + 1, ROWS + 300))
        states['inc1'] = self.table_digest()
        results['inc1'] = self.backup('inc1', results['full'].manifest)
        self.run_sql(
            "UPDATE tbe.r SET v = md5(concat('two', id)) "
            "WHERE id BETWEEN 35001 AND 35500",
            'DELETE FROM tbe.r WHERE id BETWEEN 100 AND 199',
            "INSERT INTO tbe.r SELECT seq, 'added-two', 0 "
            "FROM tbe.seq_%d_to_%d" % (ROWS + 301, ROWS + 600))
        states['inc2'] = self.table_digest()
        results['inc2'] = self.backup('inc2', results['inc1'].manifest)

        self.assertEqual(len(set(states.values())), 3)
        self.assertEqual([], os.listdir(self.tmp_dir))
        meta = {name: result.manifest['metadata']
                for name, result in results.items()}
        self.assertEqual('full-backuped', meta['full']['backup_type'])
        self.assertEqual(meta['full']['to_lsn'], meta['inc1']['from_lsn'])
        self.assertEqual(meta['inc1']['to_lsn'], meta['inc2']['from_lsn'])
        sizes = ', '.join('%s %d stored of %d' % (
            name, results[name].stored_size, results[name].size)
            for name in ('full', 'inc1', 'inc2'))
        self.addDetail('sizes', testtools.content.text_content(sizes))
        for name in ('inc1', 'inc2'):
            self.assertLess(results[name].stored_size,
                            results['full'].stored_size / 2, sizes)
        for name in ('full', 'inc1', 'inc2'):
            self.assertEqual(states[name], self.restored_digest(name),
                             'restore of %s' % name)

    def test_in_process_extraction_writes_what_mbstream_writes(self):
        # Three copying threads: the files' chunks interleave in the stream.
        self.conf.set_override('parallel', 3, group='mariadb')
        self.run_sql(
            'CREATE DATABASE tbe',
            'CREATE TABLE tbe.r (id INT PRIMARY KEY, v VARCHAR(100), n INT)',
            'CREATE TABLE tbe.s LIKE tbe.r',
            'INSERT INTO tbe.r SELECT seq, md5(seq), seq '
            'FROM tbe.seq_1_to_%d' % ROWS,
            'INSERT INTO tbe.s SELECT * FROM tbe.r')
        self.backup('full')
        trees = {}
        for in_process in (False, True):
            self.conf.set_override('extract_in_process', in_process,
                                   group='mariadb')
            directory = os.path.join(self.restore_dir, str(in_process))
            os.makedirs(self.restore_dir, exist_ok=True)
            self.driver._extract(self.pieces('full')[0], directory)
            trees[in_process] = _tree_digest(directory)
        self.assertIn('tbe/r.ibd', trees[True])
        self.assertEqual(trees[False], trees[True])

    def _hostile_restore(self, in_process):
        # mariabackup --move-back moves a table's .ibd to the absolute
        # path its link file (.isl) names: a compromised database host
        # adds both to its own backup, and the restoring host writes the
        # file wherever it says.
        self.conf.set_override('extract_in_process', in_process,
                               group='mariadb')
        self.run_sql('CREATE DATABASE tbe',
                     'CREATE TABLE tbe.r (id INT PRIMARY KEY)',
                     'INSERT INTO tbe.r VALUES (1), (2)')
        with self.driver.backup() as session:
            stream = next(session.members()).stream.read()
            metadata = session.finish()
        outside = os.path.join(os.path.dirname(self.restore_dir),
                               'outside-%s' % in_process, 'cron-job')
        stream += _xbstream_file('tbe/evil.isl', outside.encode())
        stream += _xbstream_file('tbe/evil.ibd', b'* * * * * root id\n')
        piece = datastore_base.RestorePiece(
            'hostile', metadata,
            lambda: iter([(mariadb.MEMBER, iter([stream]))]))
        target = os.path.join(self.restore_dir, 'target-%s' % in_process)
        exc = self.assertRaises(datastore_base.DatastoreError,
                                self.driver.restore, [piece], target)
        self.assertIn('tbe/evil.isl', str(exc))
        self.assertIn('DATA DIRECTORY', str(exc))
        self.assertFalse(os.path.exists(os.path.dirname(outside)))
        self.assertFalse(os.path.exists(target))

    def test_link_file_cannot_send_a_file_outside_in_process(self):
        self._hostile_restore(True)

    def test_link_file_cannot_send_a_file_outside_with_mbstream(self):
        self._hostile_restore(False)

    def remote_dir(self):
        """A directory outside the datadir the server (root here) writes
        DATA DIRECTORY tables into."""
        remote = os.path.join(os.path.dirname(self.restore_dir), 'remote')
        os.makedirs(remote)
        os.chmod(remote, 0o777)
        return remote

    def test_data_directory_table_is_refused_with_its_reason(self):
        # A genuine .isl names the source's live directory: restored beside
        # it (a verification, another instance on the host) it would be
        # moved onto the live tablespace.
        remote = self.remote_dir()
        self.run_sql('CREATE DATABASE tbe',
                     "CREATE TABLE tbe.d (id INT PRIMARY KEY) "
                     "DATA DIRECTORY='%s'" % remote,
                     'INSERT INTO tbe.d VALUES (1), (2)')
        # As a release before backups refused such tables took it.
        with mock.patch.object(mariadb_link_files.CheckedStream, '_chunk',
                               lambda self, path: None):
            self.backup('d')
        # The live server may still flush its pages there: names only.
        live = sorted(os.listdir(os.path.join(remote, 'tbe')))
        exc = self.assertRaises(
            datastore_base.DatastoreError, self.driver.restore,
            self.pieces('d'), os.path.join(self.restore_dir, 'scratch'))
        self.assertIn('DATA DIRECTORY', str(exc))
        self.assertIn('tbe/d.isl', str(exc))
        self.assertEqual(live, sorted(os.listdir(os.path.join(remote,
                                                              'tbe'))))
        self.assertEqual([], os.listdir(self.restore_dir))

    def assertRefusedNaming(self, exc, *tables):
        """exc names the tables (the one whose link file the stream held
        first, in any order) and the advice."""
        message = str(exc)
        head = ('Tables created with DATA DIRECTORY cannot be restored by '
                'this service: ')
        tail = '. ' + mariadb_link_files.ADVICE
        self.assertTrue(message.startswith(head), message)
        self.assertTrue(message.endswith(tail), message)
        self.assertEqual(sorted(tables), sorted(
            message[len(head):-len(tail)].split(', ')), message)

    def test_data_directory_tables_fail_the_backup(self):
        remote = self.remote_dir()
        self.run_sql(
            'CREATE DATABASE tbe', 'CREATE DATABASE `my-db`',
            "CREATE TABLE tbe.r (id INT PRIMARY KEY, v VARCHAR(100), n INT) "
            "DATA DIRECTORY='%s'" % remote,
            'INSERT INTO tbe.r SELECT seq, md5(seq), seq '
            'FROM tbe.seq_1_to_1000',
            "CREATE TABLE `my-db`.`t \u00fc` (i INT) DATA DIRECTORY='%s'"
            % remote,
            "CREATE TABLE tbe.p (i INT) PARTITION BY HASH (i) (PARTITION p0, "
            "PARTITION p1 DATA DIRECTORY='%s')" % remote,
            'CREATE TABLE tbe.local (i INT)')
        exc = self.assertRaises(datastore_base.DatastoreError, self.backup,
                                'far')
        # Found in the stream, named by the server.
        self.assertRefusedNaming(exc, '`my-db`.`t \u00fc`', 'tbe.p '
                                 '(partition p1)', 'tbe.r')
        # Failed before the end of the stream: no manifest, nothing left.
        self.assertEqual([], self.storage.list_objects(
            CONTAINER, prefix='far/manifest'))
        self.assertEqual([], os.listdir(self.tmp_dir))
        # What the refusal advises moves the table into the data directory.
        self.run_sql('CREATE TABLE tbe.r_new LIKE tbe.r',
                     'INSERT INTO tbe.r_new SELECT * FROM tbe.r',
                     'RENAME TABLE tbe.r TO tbe.r_far, tbe.r_new TO tbe.r',
                     'DROP TABLE tbe.r_far', 'DROP TABLE `my-db`.`t \u00fc`',
                     'DROP TABLE tbe.p')
        self.backup('moved')
        self.assertEqual(self.table_digest(), self.restored_digest('moved'))

    def create_rows(self):
        self.run_sql('CREATE DATABASE tbe',
                     'CREATE TABLE tbe.r (id INT PRIMARY KEY, v VARCHAR(100), '
                     'n INT)',
                     'INSERT INTO tbe.r SELECT seq, md5(seq), seq '
                     'FROM tbe.seq_1_to_1000')

    def test_discarded_data_directory_tablespace_backs_up(self):
        # Its dictionary flags still say DATA DIRECTORY, but it has no
        # .isl nor .ibd: nothing in the stream, and the backup restores.
        remote = self.remote_dir()
        self.create_rows()
        self.run_sql("CREATE TABLE tbe.imp (i INT) DATA DIRECTORY='%s'"
                     % remote, 'ALTER TABLE tbe.imp DISCARD TABLESPACE')
        self.assertEqual((('tbe/imp',),), self.server.execute(
            mariadb_link_files.MARIADB_QUERY))
        self.backup('discarded')
        self.assertEqual(self.table_digest(),
                         self.restored_digest('discarded'))

    def test_data_directory_table_the_tool_leaves_out_backs_up(self):
        # mariabackup reads the host's option files (ours comes on top):
        # a database it excludes holds no link file in its stream.
        home = os.path.join(os.path.dirname(self.restore_dir), 'home')
        os.makedirs(home)
        with open(os.path.join(home, '.my.cnf'), 'w') as options:
            options.write('[mariabackup]\ndatabases-exclude=scratch\n')
        self.useFixture(fixtures.EnvironmentVariable('HOME', home))
        remote = self.remote_dir()
        self.create_rows()
        self.run_sql('CREATE DATABASE scratch',
                     "CREATE TABLE scratch.far (i INT) DATA DIRECTORY='%s'"
                     % remote)
        self.backup('excluded')
        self.assertEqual(self.table_digest(),
                         self.restored_digest('excluded'))
        # Where it is not excluded, it fails the backup.
        self.useFixture(fixtures.EnvironmentVariable(
            'HOME', self.useFixture(fixtures.TempDir()).path))
        exc = self.assertRaises(datastore_base.DatastoreError, self.backup,
                                'included')
        self.assertRefusedNaming(exc, 'scratch.far')

    def test_incremental_on_a_parent_not_checked_for_link_files_fails(self):
        # A full as releases before the check took it, of a table created
        # with DATA DIRECTORY: no restore takes it, nor any incremental on
        # it, even once the table moved.
        remote = self.remote_dir()
        self.create_rows()
        self.run_sql("CREATE TABLE tbe.far (i INT PRIMARY KEY) "
                     "DATA DIRECTORY='%s'" % remote,
                     'INSERT INTO tbe.far VALUES (1)')
        with mock.patch.object(mariadb_link_files.CheckedStream, '_chunk',
                               lambda self, path: None):
            parent = self.backup('legacy').manifest
        parent['metadata'].pop(mariadb.LINK_FILES_CHECKED)
        self.run_sql('CREATE TABLE tbe.far_new LIKE tbe.far',
                     'INSERT INTO tbe.far_new SELECT * FROM tbe.far',
                     'RENAME TABLE tbe.far TO tbe.far_old, '
                     'tbe.far_new TO tbe.far', 'DROP TABLE tbe.far_old')
        exc = self.assertRaises(datastore_base.DatastoreError, self.backup,
                                'incremental', parent)
        self.assertIn('The parent backup was taken before backups were '
                      'checked for the link files', str(exc))
        self.assertIn('Take a full backup.', str(exc))
        # Before the tool ran: nothing stored, nothing left.
        self.assertEqual([], self.storage.list_objects(
            CONTAINER, prefix='incremental/'))
        self.assertEqual([], os.listdir(self.tmp_dir))
        # A full backup now, and incrementals on it, are whole.
        full = self.backup('full').manifest
        self.assertTrue(full['metadata'][mariadb.LINK_FILES_CHECKED])
        self.run_sql('UPDATE tbe.r SET n = n + 1 WHERE id < 10')
        self.backup('incremental', full)
        self.assertEqual(self.table_digest(),
                         self.restored_digest('incremental'))

    def test_data_directory_table_made_during_the_copy_fails_it(self):
        # After the check before the copy: the stream check finds its link
        # file, in a full backup and in an incremental.
        remote = self.remote_dir()
        self.run_sql('CREATE DATABASE tbe',
                     'CREATE TABLE tbe.r (id INT PRIMARY KEY, v TEXT)',
                     'INSERT INTO tbe.r SELECT seq, repeat(md5(seq), 20) '
                     'FROM tbe.seq_1_to_%d' % ROWS)
        parent = self.backup('full').manifest
        for name, parent_metadata in (('full-far', None),
                                      ('incremental-far', parent)):
            writer = backup_writer.BackupWriter(
                self.storage, CONTAINER, name, self.codec,
                chunk_size=64 * 1024, parallel=2, parent=parent_metadata)
            with self.driver.backup(parent_metadata and
                                    parent_metadata['metadata']) as session:
                member = next(session.members())
                # The tool streams already.
                self.assertTrue(member.stream.read(1024))
                self.run_sql("CREATE TABLE tbe.late (i INT) DATA DIRECTORY="
                             "'%s'" % remote)
                exc = self.assertRaises(
                    datastore_base.DatastoreError, writer.write,
                    _Rest(session, member), {'instance_id': 'i'})
            self.assertRefusedNaming(exc, 'tbe.late')
            self.assertEqual([], self.storage.list_objects(
                CONTAINER, prefix='%s/manifest' % name))
            self.run_sql('DROP TABLE tbe.late')
        self.backup('incremental', parent)

    def test_wrong_password_fails_without_manifest(self):
        self.conf.set_override('password', 'not-' + self.password,
                               group='mariadb')
        exc = self.assertRaises(datastore_base.DatastoreError,
                                self.backup, 'bad')
        self.assertIn('Access denied', str(exc))
        self.assertNotIn(self.password, str(exc))
        self.assertIn('--backup', self.log.output)
        self.assertNotIn(self.password, self.log.output)
        self.assertEqual([], self.storage.list_objects(CONTAINER))
        self.assertEqual([], os.listdir(self.tmp_dir))

    def test_password_off_command_line_and_close_stops_tool(self):
        with self.driver.backup() as session:
            member = next(session.members())
            self.assertTrue(member.stream.read(1024))
            proc = '/proc/%d/' % session.process.pid
            with open(proc + 'cmdline', 'rb') as source:
                cmdline = source.read()
            with open(proc + 'environ', 'rb') as source:
                environ = source.read()
            self.assertIn(b'--backup', cmdline)
            # mariabackup masks a --password argument once it has parsed
            # it, too late: no such argument at all.
            self.assertNotIn(b'--password', cmdline)
            for secret in (self.password, self.password[:24]):
                self.assertNotIn(secret.encode(), cmdline)
                self.assertNotIn(secret.encode(), environ)
            [defaults] = glob.glob(os.path.join(self.tmp_dir, '*',
                                                'defaults.cnf'))
            self.assertEqual(0o600, stat.S_IMODE(os.stat(defaults).st_mode))
            process = session.process
        # Left mid-stream: the tool is stopped, the defaults file gone.
        self.assertIsNotNone(process.poll())
        self.assertEqual([], os.listdir(self.tmp_dir))


class MariaDBRefusalTest(base.TestCase):
    """What must fail without a server: a missing tool, bad restores."""

    def setUp(self):
        super().setUp()
        self.conf = cfg.ConfigOpts()
        self.conf([], default_config_files=[])
        self.addCleanup(self.conf.reset)
        self.driver = mariadb.MariaDBDatastore(self.conf)
        self.root = self.useFixture(fixtures.TempDir()).path
        self.target = os.path.join(self.root, 'datadir')

    def test_missing_tool_is_a_clear_error(self):
        self.conf.set_override('mariabackup_path', '/nonexistent/mariabackup',
                               group='mariadb')
        self.conf.set_override('tmp_dir', self.root, group='mariadb')
        exc = self.assertRaises(datastore_base.DatastoreError,
                                self.driver.backup)
        self.assertIn('cannot run /nonexistent/mariabackup', str(exc))
        self.assertEqual([], os.listdir(self.root))

    def piece(self, backup_id, metadata, data=b''):
        return datastore_base.RestorePiece(
            backup_id, metadata,
            lambda: iter([(mariadb.MEMBER, iter([data]))]))

    def test_chain_must_start_full_and_follow_lsns(self):
        full = {'backup_type': 'full-backuped', 'from_lsn': 0, 'to_lsn': 10}
        inc = {'backup_type': 'incremental', 'from_lsn': 11, 'to_lsn': 20}
        for chain, fragment in (
                ([self.piece('i', inc)],
                 'backup i does not fit the restore chain: it is incremental '
                 'from LSN 11, the chain needs full-backuped from LSN 0'),
                ([self.piece('f', full), self.piece('i', inc)],
                 'the chain needs incremental from LSN 10')):
            exc = self.assertRaises(datastore_base.DatastoreError,
                                    self.driver.restore, chain, self.target)
            self.assertIn(fragment, str(exc))
        self.assertEqual([], os.listdir(self.root))

    def test_damaged_stream_is_refused_and_nothing_left(self):
        full = {'backup_type': 'full-backuped', 'from_lsn': 0, 'to_lsn': 10}
        damaged = b'XBSTCK01' + os.urandom(4096)
        for in_process, message in (
                (True, 'the stream of backup f cannot be extracted'),
                (False, 'mbstream -x of backup f failed')):
            self.conf.set_override('extract_in_process', in_process,
                                   group='mariadb')
            exc = self.assertRaises(
                datastore_base.DatastoreError, self.driver.restore,
                [self.piece('f', full, damaged)], self.target)
            self.assertIn(message, str(exc))
            self.assertEqual([], os.listdir(self.root))
