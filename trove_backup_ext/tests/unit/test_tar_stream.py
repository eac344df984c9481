"""The streaming tar reader, against archives Python's tarfile writes."""

import hashlib
import io
import os
import tarfile
import threading

import fixtures

from trove_backup_ext.datastores import base as datastore_base
from trove_backup_ext.datastores import postgresql
from trove_backup_ext.datastores import tar_stream
from trove_backup_ext.tests import base

LONG_NAME = 'base/' + 'd' * 120 + '/' + 'f' * 40     # > 100, > 255 with GNU
LONG_LINK = '/srv/' + 'l' * 150


def entry(name, data=None, type_=tarfile.REGTYPE, mode=0o600, link=''):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = type_, mode, link
    info.size = len(data) if data is not None else 0
    return info, data


def archive(entries, format_=tarfile.USTAR_FORMAT, **kwargs):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode='w', format=format_,
                      **kwargs) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def short(content):
    """content, or its digest if it is too long to show in a failure."""
    if content is None or len(content) <= 64:
        return content
    return 'sha256:' + hashlib.sha256(content).hexdigest()


def read_all(data, stream_type=io.BytesIO, chunk=-1):
    """(name, type, mode, size, linkname, short(content)) of every entry."""
    seen = []
    for item in tar_stream.TarStream(stream_type(data)):
        content = None
        if item.reader is not None:
            parts = []
            while True:
                part = item.reader.read(chunk)
                if not part:
                    break
                parts.append(part)
            content = short(b''.join(parts))
        seen.append((item.name, item.type, item.mode, item.size,
                     item.linkname, content))
    return seen


def with_checksum(header):
    """header (one block) with its checksum field made right again."""
    header = bytearray(header)
    header[148:156] = b' ' * 8
    header[148:156] = b'%06o\0 ' % sum(header)
    return bytes(header)


class Trickle(io.RawIOBase):
    """A stream that returns at most 7 bytes a read, as a pipe may."""

    def __init__(self, data):
        self.data = io.BytesIO(data)

    def read(self, size=-1):
        return self.data.read(min(size, 7) if size >= 0 else 7)


class TarStreamTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.small = os.urandom(1000)
        self.large = os.urandom(3 * 1024 * 1024 + 17)
        self.members = [
            entry('PG_VERSION', b'15\n', mode=0o640),
            entry('base', type_=tarfile.DIRTYPE, mode=0o700),
            entry('base/1', self.small),
            entry('empty', b''),
            entry('big', self.large, mode=0o644),
        ]
        self.expected = [
            ('PG_VERSION', b'0', 0o640, 3, '', b'15\n'),
            ('base', b'5', 0o700, 0, '', None),
            ('base/1', b'0', 0o600, 1000, '', short(self.small)),
            ('empty', b'0', 0o600, 0, '', b''),
            ('big', b'0', 0o644, len(self.large), '',
             short(self.large)),
        ]

    def test_ustar_entries_and_contents(self):
        # 'a' * 90 + '/' + 'b' * 90 needs the ustar prefix field.
        prefixed = 'a' * 90 + '/' + 'b' * 90
        data = archive(self.members + [entry(prefixed, b'xyz'),
                                       entry('pg_wal/link',
                                             type_=tarfile.SYMTYPE,
                                             mode=0o777, link='/wal')])
        self.assertEqual(self.expected + [
            (prefixed, b'0', 0o600, 3, '', b'xyz'),
            ('pg_wal/link', b'2', 0o777, 0, '/wal', None)],
            read_all(data))

    def test_reads_in_pieces_match(self):
        data = archive(self.members)
        self.assertEqual(self.expected, read_all(data, chunk=65536))
        self.assertEqual(self.expected, read_all(data, chunk=1))

    def test_a_stream_of_short_reads(self):
        data = archive(self.members[:4])
        self.assertEqual(self.expected[:4],
                         read_all(data, stream_type=Trickle, chunk=100))

    def test_gnu_long_name_and_long_link(self):
        data = archive([entry(LONG_NAME, self.small),
                        entry(LONG_NAME + '.lnk', type_=tarfile.SYMTYPE,
                              link=LONG_LINK),
                        entry('after', b'ok')], tarfile.GNU_FORMAT)
        self.assertIn(b'././@LongLink', data)
        self.assertEqual([
            (LONG_NAME, b'0', 0o600, 1000, '', short(self.small)),
            (LONG_NAME + '.lnk', b'2', 0o600, 0, LONG_LINK, None),
            ('after', b'0', 0o600, 2, '', b'ok')], read_all(data))

    def test_pax_long_name_long_link_and_global_header(self):
        name = LONG_NAME + '-\u00e9t\u00e9'
        data = archive([entry(name, self.small),
                        entry('lnk', type_=tarfile.SYMTYPE, link=LONG_LINK),
                        entry('after', b'ok')], tarfile.PAX_FORMAT,
                       pax_headers={'comment': 'global'})
        self.assertEqual(b'g', data[156:157])
        self.assertEqual([
            (name, b'0', 0o600, 1000, '', short(self.small)),
            ('lnk', b'2', 0o600, 0, LONG_LINK, None),
            ('after', b'0', 0o600, 2, '', b'ok')], read_all(data))

    def test_pax_size_overrides_the_header(self):
        info, _ = entry('sized', b'')
        info.pax_headers = {'size': '5'}
        data = bytearray(archive([(info, None), entry('after', b'ok')],
                                 tarfile.PAX_FORMAT))
        # The member's header (after the pax one and its records) says 0;
        # pax says 5: put 5 bytes after it.
        second = 1024
        self.assertEqual(b'0', bytes(data[second + 156:second + 157]))
        data[second + 512:second + 512] = b'hello'.ljust(512, b'\0')
        self.assertEqual([
            ('sized', b'0', 0o600, 5, '', b'hello'),
            ('after', b'0', 0o600, 2, '', b'ok')], read_all(bytes(data)))

    def test_other_types_are_yielded_without_reader(self):
        data = archive([entry('hard', type_=tarfile.LNKTYPE, link='base/1'),
                        entry('fifo', type_=tarfile.FIFOTYPE),
                        entry('after', b'ok')])
        self.assertEqual([
            ('hard', b'1', 0o600, 0, 'base/1', None),
            ('fifo', b'6', 0o600, 0, '', None),
            ('after', b'0', 0o600, 2, '', b'ok')], read_all(data))

    def test_links_and_directories_have_no_data_whatever_their_size(self):
        data = bytearray(archive([entry('lnk', type_=tarfile.SYMTYPE,
                                        link='x'),
                                  entry('after', b'ok')]))
        data[124:136] = b'%011o\0' % 4096
        data[:512] = with_checksum(data[:512])
        self.assertEqual([('lnk', b'2', 0o600, 4096, 'x', None),
                          ('after', b'0', 0o600, 2, '', b'ok')],
                         read_all(bytes(data)))

    def test_old_directory_as_a_regular_file_named_with_a_slash(self):
        data = bytearray(archive([entry('old/', b''), entry('after', b'ok')]))
        data[156:157] = b'\0'
        data[:512] = with_checksum(data[:512])
        self.assertEqual([('old', b'5', 0o600, 0, '', None),
                          ('after', b'0', 0o600, 2, '', b'ok')],
                         read_all(bytes(data)))

    def test_unread_and_partly_read_members_are_skipped(self):
        entries = iter(tar_stream.TarStream(io.BytesIO(archive(
            self.members))))
        self.assertEqual(b'15', next(entries).reader.read(2))
        next(entries)                                   # base
        first = next(entries)                           # base/1
        self.assertEqual(self.small[:10], first.reader.read(10))
        next(entries)                                   # empty, unread
        big = next(entries)
        self.assertEqual(self.large[:5], big.reader.read(5))
        # A reader left behind reads nothing of what followed it.
        self.assertEqual(b'', first.reader.read())
        self.assertEqual(short(self.large[5:]), short(big.reader.read()))
        self.assertEqual([], list(entries))

    def test_reads_are_bounded_by_the_size_asked_and_the_member(self):
        item = next(iter(tar_stream.TarStream(io.BytesIO(archive(
            [entry('base/1', self.small), entry('after', b'ok')])))))
        self.assertEqual(100, len(item.reader.read(100)))
        self.assertEqual(short(self.small[100:]),
                         short(item.reader.read(10 ** 9)))
        self.assertEqual(b'', item.reader.read(10))

    def test_reading_stops_at_the_first_zero_block(self):
        stream = io.BytesIO(archive(self.members[:1]) + b'trailing')
        self.assertEqual(['PG_VERSION'],
                         [e.name for e in tar_stream.TarStream(stream)])
        # Header, data, one zero block: the second block and tarfile's
        # padding to 10240 are left to drain.
        self.assertEqual(512 * 3, stream.tell())

    def assertBroken(self, data, fragment):
        exc = self.assertRaises(tar_stream.TarStreamError, read_all, data)
        self.assertIsInstance(exc, ValueError)
        self.assertIn(fragment, str(exc))

    def test_truncated_in_a_header(self):
        data = archive(self.members)
        self.assertBroken(data[:512 + 512 + 100], 'ends inside a header')

    def test_truncated_in_a_members_data(self):
        data = archive(self.members)
        self.assertBroken(data[:-1024 - 20000], 'before the end')
        # Unread, the member is skipped: that cut is found too.
        stream = tar_stream.TarStream(io.BytesIO(data[:-1024 - 20000]))
        self.assertRaises(tar_stream.TarStreamError, list, stream)

    def test_truncated_in_padding_or_before_the_end_block(self):
        data = archive(self.members[:1])
        self.assertBroken(data[:600], 'before the end')
        self.assertBroken(data[:1024], 'ends inside a header')
        self.assertBroken(b'', 'ends inside a header')

    def test_truncated_in_a_gnu_long_name(self):
        data = archive([entry(LONG_NAME, b'x')], tarfile.GNU_FORMAT)
        self.assertBroken(data[:530], 'ends inside a metadata entry')

    def test_oversized_metadata_entry(self):
        header = bytearray(archive([entry(LONG_NAME, b'x')],
                                   tarfile.GNU_FORMAT)[:512])
        header[124:136] = b'%011o\0' % (64 * 1024 * 1024)
        self.assertBroken(with_checksum(header) + b'\0' * 4096,
                          'metadata entry of 67108864 bytes')

    def test_bad_checksum(self):
        data = bytearray(archive(self.members))
        data[1024] ^= 0x01                  # a name byte of 'base/1'
        self.assertBroken(bytes(data), 'checksum')
        data = bytearray(archive(self.members))
        data[148:156] = b'0000000\0'
        self.assertBroken(bytes(data), 'checksum')

    def test_signed_checksum_is_accepted(self):
        header = bytearray(archive([entry('x', b'')])[:512])
        header[0:2] = b'\xe9\xe9'            # bytes that sum differently
        header = bytearray(with_checksum(header))
        unsigned = sum(header[:148]) + sum(header[156:]) + 256
        signed = unsigned - 2 * 256
        header[148:156] = b'%06o\0 ' % signed
        items = list(tar_stream.TarStream(io.BytesIO(
            bytes(header) + b'\0' * 1024)))
        self.assertEqual(['\udce9\udce9'], [e.name for e in items])

    def test_malformed_size_or_mode(self):
        data = bytearray(archive(self.members[:1]))
        data[124:136] = b'0000000009\0 '
        self.assertBroken(with_checksum(data[:512]) + bytes(data[512:]),
                          'malformed number')

    def test_base256_size_in_an_archive(self):
        data = bytearray(archive([entry('f', self.small),
                                  entry('after', b'ok')]))
        data[124:136] = b'\x80' + (1000).to_bytes(11, 'big')
        data[:512] = with_checksum(data[:512])
        self.assertEqual(short(self.small), read_all(bytes(data))[0][5])


