"""Verification's scratch place: what a killed agent leaves is removed."""

import os
import subprocess
import sys

import fixtures
from oslo_config import cfg

from trove_backup_ext.agent import verify_runner
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef


class StaleScratchTest(base.TestCase):
    """A killed agent's verification leaves a server and a copy."""

    def test_agent_start_removes_them_and_only_its_own(self):
        root = self.useFixture(fixtures.TempDir()).path
        conf = cfg.ConfigOpts()
        conf.register_opts([cfg.StrOpt('scratch_dir')], group='agent')
        conf([], default_config_files=[])
        conf.set_override('scratch_dir', root, group='agent')
        mine = os.path.join(root, 'trove-verify-i1-b1-x')
        other = os.path.join(root, 'trove-verify-i2-b2-y')
        for path in (mine, other):
            os.makedirs(os.path.join(path, 'data'))
        # A "server" in a session of its own, as ScratchServer starts it.
        server = subprocess.Popen(
            [sys.executable, '-c', 'import time; time.sleep(300)',
             '-D', os.path.join(mine, 'data')], start_new_session=True)
        self.addCleanup(server.kill)
        # Once it runs its own command line (not the forked parent's).
        ef.wait_for(lambda: b'time.sleep' in open(
            '/proc/%d/cmdline' % server.pid, 'rb').read())
        verify_runner.clean_stale_scratch(conf, 'i1')
        self.assertEqual(-9, server.wait(30))
        self.assertEqual(['trove-verify-i2-b2-y'], os.listdir(root))
