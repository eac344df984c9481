"""The sqlite driver through the real pipeline, on real database files."""

import hashlib
import os
import sqlite3
import threading
import time

import fixtures
from oslo_config import cfg

from trove_backup_ext.datastores import base as datastore_base
from trove_backup_ext.datastores import sqlite as sqlite_driver
from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import reader as backup_reader
from trove_backup_ext.pipeline import writer as backup_writer
from trove_backup_ext.storage import local
from trove_backup_ext.tests import base

ROWS = 20000


def table_digest(path):
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            'SELECT id, name, amount FROM items ORDER BY id').fetchall()
        check = connection.execute('PRAGMA integrity_check').fetchone()[0]
    return check, len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


class SQLiteDriverTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.conf = cfg.ConfigOpts()
        local.register_opts(self.conf)
        self.conf([], default_config_files=[])
        self.conf.set_override('storage_dir', os.path.join(self.tmp, 'store'),
                               group='local_storage')
        self.driver = sqlite_driver.SQLiteDatastore(self.conf)
        self.db = os.path.join(self.tmp, 'live.sqlite')
        self.conf.set_override('database_path', self.db, group='sqlite')
        self.storage = local.LocalStorage(self.conf)
        self.codec = chunk_codec.ChunkCodec(key=os.urandom(32))
        self.reader = backup_reader.BackupReader(self.storage, self.codec)

    def make_database(self, journal_mode):
        connection = sqlite3.connect(self.db, isolation_level=None)
        connection.execute('PRAGMA journal_mode=%s' % journal_mode)
        # Keep committed pages in the WAL: the backup must fold them in.
        connection.execute('PRAGMA wal_autocheckpoint=0')
        connection.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, '
                           'name TEXT, amount REAL)')
        connection.executemany(
            'INSERT INTO items VALUES (?, ?, ?)',
            ((i, 'item-%d-%s' % (i, 'x' * (i % 50)), i * 1.5)
             for i in range(ROWS)))
        return connection

    def back_up(self, backup_id, parent=None):
        writer = backup_writer.BackupWriter(
            self.storage, 'c', backup_id, self.codec, chunk_size=64 * 1024,
            parent=parent)
        with self.driver.backup() as session:
            return writer.write(session, {'instance_id': 'i'})

    def restore(self, backup_id):
        manifest = self.reader.manifest('c', backup_id)
        piece = datastore_base.RestorePiece(
            backup_id, manifest['metadata'],
            lambda: ((m['name'], self.reader.member_chunks('c', m))
                     for m in manifest['members']))
        target = os.path.join(self.tmp, 'restore-' + backup_id)
        return self.driver.restore([piece], target)

    def test_wal_database_with_uncheckpointed_changes(self):
        live = self.make_database('wal')
        self.assertGreater(os.path.getsize(self.db + '-wal'), 0)
        expected = table_digest(self.db)
        full = self.back_up('full')
        self.assertEqual('wal', full.manifest['metadata']['journal_mode'])

        # 1% of the rows change, in one range; some rows are added.
        live.execute("UPDATE items SET amount = -amount "
                     "WHERE id BETWEEN 5000 AND 5199")
        live.execute("INSERT INTO items VALUES (%d, 'new', 1.0)" % ROWS)
        changed = table_digest(self.db)
        inc = self.back_up('inc', parent=full.manifest)

        self.assertEqual(expected, table_digest(self.restore('full')))
        self.assertEqual(changed, table_digest(self.restore('inc')))
        self.assertEqual(('ok', ROWS + 1), changed[:2])
        self.assertLess(inc.stored_size, full.stored_size / 5)

    def test_rolled_back_transaction_in_wal_is_not_restored(self):
        live = self.make_database('wal')
        expected = table_digest(self.db)
        live.execute('BEGIN')
        live.execute('UPDATE items SET name = NULL')
        live.execute('ROLLBACK')
        self.back_up('b1')
        self.assertEqual(expected, table_digest(self.restore('b1')))

    def test_rollback_journal_database(self):
        self.make_database('delete').close()
        expected = table_digest(self.db)
        result = self.back_up('b1')
        self.assertEqual('delete', result.manifest['metadata']['journal_mode'])
        self.assertEqual(expected, table_digest(self.restore('b1')))

    def test_writer_waits_for_the_backup_and_is_not_lost(self):
        self.make_database('wal').close()
        before = table_digest(self.db)
        wrote = threading.Event()

        def write_during_backup(done):
            if done > 0 and not wrote.is_set():
                wrote.set()
                thread = threading.Thread(target=self._insert_row)
                thread.start()
                self.addCleanup(thread.join)

        writer = backup_writer.BackupWriter(
            self.storage, 'c', 'b1', self.codec, chunk_size=64 * 1024,
            progress=write_during_backup)
        with self.driver.backup() as session:
            writer.write(session, {})
        self.assertTrue(wrote.is_set())
        # The copy is the snapshot under the lock, without the new row...
        self.assertEqual(before, table_digest(self.restore('b1')))
        # ...and the writer's row landed once the lock was released.
        self._wait_for_row()

    def _insert_row(self):
        with sqlite3.connect(self.db, timeout=30) as connection:
            connection.execute("INSERT INTO items VALUES (-1, 'late', 0)")

    def _wait_for_row(self):
        for _ in range(300):
            with sqlite3.connect(self.db, timeout=30) as connection:
                if connection.execute(
                        'SELECT count(*) FROM items WHERE id = -1'
                ).fetchone()[0]:
                    return
            time.sleep(0.1)
        self.fail('The writer blocked by the backup never committed.')

    def test_missing_database_is_a_clear_error(self):
        writer = backup_writer.BackupWriter(self.storage, 'c', 'b1',
                                            self.codec)
        with self.driver.backup() as session:
            exc = self.assertRaises(datastore_base.DatastoreError,
                                    writer.write, session, {})
        self.assertIn('does not exist', str(exc))
        self.assertEqual([], self.storage.list_objects('c', 'b1/manifest'))
