"""A streaming reader of ustar, GNU and pax tar archives read from a pipe."""

import collections

BLOCK = 512
REGULAR = b'0'
DIRECTORY = b'5'
SYMLINK = b'2'
# '\0' is the pre-POSIX regular file; '7' (contiguous) is one to a reader.
_REGULAR_TYPES = (REGULAR, b'\0', b'7')
_GNU_LONG_NAME, _GNU_LONG_LINK = b'L', b'K'
_PAX_HEADER, _PAX_GLOBAL = b'x', b'g'
_NO_DATA_TYPES = (b'1', SYMLINK, b'3', b'4', DIRECTORY, b'6')
# Metadata entries are read whole: a bound keeps a bad archive from making
# us allocate whatever size its header claims.
_MAX_METADATA = 1024 * 1024
_SKIP_READ = 1024 * 1024


class TarStreamError(ValueError):
    """The stream is not a whole, well-formed tar archive."""


# One entry of the archive; reader is set for regular files only.
Entry = collections.namedtuple('Entry',
                               'name type mode size linkname reader')


class MemberReader:
    """read(size) over a member's bytes, never past them."""

    def __init__(self, stream, size):
        self._stream = stream
        self.left = size

    def read(self, size=-1):
        if size is None or size < 0 or size > self.left:
            size = self.left
        if not size:
            return b''
        # The buffered stream hands its bytes straight through: no copy
        # here, whatever the caller asks for.
        data = self._stream.read(size)
        if not data:
            raise TarStreamError('the archive ends %d bytes before the end '
                                 'of a member' % self.left)
        self.left -= len(data)
        return data


def number(field):
    """A header number: octal text, or GNU base-256 (first byte 0x80 or,
    negative, 0xff) for values octal cannot hold, such as sizes >= 8 GiB."""
    if field[:1] in (b'\x80', b'\xff'):
        value = int.from_bytes(field[1:], 'big')
        if field[0] == 0xff:
            value -= 256 ** (len(field) - 1)
        return value
    digits = field.split(b'\0', 1)[0].strip(b' ')
    if digits.translate(None, b'01234567'):
        raise TarStreamError('malformed number %r in a tar header' % field)
    return int(digits or b'0', 8)


def _check(header):
    stored = number(header[148:156])
    # The checksum field counts as eight spaces; some old tars summed
    # signed chars, which tarfile accepts too.
    unsigned = sum(header) - sum(header[148:156]) + 8 * 32
    if stored == unsigned:
        return
    high = sum(1 for b in header[:148] + header[156:] if b & 0x80)
    if stored != unsigned - 256 * high:
        raise TarStreamError('bad tar header checksum')


def _text(data):
    return data.split(b'\0', 1)[0].decode('utf-8', 'surrogateescape')


def _pax_records(data, pending):
    """Add to pending the path, linkpath and size a pax header gives."""
    offset = 0
    while offset < len(data):
        space = data.find(b' ', offset)
        length = data[offset:space]
        if space < 0 or not length.isdigit():
            raise TarStreamError('malformed pax extended header')
        length = int(length)
        record = data[space + 1:offset + length]
        if (offset + length > len(data) or not record.endswith(b'\n')
                or b'=' not in record):
            raise TarStreamError('malformed pax extended header')
        keyword, value = record[:-1].split(b'=', 1)
        if keyword in (b'path', b'linkpath'):
            pending[keyword.decode()] = value.decode('utf-8',
                                                     'surrogateescape')
        elif keyword == b'size':
            if not value.isdigit():
                raise TarStreamError('malformed pax size %r' % value)
            pending['size'] = int(value)
        offset += length


class TarStream:
    """Iterate over the entries of the tar archive read from stream, a
    binary file object that need not seek. Give it a buffered one (a
    BufferedReader of ~1 MiB over a pipe): headers are read 512 bytes at
    a time. An entry's reader is only valid until the next entry, and
    whatever the caller left unread of it is skipped then."""

    def __init__(self, stream):
        self.stream = stream

    def _read(self, size, where):
        data = self.stream.read(size)
        while len(data) < size:
            more = self.stream.read(size - len(data))
            if not more:
                raise TarStreamError('the archive ends inside %s' % where)
            data += more
        return data

    def _skip(self, size):
        while size:
            data = self.stream.read(min(size, _SKIP_READ))
            if not data:
                raise TarStreamError('the archive ends %d bytes before the '
                                     'end of a member' % size)
            size -= len(data)

    def _data(self, size):
        """A metadata entry's data, and its padding consumed."""
        if size > _MAX_METADATA:
            raise TarStreamError('tar metadata entry of %d bytes' % size)
        data = self._read(size, 'a metadata entry')
        self._skip(-size % BLOCK)
        return data

    def __iter__(self):
        pending = {}   # what GNU and pax entries say of the next entry
        while True:
            header = self._read(BLOCK, 'a header')
            if not header.strip(b'\0'):
                return
            _check(header)
            type_ = header[156:157]
            size = number(header[124:136])
            if size < 0:
                raise TarStreamError('negative size in a tar header')
            if type_ == _GNU_LONG_NAME:
                pending['path'] = _text(self._data(size))
            elif type_ == _GNU_LONG_LINK:
                pending['linkpath'] = _text(self._data(size))
            elif type_ == _PAX_HEADER:
                _pax_records(self._data(size), pending)
            elif type_ == _PAX_GLOBAL:
                self._data(size)
            else:
                yield from self._entry(header, type_, size, pending)
                pending = {}

    def _entry(self, header, type_, size, pending):
        size = pending.get('size', size)
        name = pending.get('path')
        if name is None:
            name = _text(header[0:100])
            # GNU's magic is 'ustar  ': its 345:500 are not a prefix.
            if header[257:263] == b'ustar\0':
                prefix = _text(header[345:500])
                name = prefix + '/' + name if prefix else name
        linkname = pending.get('linkpath', _text(header[157:257]))
        # Old tars mark a directory as a regular file named with a '/'.
        if type_ == b'\0' and name.endswith('/'):
            type_ = DIRECTORY
        if type_ == DIRECTORY:
            name = name.rstrip('/') or name
        reader = None
        if type_ in _REGULAR_TYPES:
            type_ = REGULAR
            reader = MemberReader(self.stream, size)
        yield Entry(name, type_, number(header[100:108]), size, linkname,
                    reader)
        # Links, devices, fifos and directories have no data, whatever
        # their size field says (as tarfile reads them).
        data = 0 if type_ in _NO_DATA_TYPES else size
        left = data
        if reader:
            left, reader.left = reader.left, 0   # no late read past it
        self._skip(left + (-data % BLOCK))
