"""The chunks of an incremental's parent by digest, kept compactly.

An incremental looks up every chunk it reads among its parent's. A
manifest entry as a dict, with its strings, takes about 0.6 KiB; here a
chunk takes about 0.15 KiB: its digest as bytes, and a packed record of
where it is stored, the object and container names kept once each.
"""

import struct

from trove_backup_ext.pipeline import manifest as backup_manifest

# object number, offset (-1: the whole object, format 1), size, stored
# size, container number.
_RECORD = struct.Struct('<IqIIH')


class ChunkIndex:

    def __init__(self, container):
        """container: where the parent is stored, and its chunks that do
        not name another."""
        self.container = container
        self.algorithm = None
        self._records = {}
        self._objects, self._object_numbers = [], {}
        self._containers, self._container_numbers = [], {}

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
        self._records[bytes.fromhex(digest)] = _RECORD.pack(
            self._number(entry['object'], self._objects,
                         self._object_numbers),
            entry.get('offset', -1), entry['size'], entry['stored_size'],
            self._number(entry.get('container', self.container),
                         self._containers, self._container_numbers))

    def __len__(self):
        return len(self._records)

    def get(self, digest):
        """(the chunk's manifest entry, its container), or None."""
        try:
            record = self._records.get(bytes.fromhex(digest))
        except ValueError:
            return None
        if record is None:
            return None
        algorithm = self.algorithm
        number, offset, size, stored_size, container = _RECORD.unpack(
            record)
        entry = {'object': self._objects[number], 'size': size,
                 'stored_size': stored_size, algorithm: digest}
        if offset >= 0:
            entry['offset'] = offset
        return entry, self._containers[container]


def of_manifest(manifest, container):
    """The index of a manifest held as a dict."""
    index = ChunkIndex(container)
    for member in manifest['members']:
        for chunk in member['chunks']:
            index.add(chunk)
    return index
