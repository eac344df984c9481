"""The manifest: the list of a backup's chunks, written after all of them.

A backup exists only once its manifest does, so a backup cut off halfway
is never taken for a whole one. The manifest names every chunk with its
size and sha256; an incremental's manifest also names chunks stored by its
ancestors, in their containers, that it shares with them.
"""

import hashlib
import json

import zstandard

from trove_backup_ext.pipeline import codec as chunk_codec

FORMAT = 1
_ENCRYPTED_MAGIC = b'TBE-SEALED-1\n'
_ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'


class KeyMismatch(chunk_codec.IntegrityError):
    """The manifest was sealed with another key (or none is configured)."""

    def __init__(self, backup_id, sealed_with, configured):
        self.sealed_with = sealed_with
        super().__init__(
            reason='backup %s is encrypted with key %s and %s' % (
                backup_id, sealed_with,
                'key %s is configured' % configured if configured
                else 'no key is configured'))


def manifest_name(backup_id):
    return '%s/manifest' % backup_id


def chunk_name(backup_id, sequence):
    return '%s/chunks/%08d' % (backup_id, sequence)


def object_prefix(backup_id):
    """Every object of one backup starts with this."""
    return '%s/' % backup_id


def serialize(manifest, codec):
    """The stored bytes of a manifest dict, and their sha256."""
    body = json.dumps(manifest, sort_keys=True,
                      separators=(',', ':')).encode('utf-8')
    # zstd: a manifest names every chunk, so at 64 KiB chunks its JSON is
    # the larger part of a small incremental; compressed it is 4x smaller.
    # parse() also reads the plain JSON that earlier versions stored.
    body = zstandard.ZstdCompressor(level=1).compress(body)
    if codec.encrypted:
        associated = manifest_name(manifest['backup_id']).encode()
        body = (_ENCRYPTED_MAGIC + codec.key_id.encode() + b'\n' +
                codec.seal(body, associated))
    return body, hashlib.sha256(body).hexdigest()


def parse(data, backup_id, codec, expected_checksum=None):
    """The manifest dict of backup_id from stored bytes, verified."""
    name = manifest_name(backup_id)
    if (expected_checksum is not None and
            hashlib.sha256(data).hexdigest() != expected_checksum):
        raise chunk_codec.IntegrityError(
            reason='%s does not match the checksum recorded for the '
                   'backup' % name)
    if data.startswith(_ENCRYPTED_MAGIC):
        key_line, _, sealed = data[len(_ENCRYPTED_MAGIC):].partition(b'\n')
        sealed_with = key_line.decode('ascii', 'replace')
        if sealed_with != codec.key_id:
            raise KeyMismatch(backup_id, sealed_with, codec.key_id)
        data = codec.unseal(sealed, name.encode())
    try:
        if data.startswith(_ZSTD_MAGIC):
            data = zstandard.ZstdDecompressor().decompress(data)
        manifest = json.loads(data)
    except (ValueError, zstandard.ZstdError):
        raise chunk_codec.IntegrityError(
            reason='%s is not valid (zstd-compressed) JSON' % name)
    if manifest.get('format') != FORMAT:
        raise chunk_codec.IntegrityError(
            reason='%s has unknown format %r' % (name,
                                                 manifest.get('format')))
    if manifest.get('backup_id') != backup_id:
        raise chunk_codec.IntegrityError(
            reason='%s belongs to backup %s' % (name,
                                                manifest.get('backup_id')))
    return manifest


def chunk_index(manifest, container):
    """sha256 -> (chunk entry, its container) of every chunk the manifest
    names, for an incremental to reuse. The entries are the manifest's
    own, not copies: an index of a large parent costs little memory."""
    index = {}
    for member in manifest['members']:
        for chunk in member['chunks']:
            index[chunk['sha256']] = (chunk,
                                      chunk.get('container', container))
    return index
