"""Key changes on a real agent: backups taken in clear, under key A, then
under key B, all restored through the agent's restore path."""

import os
import sqlite3

import fixtures
import requests

from trove_backup_ext.agent import encryption
from trove_backup_ext.agent import restore
from trove_backup_ext.agent import runner
from trove_backup_ext import context as backup_context
from trove_backup_ext.datastores import mariadb
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import lifecycle
from trove_backup_ext.pipeline import chunk_index
from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import writer as backup_writer
from trove_backup_ext import states
from trove_backup_ext import storage
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests.functional import test_backup_lifecycle
from trove_backup_ext.tests import mariadb_server
from trove_backup_ext.tests import process_fixtures as pf
from trove_backup_ext.tests import service_fixtures

PROJECT = base.PROJECT
KEY_A, KEY_B = '11' * 32, '22' * 32
digest = test_backup_lifecycle.digest


def key_id(text):
    return chunk_codec.key_id(bytes.fromhex(text))


class KeyRotationTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.live = ef.sample_sqlite_database(
            os.path.join(self.tmp, 'live.sqlite'), rows=20000)
        # No key yet: backups start in clear.
        self.conf = self.useFixture(service_fixtures.Conf(**{
            'local_storage.storage_dir': os.path.join(self.tmp, 'store'),
            'sqlite.database_path': self.live,
            'agent.datastore': 'sqlite',
            'agent.chunk_size': 64 * 1024,
        })).conf
        self.useFixture(service_fixtures.Database('sqlite'))
        self.context = backup_context.get_admin_context()
        self.instance = instances_db.add(self.context, {
            'id': '0b9a3c1e-6f1d-4d7e-9d2a-5e0f8c7b6a41', 'name': 'demo',
            'project_id': PROJECT, 'datastore': 'sqlite',
            'datastore_version': '3', 'status': 'ACTIVE'})
        self.useFixture(ef.Worker(self.conf))
        self.agent = self.useFixture(ef.Agent(self.conf,
                                              self.instance.id)).service
        self.api = self.useFixture(service_fixtures.APIServer(self.conf))
        self.url = '%s/v1.0/%s/backups' % (self.api.endpoint, PROJECT)
        self.key_files = {
            text: pf.write_private(os.path.join(self.tmp, text[:2] + '.key'),
                                   text + '\n')
            for text in (KEY_A, KEY_B)}

    def use_keys(self, current, previous=None):
        self.conf.set_override('key_file', self.key_files[current],
                               group='backup_encryption')
        if previous is not None:
            self.conf.set_override('previous_key_files',
                                   [self.key_files[k] for k in previous],
                                   group='backup_encryption')

    def back_up(self, change, **fields):
        """A backup taken after change (an UPDATE); its id, and the
        database's digest it holds."""
        if change:
            with sqlite3.connect(self.live) as connection:
                connection.execute(change)
        response = requests.post(self.url, json={'backup': dict(
            {'name': 'b', 'instance': self.instance.id}, **fields)})
        self.assertEqual(202, response.status_code, response.text)
        backup_id = response.json()['backup']['id']
        backup = ef.wait_for(lambda: (lambda b: b if b['status'] in (
            states.COMPLETED, states.FAILED) else None)(requests.get(
                '%s/%s' % (self.url, backup_id)).json()['backup']))
        self.assertEqual(states.COMPLETED, backup['status'],
                         lifecycle.get(self.context, backup_id).fail_reason)
        return backup, digest(self.live)

    def restored(self, backup):
        target = os.path.join(self.tmp, 'restored-%s' % os.urandom(4).hex())
        restore.restore_backup(
            self.conf, self.agent.datastore, 'local', 'database_backups',
            backup['id'], target,
            checksum=lifecycle.get(self.context, backup['id']).checksum)
        return digest(os.path.join(target, 'database.sqlite'))

    def test_clear_then_key_a_then_key_b(self):
        clear, clear_state = self.back_up(None)

        self.use_keys(KEY_A)
        # Restores with a key configured: it is read in clear.
        self.assertEqual(clear_state, self.restored(clear))
        under_a, a_state = self.back_up(
            "UPDATE items SET name = 'a' WHERE id < 30", incremental=1)
        self.assertEqual(clear['id'], under_a['parent_id'])

        self.use_keys(KEY_B, previous=[KEY_A])
        under_b, b_state = self.back_up(
            "UPDATE items SET name = 'b' WHERE id < 20", incremental=1)
        self.assertEqual(under_a['id'], under_b['parent_id'])
        self.assertEqual(
            [clear_state, a_state, b_state],
            [self.restored(b) for b in (clear, under_a, under_b)])

        # Key A retired too early: its backup is refused as a key
        # problem, and the others still restore.
        self.use_keys(KEY_B, previous=[])
        exc = self.assertRaises(chunk_codec.MissingKey, self.restored,
                                under_a)
        self.assertIn('encrypted with key %s, which is not configured'
                      % key_id(KEY_A), str(exc))
        self.assertEqual([clear_state, b_state],
                         [self.restored(b) for b in (clear, under_b)])


