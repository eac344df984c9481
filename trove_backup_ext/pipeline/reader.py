"""Reads backups back from storage, verifying every byte.

A backup without its manifest, a chunk missing or damaged: each is
refused with an IntegrityError naming what is wrong, before a restore is
allowed to call the data good. Each backup is read with the key its
manifest names (in clear if none), from a keyring: one sealed with a key
the keyring lacks is refused with a MissingKey naming that key.
"""

import collections
import concurrent.futures
import hashlib

from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import manifest as backup_manifest
from trove_backup_ext.storage import base as storage_base


# A run of chunks read at once: one object's, side by side, at most this.
_MAX_RUN = 16 * 1024 * 1024


def _runs(container, chunks):
    """(container, [entries]) of chunks stored side by side in one object,
    in the manifest's order."""
    run, where, end = [], None, None
    for chunk in chunks:
        place = chunk.get('container', container)
        if (run and 'offset' in chunk and place == where and
                chunk['object'] == run[0]['object'] and
                chunk['offset'] == end and
                end - run[0]['offset'] < _MAX_RUN):
            run.append(chunk)
        else:
            if run:
                yield where, run
            run, where = [chunk], place
        end = chunk.get('offset', 0) + chunk['stored_size']
    if run:
        yield where, run


class BackupReader:

    def __init__(self, storage, keys, parallel=4):
        """keys: a codec.Keyring, or a ChunkCodec for its key alone (and
        backups in clear)."""
        self.storage = storage
        self.keyring = chunk_codec.Keyring.of(keys)
        self.parallel = parallel

    def manifest(self, container, backup_id, expected_checksum=None,
                 on_chunk=None):
        """The backup's manifest, verified; see manifest.parse for
        on_chunk."""
        return backup_manifest.decode(
            self.manifest_stream(container, backup_id,
                                 self._unsealed(container, backup_id,
                                                expected_checksum)),
            backup_id, on_chunk)

    def manifest_text(self, container, backup_id):
        """The manifest's whole text (zstd-compressed JSON), its parts
        joined: for tests and tools, not for large backups."""
        text = self.manifest_stream(container, backup_id,
                                    self._unsealed(container, backup_id))
        return text if isinstance(text, bytes) else text.read()

    def manifest_stream(self, container, backup_id, unsealed):
        """The manifest's text from unseal(): bytes, or for a manifest in
        parts a stream that reads them one at a time."""
        if isinstance(unsealed, backup_manifest.Parts):
            return _PartsStream(self, container, backup_id, unsealed)
        return unsealed

    def _unsealed(self, container, backup_id, expected_checksum=None):
        """The stored manifest, its checksum and key checked: see
        manifest.unseal."""
        try:
            data = self.storage.get_object(
                container, backup_manifest.manifest_name(backup_id))
        except storage_base.ObjectNotFound:
            raise chunk_codec.IntegrityError(
                reason='backup %s has no manifest in container %s: it is '
                       'incomplete or was deleted' % (backup_id, container))
        return backup_manifest.unseal(data, backup_id, self.keyring,
                                      expected_checksum)

    def stored_backup(self, container, backup_id, expected_checksum=None):
        """The backup's manifest fields, and its members as a stream.

        A restore holds neither the manifest as dicts nor its text: the
        fields are read first, then each member's chunk entries as the
        member is restored.
        """
        unsealed = self._unsealed(container, backup_id, expected_checksum)
        fields = backup_manifest.decode(
            self.manifest_stream(container, backup_id, unsealed), backup_id,
            on_chunk=lambda chunk: None)
        # Before any chunk is read: a restore stops on a missing key
        # before it writes anything.
        return StoredBackup(self, container, fields, unsealed,
                            self.codec_of(fields))

    def stored_chain(self, container, backup_id, expected_checksum=None):
        """StoredBackups from the full backup to backup_id."""
        pieces = [self.stored_backup(container, backup_id,
                                     expected_checksum)]
        while pieces[-1].fields['parent_id']:
            newer = pieces[-1]
            pieces.append(self.stored_backup(
                newer.fields.get('parent_container') or newer.container,
                newer.fields['parent_id']))
        return list(reversed(pieces))

    def chain(self, container, backup_id, expected_checksum=None):
        """Manifests from the full backup to backup_id (oldest first)."""
        pieces = [self.manifest(container, backup_id, expected_checksum)]
        while pieces[-1]['parent_id']:
            parent = pieces[-1]
            pieces.append(self.manifest(
                parent.get('parent_container') or container,
                parent['parent_id']))
        return list(reversed(pieces))

    def codec_of(self, manifest):
        """The codec of a backup's chunks: of the key its manifest (a
        dict, or its fields) names, or of none."""
        backup_id = manifest['backup_id']
        return self.keyring.codec(
            backup_manifest.sealed_with(manifest, backup_id), backup_id)

    def member_chunks(self, container, member, codec=None, pool=None):
        """Yield the member's plain bytes, chunk by chunk, verified.

        codec: the backup's, codec_of(its manifest); the current key's
        if not given. Chunks stored side by side in one object are
        fetched with one ranged read; up to `parallel` reads are ahead,
        and up to `parallel` chunks are being decoded, in pool (an
        executor of `parallel` threads; one of its own if not given).
        """
        if pool is None:
            with concurrent.futures.ThreadPoolExecutor(self.parallel) as pool:
                yield from self.member_chunks(container, member, codec, pool)
            return
        codec = codec or self.keyring.current
        decoding = collections.deque()
        for chunk, stored, _ in self._stored_chunks(pool, container,
                                                    member['chunks']):
            decoding.append(pool.submit(self._decode, codec, chunk, stored))
            if len(decoding) >= self.parallel:
                yield decoding.popleft().result()
        while decoding:
            yield decoding.popleft().result()

    def _stored_chunks(self, pool, container, chunks):
        """(entry, stored bytes, container) of each chunk, in order."""
        reading = collections.deque()
        for run in _runs(container, chunks):
            reading.append(pool.submit(self._read, *run))
            if len(reading) > self.parallel:
                yield from reading.popleft().result()
        while reading:
            yield from reading.popleft().result()

    def _read(self, where, entries):
        name = entries[0]['object']
        try:
            if 'offset' not in entries[0]:
                # Format 1: the chunk is the whole object.
                return [(entries[0], self.storage.get_object(where, name),
                         where)]
            start = entries[0]['offset']
            length = sum(e['stored_size'] for e in entries)
            data = self.storage.get_object_range(where, name, start, length)
        except storage_base.ObjectNotFound:
            raise chunk_codec.IntegrityError(
                reason='object %s is missing from container %s' % (
                    name, where))
        if len(data) != length:
            raise chunk_codec.IntegrityError(
                reason='object %s in container %s ends before its chunk at '
                       'offset %d' % (name, where, start + len(data)))
        view, parts = memoryview(data), []
        for entry in entries:
            offset = entry['offset'] - start
            parts.append((entry, view[offset:offset + entry['stored_size']],
                          where))
        return parts

    @staticmethod
    def _decode(codec, chunk, stored):
        algorithm, digest = backup_manifest.chunk_digest(chunk)
        return codec.decode(
            bytes(stored) if codec.encrypted else stored,
            backup_manifest.associated_data(chunk), digest, chunk['size'],
            algorithm)

    def verify(self, container, backup_id, expected_checksum=None):
        """Read and check every chunk of the backup; return its manifest's
        fields."""
        stored = self.stored_backup(container, backup_id, expected_checksum)
        for _, chunks in stored.members():
            for _ in chunks:
                pass
        return stored.fields


