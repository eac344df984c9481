"""Faults in the middle of backups and restores, on processes over
RabbitMQ, and what is left once they pass.

A broker restarted, the control plane's database connections killed
(MariaDB and PostgreSQL), the worker and an agent killed -9, storage that
never answers and a full disk: while a backup streams and while a restore
runs. After each, every backup and restore must be COMPLETED, FAILED with
a reason, or deleted with its objects; and trove-backup-manage storage
audit must find nothing (tests/outcomes.py). test_faults.py has the
faults between operations; test_fault_recovery_swift.py Swift failing
halfway through a backup or a restore, test_fault_recovery_staging.py a
full disk where a restore or a verification is written.

Each test runs a backup of one SQLite instance and a restore into
another at once. To be surely in the middle of them, their agents are
slowed down (stopped and continued in turns) until each operation is
seen under way, then paused (SIGSTOP) while the fault happens, and let
go.
"""

import collections
import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import uuid

import fixtures
import requests
import sqlalchemy as sa

from trove_backup_ext import states
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import outcomes
from trove_backup_ext.tests import process_fixtures as pf
from trove_backup_ext.tests import rabbitmq_fixtures as rf
from trove_backup_ext.tests import service_fixtures

ROWS = 300000       # ~6 MB: some dozens of 64 KiB objects.


def digest(path):
    with sqlite3.connect(path) as connection:
        rows = connection.execute('SELECT * FROM items ORDER BY id'
                                  ).fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def change(path, name):
    with sqlite3.connect(path) as connection:
        connection.execute('UPDATE items SET name = ? WHERE id % 100 = 0',
                           (name,))
    return digest(path)


class Slowed(fixtures.Fixture):
    """A process group stopped and continued in turns (running one
    twentieth of the time), or paused, until let go."""

    RUN, STOP = 0.01, 0.19

    def __init__(self, pid):
        super().__init__()
        self.pid = pid
        self._done = threading.Event()
        self._paused = threading.Event()

    def _setUp(self):
        self._thread = threading.Thread(target=self._cycle, daemon=True)
        self._thread.start()
        self.addCleanup(self.release)

    def _signal(self, signum):
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def _cycle(self):
        while not self._done.is_set():
            self._signal(signal.SIGSTOP)
            time.sleep(self.STOP)
            if not self._paused.is_set():
                self._signal(signal.SIGCONT)
                time.sleep(self.RUN)

    def pause(self):
        """Stopped until release(): at once, or after the turn that may
        have just begun."""
        self._paused.set()
        self._signal(signal.SIGSTOP)
        time.sleep(self.RUN * 2)
        self._signal(signal.SIGSTOP)

    def release(self):
        self._done.set()
        self._thread.join()
        self._signal(signal.SIGCONT)


