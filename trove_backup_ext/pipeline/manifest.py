"""The manifest: the list of a backup's chunks, written after all of them.

A backup exists only once its manifest does, so a backup cut off halfway
is never taken for a whole one. The manifest names every chunk with its
size and digest and where it is stored; an incremental's manifest also
names chunks stored by its ancestors, in their containers, that it shares
with them.

Format 2 stores chunks packed, several to an object: an entry names its
object and its offset there, and is sealed bound to both. Format 1 stored
each chunk as an object of its own (an entry without an offset), with a
SHA-256 digest; both are read, and a format 2 incremental of a format 1
parent refers to its chunks as they are.
"""

import hashlib
import io
import json
import re

import zstandard

from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import manifest_scan

FORMAT = 2
READABLE_FORMATS = (1, 2)
_ENCRYPTED_MAGIC = b'TBE-SEALED-1\n'
_KEY_ID = re.compile(rb'[0-9a-f]{16}')     # codec.key_id's form
# A manifest stored in parts: this line, the JSON list of the parts before
# the last, a newline, then the last part.
_PARTS_MAGIC = b'TBE-MANIFEST-PARTS-1\n'
PART_SIZE = 16 * 1024 * 1024    # compressed bytes: 400,000 chunks or so
_ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'
_SEPARATORS = (',', ':')
_BATCH = 4096    # chunk entries compressed at once
# What reading a damaged or cut manifest's text raises.
_DAMAGED = (ValueError, KeyError, TypeError, zstandard.ZstdError)


def manifest_name(backup_id):
    return '%s/manifest' % backup_id


def object_name(backup_id, sequence):
    """A data object of format 2: chunks packed one after another."""
    return '%s/objects/%08d' % (backup_id, sequence)


def encryption(codec):
    """The manifest's "encryption" field of a backup written with codec:
    the key's id (never the key), or None for a backup in clear."""
    if not codec.encrypted:
        return None
    return {'algorithm': chunk_codec.ALGORITHM, 'key_id': codec.key_id}


def sealed_with(manifest, backup_id):
    """The id of the key a backup's chunks are sealed with, or None: from
    its manifest's "encryption" field."""
    field = manifest.get('encryption')
    if not field:
        return None
    if field.get('algorithm') != chunk_codec.ALGORITHM:
        raise chunk_codec.IntegrityError(
            reason='%s names unknown encryption %r' % (
                manifest_name(backup_id), field.get('algorithm')))
    return field.get('key_id')


def chunk_digest(entry):
    """(algorithm, hex digest) of a chunk entry: its key names it."""
    if 'blake3' in entry:
        return 'blake3', entry['blake3']
    return 'sha256', entry['sha256']


def associated_data(entry):
    """What a chunk was sealed bound to: its object, and its offset there
    when packed with others."""
    if 'offset' in entry:
        return ('%s@%d' % (entry['object'], entry['offset'])).encode()
    return entry['object'].encode()


def part_name(backup_id, number):
    """A part of a manifest too large to be held whole until the end."""
    return '%s/manifest-parts/%08d' % (backup_id, number)


def object_prefix(backup_id):
    """Every object of one backup starts with this."""
    return '%s/' % backup_id


def chunk_json(entry):
    """The JSON text of one chunk entry, as it stands in the manifest."""
    return json.dumps(entry, sort_keys=True, separators=_SEPARATORS)


