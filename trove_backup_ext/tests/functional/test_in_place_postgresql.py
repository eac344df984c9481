"""Restoring into a live PostgreSQL server: the swap, failures, kills."""

import functools
import os
import uuid

import fixtures
from oslo_config import cfg

from trove_backup_ext.agent import in_place
from trove_backup_ext.datastores import base as datastore_base
from trove_backup_ext.datastores import postgresql
from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import reader as backup_reader
from trove_backup_ext.pipeline import writer as backup_writer
from trove_backup_ext.storage import local
from trove_backup_ext.tests import base
from trove_backup_ext.tests import pg_cluster

CONTAINER = 'backups'
OTHER_DB = 'app2'
OTHER_DIGEST = "SELECT string_agg(v, ',' ORDER BY v) FROM notes"


class _DyingDatastore(postgresql.PostgreSQLDatastore):
    """The driver, killed (like an agent) as it starts the server."""

    def start(self):
        os._exit(9)


class PostgreSQLInPlaceTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(300, gentle=True))
        password = 'pw-' + uuid.uuid4().hex
        self.cluster = self.useFixture(pg_cluster.Cluster(password))
        # The driver starts the server with a plain pg_ctl -D: the port
        # and socket must come from postgresql.conf.
        self.cluster.server.persist_settings()
        with open(os.path.join(self.cluster.datadir, 'pg_hba.conf'),
                  'a') as hba:
            # The health check connects to every database.
            hba.write('host all %s 127.0.0.1/32 scram-sha-256\n'
                      % pg_cluster.BACKUP_ROLE)
        self.cluster.psql('SELECT pg_reload_conf()')
        self.cluster.psql('CREATE DATABASE %s' % OTHER_DB)
        self.cluster.psql("CREATE TABLE notes (v text); "
                          "INSERT INTO notes VALUES ('kept')", OTHER_DB)
        pg_cluster.load_items(self.cluster, 1000)

        self.conf = cfg.ConfigOpts()
        local.register_opts(self.conf)
        postgresql.register_opts(self.conf)
        self.conf([], default_config_files=[])
        self.addCleanup(self.conf.reset)
        for name, value in (('host', '127.0.0.1'),
                            ('port', self.cluster.port),
                            ('user', pg_cluster.BACKUP_ROLE),
                            ('password', password),
                            ('connect_timeout', 10),
                            ('data_directory', self.cluster.datadir),
                            ('start_timeout', 60), ('stop_timeout', 60)):
            self.conf.set_override(name, value, group='postgresql')
        self.conf.set_override('storage_dir',
                               self.useFixture(fixtures.TempDir()).path,
                               group='local_storage')
        self.storage = local.LocalStorage(self.conf)
        self.codec = chunk_codec.ChunkCodec()
        self.driver = postgresql.PostgreSQLDatastore(self.conf)

        self.backed_up = self.state()
        writer = backup_writer.BackupWriter(self.storage, CONTAINER, 'full',
                                            self.codec)
        with self.driver.backup() as session:
            writer.write(session, {'instance_id': 'pg',
                                   'datastore': 'postgresql'})
        self.cluster.psql('UPDATE items SET qty = -1 WHERE id <= 100; '
                          'DELETE FROM items WHERE id > 900')
        self.cluster.psql("UPDATE notes SET v = 'changed'", OTHER_DB)
        self.changed = self.state()
        self.assertNotEqual(self.backed_up, self.changed)

    def state(self):
        return (self.cluster.psql(pg_cluster.ITEMS_DIGEST),
                self.cluster.psql(OTHER_DIGEST, OTHER_DB))

    def write_restored(self, damage=None):
        def write(staging):
            reader = backup_reader.BackupReader(self.storage, self.codec)
            pieces = [datastore_base.RestorePiece(
                m['backup_id'], m['metadata'],
                functools.partial(self._members, reader, m))
                for m in reader.chain(CONTAINER, 'full')]
            restored = self.driver.restore(pieces, staging)
            if damage is not None:
                damage(restored)
            return restored
        return write

    @staticmethod
    def _members(reader, manifest):
        for member in manifest['members']:
            yield member['name'], reader.member_chunks(CONTAINER, member)

    def leftovers(self):
        return [name for name in os.listdir(self.cluster.workdir)
                if name.startswith('.data')]

    def assertServesChangedRows(self):
        self.assertEqual(self.changed, self.state())
        self.assertEqual([], self.leftovers())

    def test_restore_brings_the_backed_up_rows_into_the_live_server(self):
        in_place.restore_in_place(self.driver, 'r1', self.write_restored())
        self.assertEqual(self.backed_up, self.state())
        self.assertEqual('f', self.cluster.psql('SELECT pg_is_in_recovery()'))
        self.cluster.psql('CREATE TABLE after_restore (i int)')
        self.assertEqual([], self.leftovers())
        self.assertEqual(0o700, os.stat(self.cluster.datadir).st_mode & 0o777)

    def test_the_live_servers_configuration_stays(self):
        # The instance's own settings (its port, its pg_hba.conf), not
        # those the backup carries: a restore into another instance would
        # otherwise take the source's.
        for name, line in (('postgresql.conf', "work_mem = '7MB'\n"),
                           ('pg_hba.conf', '# kept\n')):
            with open(os.path.join(self.cluster.datadir, name), 'a') as f:
                f.write(line)
        in_place.restore_in_place(self.driver, 'r1', self.write_restored())
        self.assertEqual(self.backed_up, self.state())
        self.assertEqual('7MB', self.cluster.psql('SHOW work_mem'))
        with open(os.path.join(self.cluster.datadir, 'pg_hba.conf')) as hba:
            self.assertTrue(hba.read().endswith('# kept\n'))

    def test_configured_commands_stop_and_start_the_server(self):
        pg_ctl = os.path.join(pg_cluster.bin_dir(), 'pg_ctl')
        as_postgres = ['runuser', '-u', 'postgres', '--'] \
            if os.geteuid() == 0 else []
        data = self.cluster.datadir
        log = os.path.join(self.cluster.workdir, 'configured.log')
        self.conf.set_override('start_command', as_postgres + [
            pg_ctl, '-D', data, '-l', log, '-w', 'start'], group='postgresql')
        self.conf.set_override('stop_command', as_postgres + [
            pg_ctl, '-D', data, '-w', '-m', 'fast', 'stop'],
            group='postgresql')
        self.conf.set_override('log_file', log, group='postgresql')
        in_place.restore_in_place(self.driver, 'r1', self.write_restored())
        self.assertEqual(self.backed_up, self.state())
        with open(log) as started:
            self.assertIn('database system is ready', started.read())

    def test_data_that_does_not_start_leaves_the_server_as_it_was(self):
        def damage(restored):
            os.unlink(os.path.join(restored, 'global', 'pg_control'))
        exc = self.assertRaises(datastore_base.DatastoreError,
                                in_place.restore_in_place, self.driver, 'r1',
                                self.write_restored(damage))
        self.assertIn('Starting PostgreSQL', str(exc))
        # The server's own words, from its log.
        self.assertIn('pg_control', str(exc))
        self.assertServesChangedRows()

    def test_data_that_fails_the_health_check_leaves_the_server_as_it_was(
            self):
        oid = self.cluster.psql("SELECT oid FROM pg_database WHERE "
                                "datname = '%s'" % OTHER_DB)

        def damage(restored):
            # It starts and answers in the check database, but the other
            # one is no longer a valid database directory.
            os.unlink(os.path.join(restored, 'base', oid, 'PG_VERSION'))
        exc = self.assertRaises(datastore_base.DatastoreError,
                                in_place.restore_in_place, self.driver, 'r1',
                                self.write_restored(damage))
        self.assertIn('failed its health check', str(exc))
        self.assertIn(OTHER_DB, str(exc))
        self.assertServesChangedRows()

    def test_stop_command_failing_leaves_the_server_as_it_was(self):
        self.conf.set_override('stop_command', ['false'], group='postgresql')
        exc = self.assertRaises(datastore_base.DatastoreError,
                                in_place.restore_in_place, self.driver, 'r1',
                                self.write_restored())
        self.assertIn('Stopping PostgreSQL: false exited with status 1',
                      str(exc))
        self.assertServesChangedRows()

    def test_agent_killed_mid_swap_is_rolled_back_by_recover(self):
        pid = os.fork()
        if pid == 0:
            try:
                in_place.restore_in_place(_DyingDatastore(self.conf), 'r1',
                                          self.write_restored())
            finally:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(9, os.waitstatus_to_exitcode(status))
        # Stopped, with the restored data in place and unchecked.
        self.assertRaises(RuntimeError, self.cluster.psql, 'SELECT 1')
        self.assertNotEqual([], self.leftovers())
        in_place.recover(self.driver)
        self.assertServesChangedRows()

    def test_stop_of_a_stopped_server_does_nothing(self):
        self.driver.stop()
        self.driver.stop()
        self.assertRaises(RuntimeError, self.cluster.psql, 'SELECT 1')
        self.driver.start()
        self.driver.health_check()
        self.assertEqual(self.changed, self.state())


class LiveDataTest(base.TestCase):
    """What live_data() refuses, before anything is touched."""

    def driver(self, data_directory):
        conf = cfg.ConfigOpts()
        postgresql.register_opts(conf)
        conf([], default_config_files=[])
        conf.set_override('data_directory', data_directory,
                          group='postgresql')
        return postgresql.PostgreSQLDatastore(conf)

    def test_a_mount_point_is_refused(self):
        exc = self.assertRaises(datastore_base.DatastoreError,
                                self.driver('/').live_data)
        self.assertIn('is a mount point', str(exc))

    def test_no_data_directory_means_no_restore_in_place(self):
        exc = self.assertRaises(datastore_base.DatastoreError,
                                in_place.restore_in_place, self.driver(None),
                                'r1', self.fail)
        self.assertIn('data_directory is not set', str(exc))

    def test_a_directory_of_another_user_is_refused(self):
        if os.geteuid() != 0:
            self.skipTest('only root gives restored data to restore_owner')
        path = self.useFixture(fixtures.TempDir()).path   # root's
        exc = self.assertRaises(datastore_base.DatastoreError,
                                self.driver(path).live_data)
        self.assertIn('restore_owner is postgres', str(exc))
