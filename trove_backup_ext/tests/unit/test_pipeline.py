"""The pipeline: chunks, manifests, incrementals and verification."""

import io
import json
import os
from unittest import mock

import fixtures

from trove_backup_ext.datastores import base as datastore_base
from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import manifest as backup_manifest
from trove_backup_ext.pipeline import reader as backup_reader
from trove_backup_ext.pipeline import writer as backup_writer
from trove_backup_ext.storage import local
from trove_backup_ext.tests import base

CHUNK = 64 * 1024


class FakeSession(datastore_base.BackupSession):
    """Members from bytes; a driver's part, not what is tested here."""

    def __init__(self, members, metadata=None, fail=None):
        self._members = members
        self._metadata = metadata or {}
        self._fail = fail

    def members(self):
        for name, data in self._members:
            yield datastore_base.Member(name, io.BytesIO(data))

    def finish(self):
        if self._fail:
            raise datastore_base.DatastoreError(reason=self._fail)
        return self._metadata


class PipelineTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        self.storage = base.local_storage(self.root)
        self.codec = chunk_codec.ChunkCodec(key=os.urandom(32))
        self.reader = backup_reader.BackupReader(self.storage, self.codec)

    def write(self, backup_id, members, parent=None, codec=None, **kw):
        writer = backup_writer.BackupWriter(
            self.storage, 'backups', backup_id, codec or self.codec,
            chunk_size=CHUNK, parallel=3, parent=parent)
        return writer.write(FakeSession(members, **kw), {'instance_id': 'i'})

    def restored(self, backup_id, checksum=None):
        manifest = self.reader.manifest('backups', backup_id, checksum)
        return {m['name']: b''.join(self.reader.member_chunks('backups', m))
                for m in manifest['members']}

    def test_round_trip_of_several_members(self):
        members = [('a', os.urandom(5 * CHUNK + 17)), ('empty', b''),
                   ('b', b'x' * (3 * CHUNK))]
        result = self.write('b1', members, metadata={'lsn': 42})
        self.assertEqual(dict(members), self.restored('b1', result.checksum))
        self.assertEqual(8 * CHUNK + 17, result.size)
        self.assertEqual({'lsn': 42}, result.manifest['metadata'])
        self.assertTrue(result.location.endswith('backups/b1/manifest'))

    def test_compression_shrinks_repetitive_data(self):
        result = self.write('b1', [('a', b'row,' * CHUNK)])
        self.assertLess(result.stored_size, result.size / 10)

    def test_incremental_stores_only_changed_chunks(self):
        data = bytearray(os.urandom(20 * CHUNK))
        full = self.write('full', [('db', bytes(data))])
        data[7 * CHUNK + 5] ^= 0xff
        inc = self.write('inc', [('db', bytes(data))], parent=full.manifest)
        self.assertEqual(1, len(self.storage.list_objects(
            'backups', 'inc/chunks/')))
        self.assertLess(inc.stored_size, 2 * CHUNK)
        self.assertEqual({'db': bytes(data)}, self.restored('inc'))
        self.assertEqual(['full', 'inc'],
                         [m['backup_id'] for m in
                          self.reader.chain('backups', 'inc')])

    def test_failed_tool_writes_no_manifest(self):
        self.assertRaises(datastore_base.DatastoreError, self.write, 'b1',
                          [('a', os.urandom(CHUNK))], fail='tool died')
        self.assertEqual([], self.storage.list_objects('backups',
                                                       'b1/manifest'))
        exc = self.assertRaises(chunk_codec.IntegrityError,
                                self.reader.manifest, 'backups', 'b1')
        self.assertIn('no manifest', str(exc))

    def test_damaged_chunk_is_refused(self):
        self.write('b1', [('a', os.urandom(3 * CHUNK))])
        path = os.path.join(self.root, 'backups', 'b1', 'chunks', '00000002')
        with open(path, 'r+b') as chunk:
            chunk.seek(30)
            byte = chunk.read(1)
            chunk.seek(30)
            chunk.write(bytes([byte[0] ^ 1]))
        exc = self.assertRaises(chunk_codec.IntegrityError,
                                self.reader.verify, 'backups', 'b1')
        self.assertIn('b1/chunks/00000002', str(exc))

    def test_damaged_unencrypted_chunk_is_refused(self):
        plain = chunk_codec.ChunkCodec()
        self.write('b1', [('a', b'abc' * CHUNK)], codec=plain)
        path = os.path.join(self.root, 'backups', 'b1', 'chunks', '00000001')
        data = bytearray(open(path, 'rb').read())
        data[-5] ^= 1
        open(path, 'wb').write(bytes(data))
        reader = backup_reader.BackupReader(self.storage, plain)
        self.assertRaises(chunk_codec.IntegrityError, reader.verify,
                          'backups', 'b1')

    def test_missing_chunk_is_refused(self):
        self.write('b1', [('a', os.urandom(3 * CHUNK))])
        os.unlink(os.path.join(self.root, 'backups', 'b1', 'chunks',
                               '00000003'))
        exc = self.assertRaises(chunk_codec.IntegrityError,
                                self.reader.verify, 'backups', 'b1')
        self.assertIn('missing', str(exc))

    def test_wrong_key_and_no_key(self):
        self.write('b1', [('a', os.urandom(CHUNK))])
        other = backup_reader.BackupReader(
            self.storage, chunk_codec.ChunkCodec(key=os.urandom(32)))
        exc = self.assertRaises(backup_manifest.KeyMismatch, other.verify,
                                'backups', 'b1')
        self.assertIn('encrypted with key %s and key %s is configured' % (
            self.codec.key_id, other.codec.key_id), str(exc))
        keyless = backup_reader.BackupReader(self.storage,
                                             chunk_codec.ChunkCodec())
        self.assertIn('no key is configured', str(self.assertRaises(
            chunk_codec.IntegrityError, keyless.verify, 'backups', 'b1')))

    def test_manifest_checksum_mismatch(self):
        self.write('b1', [('a', b'data')])
        self.assertRaises(chunk_codec.IntegrityError, self.reader.manifest,
                          'backups', 'b1', '0' * 64)

    def test_chunk_moved_to_another_name_is_refused(self):
        self.write('b1', [('a', os.urandom(2 * CHUNK))])
        directory = os.path.join(self.root, 'backups', 'b1', 'chunks')
        first = os.path.join(directory, '00000001')
        second = os.path.join(directory, '00000002')
        data = open(first, 'rb').read()
        open(second, 'wb').write(data)
        self.assertRaises(chunk_codec.IntegrityError, self.reader.verify,
                          'backups', 'b1')

    def test_upload_failure_stops_the_backup(self):
        def refuse(container, name, data):
            raise local.base.StorageError('disk full')
        self.storage.put_object = refuse
        self.assertRaises(local.base.StorageError, self.write, 'b1',
                          [('a', os.urandom(10 * CHUNK))])

    def test_object_names(self):
        self.assertEqual('b/chunks/00000007',
                         backup_manifest.chunk_name('b', 7))
        self.assertTrue(backup_manifest.chunk_name('b', 1).startswith(
            backup_manifest.object_prefix('b')))

    def test_failure_of_the_last_upload_writes_no_manifest(self):
        put = self.storage.put_object

        def refuse_last(container, name, data):
            if name == 'b1/chunks/00000004':
                raise local.base.StorageError('disk full')
            put(container, name, data)
        self.storage.put_object = refuse_last
        self.assertRaises(local.base.StorageError, self.write, 'b1',
                          [('a', os.urandom(4 * CHUNK))])
        self.assertEqual([], self.storage.list_objects('backups',
                                                       'b1/manifest'))

    def test_chain_reuses_chunks_where_they_are_stored(self):
        first = bytearray(os.urandom(4 * CHUNK))
        full = self.write('full', [('db', bytes(first))])
        first[0] ^= 1
        second = backup_writer.BackupWriter(
            self.storage, 'other', 'inc1', self.codec, chunk_size=CHUNK,
            parent=full.manifest, parent_container='backups').write(
                FakeSession([('db', bytes(first))]), {})
        first[-1] ^= 1
        third = backup_writer.BackupWriter(
            self.storage, 'other', 'inc2', self.codec, chunk_size=CHUNK,
            parent=second.manifest, parent_container='other').write(
                FakeSession([('db', bytes(first))]), {})
        chunks = third.manifest['members'][0]['chunks']
        self.assertEqual(['inc1/chunks/00000001', 'full/chunks/00000002',
                          'full/chunks/00000003', 'inc2/chunks/00000004'],
                         [c['object'] for c in chunks])
        self.assertEqual([None, 'backups', 'backups', None],
                         [c.get('container') for c in chunks])
        reader = backup_reader.BackupReader(self.storage, self.codec)
        self.assertEqual(bytes(first), b''.join(reader.member_chunks(
            'other', third.manifest['members'][0])))
        # The parent's manifest is not changed by being built upon.
        self.assertNotIn('container',
                         second.manifest['members'][0]['chunks'][0])

    def test_manifest_is_stored_compressed(self):
        plain = chunk_codec.ChunkCodec()
        self.write('b1', [('a', b'row' * 40 * CHUNK)], codec=plain)
        stored = self.storage.get_object('backups', 'b1/manifest')
        self.assertTrue(stored.startswith(b'\x28\xb5\x2f\xfd'))
        manifest = backup_reader.BackupReader(self.storage, plain).manifest(
            'backups', 'b1')
        self.assertEqual(40 * 3, len(manifest['members'][0]['chunks']))

    def test_plain_json_manifest_of_earlier_versions_is_read(self):
        plain = chunk_codec.ChunkCodec()
        result = self.write('b1', [('a', b'abc' * CHUNK)], codec=plain)
        body = json.dumps(result.manifest).encode()
        self.storage.put_object('backups', 'b1/manifest', body)
        reader = backup_reader.BackupReader(self.storage, plain)
        self.assertEqual(b'abc' * CHUNK, b''.join(reader.member_chunks(
            'backups', reader.manifest('backups', 'b1')['members'][0])))

    def test_damaged_compressed_manifest_is_refused(self):
        plain = chunk_codec.ChunkCodec()
        self.write('b1', [('a', b'abc')], codec=plain)
        stored = self.storage.get_object('backups', 'b1/manifest')
        self.storage.put_object('backups', 'b1/manifest', stored[:-9])
        exc = self.assertRaises(
            chunk_codec.IntegrityError,
            backup_reader.BackupReader(self.storage, plain).manifest,
            'backups', 'b1')
        self.assertIn('not valid', str(exc))

    def test_allocator_is_tuned_once(self):
        calls = []

        def mallopt(option, value):
            calls.append((option, value))
            return 1
        self.useFixture(fixtures.MockPatchObject(
            backup_writer, '_allocator_tuned', False))
        self.useFixture(fixtures.MockPatch(
            'ctypes.CDLL', return_value=mock.Mock(mallopt=mallopt)))
        backup_writer.tune_allocator()
        backup_writer.tune_allocator()
        self.assertEqual([(-3, 32 << 20), (-1, 64 << 20)], calls)

    def test_streamed_manifest_text_is_that_of_json_dumps(self):
        # Batches of 3 entries: the joins between batches are exercised.
        self.useFixture(fixtures.MockPatchObject(backup_manifest, '_BATCH',
                                                 3))
        chunk = {'object': 'b/chunks/00000001', 'sha256': 'ab' * 32,
                 'size': 7, 'stored_size': 5}
        manifest = {
            'backup_id': 'b', 'format': 1, 'metadata': {'x': ['é', None]},
            'members': [
                {'name': 'a', 'size': 70, 'chunks': [chunk] * 10},
                {'name': 'empty', 'size': 0, 'chunks': []},
                {'name': 'dir/ü"', 'size': 7, 'chunks': [
                    dict(chunk, container='other')]}],
            'zzz': 'members'}
        body, _ = backup_manifest.serialize(manifest, chunk_codec.ChunkCodec())
        self.assertEqual(json.dumps(manifest, sort_keys=True,
                                    separators=(',', ':')).encode(),
                         backup_manifest._decompress(body))
        self.assertEqual(manifest, backup_manifest.load(body))