class ManifestStream:
    """The manifest's JSON, zstd-compressed, written as the backup goes.

    A backup of millions of chunks never holds its manifest as dicts nor
    as text, nor an entry per chunk: each entry goes into zstd when its
    chunk is placed, and memory holds the compressed text only (about 40
    bytes a chunk). Keys are sorted, but in each member the name comes
    first; head's keys come before "members", tail's after.
    """

    def __init__(self, head):
        self._out = io.BytesIO()
        self._zstd = zstandard.ZstdCompressor(level=1).stream_writer(
            self._out, closefd=False)
        text = json.dumps(head, sort_keys=True, separators=_SEPARATORS)
        self._zstd.write((text[:-1] + (',' if head else '') +
                          '"members":[').encode('utf-8'))
        self._members = 0
        self._batch = []
        self._chunks = 0

    def begin_member(self, name):
        # The name first, though it sorts after "chunks": a restore reads
        # the manifest as a stream and must know the file before its
        # chunks.
        self._zstd.write(('%s{"name":%s,"chunks":[' % (
            ',' if self._members else '', json.dumps(name))).encode('utf-8'))
        self._members += 1
        self._chunks = 0

    def chunk(self, text):
        """Add the chunk_json text of the member's next chunk."""
        self._batch.append(text)
        if len(self._batch) == _BATCH:
            self._write_batch()

    def _write_batch(self):
        if self._batch:
            self._zstd.write(((',' if self._chunks else '') +
                              ','.join(self._batch)).encode('utf-8'))
            self._chunks += len(self._batch)
            self._batch = []

    def end_member(self, size):
        self._write_batch()
        self._zstd.write(('],"size":%d}' % size).encode('utf-8'))

    def buffered(self):
        """Compressed bytes written and not yet taken."""
        return self._out.tell()

    def take(self):
        """The compressed bytes written so far, forgotten here: a part of
        the manifest, to be stored before the rest."""
        data = self._out.getvalue()
        self._out.seek(0)
        self._out.truncate()
        return data

    def finish(self, tail):
        """The compressed manifest, with tail's keys after "members"."""
        text = json.dumps(tail, sort_keys=True, separators=_SEPARATORS)
        self._zstd.write((']' + (',' + text[1:] if tail else '}')
                          ).encode('utf-8'))
        self._zstd.close()
        return self._out.getvalue()


def compress(fields, members):
    """The manifest's JSON, zstd-compressed, made piece by piece.

    fields are the manifest's keys but members; members are (name, size,
    iterable of chunk_json texts).
    """
    stream = ManifestStream({k: v for k, v in fields.items()
                             if k < 'members'})
    for name, size, chunks in members:
        stream.begin_member(name)
        for text in chunks:
            stream.chunk(text)
        stream.end_member(size)
    return stream.finish({k: v for k, v in fields.items() if k > 'members'})


def load(body):
    """The manifest dict from compress()'s bytes."""
    return json.loads(_decompress(body))


def _is_zstd(body):
    """body is bytes (zstd, or plain JSON from earlier versions) or a
    readable zstd stream (a manifest in parts)."""
    return not isinstance(body, bytes) or body.startswith(_ZSTD_MAGIC)


def _decompress(body):
    if not isinstance(body, bytes):
        body = body.read()
    # A streamed frame does not state its size: decompressobj, and eof to
    # tell a whole frame from a cut one.
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    plain = decompressor.decompress(body)
    if not decompressor.eof or decompressor.unused_data:
        raise zstandard.ZstdError('not one whole zstd frame')
    return plain


def seal(body, backup_id, codec, parts=()):
    """The stored bytes of a compressed manifest, and their sha256; parts
    are those stored before body, if it came in parts."""
    if parts:
        body = (_PARTS_MAGIC + json.dumps(list(parts)).encode() + b'\n' +
                body)
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


