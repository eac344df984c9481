"""How one chunk is stored: zstd-compressed, optionally AES-256-GCM sealed.

Stored form: zstd frame, or with encryption 12-byte nonce + GCM ciphertext
and tag. Integrity: the digest of the plain chunk (BLAKE3, or SHA-256 in
chains begun before format 2) is kept in the manifest and checked after
decoding; GCM also rejects any altered byte. Backups are written with one
key and read with the one their manifest names, from a Keyring.
"""

import hashlib
import os
import threading

import blake3
from cryptography.hazmat.primitives.ciphers import aead
import zstandard

from trove_backup_ext import exception

_NONCE_SIZE = 12
SEAL_OVERHEAD = _NONCE_SIZE + 16    # nonce and GCM tag
ALGORITHM = 'AES-256-GCM'
# BLAKE3 is 4-5 times faster than SHA-256 (even with SHA instructions):
# on data that compresses 24:1 SHA-256 cost as much as zstd itself.
# max_threads=1: chunks are hashed by several threads already.
DIGESTS = {
    'blake3': lambda data: blake3.blake3(data).hexdigest(),
    'sha256': lambda data: hashlib.sha256(data).hexdigest(),
}
DEFAULT_DIGEST = 'blake3'


class IntegrityError(exception.BackupExtError):
    """Stored backup data is damaged or incomplete."""
    code = 409
    message = 'Backup data failed verification: %(reason)s'


class MissingKey(exception.BackupExtError):
    """A backup is sealed with a key this agent does not hold.

    Not an IntegrityError: the data may well be whole, and the cure is a
    key file in the configuration, not another backup.
    """
    code = 409
    message = ('Backup %(backup_id)s is encrypted with key %(key_id)s, '
               'which is not configured (keys configured: %(configured)s). '
               'This is a missing key, not damaged data: add the key\'s '
               'file to [backup_encryption] previous_key_files.')


def key_id(key):
    """A short, non-secret name of an encryption key, for messages."""
    return hashlib.sha256(b'trove-backup-ext key id' + key).hexdigest()[:16]


class ChunkCodec:
    """Encodes and decodes chunks; safe to share between threads."""

    def __init__(self, level=1, key=None):
        if key is not None and len(key) != 32:
            raise ValueError('AES-256-GCM needs a 32-byte key')
        self.level = level
        self.key = key
        self._aead = aead.AESGCM(key) if key else None
        self._local = threading.local()

    @property
    def encrypted(self):
        return self._aead is not None

    @property
    def key_id(self):
        return key_id(self.key) if self.key else None

    @property
    def overhead(self):
        """Bytes sealing adds to each chunk."""
        return SEAL_OVERHEAD if self._aead else 0

    @staticmethod
    def digest(plain, algorithm=DEFAULT_DIGEST):
        return DIGESTS[algorithm](plain)

    def compress(self, plain):
        return self._compressor().compress(plain)

    def encode(self, plain, associated):
        """The stored bytes of a plain chunk.

        associated binds the stored bytes to their place, so a chunk moved
        elsewhere fails to decrypt.
        """
        return self.seal(self.compress(plain), associated)

    def _compressor(self):
        # One per thread: a compressor is not thread-safe, and a new one
        # per chunk sets its context up again (~5% of the CPU time of a
        # 64 KiB chunk).
        compressor = getattr(self._local, 'compressor', None)
        if compressor is None:
            compressor = self._local.compressor = zstandard.ZstdCompressor(
                level=self.level)
        return compressor

    def decode(self, stored, associated, digest, size,
               algorithm=DEFAULT_DIGEST):
        """The plain chunk, verified against its manifest entry."""
        if self._aead:
            nonce, sealed = stored[:_NONCE_SIZE], stored[_NONCE_SIZE:]
            try:
                stored = self._aead.decrypt(nonce, sealed, associated)
            except Exception:
                raise IntegrityError(
                    reason='chunk %s cannot be decrypted with key %s '
                           '(damaged or altered)' % (
                               associated.decode(), self.key_id))
        try:
            plain = zstandard.ZstdDecompressor().decompress(
                stored, max_output_size=size)
        except zstandard.ZstdError as exc:
            raise IntegrityError(reason='chunk %s is not valid zstd: %s' % (
                associated.decode(), exc))
        if len(plain) != size or DIGESTS[algorithm](plain) != digest:
            raise IntegrityError(reason='chunk %s does not match its '
                                        'checksum' % associated.decode())
        return plain

    def seal(self, data, associated):
        """Encrypt a compressed chunk or the manifest if a key is set."""
        if not self._aead:
            return data
        nonce = os.urandom(_NONCE_SIZE)
        return nonce + self._aead.encrypt(nonce, data, associated)

    def unseal(self, data, associated):
        if not self._aead:
            return data
        try:
            return self._aead.decrypt(data[:_NONCE_SIZE],
                                      data[_NONCE_SIZE:], associated)
        except Exception:
            raise IntegrityError(
                reason='%s cannot be decrypted with key %s (damaged or '
                       'altered)' % (associated.decode(), self.key_id))


class Keyring:
    """The codecs of every key backups may be read with, by key id: the
    current key (new backups are written with it), the previous ones, and
    none, for backups stored in clear."""

    def __init__(self, current, previous=()):
        """current: the ChunkCodec backups are written with; previous:
        32-byte keys kept only to read older backups."""
        self.current = current
        self._codecs = {None: ChunkCodec(level=current.level)}
        for key in previous:
            self._codecs[key_id(key)] = ChunkCodec(current.level, key)
        self._codecs[current.key_id] = current

    @classmethod
    def of(cls, keys):
        """keys as a Keyring: itself, or one of a ChunkCodec alone."""
        return keys if isinstance(keys, cls) else cls(keys)

    def codec(self, sealed_with, backup_id):
        """The codec of key id sealed_with (None: in clear)."""
        try:
            return self._codecs[sealed_with]
        except KeyError:
            configured = sorted(k for k in self._codecs if k) or ['none']
            raise MissingKey(backup_id=backup_id, key_id=sealed_with,
                             configured=', '.join(configured))