class NumberTest(base.TestCase):

    def test_octal(self):
        self.assertEqual(0o644, tar_stream.number(b'0000644\0'))
        self.assertEqual(0o17, tar_stream.number(b'   17 \0'))
        self.assertEqual(8 ** 11 - 1, tar_stream.number(b'77777777777\0'))
        self.assertEqual(0, tar_stream.number(b'\0' * 12))

    def test_base256(self):
        nine_gib = 9 * 1024 ** 3
        self.assertEqual(nine_gib, tar_stream.number(
            b'\x80' + nine_gib.to_bytes(11, 'big')))
        self.assertEqual(2 ** 88 - 1,
                         tar_stream.number(b'\x80' + b'\xff' * 11))
        self.assertEqual(-1, tar_stream.number(b'\xff' * 12))
        self.assertEqual(-256, tar_stream.number(b'\xff' * 10 + b'\xff\0'))

    def test_matches_tarfile_for_large_sizes(self):
        for value in (8 ** 11, 9 * 1024 ** 3, 2 ** 70):
            field = tarfile.itn(value, 12, tarfile.GNU_FORMAT)
            self.assertEqual(value, tar_stream.number(field))

    def test_malformed(self):
        for field in (b'0000009\0', b'12x4\0', b'-1\0', b'0o17\0',
                      b'1_0\0', b'+7\0'):
            self.assertRaises(tar_stream.TarStreamError,
                              tar_stream.number, field)


