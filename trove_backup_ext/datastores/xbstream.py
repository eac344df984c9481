"""MariaDB's xbstream, extracted in the agent's process (``mbstream -x``).

mariabackup streams a backup as chunks, each::

    magic "XBSTCK01" | flags: 1 byte | type: 1 byte | path length: uint32
    | path | for a payload ('P'): length: uint64 | offset: uint64
    | CRC-32 of the payload: uint32 | the payload

all little-endian; an end-of-file chunk ('E') has no payload and closes its
file. The chunks of files copied in parallel interleave; each file's come
in order. Feeding the restored bytes to ``mbstream`` costs a pipe and a
process that share two cores with the agent's decoding; written here, the
bytes go from the decoded chunk to the file (doc: admin/restore-benchmarks).
Percona's xbstream has more chunk types (sparse files): the ``mysql``
datastore keeps its tool. A Scanner follows the chunks of a stream as it
passes (a backup's), reading their headers only.
"""

import os
import struct
import zlib

MAGIC = b'XBSTCK01'
PAYLOAD = ord('P')
END_OF_FILE = ord('E')
# Percona's: a payload and a map of the holes to leave between its parts.
SPARSE = ord('S')
# magic, flags, type, path length
_FIXED = struct.Struct('<8sBBI')
# payload length, offset, CRC-32
_PAYLOAD_FIELDS = struct.Struct('<QQI')
# entries in the sparse map (8 bytes each), then as a payload's
_SPARSE_FIELDS = struct.Struct('<IQQI')
_SPARSE_ENTRY = 8
# What follows the path in the header of each chunk type.
_FIELDS_SIZE = {PAYLOAD: _PAYLOAD_FIELDS.size, END_OF_FILE: 0,
                SPARSE: _SPARSE_FIELDS.size}
# mariabackup's paths are below FN_REFLEN (512); a bound keeps a damaged
# header from making us buffer whatever length it claims.
MAX_PATH = 4096
# mariabackup streams --parallel files at once (and its log copier's); a
# stream that leaves more unfinished would take the agent's descriptors.
MAX_OPEN_FILES = 256


class XbstreamError(ValueError):
    """The stream is not a whole, well-formed xbstream of known chunks."""


def _safe_path(raw):
    """The relative path a chunk names, refused if it could leave the
    extraction directory."""
    path = os.fsdecode(raw)
    parts = path.split('/')
    if (not raw or b'\0' in raw or path.startswith('/')
            or any(part in ('', '.', '..') for part in parts)):
        raise XbstreamError('the stream names the path %r, which is not a '
                            'plain relative path' % path)
    return path


def _fixed_fields(head, number):
    """The type of chunk number and the length of its path, from the
    fixed fields at the start of head."""
    magic, _flags, kind, path_length = _FIXED.unpack_from(head)
    if magic != MAGIC:
        raise XbstreamError('chunk %d does not start with %r'
                            % (number, MAGIC))
    if path_length > MAX_PATH:
        raise XbstreamError('chunk %d names a path of %d bytes'
                            % (number, path_length))
    return kind, path_length


def _header_size(kind, path_length):
    return _FIXED.size + path_length + _FIELDS_SIZE[kind]


class _File(object):
    """An extracted file being written: where its next chunk must start."""

    def __init__(self, path):
        os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
        # Unbuffered: the payload slices are large, and buffering would
        # copy each of them once more.
        self.handle = open(path, 'xb', buffering=0)
        self.offset = 0

    def write(self, data):
        while data:
            written = self.handle.write(data)
            data = data[written:]

    def close(self):
        self.handle.close()


class _ChunkReader(object):
    """An xbstream fed in pieces of any size, cut into chunk headers and
    the bytes that follow each (_left of them). A subclass says which
    chunk types it knows (_check_kind), takes each whole header
    (_chunk, which sets _left) and the bytes after it (_body)."""

    def __init__(self):
        self._head = bytearray()
        self._need = _FIXED.size
        self._left = 0      # bytes after the current header not yet taken
        self.chunks = 0

    def feed(self, data):
        view = memoryview(data).cast('B')
        while view:
            if self._left:
                view = self._body(view)
                continue
            take = self._need - len(self._head)
            self._head += view[:take]
            view = view[take:]
            if len(self._head) == self._need:
                self._header()

    def _header(self):
        kind, path_length = _fixed_fields(self._head, self.chunks + 1)
        self._check_kind(kind)
        need = _header_size(kind, path_length)
        if len(self._head) < need:
            self._need = need
            return
        self.chunks += 1
        fields = _FIXED.size + path_length
        self._chunk(kind, _safe_path(bytes(self._head[_FIXED.size:fields])),
                    fields)
        self._head.clear()
        self._need = _FIXED.size


