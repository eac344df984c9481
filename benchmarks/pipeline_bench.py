#!/usr/bin/env python3
"""Throughput, peak memory and incremental size of the backup pipeline."""

# Two sources: a generated database-like file (8 KiB pages of rows) and a
# throwaway PostgreSQL cluster filled by pgbench. Each pipeline run is a
# child process running only BackupWriter, so its peak RSS is the
# pipeline's; zstd and gzip run on the same bytes. Method and figures:
# doc/source/admin/pipeline-benchmarks.rst.

import argparse
import bisect
import itertools
import json
import os
import platform
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import uuid

MIB = 1 << 20
PAGE = 8192
CHUNK_SIZES = (64 * 1024, 256 * 1024, MIB, 4 * MIB)
# The agent's defaults ([agent] chunk_size, object_size, parallel_uploads,
# compression_level).
DEFAULTS = {'chunk_size': 256 * 1024, 'object_size': 4 * MIB, 'parallel': 4,
            'level': 1}

# -- the generated stream ---------------------------------------------------
# Heap-like pages: a 24-byte header, line pointers, free space, then rows
# of a tuple header, an increasing id and timestamp, and a tail (ints,
# names, a status, sometimes a note) drawn from a pool: compressible like
# a real table (zstd -1: about 2.8x), neither random nor zeros.
_WORDS = ('alpha bravo charlie delta echo foxtrot golf hotel india juliet '
          'kilo lima mike november oscar papa quebec romeo sierra tango '
          'uniform victor whiskey xray yankee zulu').split()
_STATUS = (b'new', b'paid', b'shipped', b'cancelled', b'returned')
_ROW_HEAD = struct.Struct('<IIIHHHHIq')   # xmin xmax cid ctid mask id ts
_AMOUNT = _ROW_HEAD.size + 4              # offset of the i32 amount
_PAGE_HEAD = struct.Struct('<QHHHHHHI')   # lsn ... lower upper ...


def _row_tails(rng, count=1 << 16):
    tails = []
    for _ in range(count):
        name = ' '.join(rng.choice(_WORDS) for _ in range(
            rng.randint(1, 3))).title().encode()
        city = rng.choice(_WORDS).encode()
        note = b'' if rng.random() < 0.6 else (
            'ref %s-%d' % (rng.choice(_WORDS), rng.randint(0, 99999))
        ).encode()
        tail = (struct.pack('<IiH', rng.randint(1, 50000),
                            rng.randint(-10 ** 6, 10 ** 7),
                            rng.randint(0, 99)) +
                bytes([len(name)]) + name + bytes([len(city)]) + city +
                rng.choice(_STATUS).ljust(10) + bytes([len(note)]) + note)
        tails.append(tail + b'\0' * (-len(tail) % 8))
    return tails


def generated_pages(seed=42):
    """An endless stream of distinct database-like 8 KiB pages."""
    rng = random.Random(seed)
    pool = _row_tails(rng)
    row_id, stamp, xmin, lsn, number = 1, 1_700_000_000_000_000, 1000, 1, 0
    while True:
        tails = rng.choices(pool, k=90)
        used, count = 24, 0
        for tail in tails:
            used += _ROW_HEAD.size + len(tail) + 4
            if used > PAGE - rng.randint(0, 64):
                break
            count += 1
        # map() over C functions: Python-level loops per row would make
        # the generator, not the pipeline, the slow part.
        heads = map(_ROW_HEAD.pack, itertools.repeat(xmin),
                    itertools.repeat(0), itertools.repeat(0),
                    itertools.repeat(number & 0xffff), range(1, count + 1),
                    itertools.repeat(0x0902), itertools.repeat(0x18),
                    range(row_id, row_id + count),
                    range(stamp, stamp + count * 1_000_003, 1_000_003))
        rows = list(map(bytes.__add__, heads, tails[:count]))
        body = b''.join(rows)
        upper = PAGE - len(body)
        offsets = list(itertools.accumulate(
            [upper] + [len(r) for r in rows[:-1]]))
        header = _PAGE_HEAD.pack(lsn, 0, 0, 24 + 4 * count, upper, PAGE,
                                 0x2004, 0)
        items = struct.pack('<%dI' % count, *offsets)
        yield header + items + bytes(upper - 24 - 4 * count) + body
        row_id += count
        stamp += count * 1_000_003
        lsn += rng.randint(100, 5000)
        number += 1
        if rng.random() < 0.01:
            xmin += 1


