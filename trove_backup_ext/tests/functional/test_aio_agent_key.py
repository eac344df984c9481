"""trove-backup-aio's agent key file: kept when it is the worker's key,
made again when it is missing, damaged or readable by others."""

import os

import fixtures

from trove_backup_ext import agent_auth
from trove_backup_ext.cmd import aio
from trove_backup_ext import context as backup_context
from trove_backup_ext.tests import base
from trove_backup_ext.tests import service_fixtures

INSTANCE = '6f1d2c4b-8a0e-4b7d-9c3f-2e5a1b7d9c40'


class AgentKeyFileTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(service_fixtures.Conf()).conf
        self.useFixture(service_fixtures.Database('sqlite'))
        self.state_dir = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.state_dir, 'agent-keys',
                                 INSTANCE + '.key')
        self.store = agent_auth.KeyStore(self.conf)
        self.context = backup_context.get_admin_context()

    def key_file(self):
        return aio.agent_key_file(self.conf, self.state_dir, INSTANCE)

    def current(self):
        return self.store.current_key(self.context, INSTANCE)

    def test_made_on_first_start_then_kept(self):
        aio.prepare_state(self.state_dir, 8779)
        self.assertEqual(self.path, self.key_file())
        key = agent_auth.read_key_file(self.path, 'key')
        self.assertEqual(self.current(), key)
        self.assertEqual(self.path, self.key_file())
        self.assertEqual(key, agent_auth.read_key_file(self.path, 'key'))

    def test_damaged_or_exposed_files_are_replaced(self):
        aio.prepare_state(self.state_dir, 8779)
        self.key_file()
        for damage in (lambda: self.write('not hexadecimal\n'),
                       lambda: self.write('\xff\xfe'),
                       lambda: os.chmod(self.path, 0o644),
                       lambda: os.unlink(self.path)):
            before = self.current()
            damage()
            self.key_file()
            key = agent_auth.read_key_file(self.path, 'key')
            self.assertEqual(self.current(), key)
            self.assertNotEqual(before, key)

    def write(self, text):
        with open(self.path, 'w', encoding='latin-1') as key_file:
            key_file.write(text)
