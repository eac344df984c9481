"""Key changes: each backup is read with the key its manifest names."""

import os

import fixtures
from oslo_config import cfg

from trove_backup_ext.agent import encryption
from trove_backup_ext.conf import agent as agent_conf
from trove_backup_ext import exception
from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import reader as backup_reader
from trove_backup_ext.pipeline import writer as backup_writer
from trove_backup_ext.tests import base
from trove_backup_ext.tests.unit import test_pipeline

CHUNK = test_pipeline.CHUNK
CLEAR = chunk_codec.ChunkCodec()


class KeyRotationTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        self.storage = base.local_storage(self.root)
        self.key_a = chunk_codec.ChunkCodec(key=os.urandom(32))
        self.key_b = chunk_codec.ChunkCodec(key=os.urandom(32))

    def write(self, backup_id, data, codec, parent=None):
        writer = backup_writer.BackupWriter(
            self.storage, 'backups', backup_id, codec, chunk_size=CHUNK,
            object_size=4 * CHUNK, parallel=2, parent=parent)
        return writer.write(test_pipeline.FakeSession([('db', data)]),
                            {'instance_id': 'i'})

    def restored(self, keys, backup_id):
        """Each backup of the chain, oldest first: id and data, as a
        restore reads them."""
        reader = backup_reader.BackupReader(self.storage, keys)
        return [(stored.fields['backup_id'],
                 b''.join(b''.join(chunks) for _, chunks in
                          stored.members()))
                for stored in reader.stored_chain('backups', backup_id)]

    def test_clear_backup_restores_after_a_key_is_configured(self):
        data = os.urandom(3 * CHUNK)
        self.write('clear', data, CLEAR)
        self.assertEqual([('clear', data)],
                         self.restored(self.key_a, 'clear'))

    def test_manifest_records_the_key_id_not_the_key(self):
        result = self.write('b1', os.urandom(CHUNK), self.key_a)
        self.assertEqual({'algorithm': 'AES-256-GCM',
                          'key_id': self.key_a.key_id},
                         result.manifest['encryption'])
        stored = self.storage.get_object('backups', 'b1/manifest')
        self.assertIn(self.key_a.key_id.encode(), stored)
        self.assertNotIn(self.key_a.key, stored)
        self.assertIsNone(self.write('b2', b'x', CLEAR)
                          .manifest['encryption'])

    def test_backup_under_a_restores_under_b_with_a_kept(self):
        data = os.urandom(3 * CHUNK)
        self.write('under-a', data, self.key_a)
        keyring = chunk_codec.Keyring(self.key_b, [self.key_a.key])
        self.assertEqual([('under-a', data)],
                         self.restored(keyring, 'under-a'))

    def test_chain_of_a_full_under_a_and_an_incremental_under_b(self):
        data = bytearray(os.urandom(8 * CHUNK))
        full = self.write('full', bytes(data), self.key_a)
        before = bytes(data)
        data[CHUNK + 3] ^= 0xff
        inc = self.write('inc', bytes(data), self.key_b,
                         parent=full.manifest)
        # Chained, but none of the parent's chunks sealed under A is
        # referenced: every chunk of inc is under B.
        self.assertEqual('full', inc.manifest['parent_id'])
        self.assertEqual({'inc/'}, {
            c['object'][:4] for c in inc.manifest['members'][0]['chunks']})
        keyring = chunk_codec.Keyring(self.key_b, [self.key_a.key])
        self.assertEqual([('full', before), ('inc', bytes(data))],
                         self.restored(keyring, 'inc'))

    def test_incremental_under_a_key_on_a_clear_parent(self):
        data = bytearray(os.urandom(4 * CHUNK))
        full = self.write('full', bytes(data), CLEAR)
        data[0] ^= 1
        inc = self.write('inc', bytes(data), self.key_a,
                         parent=full.manifest)
        self.assertEqual({'inc/'}, {
            c['object'][:4] for c in inc.manifest['members'][0]['chunks']})
        self.assertEqual(bytes(data),
                         self.restored(self.key_a, 'inc')[-1][1])

    def test_incremental_under_the_same_key_still_shares_chunks(self):
        data = bytearray(os.urandom(8 * CHUNK))
        full = self.write('full', bytes(data), self.key_a)
        data[0] ^= 1
        inc = self.write('inc', bytes(data), self.key_a,
                         parent=full.manifest)
        self.assertEqual(7, len([
            c for c in inc.manifest['members'][0]['chunks']
            if c['object'].startswith('full/')]))

    def test_missing_key_is_named_and_is_not_damage(self):
        self.write('under-a', os.urandom(CHUNK), self.key_a)
        exc = self.assertRaises(chunk_codec.MissingKey, self.restored,
                                self.key_b, 'under-a')
        self.assertNotIsInstance(exc, chunk_codec.IntegrityError)
        self.assertIn('Backup under-a is encrypted with key %s, which is '
                      'not configured (keys configured: %s)' % (
                          self.key_a.key_id, self.key_b.key_id), str(exc))
        self.assertIn('not damaged data', str(exc))
        self.assertIn('previous_key_files', str(exc))

    def test_missing_key_of_a_parent_is_named(self):
        full = self.write('full', os.urandom(2 * CHUNK), self.key_a)
        self.write('inc', os.urandom(2 * CHUNK), self.key_b,
                   parent=full.manifest)
        exc = self.assertRaises(chunk_codec.MissingKey, self.restored,
                                self.key_b, 'inc')
        self.assertIn('Backup full is encrypted with key %s' %
                      self.key_a.key_id, str(exc))

    def test_damaged_chunk_under_a_previous_key_is_damage(self):
        self.write('under-a', os.urandom(CHUNK), self.key_a)
        path = os.path.join(self.root, 'backups', 'under-a', 'objects',
                            '00000001')
        data = bytearray(open(path, 'rb').read())
        data[20] ^= 1
        open(path, 'wb').write(bytes(data))
        keyring = chunk_codec.Keyring(self.key_b, [self.key_a.key])
        exc = self.assertRaises(chunk_codec.IntegrityError, self.restored,
                                keyring, 'under-a')
        self.assertIn('with key %s (damaged or altered)' %
                      self.key_a.key_id, str(exc))

    def test_damaged_key_id_in_the_header_is_damage(self):
        self.write('b1', os.urandom(CHUNK), self.key_a)
        stored = self.storage.get_object('backups', 'b1/manifest')
        self.storage.put_object('backups', 'b1/manifest', stored.replace(
            self.key_a.key_id.encode(), b'not a key id....', 1))
        exc = self.assertRaises(chunk_codec.IntegrityError, self.restored,
                                self.key_a, 'b1')
        self.assertIn('damaged key id', str(exc))

    def test_large_manifest_in_parts_under_a_previous_key(self):
        # As in test_pipeline: zstd gives out the manifest's text in
        # blocks, a part once one is out.
        data = os.urandom(12000 * 1024)
        writer = backup_writer.BackupWriter(
            self.storage, 'backups', 'b1', self.key_a, chunk_size=1024,
            object_size=CHUNK, manifest_part_size=1000)
        writer.write(test_pipeline.FakeSession([('db', data)]), {})
        self.assertTrue(self.storage.list_objects('backups',
                                                  'b1/manifest-parts/'))
        keyring = chunk_codec.Keyring(self.key_b, [self.key_a.key])
        self.assertEqual([('b1', data)], self.restored(keyring, 'b1'))


class KeyringConfigTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.conf = cfg.ConfigOpts()
        agent_conf.register_opts(self.conf)
        self.conf([], default_config_files=[])

    def key_file(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, 'w') as out:
            out.write(text + '\n')
        return path

    def test_current_and_previous_keys(self):
        self.conf.set_override('key_file', self.key_file('b', '22' * 32),
                               group='backup_encryption')
        self.conf.set_override(
            'previous_key_files', [self.key_file('a', '11' * 32)],
            group='backup_encryption')
        keyring = encryption.make_keyring(self.conf)
        self.assertEqual(bytes.fromhex('22' * 32), keyring.current.key)
        previous = chunk_codec.key_id(bytes.fromhex('11' * 32))
        self.assertEqual(bytes.fromhex('11' * 32),
                         keyring.codec(previous, 'b1').key)
        self.assertFalse(keyring.codec(None, 'b1').encrypted)

    def test_previous_keys_without_a_current_one(self):
        # Encryption switched off: older backups stay readable.
        self.conf.set_override(
            'previous_key_files', [self.key_file('a', '11' * 32)],
            group='backup_encryption')
        keyring = encryption.make_keyring(self.conf)
        self.assertFalse(keyring.current.encrypted)
        self.assertTrue(keyring.codec(
            chunk_codec.key_id(bytes.fromhex('11' * 32)), 'b1').encrypted)

    def test_bad_previous_key_fails_the_start_not_other_backups(self):
        good = self.key_file('a', '11' * 32)
        for bad in (os.path.join(self.tmp, 'gone'),
                    self.key_file('short', '11' * 16)):
            self.conf.set_override('previous_key_files', [bad, good],
                                   group='backup_encryption')
            # The agent refuses to start on it...
            exc = self.assertRaises(exception.ConfigurationError,
                                    encryption.check, self.conf)
            self.assertIn('previous_key_files', str(exc))
            # ...but a running one reads every backup it still can: one
            # bad file costs the backups of that key alone.
            keyring = encryption.make_keyring(self.conf)
            self.assertTrue(keyring.codec(
                chunk_codec.key_id(bytes.fromhex('11' * 32)),
                'b1').encrypted)
            self.assertFalse(keyring.codec(None, 'b1').encrypted)
