"""Restoring into a live MariaDB server: the swap, failures, kills."""

import functools
import hashlib
import os

import fixtures
from oslo_config import cfg

from trove_backup_ext.agent import in_place
from trove_backup_ext.datastores import base as datastore_base
from trove_backup_ext.datastores import mariadb
from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import reader as backup_reader
from trove_backup_ext.pipeline import writer as backup_writer
from trove_backup_ext.storage import local
from trove_backup_ext.tests import base
from trove_backup_ext.tests import mariadb_server

CONTAINER = 'backups'
ROWS = 2000
# The server runs as mysql, as in production: restored files must be
# given to it, or it cannot open them.
SERVER_USER = 'mysql' if os.geteuid() == 0 else 'root'


class _DyingDatastore(mariadb.MariaDBDatastore):
    """The driver, killed (like an agent) as it starts the server."""

    def start(self):
        os._exit(9)


class MariaDBInPlaceTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(300, gentle=True))
        self.server = self.useFixture(
            mariadb_server.MariaDBServer(user=SERVER_USER))
        password = os.urandom(12).hex() + ' #"\\'
        self.server.execute("CREATE USER 'tbe_backup'@'localhost' "
                            "IDENTIFIED BY %s", (password,))
        # SHUTDOWN: for the default stop command.
        self.server.execute(
            "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SUPER, "
            "SHUTDOWN ON *.* TO 'tbe_backup'@'localhost'")
        for sql in (
                'CREATE DATABASE tbe',
                'CREATE TABLE tbe.r (id INT PRIMARY KEY, v VARCHAR(100), '
                'n INT)',
                'INSERT INTO tbe.r SELECT seq, md5(seq), seq '
                'FROM tbe.seq_1_to_%d' % ROWS):
            self.server.execute(sql)
        temp = self.useFixture(fixtures.TempDir()).path
        self.conf = cfg.ConfigOpts()
        mariadb.register_opts(self.conf)
        local.register_opts(self.conf)
        self.conf([], default_config_files=[])
        self.addCleanup(self.conf.reset)
        for name, value in (('socket', self.server.socket),
                            ('user', 'tbe_backup'), ('password', password),
                            ('datadir', self.server.datadir),
                            ('tmp_dir', temp),
                            ('start_command', self.server.command()),
                            ('log_file', self.server.log),
                            ('start_timeout', 60), ('stop_timeout', 60)):
            self.conf.set_override(name, value, group='mariadb')
        self.conf.set_override('storage_dir', os.path.join(temp, 'storage'),
                               group='local_storage')
        self.storage = local.LocalStorage(self.conf)
        self.codec = chunk_codec.ChunkCodec(key=os.urandom(32))
        self.reader = backup_reader.BackupReader(self.storage, self.codec)
        self.driver = mariadb.MariaDBDatastore(self.conf)
        self.states, self.manifests = {}, {}

    def digest(self):
        rows = self.server.execute('SELECT id, v, n FROM tbe.r ORDER BY id')
        return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()

    def backup(self, backup_id, parent=None):
        self.states[backup_id] = self.digest()
        writer = backup_writer.BackupWriter(
            self.storage, CONTAINER, backup_id, self.codec,
            parent=parent and self.manifests[parent])
        with self.driver.backup(parent and self.manifests[parent]['metadata']
                                ) as session:
            self.manifests[backup_id] = writer.write(
                session, {'instance_id': 'i', 'datastore': 'mariadb'}
            ).manifest

    def change_rows(self, mark):
        self.server.execute("UPDATE tbe.r SET v = %s WHERE id <= 100",
                            (mark,))
        self.server.execute('DELETE FROM tbe.r WHERE id > %d' % (ROWS - 50))
        self.changed = self.digest()
        self.assertNotIn(self.changed, self.states.values())

    def write_restored(self, backup_id, damage=None):
        def members(manifest):
            for member in manifest['members']:
                yield member['name'], self.reader.member_chunks(CONTAINER,
                                                                member)

        def write(staging):
            pieces = [datastore_base.RestorePiece(
                m['backup_id'], m['metadata'], functools.partial(members, m))
                for m in self.reader.chain(CONTAINER, backup_id)]
            restored = self.driver.restore(pieces, staging)
            if damage is not None:
                damage(restored)
            return restored
        return write

    def leftovers(self):
        return [name for name in os.listdir(self.server.base)
                if name.startswith('.')]

    def assertServesChangedRows(self):
        self.assertEqual(self.changed, self.digest())
        self.assertEqual([], self.leftovers())
        self.driver.health_check()

    def test_full_backup_restored_into_the_live_server(self):
        self.backup('full')
        self.change_rows('after full')
        in_place.restore_in_place(self.driver, 'r1',
                                  self.write_restored('full'))
        self.assertEqual(self.states['full'], self.digest())
        self.assertEqual([], self.leftovers())
        owner = os.stat(self.server.datadir).st_uid
        self.assertEqual(owner, os.stat(os.path.join(
            self.server.datadir, 'ibdata1')).st_uid)
        self.server.execute('INSERT INTO tbe.r VALUES (0, "new", 0)')

    def test_chain_restored_into_the_live_server(self):
        self.backup('full')
        self.change_rows('inc1')
        self.backup('inc1', parent='full')
        self.change_rows('after inc1')
        in_place.restore_in_place(self.driver, 'r1',
                                  self.write_restored('inc1'))
        self.assertEqual(self.states['inc1'], self.digest())
        self.assertEqual([], self.leftovers())

    def test_data_that_does_not_start_leaves_the_server_as_it_was(self):
        self.backup('full')
        self.change_rows('after full')

        def damage(restored):
            with open(os.path.join(restored, 'ibdata1'), 'r+b') as ibdata:
                ibdata.write(b'\xde\xad' * 32768)
        exc = self.assertRaises(datastore_base.DatastoreError,
                                in_place.restore_in_place, self.driver, 'r1',
                                self.write_restored('full', damage))
        self.assertIn('Starting mariadb', str(exc))
        # The server's own words, from its error log.
        self.assertIn('InnoDB', str(exc))
        self.assertServesChangedRows()

    def test_start_command_failing_leaves_the_server_as_it_was(self):
        # A start command that refuses the restored data (marked below),
        # and starts the old data again.
        self.conf.set_override('start_command', [
            'sh', '-c', 'test ! -e "$0/refuse-me" && exec "$@"',
            self.server.datadir] + self.server.command(), group='mariadb')
        self.backup('full')
        self.change_rows('after full')

        def damage(restored):
            open(os.path.join(restored, 'refuse-me'), 'w').close()
        exc = self.assertRaises(datastore_base.DatastoreError,
                                in_place.restore_in_place, self.driver, 'r1',
                                self.write_restored('full', damage))
        self.assertIn('sh exited with status 1', str(exc))
        self.assertServesChangedRows()

    def test_stop_command_failing_leaves_the_server_as_it_was(self):
        self.conf.set_override('stop_command', ['false'], group='mariadb')
        self.backup('full')
        self.change_rows('after full')
        exc = self.assertRaises(datastore_base.DatastoreError,
                                in_place.restore_in_place, self.driver, 'r1',
                                self.write_restored('full'))
        self.assertIn('Stopping mariadb: false exited with status 1',
                      str(exc))
        self.assertServesChangedRows()

    def test_agent_killed_mid_swap_is_rolled_back_by_recover(self):
        self.backup('full')
        self.change_rows('after full')
        pid = os.fork()
        if pid == 0:
            try:
                in_place.restore_in_place(_DyingDatastore(self.conf), 'r1',
                                          self.write_restored('full'))
            finally:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(9, os.waitstatus_to_exitcode(status))
        # Stopped, with the restored data in place and unchecked.
        self.assertRaises(Exception, self.server.connect)
        self.assertNotEqual([], self.leftovers())
        in_place.recover(self.driver)
        self.assertServesChangedRows()

    def test_stop_of_a_stopped_server_does_nothing(self):
        self.change_rows('changed')
        self.driver.stop()
        self.driver.stop()
        self.assertRaises(Exception, self.server.connect)
        self.driver.start()
        self.assertServesChangedRows()

    def test_no_start_command_means_no_restore_in_place(self):
        self.conf.clear_override('start_command', group='mariadb')
        exc = self.assertRaises(datastore_base.DatastoreError,
                                in_place.restore_in_place, self.driver, 'r1',
                                self.fail)
        self.assertIn('[mariadb] start_command is not set', str(exc))
        self.assertEqual(self.digest(), self.digest())
        self.assertEqual([], self.leftovers())