class NativeChainKeyRotationTest(base.TestCase):
    """mariabackup's native incrementals: an incremental needs its
    parent's manifest (its LSN), and a restore every backup of the
    chain, each under its own key."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(240, gentle=True))
        self.server = self.useFixture(mariadb_server.MariaDBServer())
        password = os.urandom(12).hex()
        self.server.execute("CREATE USER 'tbe_backup'@'localhost' "
                            "IDENTIFIED BY %s", (password,))
        self.server.execute(
            "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SUPER "
            "ON *.* TO 'tbe_backup'@'localhost'")
        self.tmp = self.useFixture(fixtures.TempDir()).path
        os.mkdir(os.path.join(self.tmp, 'work'))
        self.conf = self.useFixture(service_fixtures.Conf(**{
            'local_storage.storage_dir': os.path.join(self.tmp, 'store'),
            'mariadb.socket': self.server.socket,
            'mariadb.user': 'tbe_backup',
            'mariadb.password': password,
            'mariadb.datadir': self.server.datadir,
            'mariadb.tmp_dir': os.path.join(self.tmp, 'work'),
            'agent.datastore': 'mariadb',
        })).conf
        self.driver = mariadb.MariaDBDatastore(self.conf)
        self.storage = storage.load(self.conf, 'local')
        self.runner = runner.BackupRunner(self.conf, 'i', self.driver, None)
        for text in (KEY_A, KEY_B):
            pf.write_private(os.path.join(self.tmp, text[:2] + '.key'),
                             text + '\n')

    def use_keys(self, current, previous=()):
        def path(text):
            return os.path.join(self.tmp, text[:2] + '.key')
        self.conf.set_override('key_file', path(current),
                               group='backup_encryption')
        self.conf.set_override('previous_key_files',
                               [path(k) for k in previous],
                               group='backup_encryption')

    def back_up(self, backup_id, parent=None):
        """As the agent's runner takes it: the parent's manifest, if it
        may build on it, then the pipeline."""
        codec = encryption.make_codec(self.conf)
        manifest = index = None
        if parent:
            index = chunk_index.ChunkIndex('c')
            manifest = self.runner._usable_parent(
                self.storage, codec, {'container': 'c', 'id': parent.id,
                                      'checksum': parent.checksum}, index)
        writer = backup_writer.BackupWriter(
            self.storage, 'c', backup_id, codec, chunk_size=1024 * 1024,
            parent=manifest, parent_index=index)
        with self.driver.backup(manifest and manifest['metadata']) as session:
            result = writer.write(session, {'datastore': 'mariadb'})
        result.id = backup_id
        return result

    def table_digest(self, server):
        return server.execute('SELECT id, v FROM tbe.r ORDER BY id')

    def restored(self, backup):
        target = os.path.join(self.tmp, 'restored-' + backup.id)
        restore.restore_backup(self.conf, self.driver, 'local', 'c',
                               backup.id, target, backup.checksum)
        return self.table_digest(
            self.useFixture(mariadb_server.MariaDBServer(target)))

    def test_incremental_under_b_on_a_full_under_a(self):
        self.server.execute('CREATE DATABASE tbe')
        self.server.execute('CREATE TABLE tbe.r (id INT PRIMARY KEY, '
                            'v VARCHAR(64))')
        self.server.execute('INSERT INTO tbe.r SELECT seq, md5(seq) '
                            'FROM tbe.seq_1_to_5000')
        self.use_keys(KEY_A)
        full = self.back_up('full')

        self.use_keys(KEY_B, previous=[KEY_A])
        self.server.execute("UPDATE tbe.r SET v = 'under b' WHERE id < 100")
        expected = self.table_digest(self.server)
        inc = self.back_up('inc', parent=full)
        self.assertEqual('full', inc.manifest['parent_id'])
        self.assertEqual(key_id(KEY_B),
                         inc.manifest['encryption']['key_id'])
        self.assertEqual(expected, self.restored(inc))

        # Key A retired: an incremental on inc needs inc's manifest
        # only; one on the full backup, and a restore of the chain, need
        # key A, and say so.
        self.use_keys(KEY_B)
        inc2 = self.back_up('inc2', parent=inc)
        for attempt in (lambda: self.back_up('inc3', parent=full),
                        lambda: self.restored(inc2)):
            exc = self.assertRaises(chunk_codec.MissingKey, attempt)
            self.assertIn('Backup full is encrypted with key %s'
                          % key_id(KEY_A), str(exc))
