"""The storage contract, and the local driver held to it."""

import concurrent.futures
import os
import threading

import fixtures

from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import manifest as backup_manifest
from trove_backup_ext.pipeline import reader as backup_reader
from trove_backup_ext.pipeline import writer as backup_writer
from trove_backup_ext.storage import base as storage_base
from trove_backup_ext.tests import base
from trove_backup_ext.tests.unit import test_pipeline

CHUNK = 256 * 1024


class StorageContractTests:
    """What every storage driver must do, and the pipeline through it.

    A test class mixes this in and, in setUp, sets self.storage and two
    container names of its own, self.container and self.other_container;
    it defines assertObjectURL(url, container, name) and race_rounds.
    """

    # Rounds of test_put_while_another_backup_is_deleted: enough to hit
    # a race that failed one put in a hundred.
    race_rounds = None

    def test_put_then_get(self):
        data = os.urandom(100 * 1024)
        self.storage.ensure_container(self.container)
        self.storage.put_object(self.container, 'dir/sub/é name', data)
        self.storage.put_object(self.container, 'empty', b'')
        self.assertEqual(data, self.storage.get_object(self.container,
                                                       'dir/sub/é name'))
        self.assertEqual(b'', self.storage.get_object(self.container,
                                                      'empty'))

    def test_ranged_read(self):
        self.storage.ensure_container(self.container)
        self.storage.put_object(self.container, 'pack', b'0123456789')
        self.assertEqual(b'3456', self.storage.get_object_range(
            self.container, 'pack', 3, 4))
        self.assertEqual(b'0', self.storage.get_object_range(
            self.container, 'pack', 0, 1))
        # An object shorter than asked for gives what it has.
        self.assertEqual(b'89', self.storage.get_object_range(
            self.container, 'pack', 8, 10))
        self.assertRaises(storage_base.ObjectNotFound,
                          self.storage.get_object_range, self.container,
                          'no/such/object', 0, 1)
        # flush() makes what was put durable and changes nothing.
        self.storage.flush(self.container)
        self.assertEqual(b'0123456789', self.storage.get_object(
            self.container, 'pack'))

    def test_ensure_container_twice(self):
        self.storage.ensure_container(self.container)
        self.storage.ensure_container(self.container)
        self.assertEqual([], self.storage.list_objects(self.container))

    def test_overwrite_replaces(self):
        self.storage.ensure_container(self.container)
        self.storage.put_object(self.container, 'o', b'first version')
        self.storage.put_object(self.container, 'o', b'second')
        self.assertEqual(b'second', self.storage.get_object(self.container,
                                                            'o'))
        self.assertEqual(['o'], self.storage.list_objects(self.container))

    def test_missing_object(self):
        self.storage.ensure_container(self.container)
        exc = self.assertRaises(storage_base.ObjectNotFound,
                                self.storage.get_object, self.container,
                                'no/such/object')
        self.assertIn('no/such/object', str(exc))
        self.assertIsInstance(exc, storage_base.StorageError)
        self.assertRaises(storage_base.ObjectNotFound,
                          self.storage.get_object, self.other_container, 'o')

    def test_delete(self):
        self.storage.ensure_container(self.container)
        self.storage.put_object(self.container, 'a', b'1')
        self.storage.put_object(self.container, 'b', b'2')
        self.storage.delete_object(self.container, 'a')
        self.assertEqual(['b'], self.storage.list_objects(self.container))
        self.assertRaises(storage_base.ObjectNotFound,
                          self.storage.get_object, self.container, 'a')
        # Deleting what is already gone is not an error (retried deletes).
        self.storage.delete_object(self.container, 'a')
        self.storage.delete_object(self.other_container, 'a')

    def test_list_with_prefix(self):
        self.storage.ensure_container(self.container)
        names = ['b1/manifest', 'b1/chunks/00000002', 'b1/chunks/00000001',
                 'b10/manifest', 'c/x', 'é']
        for name in names:
            self.storage.put_object(self.container, name, b'.')
        self.assertEqual(sorted(names),
                         self.storage.list_objects(self.container))
        self.assertEqual(['b1/chunks/00000001', 'b1/chunks/00000002',
                          'b1/manifest'],
                         self.storage.list_objects(self.container, 'b1/'))
        self.assertEqual([], self.storage.list_objects(self.container, 'z'))
        self.assertEqual([], self.storage.list_objects(self.other_container))

    def test_long_listing_from_many_threads(self):
        # Past one listing page of the test Swift (25): every name comes
        # back; written from several threads at once.
        self.storage.ensure_container(self.container)
        names = ['many/%04d' % i for i in range(60)]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda n: self.storage.put_object(
                self.container, n, n.encode()), names))
        self.storage.put_object(self.container, 'other', b'.')
        self.assertEqual(names, self.storage.list_objects(self.container,
                                                          'many/'))

    def test_threads_read_their_own_objects(self):
        self.storage.ensure_container(self.container)

        def round_trip(thread):
            for i in range(8):
                data = os.urandom(1000 + thread * 100 + i)
                name = 't%d/%d' % (thread, i)
                self.storage.put_object(self.container, name, data)
                if self.storage.get_object(self.container, name) != data:
                    return name
            return None

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            wrong = [n for n in pool.map(round_trip, range(8)) if n]
        self.assertEqual([], wrong)

    def test_invalid_names_are_refused(self):
        for container in ('', '..', 'a\0b'):
            self.assertRaises(ValueError, self.storage.ensure_container,
                              container)
        self.storage.ensure_container(self.container)
        self.assertRaises(ValueError, self.storage.put_object,
                          self.container, '', b'x')

    def test_object_url(self):
        self.storage.ensure_container(self.container)
        self.storage.put_object(self.container, 'b1/manifest', b'{}')
        self.assertObjectURL(
            self.storage.object_url(self.container, 'b1/manifest'),
            self.container, 'b1/manifest')

    def test_delete_prefix(self):
        self.storage.ensure_container(self.container)
        for name in ('b1/manifest', 'b1/chunks/00000001', 'b10/manifest'):
            self.storage.put_object(self.container, name, b'.')
        self.storage.delete_prefix(self.container, 'b1/')
        self.assertEqual(['b10/manifest'],
                         self.storage.list_objects(self.container))

    def test_put_while_another_backup_is_deleted(self):
        # Two threads each write a backup and delete it, round after
        # round, in the same container: every round's first put makes
        # the backup's directories (local driver), as an incremental
        # that stores only its manifest does, while the other backup is
        # being deleted.
        self.storage.ensure_container(self.container)
        failures = []
        puts = []
        started = threading.Event()
        done = threading.Event()

        def write_and_delete(backup_id, rounds=None):
            name = '%s/manifest' % backup_id
            i = 0
            while i != rounds and not done.is_set():
                i += 1
                data = b'%d' % i
                try:
                    self.storage.put_object(self.container, name, data)
                    if self.storage.get_object(self.container,
                                               name) != data:
                        failures.append('%s: wrong data' % name)
                except storage_base.StorageError as exc:
                    failures.append(str(exc))
                puts.append(name)
                self.storage.delete_prefix(self.container, backup_id + '/')
                started.set()

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            other = pool.submit(write_and_delete, 'gone')
            started.wait(60)
            try:
                write_and_delete('new', self.race_rounds)
            finally:
                done.set()
            other.result()
        self.assertEqual([], failures[:3],
                         '%d of %d puts failed' % (len(failures), len(puts)))
        self.assertEqual([], self.storage.list_objects(self.container))

    def test_same_backup_deleted_twice_at_once(self):
        # A delete cast delivered twice: both deletions succeed, whatever
        # the other has already removed.
        self.storage.ensure_container(self.container)
        names = ['b1/manifest'] + ['b1/objects/%08d' % i for i in range(40)]
        for _ in range(3):
            for name in names:
                self.storage.put_object(self.container, name, b'.')
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda _: self.storage.delete_prefix(
                    self.container, 'b1/'), range(2)))
            self.assertEqual([], self.storage.list_objects(self.container))

    # The pipeline through the driver.

    def _codec(self):
        if not hasattr(self, '_key'):
            self._key = os.urandom(32)
        return chunk_codec.ChunkCodec(key=self._key)

    def write_backup(self, container, backup_id, members, parent=None,
                     parent_container=None):
        writer = backup_writer.BackupWriter(
            self.storage, container, backup_id, self._codec(),
            chunk_size=CHUNK, parallel=4, parent=parent,
            parent_container=parent_container)
        return writer.write(test_pipeline.FakeSession(members),
                            {'instance_id': 'instance-1'})

    def restore(self, container, backup_id, checksum=None):
        reader = backup_reader.BackupReader(self.storage, self._codec())
        manifest = reader.manifest(container, backup_id, checksum)
        return {m['name']: b''.join(reader.member_chunks(container, m))
                for m in manifest['members']}

    def test_backup_round_trip(self):
        members = [('data', os.urandom(3 * 1024 * 1024 + 5)),
                   ('wal', b'wal record;' * 30000), ('empty', b'')]
        result = self.write_backup(self.container, 'b1', members)
        self.assertEqual(dict(members),
                         self.restore(self.container, 'b1', result.checksum))
        self.assertEqual(self.storage.object_url(self.container,
                                                 'b1/manifest'),
                         result.location)
        self.assertEqual(
            ['b1/manifest'],
            [n for n in self.storage.list_objects(self.container, 'b1/')
             if not n.startswith('b1/objects/')])

    def test_incremental_references_parent_chunks(self):
        # The parent lives in another container: the manifest names it.
        data = bytearray(os.urandom(12 * CHUNK))
        full = self.write_backup(self.other_container, 'full',
                                 [('db', bytes(data))])
        data[5 * CHUNK + 9] ^= 0xff
        inc = self.write_backup(self.container, 'inc', [('db', bytes(data))],
                                parent=full.manifest,
                                parent_container=self.other_container)
        self.assertEqual(['inc/objects/00000001'], self.storage.list_objects(
            self.container, 'inc/objects/'))
        chunks = inc.manifest['members'][0]['chunks']
        self.assertEqual(11, sum(c.get('container') == self.other_container
                                 for c in chunks))
        self.assertLess(inc.stored_size, 2 * CHUNK)
        self.assertEqual({'db': bytes(data)},
                         self.restore(self.container, 'inc'))
        reader = backup_reader.BackupReader(self.storage, self._codec())
        self.assertEqual(['full', 'inc'], [
            m['backup_id'] for m in reader.chain(self.container, 'inc')])

    def test_delete_prefix_of_a_backup(self):
        first = [('db', os.urandom(3 * CHUNK))]
        second = [('db', os.urandom(2 * CHUNK))]
        self.write_backup(self.container, 'b1', first)
        self.write_backup(self.container, 'b10', second)
        self.storage.delete_prefix(self.container,
                                   backup_manifest.object_prefix('b1'))
        self.assertEqual([], self.storage.list_objects(self.container, 'b1/'))
        reader = backup_reader.BackupReader(self.storage, self._codec())
        self.assertRaises(chunk_codec.IntegrityError, reader.manifest,
                          self.container, 'b1')
        self.assertEqual(dict(second), self.restore(self.container, 'b10'))


