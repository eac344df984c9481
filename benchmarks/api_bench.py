#!/usr/bin/env python3
"""Latency and throughput of the backups API served by trove-backup-api.

For each table size: a scratch database is created and migrated, N backups
are bulk-inserted, trove-backup-api is started on it as a subprocess (as a
deployer runs it stand-alone) and each operation is timed from this process
with a requests.Session; then 1, 2, 4 and 8 client processes send reads as
fast as they are answered, for the requests per second. See
benchmarks/README.md.
"""

import argparse
import datetime
import http.client
import json
import multiprocessing
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import requests
import sqlalchemy as sa

from trove_backup_ext.db import migration
from trove_backup_ext.db import models
from trove_backup_ext.instance_sources import registry

MYSQL_SERVER = 'mysql+pymysql://root@127.0.0.1:3306'
POSTGRESQL_SERVER = 'postgresql+psycopg2://postgres@127.0.0.1:5432'
PROJECT = 'bench'
# (project, instances, share of the rows): the measured project holds most.
PROJECTS = (('bench', 8, 0.7), ('tenant-a', 4, 0.1), ('tenant-b', 4, 0.1),
            ('tenant-c', 4, 0.1))
DATASTORES = (('mysql', '8.0'), ('mariadb', '10.11'), ('postgresql', '16'),
              ('sqlite', '3'))
BATCH = 5000
WARMUP = 10
DEEP_PAGES = 10


