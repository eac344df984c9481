"""The pipeline: chunks, manifests, incrementals and verification."""

import io
import json
import os
import tracemalloc
from unittest import mock

import fixtures

from trove_backup_ext.datastores import base as datastore_base
from trove_backup_ext.pipeline import chunk_index
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

    def write(self, backup_id, members, parent=None, codec=None,
              object_size=CHUNK, **kw):
        """object_size CHUNK: a chunk of random bytes fills its object."""
        writer = backup_writer.BackupWriter(
            self.storage, 'backups', backup_id, codec or self.codec,
            chunk_size=CHUNK, object_size=object_size, parallel=3,
            parent=parent)
        return writer.write(FakeSession(members, **kw), {'instance_id': 'i'})

    def object_path(self, backup_id, sequence):
        return os.path.join(self.root, 'backups', backup_id, 'objects',
                            '%08d' % sequence)

    def restored(self, backup_id, checksum=None):
        """What a restore reads: the manifest as a stream."""
        stored = self.reader.stored_backup('backups', backup_id, checksum)
        return {name: b''.join(chunks) for name, chunks in stored.members()}

    def test_manifest_as_dicts_reads_the_same(self):
        members = [('a', os.urandom(3 * CHUNK + 1)), ('b', b'row' * CHUNK)]
        self.write('b1', members)
        manifest = self.reader.manifest('backups', 'b1')
        self.assertEqual(dict(members), {
            m['name']: b''.join(self.reader.member_chunks('backups', m))
            for m in manifest['members']})
        self.assertEqual(dict(members), self.restored('b1'))

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
            'backups', 'inc/objects/')))
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

    def flip_byte(self, path, offset):
        with open(path, 'r+b') as stored:
            stored.seek(offset)
            byte = stored.read(1)
            stored.seek(offset)
            stored.write(bytes([byte[0] ^ 1]))

    def test_damaged_chunk_is_refused(self):
        self.write('b1', [('a', os.urandom(3 * CHUNK))])
        self.flip_byte(self.object_path('b1', 2), 30)
        exc = self.assertRaises(chunk_codec.IntegrityError,
                                self.reader.verify, 'backups', 'b1')
        self.assertIn('b1/objects/00000002@0', str(exc))

    def test_damaged_chunk_packed_with_others_is_refused(self):
        plain = chunk_codec.ChunkCodec()
        result = self.write('b1', [('a', b'abc' * 4 * CHUNK)], codec=plain,
                            object_size=1024 * CHUNK)
        chunks = result.manifest['members'][0]['chunks']
        self.assertEqual({'b1/objects/00000001'},
                         {c['object'] for c in chunks})
        third = chunks[2]
        self.flip_byte(self.object_path('b1', 1), third['offset'] + 5)
        reader = backup_reader.BackupReader(self.storage, plain)
        exc = self.assertRaises(chunk_codec.IntegrityError, reader.verify,
                                'backups', 'b1')
        self.assertIn('b1/objects/00000001@%d' % third['offset'], str(exc))

    def test_damaged_unencrypted_chunk_is_refused(self):
        plain = chunk_codec.ChunkCodec()
        self.write('b1', [('a', b'abc' * CHUNK)], codec=plain)
        path = self.object_path('b1', 1)
        data = bytearray(open(path, 'rb').read())
        data[-5] ^= 1
        open(path, 'wb').write(bytes(data))
        reader = backup_reader.BackupReader(self.storage, plain)
        self.assertRaises(chunk_codec.IntegrityError, reader.verify,
                          'backups', 'b1')

    def test_missing_chunk_is_refused(self):
        self.write('b1', [('a', os.urandom(3 * CHUNK))])
        os.unlink(self.object_path('b1', 3))
        exc = self.assertRaises(chunk_codec.IntegrityError,
                                self.reader.verify, 'backups', 'b1')
        self.assertIn('b1/objects/00000003 is missing', str(exc))

    def test_cut_object_is_refused(self):
        self.write('b1', [('a', b'xyz' * 8 * CHUNK)],
                   object_size=1024 * CHUNK)
        path = self.object_path('b1', 1)
        os.truncate(path, os.path.getsize(path) - 1)
        exc = self.assertRaises(chunk_codec.IntegrityError,
                                self.reader.verify, 'backups', 'b1')
        self.assertIn('b1/objects/00000001 in container backups ends '
                      'before', str(exc))

    def test_wrong_key_and_no_key(self):
        self.write('b1', [('a', os.urandom(CHUNK))])
        other = backup_reader.BackupReader(
            self.storage, chunk_codec.ChunkCodec(key=os.urandom(32)))
        exc = self.assertRaises(chunk_codec.MissingKey, other.verify,
                                'backups', 'b1')
        self.assertIn('encrypted with key %s, which is not configured '
                      '(keys configured: %s)' % (
                          self.codec.key_id, other.keyring.current.key_id),
                      str(exc))
        keyless = backup_reader.BackupReader(self.storage,
                                             chunk_codec.ChunkCodec())
        self.assertIn('(keys configured: none)', str(self.assertRaises(
            chunk_codec.MissingKey, keyless.verify, 'backups', 'b1')))

    def test_manifest_checksum_mismatch(self):
        self.write('b1', [('a', b'data')])
        self.assertRaises(chunk_codec.IntegrityError, self.reader.manifest,
                          'backups', 'b1', '0' * 64)

    def test_chunk_moved_to_another_name_is_refused(self):
        self.write('b1', [('a', os.urandom(2 * CHUNK))])
        data = open(self.object_path('b1', 1), 'rb').read()
        open(self.object_path('b1', 2), 'wb').write(data)
        self.assertRaises(chunk_codec.IntegrityError, self.reader.verify,
                          'backups', 'b1')

    def test_upload_failure_stops_the_backup(self):
        def refuse(container, name, data):
            raise local.base.StorageError('disk full')
        self.storage.put_object = refuse
        self.assertRaises(local.base.StorageError, self.write, 'b1',
                          [('a', os.urandom(10 * CHUNK))])

    def test_object_names(self):
        self.assertEqual('b/objects/00000007',
                         backup_manifest.object_name('b', 7))
        self.assertTrue(backup_manifest.object_name('b', 1).startswith(
            backup_manifest.object_prefix('b')))

    def test_failure_of_the_last_upload_writes_no_manifest(self):
        put = self.storage.put_object

        def refuse_last(container, name, data):
            if name == 'b1/objects/00000004':
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
        self.assertEqual(['inc1/objects/00000001', 'full/objects/00000002',
                          'full/objects/00000003', 'inc2/objects/00000001'],
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

    def test_streamed_manifest_text(self):
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
        # Keys sorted, but a member's name before its chunks.
        expected = json.dumps(manifest, sort_keys=True, separators=(',', ':'))
        for member in manifest['members']:
            chunks = json.dumps(member['chunks'], sort_keys=True,
                                separators=(',', ':'))
            name = json.dumps(member['name'])
            expected = expected.replace(
                '{"chunks":%s,"name":%s,' % (chunks, name),
                '{"name":%s,"chunks":%s,' % (name, chunks))
        self.assertEqual(expected.encode(), backup_manifest._decompress(body))
        self.assertEqual(manifest, backup_manifest.load(body))

    def test_new_chunk_text_is_that_of_chunk_json(self):
        for algorithm in ('blake3', 'sha256'):
            writer = backup_writer.BackupWriter(
                self.storage, 'backups', 'b', self.codec,
                parent={'backup_id': 'p', 'digest': algorithm,
                        'members': []} if algorithm == 'sha256' else None)
            text = writer._chunk_text('"b/objects/00000003"', 1234, 7, 40,
                                      'ab' * 32)
            self.assertEqual(backup_manifest.chunk_json({
                'object': 'b/objects/00000003', 'offset': 1234, 'size': 7,
                'stored_size': 40, algorithm: 'ab' * 32}), text)

    def test_chunks_are_packed_and_read_a_run_at_a_time(self):
        plain = chunk_codec.ChunkCodec()
        data = b''.join(b'%08d,row,' % i for i in range(40 * CHUNK // 13))
        result = self.write('b1', [('a', data)], codec=plain,
                            object_size=4 * CHUNK)
        chunks = result.manifest['members'][0]['chunks']
        objects = self.storage.list_objects('backups', 'b1/objects/')
        self.assertGreater(len(chunks), 2 * len(objects))
        self.assertEqual(sorted({c['object'] for c in chunks}), objects)
        reads = []
        read_range = self.storage.get_object_range

        def counted(container, name, offset, length):
            reads.append(name)
            return read_range(container, name, offset, length)
        self.storage.get_object_range = counted
        reader = backup_reader.BackupReader(self.storage, plain)
        self.assertEqual(data, b''.join(reader.member_chunks(
            'backups', result.manifest['members'][0])))
        self.assertEqual(objects, reads)

    def test_manifest_is_put_after_the_objects_are_flushed(self):
        calls = []
        put, flush = self.storage.put_object, self.storage.flush
        self.storage.put_object = lambda c, n, d: (calls.append(n),
                                                   put(c, n, d))
        self.storage.flush = lambda c: (calls.append('flush'), flush(c))
        self.write('b1', [('a', os.urandom(2 * CHUNK))])
        self.assertEqual(['b1/objects/00000001', 'b1/objects/00000002',
                          'flush', 'b1/manifest', 'flush'], sorted(
                              calls[:2]) + calls[2:])

    def test_incremental_keeps_its_parents_chunk_size_and_digest(self):
        data = bytearray(os.urandom(8 * CHUNK))
        full = self.write('full', [('db', bytes(data))])
        self.assertEqual(('blake3', CHUNK), (full.manifest['digest'],
                                             full.manifest['chunk_size']))
        data[0] ^= 1
        writer = backup_writer.BackupWriter(
            self.storage, 'backups', 'inc', self.codec,
            chunk_size=4 * CHUNK, parent=full.manifest)
        inc = writer.write(FakeSession([('db', bytes(data))]), {})
        self.assertEqual(CHUNK, inc.manifest['chunk_size'])
        self.assertEqual(1, len(self.storage.list_objects('backups',
                                                          'inc/objects/')))
        self.assertEqual({'db': bytes(data)}, self.restored('inc'))

    def write_format_1(self, backup_id, data):
        """A backup as format 1 stored it: an object per chunk, named by
        its SHA-256 and sealed bound to its object's name."""
        chunks = []
        for number, start in enumerate(range(0, len(data), CHUNK), 1):
            plain = data[start:start + CHUNK]
            name = '%s/chunks/%08d' % (backup_id, number)
            stored = self.codec.encode(plain, name.encode())
            self.storage.put_object('backups', name, stored)
            chunks.append({'object': name, 'size': len(plain),
                           'stored_size': len(stored),
                           'sha256': self.codec.digest(plain, 'sha256')})
        manifest = {
            'format': 1, 'backup_id': backup_id, 'parent_id': None,
            'parent_container': None, 'chunk_size': CHUNK, 'metadata': {},
            'encryption': {'algorithm': 'AES-256-GCM',
                           'key_id': self.codec.key_id},
            'size': len(data), 'members': [
                {'name': 'db', 'size': len(data), 'chunks': chunks}]}
        body, _ = backup_manifest.serialize(manifest, self.codec)
        self.storage.put_object('backups', backup_id + '/manifest', body)
        return manifest

    def test_format_1_backups_are_read_and_built_upon(self):
        data = bytearray(os.urandom(6 * CHUNK + 5))
        old = self.write_format_1('old', bytes(data))
        self.assertEqual({'db': bytes(data)}, self.restored('old'))
        data[-1] ^= 1
        inc = self.write('inc', [('db', bytes(data))],
                         parent=self.reader.manifest('backups', 'old'))
        self.assertEqual('sha256', inc.manifest['digest'])
        chunks = inc.manifest['members'][0]['chunks']
        self.assertEqual([c['object'] for c in old['members'][0]['chunks']
                          ][:6], [c['object'] for c in chunks[:6]])
        self.assertEqual('inc/objects/00000001', chunks[6]['object'])
        self.assertEqual({'db': bytes(data)}, self.restored('inc'))

    def test_memory_held_per_chunk_is_its_compressed_size(self):
        # 1,024 chunks that compress to a few bytes, all in one object:
        # the writer must not keep the worst-case buffer of each (64 KiB
        # of python-zstandard's output, 64 MiB in all) until the upload.
        self.useFixture(fixtures.MockPatchObject(
            backup_writer, 'tune_allocator', lambda: None))
        data = b''.join(i.to_bytes(8, 'big') + bytes(CHUNK - 8)
                        for i in range(1024))
        tracemalloc.start()
        self.addCleanup(tracemalloc.stop)
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        self.write('b1', [('a', data)], codec=chunk_codec.ChunkCodec(),
                   object_size=1024 * CHUNK)
        peak = tracemalloc.get_traced_memory()[1] - base
        # In flight at most: 2 x parallel (3) batches of 1 MiB, plain and
        # compressed.
        self.assertLess(peak, 16 * 1024 * 1024)

    def write_in_parts(self, backup_id, members, **kw):
        # 1 KiB chunks: zstd gives out the manifest in blocks of about
        # 128 KiB of text, a thousand entries.
        writer = backup_writer.BackupWriter(
            self.storage, 'backups', backup_id, self.codec, chunk_size=1024,
            object_size=CHUNK, parallel=3, manifest_part_size=1000, **kw)
        return writer.write(FakeSession(members), {'instance_id': 'i'})

    def test_a_large_manifest_is_stored_in_parts(self):
        members = [('a', os.urandom(12000 * 1024 + 3)), ('b', b'x' * 1024)]
        result = self.write_in_parts('b1', members)
        parts = self.storage.list_objects('backups', 'b1/manifest-parts/')
        self.assertGreater(len(parts), 1)
        self.assertEqual(dict(members), self.restored('b1', result.checksum))
        self.assertEqual(12001, len(result.manifest['members'][0]['chunks']))
        self.assertEqual(result.manifest['members'],
                         self.reader.manifest('backups', 'b1')['members'])
        # An incremental reads a parent in parts as a stream.
        index = chunk_index.ChunkIndex('backups')
        parent = self.reader.manifest('backups', 'b1', result.checksum,
                                      on_chunk=index.add)
        self.assertEqual(12002, len(index))
        changed = [('a', members[0][1][:-1] + b'!'), members[1]]
        self.write_in_parts('inc', changed, parent=parent,
                            parent_index=index)
        self.assertEqual(1, len(self.storage.list_objects('backups',
                                                          'inc/objects/')))
        self.assertEqual(dict(changed), self.restored('inc'))
        # Deleting a backup deletes its parts.
        self.storage.delete_prefix('backups',
                                   backup_manifest.object_prefix('b1'))
        self.assertEqual([], self.storage.list_objects('backups', 'b1/'))

    def test_damaged_or_missing_manifest_part_is_refused(self):
        self.write_in_parts('b1', [('a', os.urandom(12000 * 1024))])
        parts = self.storage.list_objects('backups', 'b1/manifest-parts/')
        path = os.path.join(self.root, 'backups', parts[1])
        self.flip_byte(path, 3)
        exc = self.assertRaises(chunk_codec.IntegrityError,
                                self.restored, 'b1')
        self.assertIn('manifest part %s does not match its checksum'
                      % parts[1], str(exc))
        os.unlink(path)
        exc = self.assertRaises(chunk_codec.IntegrityError,
                                self.reader.manifest, 'backups', 'b1')
        self.assertIn('manifest part %s is missing' % parts[1], str(exc))

    def test_manifest_listing_its_parts_wrongly_is_refused(self):
        plain = chunk_codec.ChunkCodec()
        for listed in (b'not json', b'[1]', b'[{"object": "b1/x"}]'):
            self.storage.put_object(
                'backups', 'b1/manifest',
                backup_manifest._PARTS_MAGIC + listed + b'\n' + b'x')
            exc = self.assertRaises(
                chunk_codec.IntegrityError,
                backup_reader.BackupReader(self.storage, plain).manifest,
                'backups', 'b1')
            self.assertIn('b1/manifest lists its parts wrongly', str(exc))