class Extractor(_ChunkReader):
    """Writes the files of an xbstream fed to it in pieces of any size.

    feed(data) as the bytes come, then finish(), which fails if the
    stream stopped inside a chunk; close() always, to release the files.
    Every payload's CRC-32 is checked, as mbstream does.
    """

    def __init__(self, directory):
        super().__init__()
        self.directory = directory
        self._files = {}
        self._done = set()
        # Of the payload being written (_left bytes of it to come): its
        # file, CRC so far and the CRC its header states.
        self._file = None
        self._crc = 0
        self._crc_expected = 0
        self._path = None

    def _body(self, view):
        part = view[:self._left]
        self._file.write(part)
        self._crc = zlib.crc32(part, self._crc)
        self._left -= len(part)
        if not self._left:
            self._end_payload()
        return view[len(part):]

    def finish(self):
        """Check that the stream ended between two chunks."""
        if self._left or self._head:
            raise XbstreamError('the stream ends inside a chunk (of %s)'
                                % (self._path or 'a header'))

    def close(self):
        for entry in self._files.values():
            entry.close()
        self._files.clear()

    def _check_kind(self, kind):
        if kind not in (PAYLOAD, END_OF_FILE):
            # Percona's sparse chunks, or a newer format: never skipped,
            # since a file would then be restored without some of its data.
            raise XbstreamError(
                'chunk %d has type %r, which this extractor does not know; '
                'set [mariadb] extract_in_process = false to use mbstream'
                % (self.chunks + 1, chr(kind)))

    def _chunk(self, kind, path, fields):
        self._path = path
        if kind == END_OF_FILE:
            self._open(path).close()
            del self._files[path]
            self._done.add(path)
        else:
            length, offset, crc = _PAYLOAD_FIELDS.unpack_from(self._head,
                                                              fields)
            self._file = self._open(path)
            if offset != self._file.offset:
                raise XbstreamError('chunk %d of %s is at offset %d, the '
                                    'file has %d bytes' % (
                                        self.chunks, path, offset,
                                        self._file.offset))
            self._file.offset += length
            self._left = length
            self._crc = 0
            self._crc_expected = crc
            if not length:
                self._end_payload()

    def _open(self, path):
        entry = self._files.get(path)
        if entry is None:
            if path in self._done:
                raise XbstreamError('the stream has more of %s after its '
                                    'end' % path)
            if len(self._files) >= MAX_OPEN_FILES:
                raise XbstreamError('the stream has %d unfinished files '
                                    'at once' % (len(self._files) + 1))
            entry = self._files[path] = _File(
                os.path.join(self.directory, path))
        return entry

    def _end_payload(self):
        if self._crc != self._crc_expected:
            raise XbstreamError('chunk %d of %s fails its CRC-32 check'
                                % (self.chunks, self._path))


class Scanner(_ChunkReader):
    """Follows the chunks of an xbstream fed to it in pieces of any size,
    without keeping or checking their payloads: on_chunk(path) is called
    as each chunk's header is read, before the bytes after it are looked
    at. feed(data) as the bytes pass, then finish().

    It costs a few operations per chunk (mariabackup's carry up to a
    read buffer of data each), so a backup's stream can be checked on
    its way to storage. It refuses what the extractor refuses (a path
    leaving the directory, a chunk type it does not know, a bad header)
    but the payloads' CRC-32, which the restore checks. sparse: Percona's
    sparse chunks are known too (xtrabackup's stream, untested here).
    """

    def __init__(self, on_chunk, sparse=False):
        super().__init__()
        self.on_chunk = on_chunk
        self.kinds = ((PAYLOAD, END_OF_FILE, SPARSE) if sparse
                      else (PAYLOAD, END_OF_FILE))

    def _body(self, view):
        # Payload (and sparse map): passed over.
        skipped = min(self._left, len(view))
        self._left -= skipped
        return view[skipped:]

    def finish(self):
        """Check that the stream ended between two chunks."""
        if self._left or self._head:
            raise XbstreamError('the stream ends inside chunk %d'
                                % (self.chunks + (1 if self._head else 0)))

    def _check_kind(self, kind):
        if kind not in self.kinds:
            # Even if flagged ignorable (bit 0; "can be ignored if
            # unknown", says xbstream.h): mbstream 10.11 still writes
            # such a chunk's payload to its path, Percona's xbstream
            # creates the file, so skipping it would let a link file by.
            raise XbstreamError('chunk %d has type %r, which is not known'
                                % (self.chunks + 1, chr(kind)))

    def _chunk(self, kind, path, fields):
        if kind == PAYLOAD:
            self._left = _PAYLOAD_FIELDS.unpack_from(self._head, fields)[0]
        elif kind == SPARSE:
            entries, length, _, _ = _SPARSE_FIELDS.unpack_from(self._head,
                                                               fields)
            self._left = entries * _SPARSE_ENTRY + length
        self.on_chunk(path)
