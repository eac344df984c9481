#!/usr/bin/env python3
"""Mixed load on the whole service: API, workers and agents as processes.

A scratch MariaDB database, a vhost of its own on the machine's RabbitMQ,
local storage in a temporary directory; trove-backup-api (cheroot, [api]
workers processes), --workers trove-backup-worker processes and one
trove-backup-agent per SQLite demo instance (registered, with its agent
key, by trove-backup-manage instance add). N client threads, each with a
keep-alive requests.Session on loopback, send a weighted mix of requests
for --duration seconds (or --max-requests); then the script waits
(bounded) for every backup, restore, verification and deletion to end,
counts the rows left running and runs trove-backup-manage storage audit.
It measures and asserts nothing. See benchmarks/README.md.
"""

import argparse
import collections
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import requests
import sqlalchemy as sa

from trove_backup_ext.db import migration
from trove_backup_ext.db import models

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api_bench  # noqa: E402  (free_port, percentile, machine)

MYSQL_SERVER = 'mysql+pymysql://root@127.0.0.1:3306'
RABBIT_HOST = '127.0.0.1:5672'
PROJECT = 'load'
BIN_DIR = os.path.dirname(os.path.abspath(sys.executable))
# Share of the requests (in %): 70 list/show, 15 create, 10 delete,
# 5 restore/verify.
MIX = (('list backups', 30), ('list restores', 5), ('show backup', 30),
       ('show restore', 5), ('create backup', 15), ('delete backup', 10),
       ('restore', 2.5), ('verify', 2.5))
RUNNING_BACKUP = ('NEW', 'BUILDING')
RUNNING_RESTORE = ('NEW', 'RESTORING')
ENDED = ('COMPLETED', 'FAILED')
BUSY = re.compile(r'not currently available')
REQUEST_TIMEOUT = 30


# -- the deployment -----------------------------------------------------------

def write_file(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, 'w') as out:
        out.write(text)
    return path


def ini(sections):
    return ''.join('[%s]\n%s\n' % (group, ''.join(
        '%s = %s\n' % item for item in options.items()))
        for group, options in sections.items())


def rabbitmqctl(*args):
    subprocess.run(('rabbitmqctl',) + args, check=True, capture_output=True,
                   timeout=60)


class Service:
    """One command in its own process group, output in a log file."""

    def __init__(self, name, argv, workdir):
        self.name = name
        self.log_path = os.path.join(workdir, name + '.log')
        with open(self.log_path, 'wb') as log:
            self.process = subprocess.Popen(
                argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)

    def log(self):
        with open(self.log_path, errors='replace') as log:
            return log.read()

    def wait_log(self, pattern, timeout=120):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.log()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('%s did not log %r (exit %s):\n%s' % (
                    self.name, pattern, self.process.poll(),
                    self.log()[-3000:]))
            time.sleep(0.2)

    def terminate(self):
        if self.process.poll() is None:
            self.process.terminate()

    def stop(self, timeout=20):
        self.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()


