"""The whole service in one process, agents of real database servers.

A base for tests that go through the API: POST /backups, /restores and
/backups/{id}/verify, a worker, and one agent per instance, each agent
configured for its own throw-away server (made by a subclass). The
plugin's database is SQLite and the bus the in-memory one: what is
tested is the path from the request to the database server and back.
"""

import os

import fixtures
import requests

from trove_backup_ext import context as backup_context
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext import states
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import service_fixtures

PROJECT = base.PROJECT
SOURCE = '3b0e8c1a-52d4-4f6e-9a17-6c2d8e4f0a11'
TARGET = '4c1f9d2b-63e5-4a7f-8b28-7d3e9f5a1b22'
# Server starts, WAL replay and mariabackup --prepare take seconds each.
TIMEOUT = 180


class ServiceFlow(base.TestCase):
    """Subclasses set datastore and version, and make the servers in
    start_servers(): self.agent_options[instance_id] is the agent's
    options for it ({'group.name': value})."""

    datastore = None
    version = None

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(600, gentle=True))
        self.store = self.useFixture(fixtures.TempDir()).path
        self.agent_options = {}
        self.start_servers()
        common = {
            'local_storage.storage_dir': self.store,
            'agent.datastore': self.datastore,
            'agent.progress_interval': 1,
            'agent.chunk_size': 64 * 1024,
            'backup_encryption.key': '5a' * 32,
        }
        self.confs = confs = {}
        for instance_id, options in self.agent_options.items():
            confs[instance_id] = self.useFixture(service_fixtures.Conf(
                **dict(common, **options))).conf
        # The API and the worker run with the source's options; every
        # role shares one exchange of the in-memory bus.
        self.conf = confs[SOURCE]
        # Every agent's key sealed with the worker's master key.
        ef.master_key(self, self.conf)
        for conf in confs.values():
            conf.set_override('control_exchange', self.conf.control_exchange)
            conf.set_override('agent_keys_master_key_file',
                              self.conf.worker.agent_keys_master_key_file,
                              group='worker')
        self.useFixture(service_fixtures.Database('sqlite'))
        context = backup_context.get_admin_context()
        for instance_id in confs:
            instances_db.add(context, {
                'id': instance_id, 'name': instance_id[:8],
                'project_id': PROJECT, 'datastore': self.datastore,
                'datastore_version': self.version, 'status': 'ACTIVE'})
        self.useFixture(ef.Worker(self.conf))
        for instance_id, conf in confs.items():
            self.useFixture(ef.Agent(conf, instance_id))
        api = self.useFixture(service_fixtures.APIServer(self.conf))
        self.url = '%s/v1.0/%s' % (api.endpoint, PROJECT)

    def start_servers(self):
        raise NotImplementedError()

    def post(self, path, body=None):
        response = requests.post(self.url + path, json=body)
        self.assertEqual(202, response.status_code, response.text)
        return response.json()

    def show(self, kind, item_id):
        response = requests.get('%s/%ss/%s' % (self.url, kind, item_id))
        self.assertEqual(200, response.status_code, response.text)
        return response.json()[kind]

    def wait(self, kind, item_id, done):
        return ef.wait_for(lambda: (lambda item: item if done(item) else None)(
            self.show(kind, item_id)), timeout=TIMEOUT, interval=0.2)

    def backup(self, instance_id=SOURCE):
        backup_id = self.post('/backups', {'backup': {
            'name': 'b', 'instance': instance_id}})['backup']['id']
        backup = self.wait('backup', backup_id, lambda b: b['status'] in (
            states.COMPLETED, states.FAILED))
        self.assertEqual(states.COMPLETED, backup['status'], backup)
        return backup

    def restore(self, backup_id, instance_id):
        restore_id = self.post('/restores', {'restore': {
            'backup_id': backup_id, 'instance_id': instance_id}}
        )['restore']['id']
        return self.wait('restore', restore_id, lambda r: r['status'] in (
            states.COMPLETED, states.FAILED))

    def verify(self, backup_id):
        started = self.post('/backups/%s/verify' % backup_id, {})['backup']
        self.assertEqual('RUNNING', started['verification']['status'])
        return self.wait('backup', backup_id, lambda b: b['verification'] and
                         b['verification']['status'] != 'RUNNING'
                         )['verification']

    def damage_first_object(self, backup_id):
        """Flip stored bytes of the backup's first data object; its name."""
        stored = [f for f in ef.storage_files(self.store)
                  if '/%s/objects/' % backup_id in f][0]
        with open(stored, 'r+b') as data:
            data.seek(64)
            data.write(bytes(b ^ 0xff for b in data.read(16)))
        return os.path.relpath(stored, os.path.dirname(os.path.dirname(
            os.path.dirname(stored))))

    def assertCompleted(self, restore):
        self.assertEqual(states.COMPLETED, restore['status'], restore)
        self.assertEqual((None, None), (restore['progress'],
                                        restore['fault']))
        self.assertIsNotNone(restore['finished'])

    def assertFailedKeepingData(self, restore, fragment):
        self.assertEqual(states.FAILED, restore['status'], restore)
        self.assertIsNone(restore['progress'])
        self.assertIn(fragment, restore['fault']['message'])
        self.assertIn('keeps its data', restore['fault']['message'])
