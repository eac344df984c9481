"""Fixtures running the whole system in one process on the fake bus."""

import atexit
import os
import shutil
import sqlite3
import tempfile
import time

import fixtures

from trove_backup_ext.agent import service as agent_service
from trove_backup_ext import agent_auth
from trove_backup_ext import context as backup_context
from trove_backup_ext import rpc
from trove_backup_ext.worker import service as worker_service


class Worker(fixtures.Fixture):

    def __init__(self, conf):
        super().__init__()
        self.conf = conf

    def _setUp(self):
        master_key(self, self.conf)
        self.service = worker_service.WorkerService(
            self.conf, rpc.get_transport(self.conf))
        self.service.server.start()     # The reaper is driven by tests.
        self.addCleanup(self._stop)

    def _stop(self):
        self.service.server.stop()
        self.service.server.wait()


class Agent(fixtures.Fixture):

    def __init__(self, conf, instance_id, key_file=None):
        """key_file: the agent's key file; by default the instance gets
        a new key, as trove-backup-manage instance add gives it."""
        super().__init__()
        self.conf = conf
        self.instance_id = instance_id
        self.key_file = key_file

    def _setUp(self):
        if self.key_file is None:
            self.key_file = agent_key(self, self.conf, self.instance_id)
        self.service = agent_service.AgentService(
            self.conf, rpc.get_transport(self.conf), self.instance_id,
            key_file=self.key_file)
        self.service.start()
        self.addCleanup(self.service.stop)
        self.addCleanup(self.service.manager.wait)


_MASTER_KEY = []
# Taken at import: each test gets a temporary directory of its own
# (oslotest), removed after it, and the master key outlives tests.
_PROCESS_TMP = tempfile.gettempdir()


def master_key(fixture, conf):
    """Give the workers of conf a master key of agent keys, unless they
    have one: one for the whole test process, so that a test whose
    agents and worker have configurations of their own provisions keys
    the worker can open."""
    if conf.worker.agent_keys_master_key_file:
        return
    if not _MASTER_KEY:
        directory = tempfile.mkdtemp(prefix='tbe-agent-master-',
                                     dir=_PROCESS_TMP)
        atexit.register(shutil.rmtree, directory, True)
        path = os.path.join(directory, 'agent-master.key')
        agent_auth.write_key_file(path, agent_auth.new_key())
        _MASTER_KEY.append(path)
    conf.set_override('agent_keys_master_key_file', _MASTER_KEY[0],
                      group='worker')


def agent_key(fixture, conf, instance_id, grace_period=0):
    """A new key of instance_id, in the database and in a key file, as
    trove-backup-manage instance add or rotate-key makes it; its path."""
    master_key(fixture, conf)
    path = os.path.join(fixture.useFixture(fixtures.TempDir()).path,
                        instance_id + '.key')
    agent_auth.write_key_file(path, agent_auth.KeyStore(conf).rotate(
        backup_context.get_admin_context(), instance_id,
        grace_period=grace_period))
    return path


def signed(conf, method, **payload):
    """payload signed with its instance's current key: the arguments of
    a report from that instance's genuine agent."""
    key = agent_auth.KeyStore(conf).current_key(
        backup_context.get_admin_context(), payload['instance_id'])
    return dict(payload, signature=agent_auth.sign(key, method, payload))


def sample_sqlite_database(path, rows=5000):
    with sqlite3.connect(path) as connection:
        connection.execute('PRAGMA journal_mode=wal')
        connection.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, '
                           'name TEXT)')
        connection.executemany('INSERT INTO items VALUES (?, ?)',
                               ((i, 'item %d' % i) for i in range(rows)))
    return path


def wait_for(predicate, timeout=60, interval=0.05):
    """Poll predicate until it returns something true; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError('Condition not met within %s s' % timeout)


def storage_files(root):
    found = []
    for directory, _, files in os.walk(root):
        found.extend(os.path.join(directory, name) for name in files)
    return sorted(found)
