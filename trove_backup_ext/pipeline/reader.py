"""Reads backups back from storage, verifying every byte.

A backup without its manifest, a chunk missing, damaged, or sealed with
another key: each is refused with an IntegrityError naming what is wrong,
before a restore is allowed to call the data good.
"""

import collections
import concurrent.futures

from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import manifest as backup_manifest
from trove_backup_ext.storage import base as storage_base


class BackupReader:

    def __init__(self, storage, codec, parallel=4):
        self.storage = storage
        self.codec = codec
        self.parallel = parallel

    def manifest(self, container, backup_id, expected_checksum=None):
        name = backup_manifest.manifest_name(backup_id)
        try:
            data = self.storage.get_object(container, name)
        except storage_base.ObjectNotFound:
            raise chunk_codec.IntegrityError(
                reason='backup %s has no manifest in container %s: it is '
                       'incomplete or was deleted' % (backup_id, container))
        return backup_manifest.parse(data, backup_id, self.codec,
                                     expected_checksum)

    def chain(self, container, backup_id, expected_checksum=None):
        """Manifests from the full backup to backup_id (oldest first)."""
        pieces = [self.manifest(container, backup_id, expected_checksum)]
        while pieces[-1]['parent_id']:
            parent = pieces[-1]
            pieces.append(self.manifest(
                parent.get('parent_container') or container,
                parent['parent_id']))
        return list(reversed(pieces))

    def member_chunks(self, container, member):
        """Yield the member's plain bytes, chunk by chunk, verified; up to
        `parallel` chunks are fetched ahead."""
        chunks = member['chunks']
        with concurrent.futures.ThreadPoolExecutor(self.parallel) as pool:
            pending = collections.deque()
            position = 0
            while position < len(chunks) or pending:
                while position < len(chunks) and len(pending) < self.parallel:
                    pending.append(pool.submit(self._fetch, container,
                                               chunks[position]))
                    position += 1
                yield pending.popleft().result()

    def _fetch(self, container, chunk):
        where = chunk.get('container', container)
        try:
            stored = self.storage.get_object(where, chunk['object'])
        except storage_base.ObjectNotFound:
            raise chunk_codec.IntegrityError(
                reason='chunk %s is missing from container %s' % (
                    chunk['object'], where))
        return self.codec.decode(stored, chunk['object'].encode(),
                                 chunk['sha256'], chunk['size'])

    def verify(self, container, backup_id, expected_checksum=None):
        """Read and check every chunk of the backup; return its manifest."""
        manifest = self.manifest(container, backup_id, expected_checksum)
        for member in manifest['members']:
            for _ in self.member_chunks(container, member):
                pass
        return manifest
