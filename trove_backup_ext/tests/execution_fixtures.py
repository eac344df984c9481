"""Fixtures running the whole system in one process on the fake bus."""

import os
import sqlite3
import time

import fixtures

from trove_backup_ext.agent import service as agent_service
from trove_backup_ext import rpc
from trove_backup_ext.worker import service as worker_service


class Worker(fixtures.Fixture):

    def __init__(self, conf):
        super().__init__()
        self.conf = conf

    def _setUp(self):
        self.service = worker_service.WorkerService(
            self.conf, rpc.get_transport(self.conf))
        self.service.server.start()     # The reaper is driven by tests.
        self.addCleanup(self._stop)

    def _stop(self):
        self.service.server.stop()
        self.service.server.wait()


class Agent(fixtures.Fixture):

    def __init__(self, conf, instance_id):
        super().__init__()
        self.conf = conf
        self.instance_id = instance_id

    def _setUp(self):
        self.service = agent_service.AgentService(
            self.conf, rpc.get_transport(self.conf), self.instance_id)
        self.service.start()
        self.addCleanup(self.service.stop)
        self.addCleanup(self.service.manager.wait)


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
