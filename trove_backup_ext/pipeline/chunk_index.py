"""The chunks of an incremental's parent by digest, kept compactly.

An incremental looks up every chunk it reads among its parent's. A
manifest entry as a dict, with its strings, takes about 0.6 KiB; here a
chunk takes about 0.15 KiB: its digest as bytes, and a packed record of
where it is stored, the object and container names kept once each. Past
in_memory chunks (75 MiB of them by default) the index moves to a
temporary SQLite database on disk, which SQLite deletes when it is
closed: an agent's memory stays bounded whatever the parent's size.
"""

import sqlite3
import struct
import threading

from trove_backup_ext.pipeline import manifest as backup_manifest

# object number, offset (-1: the whole object, format 1), size, stored
# size, container number.
_RECORD = struct.Struct('<IqIIH')
IN_MEMORY = 500000
_INSERT_BATCH = 10000
_CACHE_KIB = 16384


class ChunkIndex:

    def __init__(self, container, in_memory=IN_MEMORY):
        """container: where the parent is stored, and its chunks that do
        not name another."""
        self.container = container
        self.algorithm = None
        self.in_memory = in_memory
        self._records = {}
        self._objects, self._object_numbers = [], {}
        self._containers, self._container_numbers = [], {}
        self._disk = None       # the SQLite database, once spilled
        self._pending = []      # rows not yet inserted there
        self._count = 0
        self._lock = threading.Lock()

    @staticmethod
    def _number(name, names, numbers):
        number = numbers.get(name)
        if number is None:
            number = numbers[name] = len(names)
            names.append(name)
        return number

    def add(self, entry):
        """Index one chunk entry of the parent's manifest."""
        self.algorithm, digest = backup_manifest.chunk_digest(entry)
        key = bytes.fromhex(digest)
        record = _RECORD.pack(
            self._number(entry['object'], self._objects,
                         self._object_numbers),
            entry.get('offset', -1), entry['size'], entry['stored_size'],
            self._number(entry.get('container', self.container),
                         self._containers, self._container_numbers))
        self._count += 1
        if self._disk is None:
            self._records[key] = record
            if len(self._records) > self.in_memory:
                self._spill()
        else:
            self._pending.append((key, record))
            if len(self._pending) >= _INSERT_BATCH:
                self._insert()

    def _spill(self):
        # '' is a private database in a temporary file that SQLite
        # removes on close; it keeps at most _CACHE_KIB in memory.
        self._disk = sqlite3.connect('', check_same_thread=False,
                                     isolation_level=None)
        self._disk.execute('PRAGMA cache_size = -%d' % _CACHE_KIB)
        self._disk.execute('CREATE TABLE chunk (digest BLOB PRIMARY KEY, '
                           'record BLOB NOT NULL) WITHOUT ROWID')
        self._pending = self._records.items()   # not copied: inserted
        self._insert()
        self._records = {}

    def _insert(self):
        with self._lock:
            self._disk.execute('BEGIN')
            self._disk.executemany(
                'INSERT OR REPLACE INTO chunk VALUES (?, ?)', self._pending)
            self._disk.execute('COMMIT')
            self._pending = []

    @property
    def on_disk(self):
        return self._disk is not None

    def __len__(self):
        return self._count

    def get(self, digest):
        """(the chunk's manifest entry, its container), or None."""
        try:
            key = bytes.fromhex(digest)
        except ValueError:
            return None
        record = self._records.get(key)
        if record is None and self._disk is not None:
            if self._pending:
                self._insert()
            with self._lock:
                row = self._disk.execute(
                    'SELECT record FROM chunk WHERE digest = ?',
                    (key,)).fetchone()
            record = row[0] if row else None
        if record is None:
            return None
        number, offset, size, stored_size, container = _RECORD.unpack(
            record)
        entry = {'object': self._objects[number], 'size': size,
                 'stored_size': stored_size, self.algorithm: digest}
        if offset >= 0:
            entry['offset'] = offset
        return entry, self._containers[container]

    def close(self):
        """Remove the index from disk, if it went there."""
        if self._disk is not None:
            self._disk.close()
            self._disk = None


def of_manifest(manifest, container):
    """The index of a manifest held as a dict."""
    index = ChunkIndex(container)
    for member in manifest['members']:
        for chunk in member['chunks']:
            index.add(chunk)
    return index
