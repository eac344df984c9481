"""Reading a parent's manifest as a stream, and its compact chunk index."""

import concurrent.futures
import json

import fixtures
import zstandard

from trove_backup_ext.pipeline import chunk_index
from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import manifest as backup_manifest
from trove_backup_ext.pipeline import manifest_scan
from trove_backup_ext.tests import base


def _entry(number, **extra):
    entry = {'object': 'b/objects/%08d' % (number // 3 + 1),
             'offset': 1000 * (number % 3), 'size': 262144,
             'stored_size': 1000, 'blake3': '%064x' % number}
    entry.update(extra)
    return entry


MANIFEST = {
    'backup_id': 'b', 'format': 2, 'chunk_size': 262144, 'digest': 'blake3',
    'encryption': None, 'metadata': {'files': 3, 'name "x"': ['é', None]},
    'size': 99, 'stored_size': 12,
    'members': [
        {'name': 'base/1', 'size': 7, 'chunks': [_entry(n)
                                                 for n in range(10)]},
        {'name': 'empty', 'size': 0, 'chunks': []},
        {'name': 'ü/"q"', 'size': 1, 'chunks': [
            _entry(10, container='other')]}]}


class ScanTest(base.TestCase):

    def scan(self, body):
        chunks = []
        fields = manifest_scan.scan(body, chunks.append)
        return fields, chunks

    def expected(self):
        fields = {k: v for k, v in MANIFEST.items() if k != 'members'}
        return fields, [c for m in MANIFEST['members'] for c in m['chunks']]

    def test_stream_of_the_writers_layout(self):
        body, _ = backup_manifest.serialize(MANIFEST,
                                            chunk_codec.ChunkCodec())
        # Windows of 7 characters: every token is cut somewhere.
        self.useFixture(fixtures.MockPatchObject(manifest_scan, '_READ', 7))
        self.assertEqual(self.expected(), self.scan(body))

    def test_any_key_order_and_white_space(self):
        text = json.dumps(dict(reversed(list(MANIFEST.items()))), indent=3)
        body = zstandard.ZstdCompressor().compress(text.encode())
        self.useFixture(fixtures.MockPatchObject(manifest_scan, '_READ', 5))
        self.assertEqual(self.expected(), self.scan(body))

    def test_cut_or_followed_text_is_refused(self):
        text = json.dumps(MANIFEST, separators=(',', ':'))
        for bad in (text[:-1], text[:len(text) // 2], text + '{}',
                    '{"members":[{"chunks":[1]}]}', '[]'):
            body = zstandard.ZstdCompressor().compress(bad.encode())
            self.assertRaises(ValueError, self.scan, body)

    def test_parse_streams_with_on_chunk_and_verifies(self):
        codec = chunk_codec.ChunkCodec(key=b'k' * 32)
        data, checksum = backup_manifest.serialize(MANIFEST, codec)
        chunks = []
        fields = backup_manifest.parse(data, 'b', codec, checksum,
                                       chunks.append)
        self.assertEqual(self.expected(), (fields, chunks))
        self.assertRaises(chunk_codec.IntegrityError, backup_manifest.parse,
                          data, 'other', codec, checksum, chunks.append)

    def test_cut_manifest_is_an_integrity_error(self):
        codec = chunk_codec.ChunkCodec()
        data, _ = backup_manifest.serialize(MANIFEST, codec)
        exc = self.assertRaises(chunk_codec.IntegrityError,
                                backup_manifest.parse, data[:-12], 'b',
                                codec, None, lambda chunk: None)
        self.assertIn('b/manifest is not valid', str(exc))

    def test_plain_json_of_earlier_versions_with_on_chunk(self):
        chunks = []
        fields = backup_manifest.parse(json.dumps(MANIFEST).encode(), 'b',
                                       chunk_codec.ChunkCodec(),
                                       on_chunk=chunks.append)
        self.assertEqual(self.expected(), (fields, chunks))


class ChunkIndexTest(base.TestCase):

    def test_entries_come_back_with_their_containers(self):
        index = chunk_index.of_manifest(MANIFEST, 'backups')
        self.assertEqual(11, len(index))
        for entry in (_entry(0), _entry(5)):
            self.assertEqual((entry, 'backups'),
                             index.get(entry['blake3']))
        entry = _entry(10)
        self.assertEqual((entry, 'other'), index.get(entry['blake3']))
        self.assertIsNone(index.get('%064x' % 99))
        self.assertIsNone(index.get('not hex'))

    def test_format_1_entries_have_no_offset(self):
        index = chunk_index.ChunkIndex('c')
        entry = {'object': 'b/chunks/00000001', 'size': 5,
                 'stored_size': 9, 'sha256': 'ab' * 32}
        index.add(entry)
        self.assertEqual((entry, 'c'), index.get('ab' * 32))
        self.assertEqual('sha256', index.algorithm)

    def test_empty_index_finds_nothing(self):
        self.assertIsNone(chunk_index.ChunkIndex('c').get('ab' * 32))


class MembersTest(base.TestCase):

    def members(self, body):
        return [(name, list(entries)) for name, entries in
                backup_manifest.members(body, 'b')]

    def expected(self):
        return [(m['name'], m['chunks']) for m in MANIFEST['members']]

    def test_members_of_the_writers_layout_come_as_a_stream(self):
        body, _ = backup_manifest.serialize(MANIFEST,
                                            chunk_codec.ChunkCodec())
        self.useFixture(fixtures.MockPatchObject(manifest_scan, '_READ', 7))
        self.assertEqual(self.expected(), self.members(body))
        # A member left half read: the next one comes whole.
        streamed = manifest_scan.members(body)
        name, entries = next(streamed)
        self.assertEqual(_entry(0), next(entries))
        self.assertEqual(('empty', []), (lambda n, e: (n, list(e)))(
            *next(streamed)))

    def test_members_listing_chunks_before_name_are_gathered(self):
        sorted_text = json.dumps(MANIFEST, sort_keys=True)
        self.assertLess(sorted_text.index('"chunks"'),
                        sorted_text.index('"name"'))
        body = zstandard.ZstdCompressor().compress(sorted_text.encode())
        self.assertEqual(self.expected(), self.members(body))

    def test_members_of_plain_json(self):
        self.assertEqual(self.expected(),
                         self.members(json.dumps(MANIFEST).encode()))

    def test_damage_inside_a_member_is_an_integrity_error(self):
        body, _ = backup_manifest.serialize(MANIFEST,
                                            chunk_codec.ChunkCodec())
        text = backup_manifest._decompress(body).replace(b'"offset":1000',
                                                         b'"offset":1000}}')
        streamed = backup_manifest.members(
            zstandard.ZstdCompressor().compress(text), 'b')
        name, entries = next(streamed)
        self.assertEqual(_entry(0), next(entries))
        exc = self.assertRaises(chunk_codec.IntegrityError, list, entries)
        self.assertIn('b/manifest is not valid', str(exc))

    def test_a_large_index_moves_to_disk_and_finds_the_same(self):
        index = chunk_index.ChunkIndex('backups', in_memory=3)
        self.addCleanup(index.close)
        entries = [_entry(n) for n in range(25)]
        for entry in entries[:2]:
            index.add(entry)
        self.assertFalse(index.on_disk)
        for entry in entries[2:]:
            index.add(entry)
        self.assertTrue(index.on_disk)
        self.assertEqual(25, len(index))
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            found = list(pool.map(lambda e: index.get(e['blake3']),
                                  entries))
        self.assertEqual([(e, 'backups') for e in entries], found)
        self.assertIsNone(index.get('%064x' % 99))
        index.close()
        self.assertFalse(index.on_disk)
