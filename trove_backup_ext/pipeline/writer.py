"""Streams a backup session into storage as chunks, then the manifest.

Chunks (the unit of checksum and of reuse by incrementals) are small, so
that a change costs an incremental little; they are packed into objects
of about object_size, so that storage sees few requests. Memory stays
bounded whatever the backup's size: at most `parallel * 2` batches of
chunks are being encoded, one object is being filled and `parallel` are
being uploaded, and nothing is spooled to disk; the manifest is
compressed as it is written. Chunks an incremental's parent already
stored are referenced, not stored again.
"""

import collections
import concurrent.futures
import ctypes
import functools
import hashlib
import json
import threading

from oslo_utils import timeutils

from trove_backup_ext.pipeline import chunk_index
from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import manifest as backup_manifest
from trove_backup_ext.pipeline import reader as backup_reader

DEFAULT_CHUNK_SIZE = 256 * 1024
DEFAULT_OBJECT_SIZE = 4 * 1024 * 1024
# Chunks are read, hashed and compressed about this many bytes at a time.
_BATCH_SIZE = 1024 * 1024
# glibc's mallopt parameters (malloc.h) and the largest mmap threshold it
# accepts on 64-bit.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 * 1024 * 1024
_allocator_tuned = False


class WriteResult:
    """A written backup. manifest is parsed from the stored text on first
    use: the writer itself never holds the manifest as dicts."""

    def __init__(self, text, location, checksum, size, stored_size):
        self.text = text                # () -> the manifest's zstd JSON
        self._manifest = None
        self.location = location        # the manifest's URL: locationRef
        self.checksum = checksum        # sha256 of the stored manifest
        self.size = size                # plain bytes of the backup
        self.stored_size = stored_size  # bytes this backup added to storage

    @property
    def manifest(self):
        if self._manifest is None:
            self._manifest = backup_manifest.load(self.text())
        return self._manifest


# Keys in sorted order, as manifest.chunk_json writes them.
_NEW_CHUNK = {
    'blake3': '{"blake3":"%s","object":%s,"offset":%d,"size":%d,'
              '"stored_size":%d}',
    'sha256': '{"object":%s,"offset":%d,"sha256":"%s","size":%d,'
              '"stored_size":%d}',
}


def read_block(stream, size):
    """Up to size bytes; fewer only at the end of the stream."""
    parts, wanted = [], size
    while wanted:
        data = stream.read(wanted)
        if not data:
            break
        parts.append(data)
        wanted -= len(data)
    return b''.join(parts)


def tune_allocator():
    """Let freed chunk-sized buffers be reused instead of unmapped.

    glibc maps each large bytes object afresh and unmaps it when freed,
    so every chunk's buffers are page-faulted in again. On a
    pg_basebackup stream (tarfile copies each chunk three times) that was
    a third of the backup's CPU time. Process-wide, once; does nothing
    where the C library is not glibc.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return
    _allocator_tuned = True
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    # Fixing one threshold stops glibc's own adjusting of both, so both
    # are set: chunks come from the heap, kept while 64 MiB or less is
    # free at its top.
    if mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD):
        mallopt(_M_TRIM_THRESHOLD, 2 * _MMAP_THRESHOLD)


class _Shared:
    """A chunk the parent stored: its entry, and the entry's container."""

    __slots__ = ('entry', 'container')

    def __init__(self, entry, container):
        self.entry = entry
        self.container = container

    def text(self, container):
        """Its manifest entry in a backup stored in container: named
        where it is stored."""
        chunk = dict(self.entry)
        chunk.pop('container', None)
        if self.container != container:
            chunk['container'] = self.container
        return backup_manifest.chunk_json(chunk)


class _MemberStart:

    def __init__(self, name):
        self.name = name


class _MemberEnd:
    pass