class _Recovery(base.TestCase):
    """Two SQLite instances with their agents: the source, whose backups
    are taken, and the target, into which they are restored."""

    control_backend = 'sqlite'

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(300, gentle=True))
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.database = self.useFixture(
            service_fixtures.Database(self.control_backend))

    def deploy_sqlite(self, transport_url=None, sections=None,
                      target=True, agent_sections=None):
        self.live = ef.sample_sqlite_database(
            os.path.join(self.tmp, 'live.sqlite'), rows=ROWS)
        if transport_url is None:
            transport_url = self.useFixture(rf.Vhost()).transport_url
        self.deploy = pf.Deployment(
            self, transport_url, self.database.url,
            sections=pf.merged({'worker': {'reaper_interval': 1}},
                               sections),
            agent_sections=pf.merged({
                'agent': {'datastore': 'sqlite', 'chunk_size': 65536,
                          'object_size': 65536, 'progress_interval': 1,
                          'report_timeout': 5},
                'sqlite': {'database_path': self.live}}, agent_sections))
        self.client = self.deploy.client
        self.restores = outcomes.RestoresClient(
            'http://127.0.0.1:%d' % self.deploy.api_port)
        self.instance_id = self.deploy.start_all('sqlite', '3')
        self.agents = {self.instance_id: self.deploy.agent}
        if target:
            # It may be a file system of its own, mounted already.
            target_dir = os.path.join(self.tmp, 'target')
            os.makedirs(target_dir, exist_ok=True)
            self.target_live = ef.sample_sqlite_database(
                os.path.join(target_dir, 'target.sqlite'), rows=3000)
            self.target_id = str(uuid.uuid4())
            agent = self.start_agent(self.target_id, wait=False)
            self.deploy.add_instance('sqlite', '3', self.target_id)
            agent.wait_ready()

    def mount_tmpfs(self, size, name='small-fs', inodes=None):
        """A tmpfs of size (and at most inodes files and directories) at
        self.tmp/name. Mounted before the services start, it is unmounted
        after they stop."""
        path = os.path.join(self.tmp, name)
        os.mkdir(path)
        options = 'size=%s' % size
        if inodes:
            options += ',nr_inodes=%d' % inodes
        subprocess.run(['mount', '-t', 'tmpfs', '-o', options,
                        'tbe-test-small', path], check=True)
        self.addCleanup(subprocess.run, ['umount', '-l', path])
        return path

    def start_agent(self, instance_id, wait=True):
        extra = None
        if instance_id != self.instance_id:
            extra = {'sqlite': {'database_path': self.target_live}}
        agent = self.deploy.start_agent(instance_id, extra, wait=wait)
        self.agents[instance_id] = agent
        return agent

    def under_way(self):
        """A backup of the source and a restore of an earlier backup into
        the target, each caught mid-way, its agent paused: (backup id,
        restore id, the paused agents, the source's data when the
        earlier backup was taken, the target's data before)."""
        earlier = self.completed()
        source_then = digest(self.live)
        change(self.live, 'after the earlier backup')
        target_before = digest(self.target_live)
        source, target = [self.useFixture(Slowed(
            self.agents[instance_id].process.pid))
            for instance_id in (self.instance_id, self.target_id)]
        backup_id = self.client.create(self.instance_id)['id']
        restore_id = self.restores.create(earlier['id'],
                                          self.target_id)['id']
        # Even slowed, these are quick: each agent is paused as soon as
        # its operation is seen under way. A backup reports BUILDING
        # before it stores its first object; a restore reports RESTORING
        # before it stages the restored file beside the live one.
        staging = os.path.join(os.path.dirname(self.target_live),
                               '.target.sqlite.restore-%s.staging'
                               % restore_id)
        caught = set()

        def under_way():
            if 'restore' not in caught and os.path.exists(staging):
                target.pause()
                caught.add('restore')
            if 'backup' not in caught and len(self.deploy.objects_of(
                    backup_id, partial=False)) >= 2:
                source.pause()
                caught.add('backup')
            return len(caught) == 2
        try:
            ef.wait_for(under_way, timeout=60, interval=0.01)
        except AssertionError:
            raise AssertionError('Only %s caught under way: %s, %s' % (
                caught or 'nothing', self.client.show(backup_id).text,
                self.restores.show(restore_id)))
        self.client.wait_status(backup_id, states.BUILDING, timeout=30)
        self.restores.wait_status(restore_id, states.RESTORING, timeout=30)
        slowed = [source, target]
        return backup_id, restore_id, slowed, source_then, target_before

    @staticmethod
    def release(slowed):
        for agent in slowed:
            agent.release()

    def ended(self, backup_id, expect=states.COMPLETED, timeout=120):
        backup = self.client.wait_status(backup_id, states.COMPLETED,
                                         states.FAILED, timeout=timeout)
        self.assertEqual(expect, backup['status'], backup)
        return backup

    def restore_ended(self, restore_id, expect=states.COMPLETED,
                      timeout=120):
        restore = self.restores.wait_status(restore_id, states.COMPLETED,
                                            states.FAILED, timeout=timeout)
        self.assertEqual(expect, restore['status'], restore)
        return restore

    def completed(self, **fields):
        return self.ended(self.client.create(self.instance_id,
                                             **fields)['id'])

    def assert_honest_ends(self):
        outcomes.assert_honest_ends(self, self.database.engine,
                                    self.deploy)