def uuid_from(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# -- scratch database ---------------------------------------------------------

class ScratchDatabase:
    """A new database (SQLite file, MariaDB or PostgreSQL database) dropped
    on close."""

    def __init__(self, backend):
        self.backend = backend
        self.tmpdir = tempfile.mkdtemp(prefix='tbe-bench-')
        self.name = None
        if backend == 'sqlite':
            self.url = 'sqlite:///%s/bench.sqlite' % self.tmpdir
        else:
            self.name = 'bench_%s' % uuid.uuid4().hex[:12]
            server, create, suffix = {
                'mysql': (MYSQL_SERVER, 'CREATE DATABASE %s CHARACTER SET '
                          'utf8mb4', '?charset=utf8mb4'),
                'postgresql': (POSTGRESQL_SERVER, 'CREATE DATABASE %s', ''),
            }[backend]
            self.admin = sa.create_engine(
                server + ('/postgres' if backend == 'postgresql' else '/'),
                isolation_level='AUTOCOMMIT')
            with self.admin.connect() as connection:
                connection.execute(sa.text(create % self.name))
            self.url = '%s/%s%s' % (server, self.name, suffix)
        self.engine = sa.create_engine(self.url)

    def close(self):
        self.engine.dispose()
        if self.name:
            drop = 'DROP DATABASE IF EXISTS %s' % self.name
            if self.backend == 'postgresql':
                drop += ' WITH (FORCE)'
            with self.admin.connect() as connection:
                connection.execute(sa.text(drop))
            self.admin.dispose()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


# -- seeding ------------------------------------------------------------------

def make_instances(rng, create_instances):
    """Seeded instances (project, id, datastore, version) and the spare
    ACTIVE instances of PROJECT used one per timed create."""
    seeded = []
    for project, count, share in PROJECTS:
        for i in range(count):
            datastore, version = DATASTORES[i % len(DATASTORES)]
            seeded.append({'project_id': project, 'id': uuid_from(rng),
                           'datastore': datastore, 'version': version,
                           'weight': share / count})
    spare = [{'project_id': PROJECT, 'id': uuid_from(rng),
              'datastore': 'mysql', 'version': '8.0', 'weight': 0}
             for _ in range(create_instances)]
    return seeded, spare


def backup_rows(rng, rows, instances, now):
    """Backups in created order: distinct microsecond timestamps over a
    year, every fifth of an instance a full one, the rest incrementals of
    the previous; mostly COMPLETED, none running."""
    step = int(365 * 86400 * 1e6 / rows)
    start = now - datetime.timedelta(microseconds=step * rows)
    weights = [inst['weight'] for inst in instances]
    last = {}
    for i in range(rows):
        inst = rng.choices(instances, weights)[0]
        created = start + datetime.timedelta(
            microseconds=i * step + rng.randrange(step))
        previous = last.get(inst['id'])
        parent = previous if previous and rng.random() < 0.8 else None
        roll = rng.random()
        status = ('COMPLETED' if roll < 0.96 else
                  'FAILED' if roll < 0.99 else 'DELETE_FAILED')
        backup_id = uuid_from(rng)
        if status == 'COMPLETED':
            last[inst['id']] = backup_id
        yield {
            'id': backup_id, 'name': 'backup-%07d' % i,
            'description': 'nightly backup %d' % i,
            'project_id': inst['project_id'], 'user_id': 'bench-user',
            'instance_id': inst['id'],
            'parent_id': parent, 'status': status,
            'backup_type': 'incremental' if parent else 'full',
            'datastore': inst['datastore'],
            'datastore_version': inst['version'],
            'datastore_version_id': registry.datastore_version_id(
                inst['datastore'], inst['version']),
            'storage_driver': 'local', 'container': 'database_backups',
            'location': ('/var/lib/trove-backup-ext/backups/%s'
                         % backup_id if status == 'COMPLETED' else None),
            'checksum': ('%032x' % rng.getrandbits(128)
                         if status == 'COMPLETED' else None),
            'size': (round(rng.uniform(0.01, 20.0), 3)
                     if status == 'COMPLETED' else None),
            'fail_reason': 'agent lost' if status == 'FAILED' else None,
            'running_instance_id': None, 'delete_requested_at': None,
            'created': created,
            'updated': created + datetime.timedelta(
                seconds=rng.randrange(30, 3600)),
        }


def seed(engine, rows, rng, create_instances, delete_backups=0):
    """Migrate and fill the database; returns what the timed requests
    need (instance ids, a sample of backup ids, the oldest ids, and
    delete_backups COMPLETED backups of PROJECT that no other backup
    names as its parent, so that each delete marks one row)."""
    migration.upgrade(engine=engine)
    now = datetime.datetime.now(datetime.timezone.utc).replace(
        tzinfo=None, microsecond=0)
    seeded, spare = make_instances(rng, create_instances)
    backups = models.Backup.__table__
    counts, bench_ids, parents, completed = {}, [], set(), []
    with engine.begin() as connection:
        connection.execute(sa.insert(models.RegistryInstance.__table__), [
            {'id': inst['id'], 'name': 'inst-%d' % n,
             'project_id': inst['project_id'],
             'datastore': inst['datastore'],
             'datastore_version': inst['version'], 'status': 'ACTIVE',
             'created': now - datetime.timedelta(days=400)}
            for n, inst in enumerate(seeded + spare)])
        batch = []
        for row in backup_rows(rng, rows, seeded, now):
            counts[row['project_id']] = counts.get(row['project_id'], 0) + 1
            if row['project_id'] == PROJECT:
                bench_ids.append(row['id'])
                if row['status'] == 'COMPLETED':
                    completed.append(row['id'])
            if row['parent_id']:
                parents.add(row['parent_id'])
            batch.append(row)
            if len(batch) == BATCH:
                connection.execute(sa.insert(backups), batch)
                batch = []
        if batch:
            connection.execute(sa.insert(backups), batch)
        connection.execute(sa.insert(models.ProjectUsage.__table__), [
            {'project_id': p, 'backups': c} for p, c in counts.items()])
    # Fresh statistics, as a table that grew over months would have.
    if engine.dialect.name == 'mysql':
        with engine.begin() as connection:
            connection.execute(sa.text('ANALYZE TABLE backups'))
    elif engine.dialect.name == 'postgresql':
        with engine.connect().execution_options(
                isolation_level='AUTOCOMMIT') as connection:
            connection.execute(sa.text('VACUUM ANALYZE backups'))
    leaves = [b for b in completed if b not in parents]
    return {'delete_ids': rng.sample(leaves, min(len(leaves),
                                                 delete_backups)),
            'instance': seeded[0]['id'], 'spare': [i['id'] for i in spare],
            'show_ids': rng.sample(bench_ids, min(len(bench_ids), 500)),
            'old_marker': bench_ids[39] if len(bench_ids) > 40 else None,
            'project_rows': counts.get(PROJECT, 0)}


# -- the server ---------------------------------------------------------------

def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class APIServer:
    """trove-backup-api on the scratch database, in a subprocess."""

    def __init__(self, url, workdir, workers=None, threads=None):
        self.port = free_port()
        self.endpoint = 'http://127.0.0.1:%d' % self.port
        self.config = os.path.join(workdir, 'trove-backup-ext.conf')
        self.logfile = os.path.join(workdir, 'api.log')
        with open(self.config, 'w') as f:
            f.write('[DEFAULT]\ntransport_url = fake://\n'
                    'max_backups_per_tenant = -1\n'
                    'log_file = %s\n\n'
                    '[api]\nauth_strategy = noauth\nhost = 127.0.0.1\n'
                    'port = %d\n%s%s\n[database]\nconnection = %s\n'
                    % (self.logfile, self.port,
                       'workers = %d\n' % workers if workers else '',
                       'threads = %d\n' % threads if threads else '', url))
        command = os.path.join(os.path.dirname(sys.executable),
                               'trove-backup-api')
        self.process = subprocess.Popen(
            [command, '--config-file', self.config],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        url = '%s/v1.0/%s/backups?limit=1' % (self.endpoint, PROJECT)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError('trove-backup-api exited with %s; see %s'
                                   % (self.process.returncode, self.log()))
            try:
                if requests.get(url, timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise RuntimeError('trove-backup-api did not answer: %s' % self.log())

    def log(self):
        try:
            with open(self.logfile) as f:
                return f.read()[-3000:]
        except OSError:
            return '(no log)'

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- measuring ----------------------------------------------------------------

def percentile(sorted_values, fraction):
    """Nearest-rank percentile."""
    index = max(0, int(round(fraction * len(sorted_values) + 0.5)) - 1)
    return sorted_values[min(index, len(sorted_values) - 1)]


def timed(requests_to_send, reps, expect):
    """Warm up, then time reps requests; requests_to_send(i) sends the
    i-th (i < 0 for warm-up) and returns the response."""
    for i in range(-WARMUP, 0):
        requests_to_send(i)
    times, sizes, rows, statuses = [], [], [], {}
    for i in range(reps):
        start = time.perf_counter()
        response = requests_to_send(i)
        body = response.content
        times.append((time.perf_counter() - start) * 1000)
        statuses[response.status_code] = statuses.get(
            response.status_code, 0) + 1
        if response.status_code != expect:
            raise RuntimeError('%s %s: %s %s' % (
                response.request.method, response.request.url,
                response.status_code, body[:300]))
        sizes.append(len(body))
        data = response.json() if body else {}
        rows.append(len(data['backups']) if 'backups' in data else
                    1 if 'backup' in data else 0)
    times.sort()
    return {'reps': reps, 'p50_ms': round(statistics.median(times), 2),
            'p95_ms': round(percentile(times, 0.95), 2),
            'mean_ms': round(statistics.fmean(times), 2),
            'min_ms': round(times[0], 2), 'max_ms': round(times[-1], 2),
            'resp_bytes': int(statistics.median(sizes)),
            'rows': int(statistics.median(rows)),
            'status': {str(k): v for k, v in statuses.items()}}


def measure(endpoint, info, reps, writes):
    """Time the reads (writes False) or the create and delete (True)."""
    session = requests.Session()
    base = '%s/v1.0/%s/backups' % (endpoint, PROJECT)
    admin = {'X-Roles': 'admin'}

    def get(url, **kwargs):
        return lambda i: session.get(url, **kwargs)

    deep = base
    for _ in range(DEEP_PAGES):
        links = session.get(deep).json().get('links')
        if not links:
            break
        deep = links[0]['href']
    show_ids = info['show_ids']
    spare = iter(info['spare'])

    def create(i):
        body = {'backup': {'name': 'bench-create', 'instance': next(spare),
                           'description': 'benchmark create'}}
        return session.post(base, json=body)

    delete_ids = iter(info['delete_ids'])

    def delete(i):
        return session.delete('%s/%s' % (base, next(delete_ids)))

    # The same show without requests: what the client library costs.
    raw = http.client.HTTPConnection(endpoint.split('//', 1)[1])

    def raw_show(i):
        raw.request('GET', '%s/%s' % (base.split(endpoint, 1)[1],
                                      show_ids[i % len(show_ids)]))
        return RawResponse(raw.getresponse())

    operations = [
        # No SQL at all (not a UUID: 404 before any query): what HTTP, the
        # middleware, pecan and this client cost on their own.
        ('GET /backups/not-a-uuid (404, no SQL)', get(base + '/not-a-uuid'),
         404),
        ('GET /backups (default page)', get(base), 200),
        ('GET /backups?limit=100', get(base + '?limit=100'), 200),
        ('GET /backups?limit=1000', get(base + '?limit=1000'), 200),
        ('GET /backups?instance_id=X',
         get(base, params={'instance_id': info['instance']}), 200),
        ('GET /backups?datastore=mysql',
         get(base, params={'datastore': 'mysql'}), 200),
        ('GET /backups deep page (%d next links in)' % DEEP_PAGES,
         get(deep), 200),
        ('GET /backups?marker=<40th oldest id>',
         get(base, params={'marker': info['old_marker']}), 200),
        ('GET /backups?all_projects=true (admin)',
         get(base, params={'all_projects': 'true'}, headers=admin), 200),
        ('GET /backups/{id}', lambda i: session.get(
            '%s/%s' % (base, show_ids[i % len(show_ids)])), 200),
        ('GET /backups/{id} (http.client, no requests)', raw_show, 200),
        ('POST /backups', create, 202),
        ('DELETE /backups/{id}', delete, 202),
    ]
    results = []
    for name, send, expect in operations:
        if 'marker=<40th' in name and not info['old_marker']:
            continue
        if writes != (name.startswith('POST') or name.startswith('DELETE')):
            continue
        result = timed(send, reps, expect)
        result['operation'] = name
        results.append(result)
        print('  %-44s p50 %8.2f ms  p95 %8.2f ms' % (
            name, result['p50_ms'], result['p95_ms']), flush=True)
    session.close()
    raw.close()
    return results


class RawResponse:
    """Enough of a requests.Response for timed(), from http.client."""

    def __init__(self, response):
        self.status_code = response.status
        self.content = response.read()
        self.request = type('Request', (), {'method': 'GET',
                                            'url': '(http.client)'})

    def json(self):
        return json.loads(self.content)


def client_loop(urls, start_at, stop_at, results):
    """One client process: a keep-alive session sending GETs of urls in
    turn, from start_at to stop_at (wall clock), as fast as they are
    answered. Puts (requests answered 200, other answers, latencies)."""
    session = requests.Session()
    session.get(urls[0]).content                     # Connect first.
    times, errors, i = [], 0, 0
    time.sleep(max(0, start_at - time.time()))
    while time.time() < stop_at:
        start = time.perf_counter()
        response = session.get(urls[i % len(urls)])
        response.content
        times.append((time.perf_counter() - start) * 1000)
        errors += response.status_code != 200
        i += 1
    session.close()
    results.put((len(times) - errors, errors, times))


def throughput(endpoint, info, clients, duration):
    """Requests per second of show and of the default list page with
    each number of concurrent client processes."""
    base = '%s/v1.0/%s/backups' % (endpoint, PROJECT)
    workloads = [('GET /backups/{id}', ['%s/%s' % (base, backup_id)
                                        for backup_id in info['show_ids']]),
                 ('GET /backups (default page)', [base])]
    context = multiprocessing.get_context('fork')
    results = []
    for name, urls in workloads:
        for count in clients:
            queue = context.Queue()
            start_at = time.time() + 1.0     # Every client connected first.
            processes = [context.Process(
                target=client_loop,
                args=(urls[n * 37 % len(urls):] + urls[:n * 37 % len(urls)],
                      start_at, start_at + duration, queue))
                for n in range(count)]
            for process in processes:
                process.start()
            answers = [queue.get(timeout=duration + 60) for _ in processes]
            for process in processes:
                process.join()
            ok = sum(a[0] for a in answers)
            errors = sum(a[1] for a in answers)
            times = sorted(t for a in answers for t in a[2])
            result = {'operation': name, 'clients': count,
                      'duration_s': duration, 'requests': ok,
                      'errors': errors,
                      'requests_per_s': round(ok / duration, 1),
                      'p50_ms': round(statistics.median(times), 2),
                      'p95_ms': round(percentile(times, 0.95), 2)}
            results.append(result)
            print('  %-30s %d clients: %7.1f req/s  p50 %6.2f ms  '
                  'p95 %6.2f ms  errors %d' % (
                      name, count, result['requests_per_s'],
                      result['p50_ms'], result['p95_ms'], errors),
                  flush=True)
            if errors:
                raise RuntimeError('%d requests of %s failed' % (errors,
                                                                 name))
    return results


def wait_quiet(max_load, timeout=900):
    """Wait (bounded) until the 1-minute load average is below max_load:
    other work on a 2-core machine shows up directly in the latencies."""
    deadline = time.monotonic() + timeout
    while os.getloadavg()[0] > max_load and time.monotonic() < deadline:
        time.sleep(10)
    return os.getloadavg()[0]


def run_size(backend, rows, reps, rng, max_load=None, clients=(),
             duration=10, workers=None, threads=None):
    load_before = wait_quiet(max_load) if max_load else os.getloadavg()[0]
    database = ScratchDatabase(backend)
    server = None
    try:
        with database.engine.connect() as connection:
            server_version = connection.exec_driver_sql(
                'SELECT sqlite_version()' if backend == 'sqlite'
                else 'SELECT VERSION()').scalar()
        start = time.perf_counter()
        info = seed(database.engine, rows, rng, reps + WARMUP,
                    delete_backups=reps + WARMUP)
        seed_seconds = time.perf_counter() - start
        database.engine.dispose()
        print('%s, %d backups (%d in project %s): seeded in %.1f s' % (
            backend, rows, info['project_rows'], PROJECT, seed_seconds),
            flush=True)
        server = APIServer(database.url, database.tmpdir, workers, threads)
        server.wait_ready()
        # The throughput after the reads (a server warmed up as the
        # latencies' is) and before the creates and deletes, which change
        # the table.
        results = measure(server.endpoint, info, reps, writes=False)
        rates = throughput(server.endpoint, info, clients, duration)
        results += measure(server.endpoint, info, reps, writes=True)
        return {'backend': backend, 'server_version': server_version,
                'api_workers': workers, 'api_threads': threads,
                'throughput': rates,
                'rows': rows,
                'project_rows': info['project_rows'],
                'loadavg_1min': [round(load_before, 2),
                                 round(os.getloadavg()[0], 2)],
                'seed_seconds': round(seed_seconds, 2), 'results': results}
    finally:
        if server:
            server.stop()
        database.close()


def machine():
    model = ''
    try:
        with open('/proc/cpuinfo') as f:
            model = next((line.split(':', 1)[1].strip() for line in f
                          if line.startswith('model name')), '')
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ['git', 'rev-parse', 'HEAD'], capture_output=True, text=True,
            cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except OSError:
        commit = ''
    return {'cpus': os.cpu_count(), 'cpu_model': model, 'commit': commit,
            'python': platform.python_version(),
            'sqlite': __import__('sqlite3').sqlite_version,
            'loadavg': os.getloadavg()}


def markdown(runs):
    lines = ['| backend | N | operation | reps | p50 ms | p95 ms | mean ms '
             '| rows | resp bytes |', '|---|---|---|---|---|---|---|---|---|']
    for run in runs:
        for r in run['results']:
            lines.append('| %s | %d | %s | %d | %.2f | %.2f | %.2f | %d | %d |'
                         % (run['backend'], run['rows'], r['operation'],
                            r['reps'], r['p50_ms'], r['p95_ms'],
                            r['mean_ms'], r['rows'], r['resp_bytes']))
    lines += ['', '| backend | N | operation | clients | req/s | p50 ms '
              '| p95 ms |', '|---|---|---|---|---|---|---|']
    for run in runs:
        for r in run['throughput']:
            lines.append('| %s | %d | %s | %d | %.1f | %.2f | %.2f |' % (
                run['backend'], run['rows'], r['operation'], r['clients'],
                r['requests_per_s'], r['p50_ms'], r['p95_ms']))
    return '\n'.join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--backend', choices=('sqlite', 'mysql',
                                              'postgresql'),
                        default='sqlite')
    parser.add_argument('--rows', default='1000,10000,100000',
                        help='comma-separated table sizes')
    parser.add_argument('--reps', type=int, default=200,
                        help='timed requests per operation (after %d '
                             'warm-up requests)' % WARMUP)
    parser.add_argument('--seed', type=int, default=42,
                        help='random seed of the generated data')
    parser.add_argument('--output', help='write the results as JSON here')
    parser.add_argument('--max-load', type=float,
                        help='before each size, wait (up to 15 min) until '
                             'the 1-minute load average is below this')
    parser.add_argument('--clients', default='1,2,4,8',
                        help='comma-separated numbers of concurrent client '
                             'processes for the throughput figures ("" for '
                             'none)')
    parser.add_argument('--duration', type=float, default=10,
                        help='seconds of each throughput measurement')
    parser.add_argument('--api-workers', type=int,
                        help='[api] workers of the server (default: its '
                             'own, one per CPU)')
    parser.add_argument('--api-threads', type=int,
                        help='[api] threads of the server')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    rng = random.Random(args.seed)
    info = machine()
    clients = [int(c) for c in args.clients.split(',') if c]
    runs = [run_size(args.backend, int(rows), args.reps, rng, args.max_load,
                     clients, args.duration, args.api_workers,
                     args.api_threads)
            for rows in args.rows.split(',')]
    info['loadavg_after'] = os.getloadavg()
    print()
    print(markdown(runs))
    if args.output:
        with open(args.output, 'w') as f:
            json.dump({'machine': info, 'backend': args.backend,
                       'reps': args.reps, 'warmup': WARMUP, 'runs': runs},
                      f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