def unseal(data, backup_id, keys, expected_checksum=None):
    """The manifest's text (zstd-compressed, or plain JSON from earlier
    versions) from its stored bytes: checksum and key checked.

    keys: a codec.Keyring, or a ChunkCodec; the manifest is unsealed with
    the key its header names, and a clear one is read as it is.
    """
    name = manifest_name(backup_id)
    if (expected_checksum is not None and
            hashlib.sha256(data).hexdigest() != expected_checksum):
        raise chunk_codec.IntegrityError(
            reason='%s does not match the checksum recorded for the '
                   'backup' % name)
    keyring = chunk_codec.Keyring.of(keys)
    codec = keyring.codec(None, backup_id)
    if data.startswith(_ENCRYPTED_MAGIC):
        key_line, _, sealed = data[len(_ENCRYPTED_MAGIC):].partition(b'\n')
        # Checked, so that a damaged header is not taken for a key to add.
        if not _KEY_ID.fullmatch(key_line):
            raise chunk_codec.IntegrityError(
                reason='%s has a damaged key id' % name)
        codec = keyring.codec(key_line.decode('ascii'), backup_id)
        data = codec.unseal(sealed, name.encode())
    if data.startswith(_PARTS_MAGIC):
        listed, _, last = data[len(_PARTS_MAGIC):].partition(b'\n')
        try:
            parts = json.loads(listed)
            if not all(isinstance(part['object'], str) and
                       isinstance(part['sha256'], str) for part in parts):
                raise ValueError(parts)
        except (ValueError, TypeError, KeyError):
            raise chunk_codec.IntegrityError(
                reason='%s lists its parts wrongly' % name)
        return Parts(parts, last, codec)
    return data


class Parts:
    """A manifest stored in parts: the parts before the last ({object,
    sha256, size}, in order), the last one's bytes, and the codec that
    unseals the others. A reader with storage turns it into a stream
    (reader.BackupReader)."""

    def __init__(self, parts, last, codec):
        self.parts = parts
        self.last = last
        self.codec = codec


def decode(body, backup_id, on_chunk=None):
    """The manifest dict of backup_id from unseal()'s text, verified.

    With on_chunk, the manifest is read as a stream: on_chunk(entry) is
    called with each chunk entry, in order, and the dict returned has no
    members.
    """
    name = manifest_name(backup_id)
    try:
        if on_chunk is not None and _is_zstd(body):
            manifest = manifest_scan.scan(body, on_chunk)
        else:
            manifest = json.loads(_decompress(body) if _is_zstd(body)
                                  else body)
            if on_chunk is not None:
                for member in manifest.pop('members'):
                    for chunk in member['chunks']:
                        on_chunk(chunk)
    except _DAMAGED:
        raise _not_valid(backup_id)
    if manifest.get('format') not in READABLE_FORMATS:
        raise chunk_codec.IntegrityError(
            reason='%s has unknown format %r' % (name,
                                                 manifest.get('format')))
    if manifest.get('backup_id') != backup_id:
        raise chunk_codec.IntegrityError(
            reason='%s belongs to backup %s' % (name,
                                                manifest.get('backup_id')))
    return manifest


def parse(data, backup_id, keys, expected_checksum=None, on_chunk=None):
    """The manifest dict of backup_id from stored bytes, verified; see
    unseal() for keys, decode() for on_chunk."""
    return decode(unseal(data, backup_id, keys, expected_checksum),
                  backup_id, on_chunk)


def members(body, backup_id):
    """(name, iterator of chunk entries) of each member of a decode()d
    manifest's text, read as a stream: each member's entries are to be
    read before the next member."""
    if _is_zstd(body):
        streamed = manifest_scan.members(body)
    else:
        streamed = ((m['name'], iter(m['chunks']))
                    for m in json.loads(body)['members'])
    for name, entries in _checked(streamed, backup_id):
        yield name, _checked(entries, backup_id)


def _checked(iterator, backup_id):
    """iterator, with what tells a damaged manifest an IntegrityError."""
    try:
        yield from iterator
    except _DAMAGED:
        raise _not_valid(backup_id)


def _not_valid(backup_id):
    return chunk_codec.IntegrityError(
        reason='%s is not valid (zstd-compressed) JSON'
               % manifest_name(backup_id))


def digest_algorithm(manifest):
    """The digest its chunks are named by; an incremental keeps its
    parent's, or it would share none of its chunks."""
    return manifest.get('digest', 'sha256')
