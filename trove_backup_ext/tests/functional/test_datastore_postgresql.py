"""The postgresql driver against real clusters: backup, restore, failures."""

import functools
import os
import signal
import uuid

import fixtures
from oslo_config import cfg
from testtools import content

from trove_backup_ext.datastores import base as datastore_base
from trove_backup_ext.datastores import postgresql
from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import reader as backup_reader
from trove_backup_ext.pipeline import writer as backup_writer
from trove_backup_ext.storage import local
from trove_backup_ext.tests import base
from trove_backup_ext.tests import pg_cluster

CONTAINER = 'backups'
ROWS = 50000
# Every row's content, in order, as one digest: equal digests, equal data.


class PostgreSQLDatastoreTest(base.TestCase):

    chunk_size = backup_writer.DEFAULT_CHUNK_SIZE

    def setUp(self):
        super().setUp()
        # Bounded even if a server hangs; cleanups still stop the servers.
        self.useFixture(fixtures.Timeout(240, gentle=True))
        self.password = 'pw-' + uuid.uuid4().hex
        self.cluster = self.useFixture(pg_cluster.Cluster(self.password))
        self.workdir = self.useFixture(pg_cluster.WorkDir()).path
        self.conf = cfg.ConfigOpts()
        local.register_opts(self.conf)
        postgresql.register_opts(self.conf)
        self.conf([], default_config_files=[])
        self.addCleanup(self.conf.reset)
        self.configure(host='127.0.0.1', port=self.cluster.port,
                       user=pg_cluster.BACKUP_ROLE, password=self.password,
                       connect_timeout=10)
        self.conf.set_override('storage_dir',
                               self.useFixture(fixtures.TempDir()).path,
                               group='local_storage')
        self.storage = local.LocalStorage(self.conf)
        self.driver = postgresql.PostgreSQLDatastore(self.conf)

    def configure(self, **options):
        for name, value in options.items():
            self.conf.set_override(name, value, group='postgresql')

    def load_rows(self):
        pg_cluster.load_items(self.cluster, ROWS)

    def change_rows(self):
        pg_cluster.change_items(self.cluster, ROWS)

    def backup(self, backup_id, codec, parent=None, progress=None):
        writer = backup_writer.BackupWriter(
            self.storage, CONTAINER, backup_id, codec,
            chunk_size=self.chunk_size, parallel=4,
            parent=parent, progress=progress)
        with self.driver.backup(parent and parent['metadata']) as session:
            self.session = session
            return writer.write(session, {'instance_id': 'pg-test',
                                          'datastore': 'postgresql'})

    def restore(self, backup_id, codec):
        """Restore backup_id into a new directory; a server running it."""
        reader = backup_reader.BackupReader(self.storage, codec)
        pieces = [datastore_base.RestorePiece(
            m['backup_id'], m['metadata'],
            functools.partial(self._members, reader, m))
            for m in reader.chain(CONTAINER, backup_id)]
        target = os.path.join(self.workdir, 'restored-' + backup_id)
        self.assertEqual(target, self.driver.restore(pieces, target))
        return self.useFixture(pg_cluster.Server(target, self.workdir))

    @staticmethod
    def _members(reader, manifest):
        for member in manifest['members']:
            yield member['name'], reader.member_chunks(CONTAINER, member)

    def manifests(self):
        return [n for n in self.storage.list_objects(CONTAINER)
                if n.endswith('/manifest')]

    def _round_trip(self, codec):
        # The smallest chunks the agent allows ([agent] chunk_size): with
        # this 6 MB table, 4 MiB chunks would make any change touch half.
        self.chunk_size = 64 * 1024
        self.load_rows()
        before = self.cluster.psql(pg_cluster.ITEMS_DIGEST)
        full = self.backup('full', codec)
        self.change_rows()
        after = self.cluster.psql(pg_cluster.ITEMS_DIGEST)
        self.assertNotEqual(before, after)
        inc = self.backup('inc', codec, parent=full.manifest)

        self.addDetail('sizes', content.text_content(
            'full: size %d stored %d; incremental: size %d stored %d' % (
                full.size, full.stored_size, inc.size, inc.stored_size)))
        major = int(self.cluster.psql('SHOW server_version_num')) // 10000
        self.assertEqual(str(major),
                         full.manifest['metadata']['server_version'])
        self.assertGreater(inc.size, full.size / 2)
        # An incremental is a whole cluster too, but stores only the
        # files' chunks that changed: the table's touched pages, WAL.
        self.assertLess(inc.stored_size, full.stored_size / 10)

        restored_full = self.restore('full', codec)
        self.assertEqual(before, restored_full.psql(pg_cluster.ITEMS_DIGEST))
        restored_inc = self.restore('inc', codec)
        self.assertEqual(after, restored_inc.psql(pg_cluster.ITEMS_DIGEST))
        for server in (restored_full, restored_inc):
            # Out of recovery and writable: a usable primary.
            self.assertEqual('f', server.psql('SELECT pg_is_in_recovery()'))
            server.psql('CREATE TABLE after_restore (i int)')
        return full, inc

    def test_full_and_incremental_round_trip_encrypted(self):
        self._round_trip(chunk_codec.ChunkCodec(key=os.urandom(32)))

    def test_full_and_incremental_round_trip_plain(self):
        full, inc = self._round_trip(chunk_codec.ChunkCodec())
        metadata = inc.manifest['metadata']
        self.assertIn('START WAL LOCATION', metadata['backup_label'])
        self.assertEqual(0o700, metadata['directories']['base'])
        self.assertIn('pg_wal/archive_status', metadata['directories'])

    def piece(self, backup_id, codec, leave_out=()):
        """The RestorePiece of one backup, without the files leave_out."""
        reader = backup_reader.BackupReader(self.storage, codec)
        manifest = reader.manifest(CONTAINER, backup_id)
        manifest['members'] = [m for m in manifest['members']
                               if m['name'] not in leave_out]
        manifest['metadata']['files'] -= len(leave_out)
        return datastore_base.RestorePiece(
            backup_id, manifest['metadata'],
            functools.partial(self._members, reader, manifest))

    def test_restore_refuses_a_non_empty_target(self):
        codec = chunk_codec.ChunkCodec()
        self.backup('full', codec)
        target = os.path.join(self.workdir, 'busy')
        os.mkdir(target)
        open(os.path.join(target, 'keep'), 'w').close()
        exc = self.assertRaises(datastore_base.DatastoreError,
                                self.driver.restore,
                                [self.piece('full', codec)], target)
        self.assertIn('not an empty directory', str(exc))
        self.assertEqual(['keep'], os.listdir(target))

    def test_restore_refuses_an_incomplete_backup_and_cleans_up(self):
        codec = chunk_codec.ChunkCodec()
        self.backup('full', codec)
        piece = self.piece('full', codec)
        piece.metadata['files'] += 1
        target = os.path.join(self.workdir, 'short')
        exc = self.assertRaises(datastore_base.DatastoreError,
                                self.driver.restore, [piece], target)
        self.assertIn('is incomplete', str(exc))
        self.assertEqual([], os.listdir(target))

    def test_backup_without_configuration_files_restores_startable(self):
        # Debian's clusters keep these in /etc: their backups lack them.
        config = ('postgresql.conf', 'pg_hba.conf', 'pg_ident.conf')
        codec = chunk_codec.ChunkCodec()
        self.load_rows()
        self.backup('full', codec)
        target = os.path.join(self.workdir, 'no-config')
        self.driver.restore([self.piece('full', codec, config)], target)
        with open(os.path.join(target, 'pg_hba.conf')) as hba:
            self.assertEqual('local all all peer\n', hba.read())
        server = self.useFixture(pg_cluster.Server(target, self.workdir))
        self.assertEqual(self.cluster.psql(pg_cluster.ITEMS_DIGEST),
                         server.psql(pg_cluster.ITEMS_DIGEST))

    def test_password_is_on_no_command_line(self):
        seen = []

        def progress(size):
            pid = self.session.process.pid
            with open('/proc/%d/cmdline' % pid, 'rb') as cmdline:
                seen.append(cmdline.read())

        self.backup('full', chunk_codec.ChunkCodec(), progress=progress)
        self.assertTrue(seen)
        self.assertIn(b'pg_basebackup', seen[0])
        for cmdline in seen:
            self.assertNotIn(self.password.encode(), cmdline)

    def assertBackupFails(self, fragment):
        exc = self.assertRaises(datastore_base.DatastoreError, self.backup,
                                'failed', chunk_codec.ChunkCodec())
        self.assertIn(fragment, str(exc))
        self.assertIn('pg_basebackup of', str(exc))
        self.assertNotIn(self.password, str(exc))
        self.assertEqual([], self.manifests())
        self.assertIsNotNone(self.session.process.poll())
        return str(exc)

    def test_tool_killed_mid_backup_fails_without_manifest(self):
        self.load_rows()
        self.chunk_size = 64 * 1024

        def progress(size):
            if self.session.process.poll() is None:
                os.kill(self.session.process.pid, signal.SIGKILL)

        exc = self.assertRaises(datastore_base.DatastoreError, self.backup,
                                'killed', chunk_codec.ChunkCodec(),
                                progress=progress)
        self.assertIn('pg_basebackup of', str(exc))
        self.assertIn('killed by signal 9', str(exc))
        self.assertEqual([], self.manifests())

    def test_wrong_port_fails_with_a_clear_message(self):
        self.configure(port=pg_cluster.free_port())
        self.assertBackupFails('Connection refused')

    def test_wrong_password_fails_without_showing_it(self):
        self.configure(password=self.password + 'x')
        self.assertBackupFails('password authentication failed')

    def test_wrong_user_fails_with_a_clear_message(self):
        self.configure(user='postgres')
        self.assertBackupFails('no pg_hba.conf entry')

    def test_cluster_with_tablespaces_is_refused(self):
        location = os.path.join(self.workdir, 'tablespace')
        os.mkdir(location)
        os.chmod(location, 0o700)
        pg_cluster.give_to_postgres(location)
        self.cluster.psql("CREATE TABLESPACE extra LOCATION '%s'" % location)
        self.assertBackupFails('tablespaces besides pg_default')

    def test_closing_a_session_stops_pg_basebackup(self):
        session = self.driver.backup()
        members = session.members()
        member = next(members)
        member.stream.read(10)
        session.close()
        members.close()
        self.assertIsNotNone(session.process.poll())
        session.close()