class PipeTest(base.TestCase):

    def test_over_a_buffered_pipe(self):
        """The way the postgresql driver reads pg_basebackup."""
        payload = os.urandom(2 * 1024 * 1024 + 3)
        data = archive([entry('a', payload), entry('b', b'bee')])
        read_end, write_end = os.pipe()

        def write():
            with open(write_end, 'wb', buffering=0) as out:
                out.write(data)
        writer = threading.Thread(target=write)
        writer.start()
        with open(read_end, 'rb', buffering=1024 * 1024) as stream:
            got = [(e.name, e.reader.read())
                   for e in tar_stream.TarStream(stream)]
            stream.read()
        writer.join()
        self.assertEqual([('a', short(payload)), ('b', b'bee')],
                         [(name, short(content)) for name, content in got])


class _NoRowCounts:
    """The session's row counter, with no server to count on."""

    def finish(self):
        return {}


class PostgreSQLSessionTest(base.TestCase):
    """The driver's session over a tar written by a stand-in tool."""

    def session(self, data):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path, 'tar')
        with open(path, 'wb') as out:
            out.write(data)
        session = postgresql._Session(['cat', path], dict(os.environ),
                                      'test', 10, None, _NoRowCounts())
        self.addCleanup(session.close)
        return session

    def cluster(self, *extra):
        return [entry('.', type_=tarfile.DIRTYPE, mode=0o700),
                entry('./global', type_=tarfile.DIRTYPE, mode=0o700),
                entry('PG_VERSION', b'15\n'),
                entry('backup_label', b'LABEL: trove-backup-ext\n'),
                entry('./global/pg_control', b'c' * 8192),
                entry('pg_wal', type_=tarfile.SYMTYPE, link='/wal',
                      mode=0o777)] + list(extra) + [
                entry('backup_manifest', b'{}', mode=0o640)]

    def test_backup_members_and_metadata(self):
        session = self.session(archive(self.cluster(), tarfile.GNU_FORMAT)
                               + b'\0' * 10240)
        members = {m.name: m.stream.read() for m in session.members()}
        self.assertEqual(b'c' * 8192, members['global/pg_control'])
        self.assertEqual(['PG_VERSION', 'backup_label', 'global/pg_control',
                          'backup_manifest'], list(members))
        metadata = session.finish()
        self.assertEqual('15', metadata['server_version'])
        self.assertEqual({'LABEL': 'trove-backup-ext'},
                         metadata['backup_label'])
        self.assertEqual({'global': 0o700}, metadata['directories'])
        self.assertEqual({'pg_wal': '/wal'}, metadata['symlinks'])
        self.assertEqual(0o600, metadata['file_mode'])
        self.assertEqual({'backup_manifest': 0o640}, metadata['file_modes'])
        self.assertEqual(4, metadata['files'])

    def test_a_cut_stream_is_a_broken_backup(self):
        data = archive(self.cluster())
        session = self.session(data[:4096 + 512 + 100])
        members = session.members()
        exc = self.assertRaises(datastore_base.DatastoreError,
                                lambda: [m.stream.read() for m in members])
        self.assertIn('not a complete tar stream', str(exc))
        self.assertIn('ends', str(exc))

    def test_an_unexpected_entry_is_refused(self):
        session = self.session(archive(self.cluster(
            entry('hard', type_=tarfile.LNKTYPE, link='PG_VERSION'))))
        exc = self.assertRaises(datastore_base.DatastoreError,
                                lambda: [m.stream.read()
                                         for m in session.members()])
        self.assertIn("unexpected tar entry 'hard' (type b'1')", str(exc))