class StoredBackup:
    """One backup in storage: its manifest's fields (all but members),
    and its members read as a stream."""

    def __init__(self, reader, container, fields, unsealed, codec):
        self.reader = reader
        self.container = container
        self.fields = fields
        self._unsealed = unsealed
        self.codec = codec      # of its chunks

    def members(self):
        """Yield (name, its plain chunks, verified) of each member; each
        member's chunks are to be read before the next member."""
        backup_id = self.fields['backup_id']
        # One pool for all the members: a PostgreSQL backup is a member
        # per file, a thousand of them, and starting `parallel` threads
        # for each cost a tenth of its restore time.
        with concurrent.futures.ThreadPoolExecutor(
                self.reader.parallel) as pool:
            for name, entries in backup_manifest.members(
                    self.reader.manifest_stream(self.container, backup_id,
                                                self._unsealed), backup_id):
                yield name, self.reader.member_chunks(
                    self.container, {'chunks': entries}, self.codec, pool)


class _PartsStream:
    """read(n) over a manifest stored in parts: each part is fetched when
    reached, checked against the sha256 the last part lists, and
    unsealed; only one is held at a time."""

    def __init__(self, reader, container, backup_id, parts):
        self._reader = reader
        self._container = container
        self._backup_id = backup_id
        self._pending = list(parts.parts)
        self._last = parts.last
        self._codec = parts.codec
        self._data, self._position = b'', 0

    def read(self, size=-1):
        if size is None or size < 0:
            return b''.join(iter(lambda: self.read(1 << 20), b''))
        while self._position == len(self._data):
            if not self._next():
                return b''
        data = self._data[self._position:self._position + size]
        self._position += len(data)
        return data

    def _next(self):
        self._position = 0
        if self._pending:
            part = self._pending.pop(0)
            self._data = self._part(part)
        elif self._last is not None:
            self._data, self._last = self._last, None
        else:
            self._data = b''
            return False
        return True

    def _part(self, part):
        name = part['object']
        if not name.startswith(backup_manifest.object_prefix(
                self._backup_id)):
            raise chunk_codec.IntegrityError(
                reason='%s names a part %s of another backup' % (
                    backup_manifest.manifest_name(self._backup_id), name))
        try:
            stored = self._reader.storage.get_object(self._container, name)
        except storage_base.ObjectNotFound:
            raise chunk_codec.IntegrityError(
                reason='manifest part %s is missing from container %s' % (
                    name, self._container))
        if hashlib.sha256(stored).hexdigest() != part['sha256']:
            raise chunk_codec.IntegrityError(
                reason='manifest part %s does not match its checksum' % name)
        return self._codec.unseal(stored, name.encode())