class BackupWriter:

    def __init__(self, storage, container, backup_id, codec,
                 chunk_size=DEFAULT_CHUNK_SIZE,
                 object_size=DEFAULT_OBJECT_SIZE, parallel=4, parent=None,
                 parent_container=None, parent_index=None, progress=None,
                 manifest_part_size=backup_manifest.PART_SIZE):
        """parent is the parent's manifest for an incremental, and
        parent_index its chunk_index.ChunkIndex, made from parent's
        members if not given; progress, if given, is called with the
        plain bytes read so far.

        An incremental cuts its chunks as its parent did and names them
        by the same digest, whatever is configured now: otherwise no
        chunk would be shared. It shares none with a parent sealed with
        another key (or none): a backup's chunks are all sealed with its
        own key, which its manifest names.
        """
        self.storage = storage
        self.container = container
        self.backup_id = backup_id
        self.codec = codec
        self.chunk_size = (parent or {}).get('chunk_size') or chunk_size
        self.digest = (backup_manifest.digest_algorithm(parent) if parent
                       else chunk_codec.DEFAULT_DIGEST)
        self.object_size = object_size
        self.parallel = parallel
        self.parent = parent
        self.parent_container = parent_container or container
        if parent and (backup_manifest.sealed_with(
                parent, parent['backup_id']) != codec.key_id):
            parent_index = {}
        if parent_index is None and parent:
            parent_index = chunk_index.of_manifest(parent,
                                                   self.parent_container)
        self.known = parent_index or {}
        self.progress = progress
        self._objects = 0
        # The object being filled: its zstd frames, and their lengths.
        self._packed, self._frames, self._packed_size = bytearray(), [], 0
        self._object_name = None    # its name as JSON, once it has one
        self._stored_size = 0
        self._member_size = 0
        self._manifest = None
        self.manifest_part_size = manifest_part_size
        self._manifest_parts, self._parts_size = [], 0
        self._uploads = threading.BoundedSemaphore(parallel)
        self._errors = []

    def write(self, session, info):
        """Store every member of session, then the manifest; info is the
        backup's descriptive fields (instance_id, datastore, ...)."""
        tune_allocator()
        self.storage.ensure_container(self.container)
        fields = self._fields(info)
        self._manifest = backup_manifest.ManifestStream(
            {k: v for k, v in fields.items() if k < 'members'})
        size = 0
        # Batches of chunks being encoded, oldest first, and where members
        # start and end: they are packed, and entered in the manifest, in
        # order.
        encoding = collections.deque()
        in_flight = 0
        pool = concurrent.futures.ThreadPoolExecutor(self.parallel)
        try:
            for member in session.members():
                encoding.append(_MemberStart(member.name))
                for block in self._blocks(member.stream):
                    while in_flight >= 2 * self.parallel:
                        in_flight -= self._place(encoding.popleft(), pool)
                    encoding.append(pool.submit(self._encode, block))
                    in_flight += 1
                    size += len(block)
                    if self.progress:
                        self.progress(size)
                encoding.append(_MemberEnd())
            while encoding:
                self._place(encoding.popleft(), pool)
            self._upload(pool)
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
        pool.shutdown()
        self._check()
        fields.update(metadata=session.finish(), size=size,
                      stored_size=self._stored_size)
        self.storage.flush(self.container)
        return self._write_manifest(fields)

    def _fields(self, info):
        return dict(info, **{
            'format': backup_manifest.FORMAT,
            'backup_id': self.backup_id,
            'parent_id': self.parent['backup_id'] if self.parent else None,
            'parent_container': (self.parent_container if self.parent
                                 else None),
            'created': timeutils.utcnow().isoformat(),
            'compression': 'zstd',
            'encryption': backup_manifest.encryption(self.codec),
            'digest': self.digest,
            'chunk_size': self.chunk_size,
            'object_size': self.object_size,
        })

    def _check(self):
        if self._errors:
            raise self._errors[0]

    def _blocks(self, stream):
        """Batches of whole chunks (the last may end short) read at once:
        a task in the pool per batch, not per chunk, costs less than the
        chunk itself when chunks are small."""
        size = self.chunk_size * max(1, _BATCH_SIZE // self.chunk_size)
        while True:
            self._check()
            block = read_block(stream, size)
            if not block:
                return
            yield block

    def _encode(self, block):
        """For each chunk of block, (digest, plain size, zstd frame), or
        _Shared if the parent stored it: runs in the pool, outside the GIL
        mostly."""
        view, encoded = memoryview(block), []
        for start in range(0, len(block), self.chunk_size):
            chunk = view[start:start + self.chunk_size]
            digest = self.codec.digest(chunk, self.digest)
            known = self.known.get(digest)
            if known is not None and known[0]['size'] == len(chunk):
                encoded.append(_Shared(*known))
            else:
                encoded.append((digest, len(chunk),
                                self.codec.compress(chunk)))
        return encoded

    def _place(self, item, pool):
        """Enter the next batch of chunks (or member edge) in the
        manifest, and pack new chunks into the object being filled; the
        number of batches placed."""
        if isinstance(item, _MemberStart):
            self._manifest.begin_member(item.name)
            self._member_size = 0
            return 0
        if isinstance(item, _MemberEnd):
            self._manifest.end_member(self._member_size)
            return 0
        for encoded in item.result():
            self._pack(encoded, pool)
        if self._manifest.buffered() >= self.manifest_part_size:
            self._put_manifest_part()
        return 1

    def _pack(self, encoded, pool):
        if isinstance(encoded, _Shared):
            self._member_size += encoded.entry['size']
            self._manifest.chunk(encoded.text(self.container))
            return
        digest, size, frame = encoded
        stored_size = len(frame) + self.codec.overhead
        if self._object_name is None:
            self._object_name = json.dumps(backup_manifest.object_name(
                self.backup_id, self._objects + 1))
        self._manifest.chunk(self._chunk_text(
            self._object_name, self._packed_size, size, stored_size,
            digest))
        self._member_size += size
        self._stored_size += stored_size
        # Copied into the object: a frame from python-zstandard keeps
        # the allocation of the worst case (a chunk's size and more),
        # however small it is.
        self._packed += frame
        self._frames.append(len(frame))
        self._packed_size += stored_size
        if self._packed_size >= self.object_size:
            self._upload(pool)

    def _chunk_text(self, name, offset, size, stored_size, digest):
        """name is the object's name as JSON."""
        if self.digest == 'blake3':
            return _NEW_CHUNK['blake3'] % (digest, name, offset, size,
                                           stored_size)
        return _NEW_CHUNK['sha256'] % (name, offset, digest, size,
                                       stored_size)

    def _upload(self, pool):
        """Send the object being filled to storage, in the pool."""
        if not self._frames:
            return
        self._check()
        self._objects += 1
        name = backup_manifest.object_name(self.backup_id, self._objects)
        self._uploads.acquire()
        future = pool.submit(self._store, name, self._packed, self._frames)
        future.add_done_callback(self._uploaded)
        self._packed, self._frames, self._packed_size = bytearray(), [], 0
        self._object_name = None

    def _uploaded(self, future):
        self._uploads.release()
        if not future.cancelled() and future.exception() is not None:
            self._errors.append(future.exception())

    def _store(self, name, packed, frames):
        """Store the object; frames are the lengths of its zstd frames,
        each sealed on its own if a key is set."""
        if self.codec.encrypted:
            view, sealed, start, offset = memoryview(packed), [], 0, 0
            for length in frames:
                sealed.append(self.codec.seal(
                    bytes(view[start:start + length]),
                    b'%s@%d' % (name.encode(), offset)))
                start += length
                offset += len(sealed[-1])
            data = b''.join(sealed)
        else:
            data = bytes(packed)
        self.storage.put_object(self.container, name, data)

    def _put_manifest_part(self):
        """Store what the manifest has so far as a part of it: the
        manifest of a backup of millions of chunks is never held whole."""
        data = self._manifest.take()
        name = backup_manifest.part_name(self.backup_id,
                                         len(self._manifest_parts) + 1)
        stored = self.codec.seal(data, name.encode())
        self.storage.put_object(self.container, name, stored)
        self._manifest_parts.append({
            'object': name, 'size': len(stored),
            'sha256': hashlib.sha256(stored).hexdigest()})
        self._parts_size += len(stored)

    def _write_manifest(self, fields):
        body = self._manifest.finish(
            {k: v for k, v in fields.items() if k > 'members'})
        data, checksum = backup_manifest.seal(
            body, self.backup_id, self.codec, self._manifest_parts)
        name = backup_manifest.manifest_name(self.backup_id)
        # Last: only now does the backup exist as a whole.
        self.storage.put_object(self.container, name, data)
        self.storage.flush(self.container)
        if self._manifest_parts:
            # Read back from storage, if ever asked for.
            text = functools.partial(self._read_text, self.storage,
                                     self.container, self.backup_id,
                                     self.codec)
        else:
            text = functools.partial(bytes, body)
        return WriteResult(text, self.storage.object_url(self.container,
                                                         name),
                           checksum, fields['size'],
                           self._stored_size + self._parts_size + len(data))

    @staticmethod
    def _read_text(storage, container, backup_id, codec):
        return backup_reader.BackupReader(storage, codec).manifest_text(
            container, backup_id)
