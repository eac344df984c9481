"""Streams a backup session into storage as chunks, then the manifest.

Memory stays bounded whatever the backup's size: at most `parallel * 2`
chunks are in flight (read, being encoded, or being uploaded) and nothing
is spooled to disk. Chunks an incremental's parent already stored are
referenced, not stored again.
"""

import collections
import concurrent.futures
import ctypes
import functools
import json
import threading

from oslo_utils import timeutils

from trove_backup_ext.pipeline import manifest as backup_manifest

DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
# glibc's mallopt parameters (malloc.h) and the largest mmap threshold it
# accepts on 64-bit.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 * 1024 * 1024
_allocator_tuned = False


class WriteResult:
    """A written backup. manifest is parsed from the stored text on first
    use: the writer itself never holds the manifest as dicts."""

    def __init__(self, body, location, checksum, size, stored_size):
        self._body = body        # the manifest's zstd-compressed JSON
        self._manifest = None
        self.location = location        # the manifest's URL: locationRef
        self.checksum = checksum        # sha256 of the stored manifest
        self.size = size                # plain bytes of the backup
        self.stored_size = stored_size  # bytes this backup added to storage

    @property
    def manifest(self):
        if self._manifest is None:
            self._manifest = backup_manifest.load(self._body)
        return self._manifest


# A chunk this backup stored, as compact as it can be kept: a backup of
# a million chunks keeps a million of these until its manifest is made.
_Stored = collections.namedtuple('_Stored',
                                 'sequence size stored_size sha256')
_NEW_CHUNK = '{"object":%s,"sha256":"%s","size":%d,"stored_size":%d}'


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


class BackupWriter:

    def __init__(self, storage, container, backup_id, codec,
                 chunk_size=DEFAULT_CHUNK_SIZE, parallel=4, parent=None,
                 parent_container=None, progress=None):
        """parent is the parent's manifest for an incremental; progress,
        if given, is called with the plain bytes read so far."""
        self.storage = storage
        self.container = container
        self.backup_id = backup_id
        self.codec = codec
        self.chunk_size = chunk_size
        self.parallel = parallel
        self.parent = parent
        self.parent_container = parent_container or container
        self.known = (backup_manifest.chunk_index(
            parent, self.parent_container) if parent else {})
        self.progress = progress
        self._sequence = 0
        self._errors = []

    def write(self, session, info):
        """Store every member of session, then the manifest; info is the
        backup's descriptive fields (instance_id, datastore, ...)."""
        tune_allocator()
        self.storage.ensure_container(self.container)
        members, size = [], 0
        window = threading.BoundedSemaphore(self.parallel * 2)
        # Only chunks in flight keep a future: a finished one leaves just
        # its manifest entry, so memory per chunk stays a few hundred
        # bytes (a future with its locks is ~2 KiB: 1 GiB at 64 KiB
        # chunks would hold 30 MiB of them).
        pending = set()
        with concurrent.futures.ThreadPoolExecutor(self.parallel) as pool:
            try:
                for member in session.members():
                    entries = []
                    for block in self._blocks(member.stream):
                        window.acquire()
                        entries.append(None)
                        future = pool.submit(self._store, block,
                                             self._next_sequence())
                        pending.add(future)
                        future.add_done_callback(functools.partial(
                            self._done, window, pending, entries,
                            len(entries) - 1))
                        size += len(block)
                        if self.progress:
                            self.progress(size)
                    members.append((member.name, entries))
            except BaseException:
                for future in list(pending):
                    future.cancel()
                raise
        if self._errors:
            raise self._errors[0]
        metadata = session.finish()
        return self._write_manifest(members, metadata, info, size)

    def _blocks(self, stream):
        while True:
            if self._errors:
                raise self._errors[0]
            block = read_block(stream, self.chunk_size)
            if not block:
                return
            yield block

    def _next_sequence(self):
        self._sequence += 1
        return self._sequence

    def _done(self, window, pending, entries, index, future):
        window.release()
        pending.discard(future)
        if future.cancelled():
            return
        if future.exception() is not None:
            self._errors.append(future.exception())
        else:
            entries[index] = future.result()

    def _store(self, block, sequence):
        digest = self.codec.digest(block)
        known = self.known.get(digest)
        if known is not None and known[0]['size'] == len(block):
            return known
        name = backup_manifest.chunk_name(self.backup_id, sequence)
        stored = self.codec.encode(block, name.encode())
        self.storage.put_object(self.container, name, stored)
        return _Stored(sequence, len(block), len(stored), digest)

    def _write_manifest(self, members, metadata, info, size):
        listed, stored_size = [], 0
        for name, entries in members:
            plain = 0
            for entry in entries:
                if isinstance(entry, _Stored):
                    stored_size += entry.stored_size
                    plain += entry.size
                else:
                    plain += entry[0]['size']
            listed.append((name, plain, self._chunk_texts(entries)))
        fields = dict(info, **{
            'format': backup_manifest.FORMAT,
            'backup_id': self.backup_id,
            'parent_id': self.parent['backup_id'] if self.parent else None,
            'parent_container': (self.parent_container if self.parent
                                 else None),
            'created': timeutils.utcnow().isoformat(),
            'compression': 'zstd',
            'encryption': ({'algorithm': 'AES-256-GCM',
                            'key_id': self.codec.key_id}
                           if self.codec.encrypted else None),
            'chunk_size': self.chunk_size,
            'metadata': metadata,
            'size': size,
            'stored_size': stored_size,
        })
        body = backup_manifest.compress(fields, listed)
        data, checksum = backup_manifest.seal(body, self.backup_id,
                                              self.codec)
        name = backup_manifest.manifest_name(self.backup_id)
        # Last: only now does the backup exist as a whole.
        self.storage.put_object(self.container, name, data)
        return WriteResult(body, self.storage.object_url(self.container,
                                                         name),
                           checksum, size, stored_size + len(data))

    def _chunk_texts(self, entries):
        """The manifest's JSON text of each chunk entry, made when the
        manifest is: only the compact entries live until then."""
        for entry in entries:
            if isinstance(entry, _Stored):
                yield _NEW_CHUNK % (
                    json.dumps(backup_manifest.chunk_name(self.backup_id,
                                                          entry.sequence)),
                    entry.sha256, entry.size, entry.stored_size)
            else:
                # A parent's chunk: named where it is stored.
                chunk, container = entry
                chunk = dict(chunk)
                chunk.pop('container', None)
                if container != self.container:
                    chunk['container'] = container
                yield backup_manifest.chunk_json(chunk)