class BrokerRestartMidFlowTest(_Recovery):

    def test_backup_and_restore_carry_on_across_a_restart(self):
        node = self.useFixture(rf.RabbitNode())
        self.deploy_sqlite(transport_url=node.transport_url)
        backup_id, restore_id, slowed, source_then, _ = self.under_way()
        # The agents are paused meanwhile: they find their connections
        # dead when they go on.
        node.stop()
        node.start()
        self.release(slowed)
        # Non-durable queues died with the broker; the services declare
        # them again once they have reconnected.
        topics = ['trove-backup-worker'] + [
            'trove-backup-agent.%s' % instance_id
            for instance_id in self.agents]
        ef.wait_for(lambda: all(node.consumers().get(topic, 0) >= 1
                                for topic in topics),
                    timeout=60, interval=0.5)
        self.ended(backup_id)
        self.restore_ended(restore_id)
        self.assertEqual(source_then, digest(self.target_live))
        newest = self.completed(incremental=1)
        self.assertEqual(backup_id, newest['parent_id'])
        # Deleting each full backup takes its chain, children first.
        backups = self.client.list()
        for backup in backups:
            if backup['parent_id'] is None:
                self.client.delete(backup['id'])
        self.deploy.wait_deleted([backup['id'] for backup in backups])
        self.assert_honest_ends()
        self.assertEqual([], ef.storage_files(self.deploy.storage_dir))


class _ConnectionsKilled:
    """The database server drops every connection of the control plane
    (the API's, the worker's) while a backup and a restore run."""

    def kill_connections(self):
        """Kill every connection to the test's database; how many."""
        raise NotImplementedError

    def admin_engine(self):
        engine = sa.create_engine(
            service_fixtures.DATABASE_URLS[self.control_backend] + (
                '/postgres' if self.control_backend == 'postgresql'
                else '/'), isolation_level='AUTOCOMMIT')
        self.addCleanup(engine.dispose)
        return engine

    def requests_while_killing(self, backup_id, kills=15):
        """Shows and lists from 4 clients while every connection is
        killed, kills times; the status codes the clients got."""
        stop = threading.Event()
        codes = collections.Counter()

        def client():
            with requests.Session() as session:
                while not stop.is_set():
                    for url in (self.client.url,
                                '%s/%s' % (self.client.url, backup_id)):
                        codes[session.get(url, timeout=60).status_code] += 1

        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        killed = 0
        try:
            for _ in range(kills):
                killed += self.kill_connections()
                time.sleep(0.2)
        finally:
            stop.set()
            for thread in threads:
                thread.join(120)
        self.assertGreater(killed, kills)
        return dict(codes)

    def test_backup_and_restore_survive_dropped_connections(self):
        self.deploy_sqlite()
        backup_id, restore_id, slowed, source_then, _ = self.under_way()
        # A connection lost mid-request is replaced and the transaction
        # run again: no 500 (db/api.py).
        self.assertEqual({200}, set(self.requests_while_killing(
            backup_id)))
        self.release(slowed)
        # The agents' reports find the worker's connections dead.
        self.assertGreater(self.kill_connections(), 0)
        self.ended(backup_id)
        self.restore_ended(restore_id)
        self.assertEqual(source_then, digest(self.target_live))
        self.assertGreater(self.kill_connections(), 0)
        self.completed(incremental=1)
        self.assert_honest_ends()


class ConnectionsKilledMariaDBTest(_ConnectionsKilled, _Recovery):

    control_backend = 'mysql'

    def kill_connections(self):
        name = self.database.url.rsplit('/', 1)[1].split('?')[0]
        killed = 0
        with self.admin_engine().connect() as connection:
            for (thread_id,) in connection.execute(sa.text(
                    'SELECT id FROM information_schema.processlist '
                    'WHERE db = :name AND id <> CONNECTION_ID()'),
                    {'name': name}):
                try:
                    connection.execute(sa.text('KILL %d' % thread_id))
                    killed += 1
                except sa.exc.DBAPIError:
                    pass    # Gone already.
        return killed


