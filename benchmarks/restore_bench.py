#!/usr/bin/env python3
"""Restore throughput, peak memory and chain time, beside the plain tools."""

# A throwaway PostgreSQL cluster (pgbench) and a throwaway MariaDB server,
# each about 1 GiB, are backed up by the agent's own runner into local
# storage, and by their tools piped through zstd into a file. Each restore
# is then a child process running only the agent's restore_backup (its
# peak RSS is the restore's), timed against zstd -d piped into tar or
# mbstream on the same data. Method and figures:
# doc/source/admin/restore-benchmarks.rst.

import argparse
import json
import os
import random
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import pipeline_bench    # benchmarks/ is sys.path[0] when run as a script

MIB = pipeline_bench.MIB
CONTAINER = 'bench'
MARIADB_PARALLEL = 1     # [mariadb] parallel's default; the plain path too
# The order of each pair of timed runs: random, the same every time.
ORDER_RNG = random.Random(2026)


# -- configuration and the agent's own paths ---------------------------------

def agent_conf(state, encrypted=False, verify=True):
    """The agent's options for this benchmark's servers and storage."""
    from oslo_config import cfg
    from trove_backup_ext import conf as backup_conf
    from trove_backup_ext.datastores import mariadb
    from trove_backup_ext.datastores import postgresql
    conf = cfg.ConfigOpts()
    backup_conf.register_opts(conf)
    postgresql.register_opts(conf)
    mariadb.register_opts(conf)
    conf([], project='trove-backup-ext', default_config_files=[])
    overrides = {'local_storage.storage_dir': state['store'],
                 'postgresql.verify_restore': verify}
    overrides.update(state.get('options', {}))
    if encrypted:
        overrides['backup_encryption.key_file'] = state['key_file']
    for key, value in overrides.items():
        group, _, name = key.rpartition('.')
        conf.set_override(name, value, group=group)
    return conf


def datastore(conf, name):
    from trove_backup_ext.datastores import mariadb
    from trove_backup_ext.datastores import postgresql
    if name == 'postgresql':
        return postgresql.PostgreSQLDatastore(conf)
    return mariadb.MariaDBDatastore(conf)


class _Worker:
    """Answers the runner's reports as a worker that accepts them, and
    keeps the result."""

    def update_backup(self, context, instance_id, backup_id, status,
                      **fields):
        self.status, self.fields = status, fields
        return True


def take_backup(state, name, backup_id, parent=None, encrypted=False):
    """A backup by the agent's BackupRunner, into local storage; its id
    and the checksum of its manifest."""
    from trove_backup_ext.agent import runner
    conf = agent_conf(state, encrypted)
    worker = _Worker()
    info = {'id': backup_id, 'container': CONTAINER,
            'storage_driver': 'local', 'instance_id': 'bench',
            'datastore': name, 'backup_type': 'full'}
    if parent:
        info.update(parent={'id': parent['id'], 'container': CONTAINER,
                            'checksum': parent['checksum']},
                    backup_type='incremental')
    started = time.perf_counter()
    runner.BackupRunner(conf, 'bench', datastore(conf, name), worker).run(
        None, info)
    if worker.status != 'COMPLETED':
        raise RuntimeError('backup %s: %s %s' % (backup_id, worker.status,
                                                 worker.fields))
    return {'id': backup_id, 'checksum': worker.fields['checksum'],
            'stored_size': worker.fields['stored_size'],
            'seconds': time.perf_counter() - started}


# -- the child: one restore, alone in its process ----------------------------

def child_restore(args):
    """restore_backup of one backup into target, as the agent's restore
    runner calls it; print the timings of its steps and its peak RSS."""
    with open(args.state) as source:
        state = json.load(source)
    from trove_backup_ext.agent import progress as agent_progress
    from trove_backup_ext.agent import restore
    backup = state['backups'][args.backup]
    name = backup['datastore']
    conf = agent_conf(state, backup.get('encrypted'),
                      verify=not args.data_only)
    driver = datastore(conf, name)
    # The agent's modules and options loaded, as in the running agent.
    baseline = pipeline_bench.peak_rss_kib()
    if args.startup_only:
        return
    steps = _timed_steps(driver, args.data_only)
    progress = agent_progress.Progress()
    started = time.perf_counter()
    restore.restore_backup(conf, driver, 'local', CONTAINER, backup['id'],
                           args.target, checksum=backup['checksum'],
                           progress=progress)
    wall = time.perf_counter() - started
    json.dump({'wall': wall, 'steps': steps, 'size': progress.done,
               'rss_kib': pipeline_bench.peak_rss_kib(),
               'baseline_rss_kib': baseline}, sys.stdout)