def write_generated(path, size):
    with open(path, 'wb') as out:
        pages = generated_pages()
        for _ in range(size // (PAGE * 128)):
            out.write(b''.join(itertools.islice(pages, 128)))


def _row_counts(path):
    """Rows per page, from each page's lower bound."""
    counts = []
    with open(path, 'rb') as source:
        fd = source.fileno()
        for number in range(os.fstat(fd).st_size // PAGE):
            lower = struct.unpack('<H', os.pread(fd, 2, number * PAGE + 12))
            counts.append((lower[0] - 24) // 4)
    return counts


def change_rows(path, fraction, contiguous, undo=False, seed=7):
    """Update fraction of the rows in place as a database would (amount
    + 1, xmax set), contiguous or scattered; undo reverts the same rows.
    Returns the number of rows and pages changed."""
    counts = _row_counts(path)
    starts = list(itertools.accumulate([0] + counts))
    wanted = int(starts[-1] * fraction)
    if contiguous:
        first = starts[len(counts) * 2 // 5]
        chosen = range(first, first + wanted)
    else:
        chosen = sorted(random.Random(seed).sample(range(starts[-1]),
                                                   wanted))
    delta, xmax = (-1, 0) if undo else (1, 99999)
    pages = 0
    with open(path, 'r+b') as target:
        fd = target.fileno()
        rows = iter(chosen)
        row = next(rows, None)
        while row is not None:
            number = bisect.bisect_right(starts, row) - 1
            page = bytearray(os.pread(fd, PAGE, number * PAGE))
            while row is not None and row < starts[number + 1]:
                item = 24 + 4 * (row - starts[number])
                offset = struct.unpack_from('<I', page, item)[0]
                struct.pack_into('<I', page, offset + 4, xmax)
                amount = struct.unpack_from('<i', page, offset + _AMOUNT)[0]
                struct.pack_into('<i', page, offset + _AMOUNT,
                                 amount + delta)
                row = next(rows, None)
            os.pwrite(fd, bytes(page), number * PAGE)
            pages += 1
    return {'rows': wanted, 'pages': pages, 'of_rows': starts[-1],
            'of_pages': len(counts)}


# -- the child: the pipeline alone ------------------------------------------

def child_main():
    """Run one BackupWriter from the JSON spec on stdin; print a result."""
    spec = json.load(sys.stdin)
    from trove_backup_ext.pipeline import codec as chunk_codec
    from trove_backup_ext.pipeline import writer as backup_writer
    from trove_backup_ext.storage import base as storage_base
    baseline = peak_rss_kib()

    class NullStorage(storage_base.Storage):
        """Keeps only the manifest (and its parts), in files: the
        pipeline without the disk."""
        name = 'null'

        def _path(self, name):
            return os.path.join(spec['kept_dir'], name.replace('/', '_'))

        def ensure_container(self, container):
            pass

        def put_object(self, container, name, data):
            if '/manifest' in name:
                with open(self._path(name), 'wb') as out:
                    out.write(data)

        def get_object(self, container, name):
            try:
                with open(self._path(name), 'rb') as source:
                    return source.read()
            except FileNotFoundError:
                raise storage_base.ObjectNotFound(name)

        def delete_object(self, container, name):
            pass

        def list_objects(self, container, prefix=''):
            return []

        def object_url(self, container, name):
            return 'null://%s/%s' % (container, name)

    conf = _child_conf(spec)
    if spec['storage'] == 'null':
        store = NullStorage(conf)
    else:
        from trove_backup_ext.storage import local
        store = local.LocalStorage(conf)
    key = bytes.fromhex(spec['key']) if spec.get('key') else None
    parent = index = None
    if spec.get('parent'):
        # As the agent does: the parent's manifest read as a stream into
        # an index of its chunks, never held as dicts.
        from trove_backup_ext.pipeline import chunk_index
        from trove_backup_ext.pipeline import manifest as backup_manifest
        index = chunk_index.ChunkIndex('bench')
        with open(spec['parent'], 'rb') as source:
            parent = backup_manifest.decode(source, spec['parent_id'],
                                            on_chunk=index.add)
    backup_id = spec['backup_id']
    writer = backup_writer.BackupWriter(
        store, 'bench', backup_id,
        chunk_codec.ChunkCodec(level=spec['level'], key=key),
        chunk_size=spec['chunk_size'], object_size=spec['object_size'],
        parallel=spec['parallel'], parent=parent, parent_index=index)
    started = time.perf_counter()
    with _child_session(spec, conf, parent) as session:
        result = writer.write(session, {'instance_id': 'bench'})
    wall = time.perf_counter() - started
    # The peak of the backup itself: what follows (the manifest as dicts,
    # for this script's own counting) is not the pipeline's.
    peak = peak_rss_kib()
    if spec.get('manifest_out'):
        # The compressed manifest, as storage keeps it (unencrypted).
        with open(spec['manifest_out'], 'wb') as out:
            out.write(result.text())
    chunks = [c for m in result.manifest['members'] for c in m['chunks']]
    # Where an incremental's new bytes went, for explaining its size.
    stored_by_member = sorted(
        ((sum(c['stored_size'] for c in m['chunks']
              if c['object'].startswith(backup_id + '/')), m['name'])
         for m in result.manifest['members']), reverse=True)[:6]
    json.dump({'wall': wall, 'size': result.size,
               'stored_size': result.stored_size,
               'objects': len({c['object'] for c in chunks
                               if c['object'].startswith(backup_id + '/')}),
               'new_chunks': sum(c['object'].startswith(backup_id + '/')
                                 for c in chunks),
               'chunks': len(chunks), 'baseline_rss_kib': baseline,
               'rss_kib': peak,
               'stored_by_member': [(n, s) for s, n in stored_by_member
                                    if s]},
              sys.stdout)


def peak_rss_kib():
    """This process's peak RSS. Not getrusage: its ru_maxrss keeps, after
    exec, the peak of the process that forked (here, this script's parent
    side, which can be larger than the child measured)."""
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    raise RuntimeError('no VmHWM in /proc/self/status')


def _child_conf(spec):
    from oslo_config import cfg
    from trove_backup_ext.datastores import postgresql
    from trove_backup_ext.storage import local
    conf = cfg.ConfigOpts()
    local.register_opts(conf)
    postgresql.register_opts(conf)
    conf([], default_config_files=[])
    if spec['storage'] != 'null':
        conf.set_override('storage_dir', spec['storage'],
                          group='local_storage')
    for name, value in spec.get('postgresql', {}).items():
        conf.set_override(name, value, group='postgresql')
    return conf


def _child_session(spec, conf, parent):
    from trove_backup_ext.datastores import base as datastore_base
    from trove_backup_ext.datastores import postgresql
    source = spec['source']
    if source == 'postgresql':
        return postgresql.PostgreSQLDatastore(conf).backup(
            parent and parent['metadata'])
    if source.startswith('members:'):
        members = _tar_members(source.split(':', 1)[1])
    elif source.endswith('.tar'):
        # The driver's own session, parsing a pg_basebackup tar captured
        # earlier: the same members as from the server, repeatably.
        return postgresql._Session(['cat', source], dict(os.environ),
                                   source, 60, None)
    elif source.startswith('synthetic:'):
        members = [('data', _Synthetic(int(source.split(':')[1])))]
    else:
        members = [('data', open(source, 'rb', buffering=0))]

    class Session(datastore_base.BackupSession):
        def members(self):
            for name, stream in members:
                yield datastore_base.Member(name, stream)

        def finish(self):
            return {}
    return Session()


def _tar_members(path):
    """The regular files of a tar, read from the file itself (as zstd
    reads it) with the driver's own tar reader: the pipeline's cost on a
    tar's members, without a pipe."""
    from trove_backup_ext.datastores import tar_stream
    with open(path, 'rb', buffering=MIB) as stream:
        for entry in tar_stream.TarStream(stream):
            if entry.reader is not None:
                yield entry.name, entry.reader


class _Synthetic:
    """size bytes, distinct in every 64 KiB and cheap to make and to
    compress: for counting chunks, not for speed."""

    def __init__(self, size):
        self.left, self.number = size, 0

    def read(self, size):
        size = min(size, self.left)
        self.left -= size
        pieces = []
        for offset in range(0, size, 65536):
            self.number += 1
            pieces.append(struct.pack('<Q', self.number) +
                          bytes(min(65536, size - offset) - 8))
        return b''.join(pieces)


# -- the parent: runs and measures children ---------------------------------

def measured(command, stdin=None, stdout=subprocess.DEVNULL, shell=False):
    """Run command; its wall time, CPU time and output."""
    started = time.perf_counter()
    # A session of its own: stopped halfway, the whole pipeline goes.
    process = subprocess.Popen(command, stdin=subprocess.PIPE,
                               stdout=stdout, shell=shell,
                               start_new_session=True)
    try:
        if stdin is not None:
            process.stdin.write(stdin)
        process.stdin.close()
        output = process.stdout.read() if stdout == subprocess.PIPE else None
        # wait4: this child's own CPU time, not that of all children.
        _, status, usage = os.wait4(process.pid, 0)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError('%s exited %d' % (command, process.returncode))
    return {'wall': wall, 'cpu': usage.ru_utime + usage.ru_stime,
            'output': output}


class Bench:

    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix='tbe-pipeline-bench-',
                                    dir=args.workdir)
        self.results = {'machine': machine(), 'args': vars(args),
                        'tools': [], 'pipeline': [], 'incremental': []}
        self.key = os.urandom(32).hex()
        self.kept = {}      # manifest file -> the id of its backup

    def pipeline(self, label, source, size_of=None, storage='null',
                 encrypted=False, parent=None, keep=None, **settings):
        spec = dict(DEFAULTS, **settings)
        store = storage
        if storage == 'local':
            store = tempfile.mkdtemp(dir=self.tmp, prefix='store-')
        kept_dir = tempfile.mkdtemp(dir=self.tmp, prefix='kept-')
        spec.update(source=source, storage=store, kept_dir=kept_dir,
                    key=self.key if encrypted else None, parent=parent,
                    parent_id=self.kept.get(parent),
                    manifest_out=keep, backup_id=str(uuid.uuid4()),
                    postgresql=getattr(self, 'pg_options', {}))
        if keep:
            self.kept[keep] = spec['backup_id']
        run = measured([sys.executable, os.path.abspath(__file__),
                        '--child'], stdin=json.dumps(spec).encode(),
                       stdout=subprocess.PIPE)
        if storage == 'local':
            shutil.rmtree(store)
        shutil.rmtree(kept_dir)
        result = json.loads(run['output'])
        row = dict(label=label, storage=storage, encrypted=encrypted,
                   incremental=bool(parent),
                   rss_mib=result.pop('rss_kib') / 1024.0,
                   cpu=run['cpu'], mbps=result['size'] / result['wall'] / 1e6,
                   **{k: spec[k] for k in DEFAULTS}, **result)
        row['baseline_rss_mib'] = row.pop('baseline_rss_kib') / 1024.0
        print('  %-34s %7.1f MB/s  cpu %5.1f s  rss %5.1f MiB  stored %8.1f '
              'MiB  objects %d' % (label, row['mbps'], row['cpu'],
                                   row['rss_mib'], row['stored_size'] / MIB,
                                   row['objects']), flush=True)
        return row

    def tool(self, label, command, size, source_label):
        run = measured(command, shell=True)
        row = {'label': label, 'command': command, 'size': size,
               'source': source_label, 'wall': run['wall'],
               'mbps': size / run['wall'] / 1e6, 'cpu': run['cpu']}
        print('  %-34s %7.1f MB/s  cpu %5.1f s' % (label, row['mbps'],
                                                   row['cpu']), flush=True)
        self.results['tools'].append(row)
        return row

    def compare_tools(self, name, path, prefix, gzip=True):
        size = os.path.getsize(path)
        out = os.path.join(self.tmp, 'zstd.out')
        self.tool('zstd -1 -T0 > /dev/null',
                  'zstd -q -1 -T0 -c %s > /dev/null' % path, size, name)
        self.tool('zstd -1 -T0 > file, sync',
                  'zstd -q -1 -T0 -f %s -o %s && sync %s' % (path, out, out),
                  size, name)
        os.unlink(out)
        if name == 'postgresql tar':
            # What the driver's session over the tar pays too: the pipe.
            self.tool('cat | zstd -1 -T0 > /dev/null',
                      'cat %s | zstd -q -1 -T0 > /dev/null' % path, size,
                      name)
        if gzip:
            self.tool('gzip -6 > /dev/null (first %d MiB)' % (prefix // MIB),
                      'head -c %d %s | gzip -6 > /dev/null' % (prefix, path),
                      prefix, name)

    def wait_for_quiet(self):
        """Wait (15 minutes at most) for the 1-minute load average to fall
        under --max-load; record what it was."""
        deadline = time.monotonic() + 900
        while (self.args.max_load and os.getloadavg()[0] >
               self.args.max_load and time.monotonic() < deadline):
            time.sleep(10)
        self.results.setdefault('load_at_rounds', []).append(
            os.getloadavg()[0])

    def incrementals(self, name, full_source, changes, chained):
        """For each chunk size: the full, then each change (label, apply,
        undo, source) as an incremental of the full, or of the previous
        backup if chained; null storage."""
        for chunk_size in self.args.chunk_sizes:
            full_manifest = os.path.join(self.tmp, 'full.json')
            full = self.pipeline('%s full, chunk %s' % (name, human(
                chunk_size)), full_source, keep=full_manifest,
                chunk_size=chunk_size)
            full['source'] = name
            self.results['pipeline'].append(full)
            parent = full_manifest
            for label, apply, undo, source in changes:
                apply()
                manifest = os.path.join(self.tmp, 'inc.json')
                inc = self.pipeline('  inc, %s' % label, source,
                                    parent=parent, keep=manifest,
                                    chunk_size=chunk_size)
                undo()
                inc.update(source=name, change=label,
                           full_stored=full['stored_size'],
                           full_objects=full['objects'],
                           full_mbps=full['mbps'],
                           ratio=inc['stored_size'] / full['stored_size'])
                self.results['incremental'].append(inc)
                if chained:
                    parent = os.path.join(self.tmp, 'prev.json')
                    os.replace(manifest, parent)
                    self.kept[parent] = self.kept[manifest]

    def generated(self):
        path = os.path.join(self.tmp, 'generated.db')
        print('Generating %s of database-like pages in %s'
              % (human(self.args.size), path), flush=True)
        started = time.perf_counter()
        write_generated(path, self.args.size)
        self.results['generated'] = {
            'size': os.path.getsize(path),
            'seconds': time.perf_counter() - started}
        runs = [dict(storage=s, encrypted=e) for s in ('local', 'null')
                for e in (False, True)]
        runs += [dict(parallel=2), dict(parallel=8)]
        for round_ in range(self.args.repeat):
            # Tools and pipeline interleaved, so that a burst of load on
            # the machine hits both alike.
            self.wait_for_quiet()
            self.compare_tools('generated', path, self.args.gzip_prefix,
                               gzip=round_ == 0)
            for run in runs:
                self.results['pipeline'].append(dict(self.pipeline(
                    'generated, ' + describe(run), path, **run),
                    source='generated'))
        changes = self.results.setdefault('changes', {})

        def change(label, contiguous, undo=False):
            def apply():
                done = change_rows(path, 0.01, contiguous, undo)
                changes.setdefault('generated ' + label, done)
            return apply
        self.incrementals('generated', path, [
            (label, change(label, contiguous),
             change(label, contiguous, undo=True), path)
            for label, contiguous in (('contiguous 1%', True),
                                      ('scattered 1%', False))],
            chained=False)
        os.unlink(path)

    def postgresql(self):
        from trove_backup_ext.tests import pg_cluster
        password = uuid.uuid4().hex
        with pg_cluster.Cluster(password) as cluster:
            self.pg_options = {'host': '127.0.0.1', 'port': cluster.port,
                               'user': pg_cluster.BACKUP_ROLE,
                               'password': password}
            # The throwaway cluster's password, for the pg_basebackup
            # pipes below: in the environment, not on a command line.
            os.environ['PGPASSWORD'] = password
            bindir = pg_cluster.bin_dir()
            print('pgbench -i -s %d' % self.args.pg_scale, flush=True)
            started = time.perf_counter()
            subprocess.run([os.path.join(bindir, 'pgbench'), '-i', '-q',
                            '-I', 'dtGvp', '-s', str(self.args.pg_scale),
                            '-h', cluster.workdir, '-p', str(cluster.port),
                            '-U', 'postgres', 'postgres'], check=True,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL,
                           **pg_cluster._as_postgres())
            cluster.psql('CHECKPOINT')
            info = self.results['postgresql'] = {
                'scale': self.args.pg_scale,
                'init_seconds': time.perf_counter() - started,
                'database_size': int(cluster.psql(
                    "SELECT pg_database_size('postgres')")),
                'accounts': int(cluster.psql(
                    'SELECT count(*) FROM pgbench_accounts')),
                'accounts_pages': int(cluster.psql(
                    "SELECT pg_relation_size('pgbench_accounts') / 8192"))}
            base = ('%s -D - -Ft -X fetch -c fast -w -h 127.0.0.1 -p %d '
                    '-U %s' % (os.path.join(bindir, 'pg_basebackup'),
                               cluster.port, pg_cluster.BACKUP_ROLE))
            tars = [os.path.join(self.tmp, 'pg%d.tar' % n) for n in range(3)]
            run = measured(base + ' > ' + tars[0], shell=True)
            size = info['tar_size'] = os.path.getsize(tars[0])
            self.results['tools'].append(
                {'label': 'pg_basebackup > file', 'source': 'postgresql',
                 'size': size, 'wall': run['wall'],
                 'mbps': size / run['wall'] / 1e6})
            print('  %-34s %7.1f MB/s' % ('pg_basebackup > file',
                                          size / run['wall'] / 1e6))
            members = 'members:' + tars[0]
            runs = [('postgresql members', members, dict(storage='null')),
                    ('postgresql members', members, dict(storage='local')),
                    ('postgresql tar', tars[0], dict(storage='null')),
                    ('postgresql tar', tars[0], dict(storage='local')),
                    ('postgresql', 'postgresql', dict(storage='local')),
                    ('postgresql', 'postgresql',
                     dict(storage='local', encrypted=True))]
            for round_ in range(self.args.repeat):
                self.wait_for_quiet()
                self.compare_tools('postgresql tar', tars[0],
                                   self.args.gzip_prefix, gzip=round_ == 0)
                self.tool('pg_basebackup | zstd -1 -T0', base +
                          ' | zstd -q -1 -T0 > /dev/null', size,
                          'postgresql')
                out = os.path.join(self.tmp, 'zstd.out')
                self.tool('pg_basebackup | zstd -1 -T0 > file, sync', base +
                          ' | zstd -q -1 -T0 -f -o %s && sync %s' % (out, out),
                          size, 'postgresql')
                os.unlink(out)
                if round_ == 0:
                    self.tool('pg_basebackup | gzip -6', base +
                              ' | gzip -6 > /dev/null', size, 'postgresql')
                for name, source, run in runs:
                    self.results['pipeline'].append(dict(self.pipeline(
                        '%s, %s' % (name, describe(run)), source, **run),
                        source=name))
            self.pg_changes(cluster, base, tars)
            self.incrementals('postgresql tar', tars[0], [
                (label, noop, noop, tar) for label, tar in (
                    ('contiguous 1%', tars[1]), ('scattered 1%', tars[2]))],
                chained=True)
            os.environ.pop('PGPASSWORD')

    def memory(self):
        """Peak RSS against the number of chunks (64 KiB chunks of a
        synthetic stream): a full, then an incremental of it; past 400,000
        chunks the manifest goes to storage in parts, past 500,000 the
        parent's index to disk."""
        for size in sorted({1 << 30, 8 << 30, self.args.memory_size}):
            manifest = os.path.join(self.tmp, 'synthetic.json')
            for parent in (None, manifest):
                row = self.pipeline('synthetic %s %s' % (
                    human(size), 'incremental' if parent else 'full'),
                    'synthetic:%d' % size, keep=None if parent else manifest,
                    parent=parent, chunk_size=65536)
                self.results.setdefault('memory', []).append(
                    dict(row, source='synthetic'))

    def pg_changes(self, cluster, base, tars):
        """1% of pgbench_accounts: an aid range, then scattered rows;
        a tar of the cluster after each."""
        info = self.results['postgresql']
        count = info['accounts'] // 100
        first = info['accounts'] * 2 // 5
        scattered = 'abs(hashint4(aid)) % 100 = 0'
        info['changes'] = {
            'contiguous 1%': 'aid BETWEEN %d AND %d' % (first,
                                                        first + count - 1),
            'scattered 1%': scattered,
            'scattered rows': int(cluster.psql(
                'SELECT count(*) FROM pgbench_accounts WHERE ' + scattered)),
            'scattered pages': int(cluster.psql(
                'SELECT count(DISTINCT (ctid::text::point)[0]) FROM '
                'pgbench_accounts WHERE ' + scattered))}
        for label, tar in (('contiguous 1%', tars[1]),
                           ('scattered 1%', tars[2])):
            cluster.psql('UPDATE pgbench_accounts SET abalance = abalance '
                         '+ 1 WHERE %s; CHECKPOINT' % info['changes'][label])
            measured(base + ' > ' + tar, shell=True)

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def noop():
    pass


def describe(run):
    words = ['%s=%s' % (k, human(v) if k == 'chunk_size' else v)
             for k, v in run.items() if k not in ('storage', 'encrypted')]
    words.insert(0, run.get('storage', 'null'))
    if run.get('encrypted'):
        words.append('encrypted')
    return ', '.join(words)


def human(size):
    for unit, factor in (('GiB', 1 << 30), ('MiB', MIB), ('KiB', 1024)):
        if size >= factor and size % factor == 0:
            return '%d %s' % (size // factor, unit)
    return str(size)


def machine():
    with open('/proc/cpuinfo') as cpuinfo:
        model = next((line.split(':', 1)[1].strip() for line in cpuinfo
                      if line.startswith('model name')), '?')
    import cryptography
    import zstandard
    zstd = subprocess.run(['zstd', '--version'], capture_output=True,
                          text=True).stdout.strip()
    return {'cpu': model, 'cpus': os.cpu_count(),
            'memory_gib': os.sysconf('SC_PAGE_SIZE') *
            os.sysconf('SC_PHYS_PAGES') / (1 << 30),
            'kernel': platform.release(),
            'python': platform.python_version(),
            'zstandard': zstandard.__version__,
            'cryptography': cryptography.__version__, 'zstd_cli': zstd,
            'load_before': os.getloadavg()}


# -- the report ---------------------------------------------------------------

def _baseline(results, source, tool):
    if source == 'postgresql members':
        source = 'postgresql tar'     # the same bytes
    live = source == 'postgresql'
    prefix = ('pg_basebackup | ' + tool) if live else tool
    speeds = [row['mbps'] for row in results['tools']
              if row['source'] == source and row['label'].startswith(prefix)]
    return max(speeds) if speeds else None


def _grouped(rows):
    """Rows of one source and label together, in first-seen order."""
    groups = {}
    for row in rows:
        groups.setdefault((row['source'], row['label']), []).append(row)
    return groups.values()


def _speed(rows):
    speeds = sorted(r['mbps'] for r in rows)
    if len(speeds) == 1:
        return '%.0f' % speeds[0]
    return '%.0f (%.0f-%.0f)' % (speeds[-1], speeds[0], speeds[-1])


def markdown(results):
    lines = ['| source | run | MB/s best (range) | of zstd -1 -T0 | '
             'x gzip -6 | CPU s | peak RSS MiB | stored MiB |',
             '|---|---|---|---|---|---|---|---|']
    for rows in _grouped(results['tools']):
        lines.append('| %s | %s | %s | | | %s | | |' % (
            rows[0]['source'], rows[0]['label'], _speed(rows),
            '%.1f' % min(r['cpu'] for r in rows) if 'cpu' in rows[0]
            else ''))
    for rows in _grouped(results['pipeline']):
        row = max(rows, key=lambda r: r['mbps'])
        zstd = _baseline(results, row['source'], 'zstd')
        gzip = _baseline(results, row['source'], 'gzip')
        lines.append('| %s | %s | %s | %s | %s | %.1f | %.0f | %.1f |' % (
            row['source'], row['label'].split(', ', 1)[-1], _speed(rows),
            '%.0f%%' % (100 * row['mbps'] / zstd) if zstd else '',
            '%.1f' % (row['mbps'] / gzip) if gzip else '',
            min(r['cpu'] for r in rows), max(r['rss_mib'] for r in rows),
            row['stored_size'] / MIB))
    lines += ['', '| source | chunk | change | full objects | full stored '
              'MiB | full MB/s | inc objects | inc stored MiB | inc / full '
              '| peak RSS MiB |', '|---|---|---|---|---|---|---|---|---|---|']
    for row in results['incremental']:
        lines.append('| %s | %s | %s | %d | %.1f | %.0f | %d | %.2f | '
                     '%.2f%% | %.0f |' % (
                         row['source'], human(row['chunk_size']),
                         row['change'], row['full_objects'],
                         row['full_stored'] / MIB, row['full_mbps'],
                         row['objects'], row['stored_size'] / MIB,
                         100 * row['ratio'], row['rss_mib']))
    memory = results.get('memory', [])
    if memory:
        lines += ['', '| stream | 64 KiB chunks | backup | peak RSS MiB | '
                  'baseline MiB |', '|---|---|---|---|---|']
        for row in memory:
            lines.append('| %s | %d | %s | %.1f | %.1f |' % (
                human(row['size']), row['chunks'],
                'incremental' if row['incremental'] else 'full',
                row['rss_mib'], row['baseline_rss_mib']))
        for kind in (False, True):
            rows = [r for r in memory if r['incremental'] == kind]
            slope = ((rows[-1]['rss_mib'] - rows[0]['rss_mib']) * MIB /
                     (rows[-1]['chunks'] - rows[0]['chunks']))
            lines.append('\n%s: %.0f bytes of peak RSS per chunk' % (
                'incremental' if kind else 'full', slope))
    return '\n'.join(lines)


def main():
    if sys.argv[1:] == ['--child']:
        return child_main()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--size', type=int, default=2048,
                        help='MiB of generated pages (default 2048)')
    parser.add_argument('--gzip-prefix', type=int, default=256,
                        help='MiB that gzip -6 is timed on (default 256)')
    parser.add_argument('--pg-scale', type=int, default=70,
                        help='pgbench scale (default 70: about 1.05 GiB)')
    parser.add_argument('--chunk-sizes', default='64,256,1024,4096',
                        help='KiB, comma-separated, for the incrementals')
    parser.add_argument('--skip-generated', action='store_true')
    parser.add_argument('--skip-postgresql', action='store_true')
    parser.add_argument('--memory-size', type=int, default=65536,
                        help='MiB of the largest synthetic stream whose '
                             '64 KiB chunks are counted, beside 1 and 8 '
                             'GiB (default 65536)')
    parser.add_argument('--skip-memory', action='store_true')
    parser.add_argument('--workdir', default='/tmp',
                        help='where the data, tars and local storage go '
                             '(one disk for all)')
    parser.add_argument('--repeat', type=int, default=2,
                        help='rounds of the throughput runs (default 2); '
                             'the table shows the best and the range')
    parser.add_argument('--max-load', type=float,
                        help='before each round, wait until the 1-minute '
                             'load average is below this')
    parser.add_argument('--output', help='also write the figures as JSON')
    args = parser.parse_args()
    args.size *= MIB
    args.memory_size *= MIB
    args.gzip_prefix *= MIB
    args.chunk_sizes = [int(k) * 1024 for k in args.chunk_sizes.split(',')]
    # Stopped by a signal, still stop the cluster and remove the files;
    # a job started in the background ignores SIGINT unless told.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    bench = Bench(args)
    started = time.perf_counter()
    try:
        if not args.skip_generated:
            bench.generated()
        if not args.skip_postgresql:
            bench.postgresql()
        if not args.skip_memory:
            bench.memory()
    finally:
        bench.close()
    results = bench.results
    results['seconds'] = time.perf_counter() - started
    results['load_after'] = os.getloadavg()
    if args.output:
        with open(args.output, 'w') as out:
            json.dump(results, out, indent=1)
    print()
    print(markdown(results))
    print('\n%.0f s in all' % results['seconds'])


if __name__ == '__main__':
    main()
