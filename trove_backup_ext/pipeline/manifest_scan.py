"""Reads a compressed manifest as a stream, one chunk entry at a time.

An incremental needs its parent's chunks by digest, not the parent's
manifest as dicts: parsed whole, a manifest of a million chunks takes
half a GiB. scan() decompresses and decodes the text piece by piece, hands
each chunk entry to a callback and keeps only the manifest's other fields.
Text that is not a manifest's JSON, or is cut short, is refused with
NotStreamable.
"""

import codecs
import json

import zstandard

_READ = 64 * 1024
_DECODER = json.JSONDecoder()


class NotStreamable(ValueError):
    """The text is not in the layout scan() reads (or is cut short)."""


class _Text:
    """The decompressed text, held a window at a time."""

    def __init__(self, body):
        self._source = zstandard.ZstdDecompressor().stream_reader(body)
        self._utf8 = codecs.getincrementaldecoder('utf-8')()
        self.buffer, self.position, self.ended = '', 0, False

    def more(self):
        if self.ended:
            raise NotStreamable('the manifest ends too early')
        data = self._source.read(_READ)
        self.ended = not data
        self.buffer = (self.buffer[self.position:] +
                       self._utf8.decode(data, final=self.ended))
        self.position = 0

    def at(self, literal):
        """Whether literal comes next (after any white space); if so, step
        over it."""
        while True:
            if self.position == len(self.buffer):
                if self.ended:
                    break
                self.more()
            elif self.buffer[self.position].isspace():
                self.position += 1
            else:
                break
        while (len(self.buffer) - self.position < len(literal) and
               not self.ended):
            self.more()
        if self.buffer.startswith(literal, self.position):
            self.position += len(literal)
            return True
        return False

    def expect(self, literal):
        if not self.at(literal):
            raise NotStreamable('expected %r at %r' % (
                literal, self.buffer[self.position:self.position + 40]))

    def value(self):
        """The JSON value that comes next."""
        self.at('')     # raw_decode does not skip leading white space
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buffer, self.position)
            except json.JSONDecodeError:
                self.more()     # cut by the window, or not JSON at all
                continue
            if end == len(self.buffer) and not self.ended:
                self.more()     # a number may go on in the next window
                continue
            self.position = end
            return value

    def rest(self):
        while not self.ended:
            self.more()
        return self.buffer[self.position:]


def scan(body, on_chunk):
    """The fields of the zstd-compressed manifest body but members; every
    chunk entry, in order, is given to on_chunk(entry)."""
    text = _Text(body)
    fields = {}
    for key in _keys(text):
        if key == 'members':
            for _ in _items(text):
                _member(text, on_chunk)
        else:
            fields[key] = text.value()
    if text.rest().strip():
        raise NotStreamable('text follows the manifest')
    return fields


def _keys(text):
    """The keys of the object that comes next, each followed by its value,
    which the caller reads."""
    text.expect('{')
    if text.at('}'):
        return
    while True:
        key = text.value()
        if not isinstance(key, str):
            raise NotStreamable('an object key is not a string')
        text.expect(':')
        yield key
        if text.at('}'):
            return
        text.expect(',')


def members(body):
    """(name, iterator of its chunk entries) of each member of the
    zstd-compressed manifest body, in order. A member's entries must be
    read before the next member is asked for (those left are skipped).
    Members that list their chunks before their name (manifests written
    before the name came first) have their entries gathered first."""
    text = _Text(body)
    for key in _keys(text):
        if key != 'members':
            text.value()
            continue
        for _ in _items(text):
            yield from _streamed_member(text)


def _streamed_member(text):
    name, gathered, given = None, None, False
    for key in _keys(text):
        if key == 'name':
            name = text.value()
            if not isinstance(name, str):
                raise NotStreamable('a member name is not a string')
        elif key == 'chunks' and name is not None:
            entries = _entries(text)
            yield name, entries
            for _ in entries:
                pass
            given = True
        elif key == 'chunks':
            gathered = list(_entries(text))
        else:
            text.value()
    if name is None:
        raise NotStreamable('a member has no name')
    if not given:
        yield name, iter(gathered or ())


def _items(text):
    """Stop at each element of the array that comes next, for the caller
    to read it."""
    text.expect('[')
    if text.at(']'):
        return
    while True:
        yield
        if text.at(']'):
            return
        text.expect(',')


def _entries(text):
    for _ in _items(text):
        entry = text.value()
        if not isinstance(entry, dict):
            raise NotStreamable('a chunk entry is not an object')
        yield entry


def _member(text, on_chunk):
    for key in _keys(text):
        if key != 'chunks':
            text.value()    # name and size: the index needs neither
            continue
        for entry in _entries(text):
            on_chunk(entry)
