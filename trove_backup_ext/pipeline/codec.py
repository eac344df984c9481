"""How one chunk is stored: zstd-compressed, optionally AES-256-GCM sealed.

Stored form: zstd frame, or with encryption 12-byte nonce + GCM ciphertext
and tag. Integrity: the sha256 of the plain chunk is kept in the manifest
and checked after decoding; GCM also rejects any altered byte.
"""

import hashlib
import os
import threading

from cryptography.hazmat.primitives.ciphers import aead
import zstandard

from trove_backup_ext import exception

_NONCE_SIZE = 12


class IntegrityError(exception.BackupExtError):
    """Stored backup data is damaged, incomplete or from another key."""
    code = 409
    message = 'Backup data failed verification: %(reason)s'


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

    @staticmethod
    def digest(plain):
        return hashlib.sha256(plain).hexdigest()

    def encode(self, plain, associated):
        """The stored bytes of a plain chunk.

        associated binds the stored bytes to their place (object name), so
        a chunk moved to another name fails to decrypt.
        """
        stored = self._compressor().compress(plain)
        if self._aead:
            nonce = os.urandom(_NONCE_SIZE)
            stored = nonce + self._aead.encrypt(nonce, stored, associated)
        return stored

    def _compressor(self):
        # One per thread: a compressor is not thread-safe, and a new one
        # per chunk sets its context up again (~5% of the CPU time of a
        # 64 KiB chunk).
        compressor = getattr(self._local, 'compressor', None)
        if compressor is None:
            compressor = self._local.compressor = zstandard.ZstdCompressor(
                level=self.level)
        return compressor

    def decode(self, stored, associated, sha256, size):
        """The plain chunk, verified against its manifest entry."""
        if self._aead:
            nonce, sealed = stored[:_NONCE_SIZE], stored[_NONCE_SIZE:]
            try:
                stored = self._aead.decrypt(nonce, sealed, associated)
            except Exception:
                raise IntegrityError(
                    reason='chunk %s cannot be decrypted with key %s '
                           '(damaged, or another key)' % (
                               associated.decode(), self.key_id))
        try:
            plain = zstandard.ZstdDecompressor().decompress(
                stored, max_output_size=size)
        except zstandard.ZstdError as exc:
            raise IntegrityError(reason='chunk %s is not valid zstd: %s' % (
                associated.decode(), exc))
        if len(plain) != size or hashlib.sha256(plain).hexdigest() != sha256:
            raise IntegrityError(reason='chunk %s does not match its '
                                        'checksum' % associated.decode())
        return plain

    def seal(self, data, associated):
        """Encrypt a whole small object (the manifest) if a key is set."""
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
                reason='%s cannot be decrypted with key %s (damaged, or '
                       'another key)' % (associated.decode(), self.key_id))