class LocalStorageTest(StorageContractTests, base.TestCase):

    # 10 to 150 puts of about 6,000 failed when a deletion pruned every
    # empty directory of the container.
    race_rounds = 3000

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        self.storage = base.local_storage(self.root)
        self.container = 'backups'
        self.other_container = 'other'

    def assertObjectURL(self, url, container, name):
        # The store and the object; nothing of the server's directories.
        self.assertEqual('local://%s/%s' % (container, name), url)
        self.assertNotIn(self.root, url)
        with open(os.path.join(self.root, container, name), 'rb') as stored:
            self.assertEqual(self.storage.get_object(container, name),
                             stored.read())

    def _scanned_directories(self):
        """The directories os.walk and os.scandir read from now on."""
        scanned = []
        real_scandir = os.scandir

        def scandir(path='.'):
            scanned.append(os.fspath(path))
            return real_scandir(path)

        self.useFixture(fixtures.MonkeyPatch('os.scandir', scandir))
        return scanned

    def test_delete_reads_only_the_backups_own_directories(self):
        # A container of many other backups: deleting one costs what its
        # own objects cost, and leaves everything else as it was.
        self.storage.ensure_container(self.container)
        others = ['other%03d/objects/%08d' % (b, o)
                  for b in range(200) for o in (1, 2)]
        for name in others + ['b1/manifest', 'b1/objects/00000001',
                              'b10/manifest']:
            self.storage.put_object(self.container, name, b'.')
        top = os.path.join(self.root, self.container)
        # Left by a writer killed mid-upload.
        with open(os.path.join(top, 'b1', 'objects', '.partial-x'), 'wb'):
            pass
        # Made by another backup's writer, about to put its first object.
        os.makedirs(os.path.join(top, 'b2', 'objects'))
        scanned = self._scanned_directories()
        self.assertEqual(['b1/manifest', 'b1/objects/00000001'],
                         self.storage.list_objects(self.container, 'b1/'))
        self.storage.delete_prefix(self.container, 'b1/')
        own = [os.path.join(top, 'b1'), os.path.join(top, 'b1', 'objects')]
        self.assertEqual(own * 2, scanned)
        self.assertFalse(os.path.exists(os.path.join(top, 'b1')))
        self.assertTrue(os.path.isdir(os.path.join(top, 'b2', 'objects')))
        self.assertEqual(sorted(others + ['b10/manifest']),
                         self.storage.list_objects(self.container))

    def test_listing_reads_only_what_the_prefix_covers(self):
        self.storage.ensure_container(self.container)
        for name in ('b1/manifest', 'b1/manifest-parts/00000001',
                     'b1/objects/00000001', 'b10/manifest', 'c/manifest'):
            self.storage.put_object(self.container, name, b'.')
        top = os.path.join(self.root, self.container)
        scanned = self._scanned_directories()
        self.assertEqual(['b1/manifest', 'b1/manifest-parts/00000001'],
                         self.storage.list_objects(self.container,
                                                   'b1/manifest'))
        self.assertEqual([os.path.join(top, 'b1'),
                          os.path.join(top, 'b1', 'manifest-parts')],
                         scanned)
        self.assertEqual(['b1/manifest', 'b1/manifest-parts/00000001',
                          'b1/objects/00000001', 'b10/manifest'],
                         self.storage.list_objects(self.container, 'b1'))
        for prefix in ('b1/../', 'z/', 'b1/manifest/'):
            self.assertEqual([], self.storage.list_objects(self.container,
                                                           prefix))

    def test_put_survives_a_pruner_of_the_whole_container(self):
        # As a worker of a release that pruned every empty directory of
        # the container, still running during an upgrade, does: a put
        # makes the directory again when it vanishes under it.
        self.storage.ensure_container(self.container)
        top = os.path.join(self.root, self.container)
        done = threading.Event()

        def prune():
            while not done.is_set():
                for directory, _, _ in os.walk(top, topdown=False):
                    if directory != top:
                        try:
                            os.rmdir(directory)
                        except OSError:
                            pass

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pruner = pool.submit(prune)
            try:
                for i in range(self.race_rounds):
                    self.storage.put_object(self.container,
                                            'new/manifest', b'.')
                    self.storage.delete_object(self.container,
                                               'new/manifest')
            finally:
                done.set()
            pruner.result()
