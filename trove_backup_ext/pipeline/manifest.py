"""The manifest: the list of a backup's chunks, written after all of them.

A backup exists only once its manifest does, so a backup cut off halfway
is never taken for a whole one. The manifest names every chunk with its
size and sha256; an incremental's manifest also names chunks stored by its
ancestors, in their containers, that it shares with them.
"""

import hashlib
import io
import itertools
import json
import uuid

import zstandard

from trove_backup_ext.pipeline import codec as chunk_codec

FORMAT = 1
_ENCRYPTED_MAGIC = b'TBE-SEALED-1\n'
_ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'
_SEPARATORS = (',', ':')
_BATCH = 4096    # chunk entries compressed at once


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


def chunk_json(entry):
    """The JSON text of one chunk entry, as it stands in the manifest."""
    return json.dumps(entry, sort_keys=True, separators=_SEPARATORS)


def compress(fields, members):
    """The manifest's JSON, zstd-compressed, made piece by piece.

    fields are the manifest's keys but members; members are (name, size,
    iterable of chunk_json texts). The text is json.dumps(manifest,
    sort_keys=True, separators=(',', ':')), but a manifest of a million
    chunks never exists as one dict or one string: memory holds the
    compressed text only. zstd: at 64 KiB chunks the JSON was the larger
    part of a small incremental, and compresses 4x.
    """
    token = '\0members-%s\0' % uuid.uuid4().hex
    before, after = json.dumps(dict(fields, members=token), sort_keys=True,
                               separators=_SEPARATORS).split(
                                   json.dumps(token), 1)
    out = io.BytesIO()
    with zstandard.ZstdCompressor(level=1).stream_writer(
            out, closefd=False) as writer:
        writer.write(before.encode('utf-8') + b'[')
        for position, (name, size, chunks) in enumerate(members):
            writer.write(b',{"chunks":[' if position else b'{"chunks":[')
            batch, first = [], True
            for text in itertools.chain(chunks, [None]):
                if text is not None:
                    batch.append(text)
                if len(batch) == _BATCH or (text is None and batch):
                    writer.write(((',' if not first else '') +
                                  ','.join(batch)).encode('utf-8'))
                    batch, first = [], False
            writer.write(('],"name":%s,"size":%d}' % (json.dumps(name), size)
                          ).encode('utf-8'))
        writer.write(b']' + after.encode('utf-8'))
    return out.getvalue()


def load(body):
    """The manifest dict from compress()'s bytes."""
    return json.loads(_decompress(body))


def _decompress(body):
    # A streamed frame does not state its size: decompressobj, and eof to
    # tell a whole frame from a cut one.
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    plain = decompressor.decompress(body)
    if not decompressor.eof or decompressor.unused_data:
        raise zstandard.ZstdError('not one whole zstd frame')
    return plain


def seal(body, backup_id, codec):
    """The stored bytes of a compressed manifest, and their sha256."""
    if codec.encrypted:
        associated = manifest_name(backup_id).encode()
        body = (_ENCRYPTED_MAGIC + codec.key_id.encode() + b'\n' +
                codec.seal(body, associated))
    return body, hashlib.sha256(body).hexdigest()


def serialize(manifest, codec):
    """The stored bytes of a manifest dict, and their sha256."""
    fields = {k: v for k, v in manifest.items() if k != 'members'}
    members = [(m['name'], m['size'], map(chunk_json, m['chunks']))
               for m in manifest['members']]
    return seal(compress(fields, members), manifest['backup_id'], codec)


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
        # Earlier versions stored plain JSON.
        if data.startswith(_ZSTD_MAGIC):
            data = _decompress(data)
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
