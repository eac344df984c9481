"""Verifying MariaDB backups on a throw-away server, against real ones."""

import functools
import os
import shutil
import tempfile
import threading

import fixtures
from oslo_config import cfg

from trove_backup_ext.datastores import base as datastore_base
from trove_backup_ext.datastores import mariadb
from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import reader as backup_reader
from trove_backup_ext.pipeline import writer as backup_writer
from trove_backup_ext.storage import local
from trove_backup_ext.tests import base
from trove_backup_ext.tests.functional import test_verify_postgresql
from trove_backup_ext.tests import mariadb_server

CONTAINER = 'backups'
ROWS = 20000
PAGE = 16384
processes_using = test_verify_postgresql.processes_using


class MariaDBVerifyTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(240, gentle=True))
        self.server = self.useFixture(mariadb_server.MariaDBServer())
        self.server.execute("CREATE USER 'tbe_backup'@'localhost' "
                            "IDENTIFIED BY 'pw'")
        self.server.execute(
            "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SUPER, "
            "SELECT ON *.* TO 'tbe_backup'@'localhost'")
        for sql in ('CREATE DATABASE tbe',
                    'CREATE TABLE tbe.r (id INT PRIMARY KEY, v VARCHAR(100))',
                    "INSERT INTO tbe.r SELECT seq, concat(md5(seq), sha1(seq))"
                    " FROM tbe.seq_1_to_%d" % ROWS,
                    'CREATE DATABASE app2',
                    'CREATE TABLE app2.notes (v TEXT) ENGINE=Aria',
                    "INSERT INTO app2.notes VALUES ('a'), ('b'), ('c')"):
            self.server.execute(sql)
        temp = self.useFixture(fixtures.TempDir()).path
        self.scratch_dir = os.path.join(temp, 'scratch')
        os.mkdir(self.scratch_dir)
        self.conf = cfg.ConfigOpts()
        mariadb.register_opts(self.conf)
        local.register_opts(self.conf)
        self.conf([], default_config_files=[])
        self.addCleanup(self.conf.reset)
        for name, value in (('socket', self.server.socket),
                            ('user', 'tbe_backup'), ('password', 'pw'),
                            ('datadir', self.server.datadir),
                            ('stop_timeout', 30), ('verify_timeout', 120),
                            ('verify_buffer_pool', '32M')):
            self.conf.set_override(name, value, group='mariadb')
        self.conf.set_override('storage_dir', os.path.join(temp, 'storage'),
                               group='local_storage')
        self.storage = local.LocalStorage(self.conf)
        self.codec = chunk_codec.ChunkCodec()
        self.driver = mariadb.MariaDBDatastore(self.conf)
        self.names = iter(range(100))

    def backup(self):
        name = 'b%d' % next(self.names)
        writer = backup_writer.BackupWriter(self.storage, CONTAINER, name,
                                            self.codec)
        with self.driver.backup() as session:
            writer.write(session, {'instance_id': 'i',
                                   'datastore': 'mariadb'})
        reader = backup_reader.BackupReader(self.storage, self.codec)
        return [datastore_base.RestorePiece(
            m['backup_id'], m['metadata'],
            functools.partial(self._members, reader, m))
            for m in reader.chain(CONTAINER, name)]

    @staticmethod
    def _members(reader, manifest):
        for member in manifest['members']:
            yield member['name'], reader.member_chunks(CONTAINER, member)

    def restore(self, pieces):
        scratch = tempfile.mkdtemp(prefix='trove-verify-',
                                   dir=self.scratch_dir)
        self.addCleanup(shutil.rmtree, scratch, ignore_errors=True)
        return self.driver.restore(pieces, os.path.join(scratch, 'data'))

    def verify(self, restored, metadata):
        checks = self.driver.verify(restored, metadata)
        self.assertEqual([], processes_using(restored))
        # Its socket, pid file and log went with it.
        self.assertEqual(['data'], os.listdir(os.path.dirname(restored)))
        return {check['check']: check for check in checks}

    def live_state(self):
        with open(self.server.pid_file) as pid:
            return (pid.read(), self.server.execute('SELECT @@port'),
                    self.server.execute('CHECKSUM TABLE tbe.r'))

    def test_a_quiet_backup_verifies_with_exact_counts(self):
        pieces = self.backup()
        metadata = pieces[-1].metadata
        self.assertTrue(metadata['row_counts_exact'])
        self.assertEqual({'tbe.r': ROWS, 'app2.notes': 3},
                         metadata['row_counts'])
        live = self.live_state()
        checks = self.verify(self.restore(pieces), metadata)
        self.assertEqual({'check_table', 'row_counts'}, set(checks))
        self.assertTrue(all(c['ok'] for c in checks.values()), checks)
        self.assertEqual('CHECK TABLE: 2 tables OK',
                         checks['check_table']['detail'])
        self.assertEqual('2 tables, %d rows, as recorded' % (ROWS + 3),
                         checks['row_counts']['detail'])
        self.assertEqual(live, self.live_state())

    def test_a_damaged_ibd_page_fails_naming_the_table(self):
        pieces = self.backup()
        restored = self.restore(pieces)
        with open(os.path.join(restored, 'tbe', 'r.ibd'), 'r+b') as ibd:
            # A leaf page of the clustered index, checksum left stale.
            ibd.seek(5 * PAGE + 1000)
            ibd.write(b'\xa5' * 200)
        checks = self.verify(restored, pieces[-1].metadata)
        self.assertFalse(checks['check_table']['ok'], checks)
        self.assertIn('tbe.r:', checks['check_table']['detail'])
        self.assertFalse(checks['row_counts']['ok'])

    def test_counts_that_differ_fail_only_when_the_backup_was_quiet(self):
        pieces = self.backup()
        restored = self.restore(pieces)
        metadata = dict(pieces[-1].metadata)
        metadata['row_counts'] = {'tbe.r': ROWS - 1, 'app2.notes': 3}
        checks = self.verify(restored, metadata)
        self.assertFalse(checks['row_counts']['ok'])
        self.assertIn('tbe.r: %d rows recorded, %d restored' % (ROWS - 1,
                                                                ROWS),
                      checks['row_counts']['detail'])
        metadata['row_counts_exact'] = False
        checks = self.verify(restored, metadata)
        self.assertTrue(checks['row_counts']['ok'])
        self.assertIn('approximate', checks['row_counts']['detail'])

    def test_a_backup_taken_under_writes_has_approximate_counts(self):
        stop = threading.Event()
        written = []

        def write():
            connection = self.server.connect()
            try:
                with connection.cursor() as cursor:
                    while not stop.is_set():
                        cursor.execute("INSERT INTO tbe.r SELECT seq, 'w' "
                                       "FROM tbe.seq_%d_to_%d" % (
                                           ROWS + len(written) * 10 + 1,
                                           ROWS + len(written) * 10 + 10))
                        written.append(10)
            finally:
                connection.close()

        writer = threading.Thread(target=write)
        writer.start()
        try:
            pieces = self.backup()
        finally:
            stop.set()
            writer.join()
        self.assertTrue(written)
        metadata = pieces[-1].metadata
        self.assertFalse(metadata['row_counts_exact'])
        checks = self.verify(self.restore(pieces), metadata)
        self.assertTrue(all(c['ok'] for c in checks.values()), checks)
        self.assertIn('written during the backup',
                      checks['row_counts']['detail'])

    def test_a_user_that_cannot_count_still_backs_up(self):
        self.server.execute("REVOKE SELECT ON *.* FROM "
                            "'tbe_backup'@'localhost'")
        pieces = self.backup()
        metadata = pieces[-1].metadata
        self.assertIn('denied', metadata['row_counts_error'])
        checks = self.verify(self.restore(pieces), metadata)
        self.assertTrue(checks['row_counts']['ok'])
        self.assertIn('not compared', checks['row_counts']['detail'])

    def test_a_server_that_never_answers_is_killed_in_time(self):
        pieces = self.backup()
        restored = self.restore(pieces)
        fake = os.path.join(self.scratch_dir, 'fake-mariadbd')
        with open(fake, 'w') as script:
            # Runs on (no socket ever appears), restored on its line.
            script.write('#!/bin/sh\nsleep 600\n')
        os.chmod(fake, 0o755)
        self.conf.set_override('server_path', fake, 'mariadb')
        self.conf.set_override('verify_timeout', 3, 'mariadb')
        exc = self.assertRaises(datastore_base.DatastoreError,
                                self.driver.verify, restored,
                                pieces[-1].metadata)
        self.assertIn('within 3 s', str(exc))
        self.assertEqual([], processes_using(restored))