class Deployment:
    """Scratch database, vhost, configuration files and the services."""

    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix='tbe-load-')
        self.services = []
        self.db_name = 'load_%s' % uuid.uuid4().hex[:12]
        self.vhost = None
        self.admin = sa.create_engine(MYSQL_SERVER + '/',
                                      isolation_level='AUTOCOMMIT')
        with self.admin.connect() as connection:
            connection.execute(sa.text(
                'CREATE DATABASE %s CHARACTER SET utf8mb4' % self.db_name))
        self.db_url = '%s/%s?charset=utf8mb4' % (MYSQL_SERVER, self.db_name)
        self.engine = sa.create_engine(self.db_url)
        migration.upgrade(engine=self.engine)
        self.vhost = 'tbe-load-%s' % uuid.uuid4().hex[:12]
        rabbitmqctl('add_vhost', self.vhost)
        rabbitmqctl('set_permissions', '-p', self.vhost, 'guest', '.*', '.*',
                    '.*')
        self.port = api_bench.free_port()
        self.endpoint = 'http://127.0.0.1:%d' % self.port
        self.store = os.path.join(self.dir, 'store')
        self.key_dir = os.path.join(self.dir, 'agent-keys')
        master = write_file(os.path.join(self.dir, 'agent-master.key'),
                            uuid.uuid4().hex + uuid.uuid4().hex)
        common = {
            'DEFAULT': {
                'transport_url': 'rabbit://guest:guest@%s/%s' % (
                    RABBIT_HOST, self.vhost),
                # A vhost of its own already; an exchange of its own too.
                'control_exchange': 'tbe-load',
                'storage_strategy': 'local', 'instance_source': 'registry',
                'max_backups_per_tenant': -1, 'debug': 'false'},
            'local_storage': {'storage_dir': self.store},
            'oslo_messaging_rabbit': {'rabbit_interval_max': 2},
        }
        self.agent_conf = write_file(os.path.join(self.dir, 'agent.conf'),
                                     ini(common))
        common['api'] = {'auth_strategy': 'noauth', 'host': '127.0.0.1',
                         'port': self.port, 'workers': args.api_workers}
        common['database'] = {'connection': self.db_url}
        common['worker'] = {'agent_keys_master_key_file': master,
                            'agent_key_dir': self.key_dir}
        self.control_conf = write_file(os.path.join(self.dir,
                                                    'control.conf'),
                                       ini(common))
        self.instances = []

    def command(self, name):
        return os.path.join(BIN_DIR, name)

    def manage(self, *args, timeout=300):
        return subprocess.run(
            [self.command('trove-backup-manage'), '--config-file',
             self.control_conf] + list(args), capture_output=True,
            text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def add_instance(self, n):
        """A SQLite demo database, registered with its agent key."""
        instance_id = str(uuid.uuid4())
        path = os.path.join(self.dir, 'instance-%d.sqlite' % n)
        with sqlite3.connect(path) as connection:
            connection.execute('PRAGMA journal_mode=wal')
            connection.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, '
                               'name TEXT)')
            connection.executemany(
                'INSERT INTO items VALUES (?, ?)',
                ((i, 'item %d' % i) for i in range(self.args.rows)))
        connection.close()
        result = self.manage('instance', 'add', '--name', 'load-%d' % n,
                             '--id', instance_id, '--project-id', PROJECT,
                             '--datastore', 'sqlite', '--datastore-version',
                             sqlite3.sqlite_version)
        if result.returncode:
            raise RuntimeError('instance add: %s' % result.stderr[-2000:])
        conf = write_file(os.path.join(self.dir, 'agent-%d.conf' % n), ini({
            'agent': {'datastore': 'sqlite', 'progress_interval': 1,
                      'key_file': os.path.join(self.key_dir,
                                               instance_id + '.key'),
                      'scratch_dir': os.path.join(self.dir, 'scratch')},
            'sqlite': {'database_path': path}}))
        return instance_id, conf

    def start(self):
        os.makedirs(os.path.join(self.dir, 'scratch'))
        threads = []
        added = [None] * self.args.instances

        def add(n):
            added[n] = self.add_instance(n)
        for n in range(self.args.instances):
            threads.append(threading.Thread(target=add, args=(n,)))
            threads[-1].start()
        for thread in threads:
            thread.join()
        if None in added:
            raise RuntimeError('an instance could not be added')
        config = ['--config-file', self.control_conf]
        ready = [(self._start('api', ['trove-backup-api'] + config),
                  'trove-backup-api listening')]
        for n in range(self.args.workers):
            ready.append((self._start('worker-%d' % n, [
                'trove-backup-worker'] + config),
                'trove-backup-worker serving topic'))
        for n, (instance_id, conf) in enumerate(added):
            self.instances.append(instance_id)
            ready.append((self._start('agent-%d' % n, [
                'trove-backup-agent', '--config-file', self.agent_conf,
                '--config-file', conf, '--instance-id', instance_id]),
                'trove-backup-agent of instance'))
        for service, pattern in ready:
            service.wait_log(pattern)
        # Every API worker process serving, not only the master bound.
        api = ready[0][0]
        deadline = time.monotonic() + 120
        while (len(re.findall(r'API worker process \d+ serving', api.log()))
               < self.args.api_workers and time.monotonic() < deadline):
            time.sleep(0.2)

    def _start(self, name, argv):
        argv[0] = self.command(argv[0])
        service = Service(name, argv, self.dir)
        self.services.append(service)
        return service

    def dead(self):
        return ['%s (exit %s)' % (s.name, s.process.returncode)
                for s in self.services if s.process.poll() is not None]

    def error_lines(self):
        """{service: (ERROR lines, the first few of them)}."""
        found = {}
        for service in self.services:
            lines = re.findall(r'^\S+ \S+ \d+ (?:ERROR|CRITICAL) .*$',
                               service.log(), re.M)
            found[service.name] = (len(lines), [line[:400]
                                                for line in lines[:40]])
        return found

    def close(self, keep=False):
        for service in self.services:
            service.terminate()
        for service in self.services:
            service.stop()
        self.engine.dispose()
        with self.admin.connect() as connection:
            connection.execute(sa.text('DROP DATABASE IF EXISTS %s'
                                       % self.db_name))
        self.admin.dispose()
        if self.vhost:
            rabbitmqctl('delete_vhost', self.vhost)
        if keep:
            print('Kept the logs and the store in %s' % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


# -- the workload -------------------------------------------------------------

class State:
    """What the clients know of the backups and restores they made,
    shared by all of them: which to poll, delete, restore, verify."""

    def __init__(self, instances):
        self.lock = threading.Lock()
        self.instances = instances
        self.backups = {}        # id -> {'instance', 'status'}
        self.restores = {}       # id -> {'instance', 'status'}
        self.deleting = set()    # backup ids a DELETE was sent for
        self.verifying = {}      # backup id -> verification last seen
        self.verify_failed = {}  # backup id -> details of a FAILED one seen
        self.seeded = set()
        self.busy = {}           # instance -> operation id (as we know)

    def seen_backup(self, backup):
        with self.lock:
            known = self.backups.get(backup['id'])
            if known is None:
                return
            known['status'] = backup['status']
            if backup['id'] in self.verifying and backup.get('verification'):
                verification = backup['verification']
                self.verifying[backup['id']] = verification['status']
                if verification['status'] == 'FAILED':
                    # Kept: the backup may be deleted before the end.
                    self.verify_failed[backup['id']] = str(
                        verification.get('details'))[:300]
            if (backup['status'] not in RUNNING_BACKUP and
                    self.busy.get(known['instance']) == backup['id']):
                del self.busy[known['instance']]

    def seen_restore(self, restore):
        with self.lock:
            known = self.restores.get(restore['id'])
            if known is None:
                return
            known['status'] = restore['status']
            if (restore['status'] not in RUNNING_RESTORE and
                    self.busy.get(known['instance']) == restore['id']):
                del self.busy[known['instance']]

    def started(self, kind, item_id, instance, backup_id=None):
        with self.lock:
            table = self.backups if kind == 'backup' else self.restores
            table[item_id] = {'instance': instance, 'status': 'NEW',
                              'backup': backup_id}
            self.busy[instance] = item_id

    def pick_instance(self, rng):
        with self.lock:
            idle = [i for i in self.instances if i not in self.busy]
        return rng.choice(idle or self.instances)

    def pick_backup(self, rng, statuses, poll=False, verify=False):
        """A known backup in statuses, not being deleted; with poll,
        half the time a running one or one being verified (a client
        following what it started); with verify, not of an instance
        whose agent verifies another (one at a time per agent), and
        marked as being verified at once."""
        with self.lock:
            if poll:
                running = [b for b, v in self.backups.items()
                           if b not in self.deleting and (
                               v['status'] in RUNNING_BACKUP or
                               self.verifying.get(b) == 'RUNNING')]
                if running and rng.random() < 0.5:
                    return rng.choice(running)
            verifying = {self.backups[b]['instance'] for b, status in
                         self.verifying.items() if status == 'RUNNING'}
            found = [b for b, v in self.backups.items()
                     if v['status'] in statuses and b not in self.deleting
                     and not (verify and v['instance'] in verifying)]
            if not found:
                return None
            backup_id = rng.choice(found)
            if verify:
                self.verifying[backup_id] = 'RUNNING'
            return backup_id

    def pick_for_delete(self, rng):
        """A COMPLETED or FAILED backup, never an instance's last
        COMPLETED one (restores and verifications need one), nor one the
        clients are restoring or verifying (they wait for the result);
        marked as being deleted at once, so that no other client picks
        it."""
        with self.lock:
            completed = collections.Counter(
                v['instance'] for b, v in self.backups.items()
                if v['status'] == 'COMPLETED' and b not in self.deleting)
            in_use = {v['backup'] for v in self.restores.values()
                      if v['status'] in RUNNING_RESTORE}
            in_use.update(b for b, status in self.verifying.items()
                          if status == 'RUNNING')
            found = [b for b, v in self.backups.items()
                     if v['status'] in ENDED and b not in self.deleting and
                     b not in in_use and (v['status'] == 'FAILED' or
                                          completed[v['instance']] > 1)]
            if not found:
                return None
            backup_id = rng.choice(found)
            self.deleting.add(backup_id)
            return backup_id

    def pick_restore(self, rng):
        with self.lock:
            running = [r for r, v in self.restores.items()
                       if v['status'] in RUNNING_RESTORE]
            if running and rng.random() < 0.5:
                return rng.choice(running)
            return rng.choice(list(self.restores)) if self.restores else None

    def delete_refused(self, backup_id):
        with self.lock:
            self.deleting.discard(backup_id)

    def verify_refused(self, backup_id):
        with self.lock:
            self.verifying.pop(backup_id, None)

    def instance_of(self, backup_id):
        with self.lock:
            return self.backups[backup_id]['instance']

    def is_deleting(self, backup_id):
        with self.lock:
            return backup_id in self.deleting


class Outcome:
    """Per operation: latencies, statuses, expected refusals, errors."""

    def __init__(self):
        self.lock = threading.Lock()
        self.times = collections.defaultdict(list)
        self.statuses = collections.defaultdict(collections.Counter)
        self.expected = collections.defaultdict(collections.Counter)
        self.errors = collections.defaultdict(collections.Counter)
        self.skipped = collections.Counter()
        self.samples = []

    def record(self, operation, ms, status, expected=None, error=None,
               detail=None):
        with self.lock:
            self.times[operation].append(ms)
            self.statuses[operation][str(status)] += 1
            if expected:
                self.expected[operation][expected] += 1
            if error:
                self.errors[operation][error] += 1
                if len(self.samples) < 50:
                    self.samples.append({'operation': operation,
                                         'status': status, 'error': error,
                                         'detail': (detail or '')[:500]})


class Client(threading.Thread):
    """One user: a keep-alive session sending the mix until stopped."""

    def __init__(self, n, base, state, outcome, budget, stop_at, seed):
        super().__init__(name='client-%d' % n, daemon=True)
        self.base = base
        self.state = state
        self.outcome = outcome
        self.budget = budget
        self.stop_at = stop_at
        self.rng = random.Random(seed * 1000 + n)
        self.session = requests.Session()
        self.names, self.weights = zip(*MIX)

    def run(self):
        while time.monotonic() < self.stop_at and self.budget.take():
            operation = self.rng.choices(self.names, self.weights)[0]
            getattr(self, 'op_' + operation.replace(' ', '_'))(operation)
        self.session.close()

    def send(self, operation, method, path, body=None):
        """The response, or None after recording a connection error."""
        start = time.perf_counter()
        try:
            response = self.session.request(method, self.base + path,
                                            json=body,
                                            timeout=REQUEST_TIMEOUT)
            response.content
        except requests.RequestException as exc:
            self.outcome.record(operation,
                                (time.perf_counter() - start) * 1000,
                                'none', error='connection',
                                detail='%s %s: %r' % (method, path, exc))
            return None
        response.elapsed_ms = (time.perf_counter() - start) * 1000
        return response

    def judge(self, operation, response, ok, expected=()):
        """Record the response: ok (a status) is a success; expected is
        a list of (status, name, test) answers that are refusals the
        workload makes happen; anything else is an error."""
        if response is None:
            return None
        status = response.status_code
        if status == ok:
            self.outcome.record(operation, response.elapsed_ms, status)
            return response.json() if response.content else {}
        for code, name, test in expected:
            if status == code and test(response):
                self.outcome.record(operation, response.elapsed_ms, status,
                                    expected=name)
                return None
        error = ('5xx' if status >= 500 else
                 'unexpected 4xx' if status >= 400 else 'unexpected status')
        self.outcome.record(operation, response.elapsed_ms, status,
                            error=error, detail='%s %s: %s' % (
                                response.request.method,
                                response.request.path_url,
                                response.text[:300]))
        return None

    def gone(self, backup_id):
        """A 404, or a 422 saying so, for a backup being deleted."""
        return lambda response: (
            self.state.is_deleting(backup_id) and (
                response.status_code == 404 or
                'being deleted' in response.text))

    # Each op_* sends one request.

    def op_list_backups(self, operation):
        path = '/backups'
        if self.rng.random() < 0.25:
            path += '?instance_id=%s' % self.rng.choice(self.state.instances)
        body = self.judge(operation, self.send(operation, 'GET', path), 200)
        for backup in (body or {}).get('backups', ()):
            self.state.seen_backup(backup)

    def op_list_restores(self, operation):
        body = self.judge(operation, self.send(operation, 'GET',
                                               '/restores'), 200)
        for restore in (body or {}).get('restores', ()):
            self.state.seen_restore(restore)

    def op_show_backup(self, operation):
        backup_id = self.state.pick_backup(self.rng, ('COMPLETED', 'FAILED',
                                                      'NEW', 'BUILDING'),
                                           poll=True)
        if backup_id is None:
            self.outcome.skipped[operation] += 1
            return self.op_list_backups('list backups')
        body = self.judge(operation, self.send(
            operation, 'GET', '/backups/' + backup_id), 200,
            [(404, 'deleted', self.gone(backup_id))])
        if body:
            self.state.seen_backup(body['backup'])

    def op_show_restore(self, operation):
        restore_id = self.state.pick_restore(self.rng)
        if restore_id is None:
            self.outcome.skipped[operation] += 1
            return self.op_show_backup('show backup')
        body = self.judge(operation, self.send(
            operation, 'GET', '/restores/' + restore_id), 200)
        if body:
            self.state.seen_restore(body['restore'])

    def op_create_backup(self, operation):
        instance = self.state.pick_instance(self.rng)
        body = self.judge(operation, self.send(
            operation, 'POST', '/backups', {'backup': {
                'name': 'load', 'instance': instance}}), 202,
            [(422, 'instance busy', lambda r: BUSY.search(r.text))])
        if body:
            self.state.started('backup', body['backup']['id'], instance)

    def op_delete_backup(self, operation):
        backup_id = self.state.pick_for_delete(self.rng)
        if backup_id is None:
            self.outcome.skipped[operation] += 1
            return self.op_show_backup('show backup')
        if self.judge(operation, self.send(
                operation, 'DELETE', '/backups/' + backup_id), 202,
                [(422, 'being restored',
                  lambda r: 'while restore' in r.text)]) is None:
            self.state.delete_refused(backup_id)

    def op_restore(self, operation):
        backup_id = self.state.pick_backup(self.rng, ('COMPLETED',))
        if backup_id is None:
            self.outcome.skipped[operation] += 1
            return self.op_show_backup('show backup')
        instance = self.state.instance_of(backup_id)
        body = self.judge(operation, self.send(
            operation, 'POST', '/restores', {'restore': {
                'backup_id': backup_id, 'instance_id': instance}}), 202,
            [(422, 'instance busy', lambda r: BUSY.search(r.text)),
             (404, 'deleted', self.gone(backup_id)),
             (422, 'deleted', self.gone(backup_id))])
        if body:
            self.state.started('restore', body['restore']['id'], instance,
                               backup_id)

    def op_verify(self, operation):
        backup_id = self.state.pick_backup(self.rng, ('COMPLETED',),
                                           verify=True)
        if backup_id is None:
            self.outcome.skipped[operation] += 1
            return self.op_show_backup('show backup')
        response = self.send(operation, 'POST',
                             '/backups/%s/verify' % backup_id, {})
        if self.judge(operation, response, 202, [
                (409, 'being verified', lambda r: True),
                (404, 'deleted', self.gone(backup_id)),
                (422, 'deleted', self.gone(backup_id))]) is None and (
                    response is None or response.status_code != 409):
            self.state.verify_refused(backup_id)


class Budget:
    """At most n requests in all."""

    def __init__(self, n):
        self.left = n
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            self.left -= 1
            return self.left >= 0


# -- before and after ---------------------------------------------------------

def seed_backups(deploy, state, per_instance, timeout):
    """per_instance COMPLETED backups of each instance, one at a time
    per instance (untimed), so deletes, restores and verifies have
    something to work on from the first request."""
    session = requests.Session()
    base = '%s/v1.0/%s' % (deploy.endpoint, PROJECT)
    deadline = time.monotonic() + timeout
    for _ in range(per_instance):
        made = []
        for instance in deploy.instances:
            response = session.post(base + '/backups', json={'backup': {
                'name': 'seed', 'instance': instance}}, timeout=60)
            if response.status_code != 202:
                raise RuntimeError('seed create: %s %s' % (
                    response.status_code, response.text[:300]))
            made.append((response.json()['backup']['id'], instance))
        for backup_id, instance in made:
            while True:
                backup = session.get('%s/backups/%s' % (base, backup_id),
                                     timeout=60).json()['backup']
                if backup['status'] in ENDED:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError('seed backup %s still %s' % (
                        backup_id, backup['status']))
                time.sleep(0.2)
            state.backups[backup_id] = {'instance': instance,
                                        'status': backup['status']}
            state.seeded.add(backup_id)
    session.close()


def running_rows(engine):
    """What is still running or waiting, counted in the database."""
    backups, restores = models.Backup, models.Restore
    queries = {
        'backups NEW/BUILDING': sa.select(sa.func.count()).where(
            backups.status.in_(RUNNING_BACKUP)),
        'restores NEW/RESTORING': sa.select(sa.func.count()).where(
            restores.status.in_(RUNNING_RESTORE)),
        'verifications RUNNING': sa.select(sa.func.count()).where(
            backups.verification_status == 'RUNNING'),
        'deletions pending': sa.select(sa.func.count()).where(
            backups.delete_requested_at.is_not(None)),
        'instance locks held': sa.select(sa.func.count()).select_from(
            models.InstanceOperation),
    }
    with engine.connect() as connection:
        return {name: connection.execute(query).scalar()
                for name, query in queries.items()}


def settle(engine, timeout):
    """Wait (at most timeout s) until nothing runs; seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if not any(running_rows(engine).values()):
            break
        time.sleep(1)
    return time.monotonic() - start


def final_rows(engine):
    backups, restores = models.Backup, models.Restore
    with engine.connect() as connection:
        def grouped(column):
            return dict(connection.execute(sa.select(
                column, sa.func.count()).group_by(column)).all())
        reasons = collections.Counter(r for (r,) in connection.execute(
            sa.select(backups.fail_reason).where(
                backups.status == 'FAILED')))
        reasons.update(r for (r,) in connection.execute(
            sa.select(restores.fail_reason).where(
                restores.status == 'FAILED')))
        return {'backups': grouped(backups.status),
                'restores': grouped(restores.status),
                'verifications': {str(k): v for k, v in grouped(
                    backups.verification_status).items()},
                'fail_reasons': dict(reasons.most_common(10))}


def what_became_of(engine, state):
    """How each backup, restore and verification the clients started
    ended, from the rows ('gone': the backup was deleted since)."""
    backups, restores = models.Backup, models.Restore
    with engine.connect() as connection:
        rows = {r.id: r for r in connection.execute(sa.select(
            backups.id, backups.status, backups.verification_status,
            backups.verification_details))}
        restore_rows = dict(connection.execute(sa.select(
            restores.id, restores.status)).all())
    created = [b for b in state.backups if b not in state.seeded]
    return {
        'backups created': dict(collections.Counter(
            rows[b].status if b in rows else 'gone' for b in created)),
        'restores': dict(collections.Counter(
            restore_rows.get(r, 'missing') for r in state.restores)),
        'verifications': dict(collections.Counter(
            str(rows[b].verification_status) if b in rows else
            'gone, last seen %s' % seen for b, seen in
            state.verifying.items())),
        'backups deleted': len(state.deleting - set(rows)),
        'failed verifications': dict(state.verify_failed, **{
            b: (rows[b].verification_details or '')[:300]
            for b in state.verifying
            if b in rows and rows[b].verification_status == 'FAILED'})}


def storage_audit(deploy):
    result = deploy.manage('storage', 'audit', '--format', 'json')
    if result.returncode not in (0, 2):
        return {'exit': result.returncode, 'error': result.stderr[-1000:]}
    report = json.loads(result.stdout)
    return {'exit': result.returncode,
            'objects': sum(p['objects'] for p in report['walked']),
            'orphans': len(report['orphans']),
            'missing': len(report['missing']),
            'unchecked': len(report['unchecked']),
            'not_walked': len(report['not_walked'])}


# -- the run ------------------------------------------------------------------

def summarize(outcome, seconds):
    rows = []
    for operation, _ in MIX:
        times = sorted(outcome.times.get(operation, ()))
        if not times:
            continue
        rows.append({
            'operation': operation, 'requests': len(times),
            'per_s': round(len(times) / seconds, 2),
            'p50_ms': round(statistics.median(times), 2),
            'p99_ms': round(api_bench.percentile(times, 0.99), 2),
            'max_ms': round(times[-1], 2),
            'status': dict(outcome.statuses[operation]),
            'expected_refusals': dict(outcome.expected[operation]),
            'errors': dict(outcome.errors[operation]),
            'skipped_no_candidate': outcome.skipped[operation]})
    return rows


def run(args):
    deploy = Deployment(args)
    try:
        started = time.monotonic()
        deploy.start()
        state = State(deploy.instances)
        seed_backups(deploy, state, args.seed_backups, args.settle)
        print('%d instances, %d workers, %d API processes up and %d backups '
              'seeded in %.0f s; load for %d s with %d clients' % (
                  args.instances, args.workers, args.api_workers,
                  len(state.backups), time.monotonic() - started,
                  args.duration, args.clients), flush=True)
        outcome = Outcome()
        budget = Budget(args.max_requests)
        load_before = os.getloadavg()
        begin = time.monotonic()
        clients = [Client(n, '%s/v1.0/%s' % (deploy.endpoint, PROJECT),
                          state, outcome, budget, begin + args.duration,
                          args.seed) for n in range(args.clients)]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        seconds = time.monotonic() - begin
        load_after = os.getloadavg()
        at_end = running_rows(deploy.engine)
        waited = settle(deploy.engine, args.settle)
        stuck = running_rows(deploy.engine)
        rows = summarize(outcome, seconds)
        errors = deploy.error_lines()
        total = sum(r['requests'] for r in rows)
        return {
            'machine': api_bench.machine(),
            'options': vars(args), 'seconds': round(seconds, 1),
            'requests': total,
            'throughput_per_s': round(total / seconds, 1),
            'errors': sum(sum(r['errors'].values()) for r in rows),
            'loadavg': [list(load_before), list(load_after)],
            'operations': rows, 'error_samples': outcome.samples,
            'running_at_end': at_end, 'settle_seconds': round(waited, 1),
            'stuck': stuck, 'final_rows': final_rows(deploy.engine),
            'outcomes': what_became_of(deploy.engine, state),
            'storage_audit': storage_audit(deploy),
            'service_error_lines': {
                name: count for name, (count, _) in errors.items()},
            'service_error_samples': {
                name: lines for name, (_, lines) in errors.items() if lines},
            'services_died': deploy.dead()}
    finally:
        deploy.close(keep=args.keep)


def markdown(result):
    lines = ['| operation | requests | req/s | p50 ms | p99 ms | max ms | '
             'expected refusals | errors |',
             '|---|---|---|---|---|---|---|---|']
    for r in result['operations']:
        lines.append('| %s | %d | %.1f | %.1f | %.1f | %.1f | %s | %d |' % (
            r['operation'], r['requests'], r['per_s'], r['p50_ms'],
            r['p99_ms'], r['max_ms'], ', '.join(
                '%s %d' % item for item in r['expected_refusals'].items())
            or '-', sum(r['errors'].values())))
    lines.append('| **all** | %d | %.1f | | | | | %d |' % (
        result['requests'], result['throughput_per_s'], result['errors']))
    skipped = {r['operation']: r['skipped_no_candidate']
               for r in result['operations'] if r['skipped_no_candidate']}
    lines += ['', 'Load average before/after: %s / %s' % tuple(
        ', '.join('%.2f' % v for v in load) for load in result['loadavg']),
        'Replaced for want of a candidate (sent as a show): %s'
        % (skipped or 'none'),
        'Running when the load stopped: %s' % result['running_at_end'],
        'Stuck after %.0f s of settling: %s' % (result['settle_seconds'],
                                                result['stuck']),
        'Final rows: %s' % result['final_rows'],
        'What became of what the clients started: %s' % result['outcomes'],
        'Storage audit: %s' % result['storage_audit'],
        'ERROR lines in service logs: %s' % result['service_error_lines'],
        'Services that died: %s' % (result['services_died'] or 'none')]
    for sample in result['error_samples'][:10]:
        lines.append('Error: %s' % sample)
    return '\n'.join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--duration', type=float, default=300,
                        help='seconds of load (default 300)')
    parser.add_argument('--max-requests', type=int, default=1000000,
                        help='stop after this many requests in all')
    parser.add_argument('--clients', type=int, default=8,
                        help='concurrent client threads (default 8)')
    parser.add_argument('--instances', type=int, default=6,
                        help='SQLite instances, one agent each (default 6)')
    parser.add_argument('--rows', type=int, default=5000,
                        help='rows of each instance\'s database')
    parser.add_argument('--workers', type=int, default=2,
                        help='trove-backup-worker processes (default 2)')
    parser.add_argument('--api-workers', type=int, default=2,
                        help='[api] workers of trove-backup-api')
    parser.add_argument('--seed-backups', type=int, default=2,
                        help='COMPLETED backups per instance made before '
                             'the load (default 2)')
    parser.add_argument('--settle', type=float, default=300,
                        help='at most this many seconds to wait for what '
                             'runs to end, after the load (default 300)')
    parser.add_argument('--seed', type=int, default=42,
                        help='seed of the clients\' choices')
    parser.add_argument('--output', help='write the results as JSON here')
    parser.add_argument('--keep', action='store_true',
                        help='keep the working directory (logs, store)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    result = run(args)
    print()
    print(markdown(result))
    if args.output:
        with open(args.output, 'w') as out:
            json.dump(result, out, indent=2, default=str)
    return 0


if __name__ == '__main__':
    sys.exit(main())
