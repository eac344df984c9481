"""Verification's scratch place: what a killed agent leaves is removed,
and one that cannot be made fails the verification."""

import json
import os
import subprocess
import sys

import fixtures
from oslo_config import cfg

from trove_backup_ext.agent import verify_runner
from trove_backup_ext.conf import agent as agent_conf
from trove_backup_ext import states
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


class _Worker:
    """The worker's RPC API as an agent calls it: reports recorded."""

    def __init__(self):
        self.reports = []

    def update_verification(self, context, instance_id, backup_id, status,
                            attempt_id, wait=True, timeout=None, **fields):
        self.reports.append((status, fields))
        return True


class ScratchNotMadeTest(base.TestCase):

    def test_verification_fails_at_once_naming_the_place(self):
        # Not a directory: as a full disk, mkdir fails with an OSError.
        blocker = os.path.join(self.useFixture(fixtures.TempDir()).path,
                               'a-file')
        open(blocker, 'w').close()
        conf = cfg.ConfigOpts()
        agent_conf.register_opts(conf)
        conf([], default_config_files=[])
        conf.set_override('scratch_dir', os.path.join(blocker, 'scratch'),
                          group='agent')
        worker = _Worker()
        runner = verify_runner.VerifyRunner(conf, 'i1', None, worker)
        runner.run(None, {'backup_id': 'b1', 'attempt_id': 'a1',
                          'backup': {}})
        self.assertEqual([states.VERIFY_RUNNING, states.VERIFY_FAILED],
                         [status for status, _ in worker.reports])
        error = json.loads(
            worker.reports[-1][1]['details'])['error']
        self.assertIn('Cannot make a scratch directory in %s/scratch '
                      '([agent] scratch_dir)' % blocker, error)
        self.assertIn('Not a directory', error)