class ConnectionsKilledPostgreSQLTest(_ConnectionsKilled, _Recovery):

    control_backend = 'postgresql'

    def kill_connections(self):
        name = self.database.url.rsplit('/', 1)[1]
        with self.admin_engine().connect() as connection:
            return len(list(connection.execute(sa.text(
                'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
                'WHERE datname = :name AND pid <> pg_backend_pid()'),
                {'name': name})))


class WorkerKilledMidFlowTest(_Recovery):

    def test_backup_and_restore_finish_under_a_new_worker(self):
        self.deploy_sqlite()
        backup_id, restore_id, slowed, source_then, _ = self.under_way()
        self.deploy.worker.kill()
        self.release(slowed)
        # The agents' reports wait in the queue for the next worker.
        self.deploy.start_worker()
        self.ended(backup_id)
        self.restore_ended(restore_id)
        self.assertEqual(source_then, digest(self.target_live))
        self.assert_honest_ends()


class AgentKilledMidFlowTest(_Recovery):

    def test_reaper_fails_them_and_the_target_keeps_its_data(self):
        self.deploy_sqlite(sections={'worker': {'backup_timeout': 10}})
        backup_id, restore_id, slowed, _, target_before = self.under_way()
        for agent in self.agents.values():
            agent.kill()
        self.release(slowed)
        for failed in (self.ended(backup_id, states.FAILED, timeout=60),
                       self.restore_ended(restore_id, states.FAILED,
                                          timeout=60)):
            self.assertIn('No progress for 10 seconds',
                          failed['fault']['message'])
        self.deploy.wait_no_objects(backup_id)
        # The next agents roll back what the killed ones left.
        for instance_id in list(self.agents):
            self.start_agent(instance_id)
        target_dir = os.path.dirname(self.target_live)
        ef.wait_for(lambda: not [name for name in os.listdir(target_dir)
                                 if '.restore-' in name], timeout=30)
        self.assertEqual(target_before, digest(self.target_live))
        self.completed()
        self.assert_honest_ends()


class StorageFaultsTest(_Recovery):

    def black_hole(self):
        """A port that takes connections and never answers."""
        listener = socket.create_server(('127.0.0.1', 0))
        held = []
        stop = threading.Event()

        def accept():
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    held.append(listener.accept()[0])
                except OSError:
                    pass

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()

        def close():
            stop.set()
            thread.join()
            for sock in held + [listener]:
                sock.close()
        self.addCleanup(close)
        return listener.getsockname()[1]

    def test_full_disk_and_storage_that_never_answers(self):
        # Mounted before the services start: unmounted after they stop.
        store = self.mount_tmpfs('8m')
        port = self.black_hole()
        self.deploy_sqlite(target=False, sections={
            'local_storage': {'storage_dir': store},
            'swift': {'auth_version': '1', 'user': 'test:tester',
                      'key': 'testing', 'retries': 1,
                      'starting_backoff': 0.1, 'timeout': 2,
                      'auth_url': 'http://127.0.0.1:%d/auth/v1.0' % port}})
        filler = os.path.join(store, 'filler')
        with open(filler, 'wb') as out:
            out.write(os.urandom(7 * 1024 * 1024 + 512 * 1024))

        full_disk = self.completed_or_failed()
        self.assertEqual(states.FAILED, full_disk['status'])
        self.assertIn('No space left on device',
                      full_disk['fault']['message'])
        self.deploy.wait_no_objects(full_disk['id'])

        silent = self.completed_or_failed(storage_driver='swift')
        self.assertEqual(states.FAILED, silent['status'])
        self.assertIn('Storage failed', silent['fault']['message'])
        self.assertIn('timed out', silent['fault']['message'])

        os.unlink(filler)
        self.completed()
        self.assert_honest_ends()

    def completed_or_failed(self, **fields):
        return self.client.wait_status(
            self.client.create(self.instance_id, **fields)['id'],
            states.COMPLETED, states.FAILED)
