"""Verifying PostgreSQL backups on a throw-away server, against real ones."""

import functools
import os
import shutil
import tempfile
import threading
import uuid

import fixtures
from oslo_config import cfg

from trove_backup_ext.datastores import base as datastore_base
from trove_backup_ext.datastores import postgresql
from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import reader as backup_reader
from trove_backup_ext.pipeline import writer as backup_writer
from trove_backup_ext.storage import local
from trove_backup_ext.tests import base
from trove_backup_ext.tests import pg_cluster

CONTAINER = 'backups'
ROWS = 5000
OTHER_DB = 'app2'


def processes_using(path):
    """Pids of the processes whose command line mentions path."""
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as cmdline:
                if path.encode() in cmdline.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def corrupt_first_page(path):
    """Make block 0 of a relation file unreadable: pd_lower beyond
    pd_upper, and garbage where its line pointers were."""
    with open(path, 'r+b') as relation:
        relation.seek(12)
        relation.write(b'\xff\x7f\x10\x00' + b'\xa5' * 64)


class PostgreSQLVerifyTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(300, gentle=True))
        password = 'pw-' + uuid.uuid4().hex
        self.cluster = self.useFixture(pg_cluster.Cluster(password))
        with open(os.path.join(self.cluster.datadir, 'pg_hba.conf'),
                  'a') as hba:
            # Counting rows at backup time connects to every database.
            hba.write('host all %s 127.0.0.1/32 scram-sha-256\n'
                      % pg_cluster.BACKUP_ROLE)
        self.cluster.psql('SELECT pg_reload_conf(); GRANT pg_read_all_data '
                          'TO %s' % pg_cluster.BACKUP_ROLE)
        self.cluster.psql('CREATE DATABASE %s' % OTHER_DB)
        self.cluster.psql("CREATE TABLE notes (v text); INSERT INTO notes "
                          "SELECT 'n' || i FROM generate_series(1, 7) i; "
                          "CREATE UNLOGGED TABLE scratch (i int); "
                          "INSERT INTO scratch VALUES (1)", OTHER_DB)
        pg_cluster.load_items(self.cluster, ROWS)

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
                            ('stop_timeout', 30), ('verify_timeout', 120)):
            self.conf.set_override(name, value, group='postgresql')
        self.conf.set_override('storage_dir',
                               self.useFixture(fixtures.TempDir()).path,
                               group='local_storage')
        self.storage = local.LocalStorage(self.conf)
        self.codec = chunk_codec.ChunkCodec()
        self.driver = postgresql.PostgreSQLDatastore(self.conf)
        # As [agent] scratch_dir and the runner's own 0700 directory in it.
        self.scratch_dir = self.useFixture(pg_cluster.WorkDir()).path

    def backup(self, name='full'):
        writer = backup_writer.BackupWriter(self.storage, CONTAINER, name,
                                            self.codec)
        with self.driver.backup() as session:
            writer.write(session, {'instance_id': 'pg',
                                   'datastore': 'postgresql'})
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
        self.assertFalse(os.path.exists(
            os.path.join(restored, 'postmaster.pid')))
        return {check['check']: check for check in checks}

    def live_state(self):
        with open(os.path.join(self.cluster.datadir, 'postmaster.pid')) as p:
            pid = p.readline().strip()
        return (pid, self.cluster.psql('SHOW port'),
                self.cluster.psql(pg_cluster.ITEMS_DIGEST))

    def test_a_quiet_backup_verifies_with_exact_counts(self):
        pieces = self.backup()
        metadata = pieces[-1].metadata
        self.assertTrue(metadata['row_counts_exact'])
        self.assertEqual({'postgres.public.items': ROWS,
                          'app2.public.notes': 7}, metadata['row_counts'])
        live = self.live_state()
        checks = self.verify(self.restore(pieces), metadata)
        self.assertEqual({'integrity_check', 'row_counts'}, set(checks))
        self.assertTrue(all(c['ok'] for c in checks.values()), checks)
        self.assertIn('pg_amcheck --all', checks['integrity_check']['detail'])
        self.assertEqual('2 tables, %d rows, as recorded' % (ROWS + 7),
                         checks['row_counts']['detail'])
        self.assertEqual(live, self.live_state())

    def test_full_read_when_asked(self):
        self.conf.set_override('verify_check', 'full_read', 'postgresql')
        pieces = self.backup()
        checks = self.verify(self.restore(pieces), pieces[-1].metadata)
        self.assertTrue(all(c['ok'] for c in checks.values()), checks)
        self.assertIn('full read', checks['integrity_check']['detail'])

    def test_a_damaged_heap_page_fails_naming_the_table(self):
        items = self.cluster.psql("SELECT pg_relation_filepath('items')")
        pieces = self.backup()
        for mode, check in (('pg_amcheck', 'integrity_check'),
                            ('full_read', 'full_read')):
            self.conf.set_override('verify_check', mode, 'postgresql')
            restored = self.restore(pieces)
            corrupt_first_page(os.path.join(restored, items))
            checks = self.verify(restored, pieces[-1].metadata)
            self.assertFalse(checks[check]['ok'], mode)
            self.assertIn('items', checks[check]['detail'], mode)
            self.assertFalse(checks['row_counts']['ok'], mode)

    def test_counts_that_differ_fail_only_when_the_backup_was_quiet(self):
        pieces = self.backup()
        restored = self.restore(pieces)
        metadata = dict(pieces[-1].metadata)
        metadata['row_counts'] = dict(metadata['row_counts'], **{
            'app2.public.notes': 8})
        checks = self.verify(restored, metadata)
        self.assertFalse(checks['row_counts']['ok'])
        self.assertIn('app2.public.notes: 8 rows recorded, 7 restored',
                      checks['row_counts']['detail'])
        metadata['row_counts_exact'] = False
        checks = self.verify(restored, metadata)
        self.assertTrue(checks['row_counts']['ok'])
        self.assertIn('approximate', checks['row_counts']['detail'])

    def test_a_backup_taken_under_writes_has_approximate_counts(self):
        self.cluster.psql('CREATE TABLE log (i serial, t text)')
        stop = threading.Event()
        written = []

        def write():
            while not stop.is_set():
                self.cluster.psql("INSERT INTO log (t) SELECT 'x' FROM "
                                  "generate_series(1, 10)")
                written.append(10)

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

    def test_a_role_that_cannot_count_still_backs_up(self):
        self.cluster.psql('REVOKE pg_read_all_data FROM %s'
                          % pg_cluster.BACKUP_ROLE)
        pieces = self.backup()
        metadata = pieces[-1].metadata
        self.assertIn('permission denied', metadata['row_counts_error'])
        checks = self.verify(self.restore(pieces), metadata)
        self.assertTrue(checks['row_counts']['ok'])
        self.assertIn('not compared', checks['row_counts']['detail'])

    def test_a_server_that_never_answers_is_killed_in_time(self):
        pieces = self.backup()
        restored = self.restore(pieces)
        self.conf.set_override('verify_timeout', 3, 'postgresql')
        # No such role: the server runs but never lets us in.
        self.conf.set_override('verify_user', 'nobody_here', 'postgresql')
        exc = self.assertRaises(datastore_base.DatastoreError,
                                self.driver.verify, restored,
                                pieces[-1].metadata)
        self.assertIn('within 3 s', str(exc))
        self.assertIn('nobody_here', str(exc))
        self.assertEqual([], processes_using(restored))
