"""trove-backup-agent's command line: where a restore's trust id comes from."""

import io
import os

import fixtures

from trove_backup_ext.cmd import agent as agent_cmd
from trove_backup_ext import exception
from trove_backup_ext.tests import base

TRUST = '0a4f6e3c9d8b47a1b2c3d4e5f6a7b8c9'


class TrustIdTest(base.TestCase):

    def parse(self, *extra):
        return agent_cmd._restore_parser().parse_args(
            ['restore', 'b1', '--target', '/tmp/t'] + list(extra))

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.EnvironmentVariable(
            agent_cmd.TRUST_ID_ENV))

    def test_trust_id_on_the_command_line_is_refused(self):
        error = self.assertRaises(exception.ConfigurationError,
                                  agent_cmd._trust_id,
                                  self.parse('--trust-id', TRUST))
        self.assertIn('--trust-id-file', str(error))
        # The refusal does not repeat the secret it was given.
        self.assertNotIn(TRUST, str(error))

    def test_trust_id_from_a_file(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path, 't')
        with open(path, 'w') as out:
            out.write(TRUST + '\n')
        self.assertEqual(TRUST, agent_cmd._trust_id(
            self.parse('--trust-id-file', path)))

    def test_trust_id_from_standard_input(self):
        self.useFixture(fixtures.MonkeyPatch('sys.stdin',
                                             io.StringIO(TRUST + '\n')))
        self.assertEqual(TRUST, agent_cmd._trust_id(
            self.parse('--trust-id-file', '-')))

    def test_trust_id_from_the_environment_or_none(self):
        self.assertIsNone(agent_cmd._trust_id(self.parse()))
        self.useFixture(fixtures.EnvironmentVariable(
            agent_cmd.TRUST_ID_ENV, TRUST))
        self.assertEqual(TRUST, agent_cmd._trust_id(self.parse()))

    def test_unreadable_file_is_a_clear_error(self):
        error = self.assertRaises(exception.ConfigurationError,
                                  agent_cmd._trust_id,
                                  self.parse('--trust-id-file', '/nonexist'))
        self.assertIn('Cannot read the trust id file', str(error))
