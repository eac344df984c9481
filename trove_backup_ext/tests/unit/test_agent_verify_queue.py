"""An agent's verifications run one at a time, in the order they arrive:
one sent while another runs waits, with signs of life, instead of
failing."""

import json
import threading

from oslo_config import cfg

from trove_backup_ext.agent import manager as agent_manager
from trove_backup_ext.conf import agent as agent_conf
from trove_backup_ext import states
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef

INSTANCE = 'i1'


class _Worker:
    """The worker's RPC API as the agent calls it: reports recorded,
    answered with answers[backup_id] (default True)."""

    def __init__(self):
        self.reports = []
        self.answers = {}
        self._lock = threading.Lock()

    def update_verification(self, context, instance_id, backup_id, status,
                            attempt_id, wait=False, timeout=None, **fields):
        with self._lock:
            self.reports.append((backup_id, attempt_id, status,
                                 fields.get('details')))
        return self.answers.get(backup_id, True)

    def of(self, backup_id):
        with self._lock:
            return [(status, details) for b, _, status, details
                    in self.reports if b == backup_id]


class VerifyQueueTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = cfg.ConfigOpts()
        agent_conf.register_opts(self.conf)
        self.conf([], default_config_files=[])
        self.conf.set_override('progress_interval', 1, group='agent')
        self.worker = _Worker()
        self.ran = []
        self.release = {}

    def manager(self, **overrides):
        for name, value in overrides.items():
            self.conf.set_override(name, value, group='agent')
        manager = agent_manager.AgentManager(self.conf, INSTANCE, None,
                                             self.worker)
        # The run itself: recorded, and held until the test releases it.
        manager.verifier.run = self.run_verification
        self.addCleanup(manager.wait)
        self.addCleanup(self.release_all)
        return manager

    def run_verification(self, context, info):
        self.ran.append(info['backup_id'])
        self.release.setdefault(info['backup_id'],
                                threading.Event()).wait(60)

    def let_finish(self, backup_id):
        self.release.setdefault(backup_id, threading.Event()).set()

    def release_all(self):
        for backup_id in ('b1', 'b2', 'b3'):
            self.let_finish(backup_id)

    def verify(self, manager, backup_id, attempt_id=None):
        manager.verify_backup(None, {
            'backup_id': backup_id, 'instance_id': INSTANCE,
            'attempt_id': attempt_id or 'a-' + backup_id, 'backup': {}})

    def running(self, *backup_ids):
        ef.wait_for(lambda: self.ran == list(backup_ids), timeout=10)

    def test_in_turn_in_arrival_order_with_signs_of_life(self):
        manager = self.manager()
        for backup_id in ('b1', 'b2', 'b3'):
            self.verify(manager, backup_id)
        self.running('b1')
        # Waiting, b2 and b3 report RUNNING as often as a running one.
        ef.wait_for(lambda: len(self.worker.of('b3')) >= 2, timeout=10)
        self.assertEqual({states.VERIFY_RUNNING}, {
            status for status, _ in self.worker.of('b2') +
            self.worker.of('b3')})
        self.assertEqual({'a-b2', 'a-b3'}, {
            attempt for _, attempt, _, _ in self.worker.reports})
        self.assertEqual(['b1'], self.ran)
        self.let_finish('b1')
        self.running('b1', 'b2')
        self.let_finish('b2')
        self.running('b1', 'b2', 'b3')
        self.release_all()
        manager.wait()
        self.assertEqual([], [r for r in self.worker.reports
                              if r[2] != states.VERIFY_RUNNING])

    def test_a_repeated_message_is_ignored_while_it_waits(self):
        manager = self.manager()
        self.verify(manager, 'b1')
        self.verify(manager, 'b2')
        self.verify(manager, 'b2')
        self.running('b1')
        self.release_all()
        manager.wait()
        self.assertEqual(['b1', 'b2'], self.ran)
        # Another attempt at the same backup is a run of its own.
        self.verify(manager, 'b2', attempt_id='again')
        manager.wait()
        self.assertEqual(['b1', 'b2', 'b2'], self.ran)

    def test_past_max_waiting_one_is_not_run_saying_so(self):
        manager = self.manager(max_waiting_verifications=1)
        for backup_id in ('b1', 'b2', 'b3'):
            self.verify(manager, backup_id)
        [(status, details)] = self.worker.of('b3')
        self.assertEqual(states.VERIFY_FAILED, status)
        error = json.loads(details)['error']
        self.assertTrue(error.startswith('Not run: 1 verifications already '
                                         'wait on the agent of instance '
                                         'i1'), error)
        self.assertIn('The backup was not checked', error)
        self.release_all()
        manager.wait()
        self.assertEqual(['b1', 'b2'], self.ran)

    def test_waiting_longer_than_max_runtime_is_not_run(self):
        manager = self.manager(max_runtime=1)
        self.verify(manager, 'b1')
        self.verify(manager, 'b2')
        ef.wait_for(lambda: states.VERIFY_FAILED in dict(
            self.worker.of('b2')), timeout=10)
        error = json.loads(dict(self.worker.of('b2'))[
            states.VERIFY_FAILED])['error']
        self.assertIn('Not run: it waited longer than [agent] max_runtime '
                      '(1 seconds)', error)
        self.release_all()
        manager.wait()
        self.assertEqual(['b1'], self.ran)

    def test_one_the_worker_gave_up_on_leaves_the_queue(self):
        manager = self.manager()
        self.worker.answers['b2'] = False     # Reaped, or deleted.
        for backup_id in ('b1', 'b2', 'b3'):
            self.verify(manager, backup_id)
        ef.wait_for(lambda: self.worker.of('b2'), timeout=10)
        self.release_all()
        manager.wait()
        self.assertEqual(['b1', 'b3'], self.ran)
        self.assertEqual([states.VERIFY_RUNNING],
                         [status for status, _ in self.worker.of('b2')])

    def test_stopping_sends_the_waiting_away_unrun_and_unreported(self):
        manager = self.manager()
        self.verify(manager, 'b1')
        self.verify(manager, 'b2')
        self.running('b1')
        manager.stop()
        # b2 leaves at once, not when b1 ends.
        waiting = manager.threads[1]
        waiting.join(5)
        self.assertFalse(waiting.is_alive())
        self.release_all()
        manager.wait()
        self.assertEqual(['b1'], self.ran)
        self.assertEqual([], [r for r in self.worker.reports
                              if r[2] != states.VERIFY_RUNNING])
