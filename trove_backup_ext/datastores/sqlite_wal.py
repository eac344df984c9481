"""Reads SQLite's write-ahead log: where each page's committed copy is.

Format: https://www.sqlite.org/fileformat2.html#walformat. Frames count
only up to the last commit frame whose salts match the header and whose
cumulative checksum is right; later frames are an unfinished or rolled back
transaction, and frames from an earlier WAL cycle carry other salts.
"""

import struct

_HEADER = struct.Struct('>IIIIIIII')
_FRAME_HEADER = struct.Struct('>IIIIII')
_MAGIC_LITTLE = 0x377f0682
_MAGIC_BIG = 0x377f0683
_MASK = 0xFFFFFFFF


def _checksum(data, s0, s1, big_endian):
    words = struct.unpack(('>' if big_endian else '<') +
                          '%dI' % (len(data) // 4), data)
    for index in range(0, len(words), 2):
        s0 = (s0 + words[index] + s1) & _MASK
        s1 = (s1 + words[index + 1] + s0) & _MASK
    return s0, s1


def committed_pages(wal_file, page_size):
    """{page number: file offset of its newest committed copy}."""
    wal_file.seek(0)
    header = wal_file.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return {}
    (magic, _, wal_page_size, _, salt1, salt2,
     check1, check2) = _HEADER.unpack(header)
    if magic not in (_MAGIC_LITTLE, _MAGIC_BIG) or wal_page_size != page_size:
        return {}
    big_endian = magic == _MAGIC_BIG
    s0, s1 = _checksum(header[:24], 0, 0, big_endian)
    if (s0, s1) != (check1, check2):
        return {}
    committed, pending = {}, {}
    offset = _HEADER.size
    while True:
        frame_header = wal_file.read(_FRAME_HEADER.size)
        page = wal_file.read(page_size)
        if len(frame_header) < _FRAME_HEADER.size or len(page) < page_size:
            break
        (number, db_size, f_salt1, f_salt2,
         f_check1, f_check2) = _FRAME_HEADER.unpack(frame_header)
        if (f_salt1, f_salt2) != (salt1, salt2):
            break
        s0, s1 = _checksum(frame_header[:8], s0, s1, big_endian)
        s0, s1 = _checksum(page, s0, s1, big_endian)
        if (s0, s1) != (f_check1, f_check2):
            break
        pending[number] = offset + _FRAME_HEADER.size
        if db_size:
            committed.update(pending)
            pending = {}
        offset += _FRAME_HEADER.size + page_size
    return committed