def _timed_steps(driver, data_only):
    """Wrap the driver's steps (on this instance only) to time each: the
    data written from the pipeline, and the tool's steps after it.
    data_only: MariaDB's prepare skipped and move-back made a rename, so
    that what is left is the data path alone (PostgreSQL: no
    pg_verifybackup, through its option)."""
    steps = {}

    def timed(step, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                steps[step] = (steps.get(step, 0.0) +
                               time.perf_counter() - started)
        return wrapper

    if driver.name == 'postgresql':
        driver._write = timed('data', driver._write)
        driver._verify = timed('pg_verifybackup', driver._verify)
        return steps
    run_tool = driver._run

    def run(step, *arguments):
        if not data_only:
            return run_tool(step, *arguments)
        if step == 'move-back':
            values = dict(a[2:].split('=', 1) for a in arguments)
            if os.path.isdir(values['datadir']):
                os.rmdir(values['datadir'])
            os.rename(values['target-dir'], values['datadir'])

    driver._extract = timed('data', driver._extract)
    driver._run = lambda step, *a: timed(step, run)(step, *a)
    return steps


# -- the plain path: the tools by hand ---------------------------------------

def plain_commands(state, key, target):
    """Shell commands restoring by hand what the pipeline restores as key:
    {'data': ..., 'complete': ...} (complete adds the tool's own step)."""
    quote = shlex.quote
    plain = state['plain'][key]
    tools = state['tools']
    if key == 'postgresql':
        data = 'zstd -q -d -T0 < %s | tar -x -C %s' % (
            quote(plain['file']), quote(target))
        return {'data': 'mkdir %s && %s' % (quote(target), data),
                'complete': 'mkdir %s && %s && %s --quiet %s' % (
                    quote(target), data, quote(tools['pg_verifybackup']),
                    quote(target))}
    full = os.path.join(target, 'full')
    # mariabackup's report on stderr, thousands of lines, to a file.
    log = quote(os.path.join(state['workdir'], 'plain.log'))
    extract = 'zstd -q -d -T0 < %%s | %s -x -C %%s --parallel=%d' % (
        quote(tools['mbstream']), MARIADB_PARALLEL)
    backup_tool = quote(tools['mariabackup']) + ' --no-defaults'
    lines = ['set -e', 'exec 2>>%s' % log, 'mkdir -p %s' % quote(full),
             extract % (quote(plain['file']), quote(full))]
    data = ' && '.join(lines[1:])
    lines.append('%s --prepare --target-dir=%s' % (backup_tool, quote(full)))
    for path in plain.get('incrementals', []):
        inc = os.path.join(target, 'inc')
        lines += ['mkdir %s' % quote(inc), extract % (quote(path), quote(inc)),
                  '%s --prepare --target-dir=%s --incremental-dir=%s' % (
                      backup_tool, quote(full), quote(inc)),
                  'rm -rf %s' % quote(inc)]
    lines.append('%s --move-back --target-dir=%s --datadir=%s --parallel=%d'
                 % (backup_tool, quote(full),
                    quote(os.path.join(target, 'data')), MARIADB_PARALLEL))
    return {'data': data, 'complete': '\n'.join(lines)}


def restore_command(state_path, key, target, data_only):
    command = [sys.executable, os.path.abspath(__file__), 'restore',
               '--state', state_path, '--backup', key, '--target', target]
    return command + (['--data-only'] if data_only else [])


# -- preparing the servers and the backups -----------------------------------

class Prepare:
    """Makes the data, the agent's backups and the tools' files; writes
    the state file the measurements read."""

    def __init__(self, args):
        self.args = args
        self.workdir = args.workdir
        self.state = {'workdir': self.workdir,
                      'store': os.path.join(self.workdir, 'store'),
                      'key_file': os.path.join(self.workdir, 'bench.key'),
                      'backups': {}, 'plain': {}, 'options': {},
                      'tools': {'mbstream': shutil.which('mbstream'),
                                'mariabackup': shutil.which('mariabackup')},
                      'machine': pipeline_bench.machine()}
        with open(self.state['key_file'], 'w') as key:
            key.write(os.urandom(32).hex() + '\n')
        os.chmod(self.state['key_file'], 0o600)

    def save(self):
        path = os.path.join(self.workdir, 'state.json')
        with open(path, 'w') as out:
            json.dump(self.state, out, indent=1)
        return path

    def chain(self, name, change):
        """The full backup (also encrypted), then args.chain incrementals,
        each after change(n)."""
        backups = self.state['backups']
        full = take_backup(self.state, name, '%s-full' % name)
        backups[name] = dict(full, datastore=name)
        print('  %s full: %.1f s' % (name, full['seconds']), flush=True)
        if self.args.encrypted:
            backups[name + '-encrypted'] = dict(take_backup(
                self.state, name, '%s-full-enc' % name, encrypted=True),
                datastore=name, encrypted=True)
        parent = full
        for number in range(1, self.args.chain + 1):
            change(number)
            parent = take_backup(self.state, name, '%s-inc%d' % (
                name, number), parent)
            print('  %s incremental %d: %.1f s, %.1f MiB stored' % (
                name, number, parent['seconds'],
                parent['stored_size'] / MIB), flush=True)
        if self.args.chain:
            backups[name + '-chain'] = dict(parent, datastore=name,
                                            chain=self.args.chain + 1)

    def postgresql(self, stack):
        from trove_backup_ext.tests import pg_cluster
        password = uuid.uuid4().hex
        cluster = stack(pg_cluster.Cluster(password))
        # pg_basebackup by hand takes it from the environment.
        os.environ['PGPASSWORD'] = password
        bindir = pg_cluster.bin_dir()
        self.state['tools']['pg_verifybackup'] = os.path.join(
            bindir, 'pg_verifybackup')
        self.state['options'].update({
            'postgresql.host': '127.0.0.1', 'postgresql.port': cluster.port,
            'postgresql.user': pg_cluster.BACKUP_ROLE,
            'postgresql.password': password})
        print('pgbench -i -s %d' % self.args.pg_scale, flush=True)
        subprocess.run([os.path.join(bindir, 'pgbench'), '-i', '-q', '-I',
                        'dtGvp', '-s', str(self.args.pg_scale),
                        '-h', cluster.workdir, '-p', str(cluster.port),
                        '-U', 'postgres', 'postgres'], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       **pg_cluster._as_postgres())
        cluster.psql('CHECKPOINT')
        path = os.path.join(self.workdir, 'postgresql.tar.zst')
        run = pipeline_bench.measured(
            '%s -D - -Ft -X fetch -c fast -w -h 127.0.0.1 -p %d -U %s | '
            'zstd -q -1 -T0 > %s' % (
                os.path.join(bindir, 'pg_basebackup'), cluster.port,
                pg_cluster.BACKUP_ROLE, shlex.quote(path)), shell=True)
        self.state['plain']['postgresql'] = {
            'file': path, 'stored_size': os.path.getsize(path),
            'seconds': run['wall'],
            'database_size': int(cluster.psql(
                "SELECT pg_database_size('postgres')"))}
        accounts = self.args.pg_scale * 100000

        def change(number):
            # 0.1 % of the accounts, a different range each time.
            first = accounts * number // (self.args.chain + 2)
            cluster.psql('UPDATE pgbench_accounts SET abalance = abalance + '
                         '1 WHERE aid BETWEEN %d AND %d; CHECKPOINT'
                         % (first, first + accounts // 1000 - 1))
        self.chain('postgresql', change)
        os.environ.pop('PGPASSWORD')

    def mariadb(self, stack):
        server = stack(_big_mariadb())
        password = uuid.uuid4().hex
        server.execute("CREATE USER 'tbe_backup'@'localhost' IDENTIFIED BY "
                       "%s", (password,))
        server.execute('GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, '
                       "SUPER ON *.* TO 'tbe_backup'@'localhost'")
        tmp_dir = os.path.join(self.workdir, 'mariadb-tmp')
        os.makedirs(tmp_dir, exist_ok=True)
        self.state['options'].update({
            'mariadb.socket': server.socket, 'mariadb.user': 'tbe_backup',
            'mariadb.password': password, 'mariadb.datadir': server.datadir,
            'mariadb.tmp_dir': tmp_dir})
        rows = self.args.mariadb_rows
        print('MariaDB: %d rows' % rows, flush=True)
        # Like pgbench_accounts, with a less compressible filler: a
        # digest, a name-like word and blanks.
        server.execute('CREATE DATABASE bench')
        server.execute('CREATE TABLE bench.accounts (aid INT PRIMARY KEY, '
                       'bid INT, abalance INT, filler CHAR(84)) '
                       'ENGINE=InnoDB')
        step = 1000000
        for first in range(1, rows + 1, step):
            server.execute(
                "INSERT INTO bench.accounts SELECT seq, seq DIV 100000, 0, "
                "concat(substr(md5(seq), 1, 16), ' ', elt(seq %% 5 + 1, "
                "'alpha', 'bravo', 'charlie', 'delta', 'echo')) FROM "
                "bench.seq_%d_to_%d" % (first, min(first + step - 1, rows)))
        self.state['plain']['mariadb'] = {'datadir_size': _du(
            server.datadir)}
        _settle(server)
        conf = agent_conf(self.state)
        driver = datastore(conf, 'mariadb')
        self.state['tools']['mariabackup'] = driver.backup_tool()
        self.state['tools']['mbstream'] = driver.stream_tool()

        def change(number):
            first = rows * number // (self.args.chain + 2)
            server.execute('UPDATE bench.accounts SET abalance = abalance '
                           '+ 1 WHERE aid BETWEEN %d AND %d'
                           % (first, first + rows // 1000 - 1))
        self.chain('mariadb', change)
        # By hand, the same bytes: mariabackup's xbstream as the agent
        # stored it, through zstd -1 -T0 into a file.
        plain = self.state['plain']
        plain['mariadb'] = self._xbstream_file('mariadb-full')
        plain['mariadb-chain'] = dict(plain['mariadb'], incrementals=[
            self._xbstream_file('mariadb-inc%d' % number)['file']
            for number in range(1, self.args.chain + 1)])

    def _xbstream_file(self, backup_id):
        from trove_backup_ext.pipeline import codec as chunk_codec
        from trove_backup_ext.pipeline import reader as backup_reader
        from trove_backup_ext.storage import local
        reader = backup_reader.BackupReader(
            local.LocalStorage(agent_conf(self.state)),
            chunk_codec.ChunkCodec())
        path = os.path.join(self.workdir, backup_id + '.xb.zst')
        with open(path, 'wb') as out:
            zstd = subprocess.Popen(['zstd', '-q', '-1', '-T0'],
                                    stdin=subprocess.PIPE, stdout=out)
            for _, chunks in reader.stored_backup(CONTAINER,
                                                  backup_id).members():
                for chunk in chunks:
                    zstd.stdin.write(chunk)
            zstd.stdin.close()
            if zstd.wait():
                raise RuntimeError('zstd exited %d' % zstd.returncode)
        return {'file': path, 'stored_size': os.path.getsize(path)}


def _settle(server, timeout=300):
    """Wait until the load's dirty pages are written, so that the full
    backup is of a quiet server, not of one with a GiB of redo to
    apply at prepare."""
    server.execute('SET GLOBAL innodb_max_dirty_pages_pct = 0')
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dirty = server.execute("SHOW GLOBAL STATUS LIKE "
                               "'Innodb_buffer_pool_pages_dirty'")
        if int(dirty[0][1]) == 0:
            return
        time.sleep(1)


def _big_mariadb():
    from trove_backup_ext.tests import mariadb_server

    class BigMariaDB(mariadb_server.MariaDBServer):
        """The test server with room to load a GiB quickly."""

        def command(self):
            return super().command() + [
                '--innodb-buffer-pool-size=1G', '--innodb-log-file-size=512M',
                '--innodb-flush-log-at-trx-commit=0', '--skip-log-bin']
    return BigMariaDB()


def _du(path):
    return sum(os.path.getsize(os.path.join(directory, name))
               for directory, _, names in os.walk(path) for name in names)


def prepare(args):
    import fixtures
    os.makedirs(args.workdir, exist_ok=True)
    work = Prepare(args)
    with fixtures.Fixture() as stack:
        if not args.skip_postgresql:
            work.postgresql(stack.useFixture)
        if not args.skip_mariadb:
            work.mariadb(stack.useFixture)
    return work.save()


# -- measuring ---------------------------------------------------------------

def measure(args, state_path):
    with open(state_path) as source:
        state = json.load(source)
    target = os.path.join(state['workdir'], 'target')
    # The children's imports warn of deprecations on stderr.
    os.environ['PYTHONWARNINGS'] = 'ignore'
    results = {'machine': state['machine'], 'rows': [],
               'load': [os.getloadavg()]}
    for key in sorted(state['backups']):
        backup = state['backups'][key]
        plain_key = key.replace('-encrypted', '')
        modes = ('data', 'complete') if not backup.get('chain') else (
            'complete',)
        for mode in modes:
            runs = {'pipeline': [], 'plain': []}
            commands = plain_commands(state, plain_key, target) \
                if plain_key in state['plain'] else {}
            sides = {'pipeline': lambda: _pipeline_run(
                state_path, key, target, mode == 'data')}
            if mode in commands and not key.endswith('-encrypted'):
                sides['plain'] = lambda: pipeline_bench.measured(
                    commands[mode], shell=True)
            for _ in range(args.runs):
                # Pairs, in a random order: a burst of load hits both
                # alike, and what one run leaves the next (a restore's
                # gigabyte of freed or written-back pages) falls on either
                # side. Each starts with nothing left to write back.
                order = sorted(sides)
                ORDER_RNG.shuffle(order)
                for side in order:
                    shutil.rmtree(target, ignore_errors=True)
                    os.sync()
                    runs[side].append(sides[side]())
            shutil.rmtree(target, ignore_errors=True)
            size = runs['pipeline'][0]['size']
            row = {'backup': key, 'mode': mode, 'size': size,
                   'command': shlex.join(restore_command(
                       state_path, key, target, mode == 'data')),
                   'plain_command': commands.get(mode),
                   'pipeline': runs['pipeline'], 'plain': runs['plain'],
                   'load': os.getloadavg()[0]}
            results['rows'].append(row)
            print(_line(row), flush=True)
    # Any backup: start-up stops before reading it.
    startup = [pipeline_bench.measured(
        restore_command(state_path, sorted(state['backups'])[0], target,
                        False) +
        ['--startup-only'])['wall'] for _ in range(args.runs)]
    results['startup'] = startup
    print('start-up alone (imports, options, driver): median %.2f s'
          % _median(startup), flush=True)
    results['load'].append(os.getloadavg())
    return results


def _spread(values):
    values = sorted(values)
    return '%.2f / %.2f / %.2f' % (values[0], _median(values), values[-1])


def markdown(results):
    lines = ['| backup | restore | GB | pipeline s, whole process (min / '
             'median / max) | in process | plain s (min / median / max) | '
             'pipeline MB/s (in process) | plain MB/s | of plain (in '
             'process) | peak RSS MiB |', '|---|---|---|---|---|---|---|---|'
             '---|---|']
    for row in results['rows']:
        walls = [r['process_wall'] for r in row['pipeline']]
        inside = _median([r['wall'] for r in row['pipeline']])
        plain = [r['wall'] for r in row['plain']]
        size = row['size'] / 1e6
        cells = [row['backup'], row['mode'], '%.2f' % (size / 1e3),
                 _spread(walls), '%.2f' % inside,
                 _spread(plain) if plain else '',
                 '%.0f (%.0f)' % (size / _median(walls), size / inside),
                 '%.0f' % (size / _median(plain)) if plain else '',
                 '%.0f %% (%.0f %%)' % (100 * _median(plain) / _median(
                     walls), 100 * _median(plain) / inside) if plain else '',
                 '%.0f' % max(r['rss_kib'] / 1024 for r in row['pipeline'])]
        lines.append('| %s |' % ' | '.join(cells))
    return '\n'.join(lines)


def _pipeline_run(state_path, key, target, data_only):
    run = pipeline_bench.measured(restore_command(state_path, key, target,
                                                  data_only),
                                  stdout=subprocess.PIPE)
    result = json.loads(run['output'])
    result.update(process_wall=run['wall'], cpu=run['cpu'])
    return result


def _median(values):
    return statistics.median(values) if values else None


def _line(row):
    size = row['size']
    walls = [r['process_wall'] for r in row['pipeline']]
    text = '%-22s %-8s pipeline %6.1f MB/s (%.2f s, cpu %.1f s, rss %.0f ' \
        'MiB)' % (row['backup'], row['mode'], size / _median(walls) / 1e6,
                  _median(walls),
                  _median([r['cpu'] for r in row['pipeline']]),
                  max(r['rss_kib'] for r in row['pipeline']) / 1024)
    if row['plain']:
        plain = _median([r['wall'] for r in row['plain']])
        text += '; plain %6.1f MB/s (%.2f s, cpu %.1f s): %.0f %%' % (
            size / plain / 1e6, plain,
            _median([r['cpu'] for r in row['plain']]),
            100 * plain / _median(walls))
    steps = row['pipeline'][0]['steps']
    return text + '; steps ' + ', '.join(
        '%s %.2f s' % (name, _median([r['steps'].get(name, 0)
                                      for r in row['pipeline']]))
        for name in steps)


def main():
    if sys.argv[1:2] == ['restore']:
        parser = argparse.ArgumentParser()
        parser.add_argument('command')
        parser.add_argument('--state', required=True)
        parser.add_argument('--backup', required=True)
        parser.add_argument('--target', required=True)
        parser.add_argument('--data-only', action='store_true')
        parser.add_argument('--startup-only', action='store_true',
                            help='load the agent\'s modules and options, '
                                 'then exit: the fixed cost in a timing '
                                 'of the whole process')
        return child_restore(parser.parse_args())
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--workdir', default=None,
                        help='where the servers, storage and restores go '
                             '(default: a new directory in /tmp, removed '
                             'at the end unless --keep)')
    parser.add_argument('--state', help='measure the backups a previous '
                                        '--keep run prepared')
    parser.add_argument('--keep', action='store_true',
                        help='keep the work directory (and print its '
                             'state file) for more runs')
    parser.add_argument('--pg-scale', type=int, default=70,
                        help='pgbench scale (default 70: about 1.06 GiB)')
    parser.add_argument('--mariadb-rows', type=int, default=8000000,
                        help='rows of the MariaDB table (default 8,000,000:'
                             ' about 1.1 GB of backup)')
    parser.add_argument('--chain', type=int, default=10,
                        help='incrementals after the full (default 10)')
    parser.add_argument('--encrypted', action='store_true',
                        help='also an AES-256-GCM full backup of each')
    parser.add_argument('--runs', type=int, default=5,
                        help='timed restores of each (default 5)')
    parser.add_argument('--skip-postgresql', action='store_true')
    parser.add_argument('--skip-mariadb', action='store_true')
    parser.add_argument('--output', help='also write the figures as JSON')
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    made = None
    if not args.state:
        made = args.workdir = tempfile.mkdtemp(
            prefix='tbe-restore-bench-', dir=args.workdir or '/tmp')
    try:
        state_path = args.state or prepare(args)
        if args.keep:
            print('state file:', state_path)
        if args.runs:
            results = measure(args, state_path)
    finally:
        if made and not args.keep:
            shutil.rmtree(made, ignore_errors=True)
    if args.runs:
        print()
        print(markdown(results))
    if args.output and args.runs:
        with open(args.output, 'w') as out:
            json.dump(results, out, indent=1)


if __name__ == '__main__':
    main()
