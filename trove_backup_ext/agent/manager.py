"""RPC endpoint of trove-backup-agent: one instance, one backup or restore
at a time."""

import collections
import threading
import time

from oslo_log import log as logging
import oslo_messaging as messaging

from trove_backup_ext.agent import restore
from trove_backup_ext.agent import restore_runner
from trove_backup_ext.agent import runner
from trove_backup_ext.agent import verify_queue
from trove_backup_ext.agent import verify_runner
from trove_backup_ext import states

LOG = logging.getLogger(__name__)


class AgentManager:

    target = messaging.Target(version='1.2')

    # Attempts remembered to drop repeated create_backup messages: far
    # more than the backups one instance can run while a message may
    # still be redelivered.
    REMEMBERED_ATTEMPTS = 256
    # Seconds a backup or restore waits for the one before to let go of
    # the agent: the worker frees the instance when it records a result,
    # and the agent may still be removing a restore's old data.
    BUSY_WAIT = 120

    def __init__(self, conf, instance_id, datastore, worker_api):
        self.conf = conf
        self.instance_id = instance_id
        self.datastore = datastore
        self.worker = worker_api
        self.runner = runner.BackupRunner(conf, instance_id, datastore,
                                          worker_api)
        self.restores = restore_runner.RestoreRunner(conf, instance_id,
                                                     datastore, worker_api)
        self.verifier = verify_runner.VerifyRunner(conf, instance_id,
                                                   datastore, worker_api)
        self.verify_queue = verify_queue.VerifyQueue(
            conf.agent.max_waiting_verifications)
        self._busy = threading.Lock()
        self._seen_lock = threading.Lock()
        self._seen = collections.OrderedDict()
        self.threads = []

    def _first_delivery(self, backup_info):
        """False if this run was received before (a repeated message)."""
        key = (backup_info['id'], backup_info.get('attempt_id'))
        with self._seen_lock:
            if key in self._seen:
                return False
            self._seen[key] = True
            while len(self._seen) > self.REMEMBERED_ATTEMPTS:
                self._seen.popitem(last=False)
        return True

    @messaging.expose
    def create_backup(self, context, backup_info):
        backup_id = backup_info['id']
        if backup_info.get('instance_id') != self.instance_id:
            LOG.warning('Refusing backup %s of instance %s: this agent '
                        'serves %s.', backup_id,
                        backup_info.get('instance_id'), self.instance_id)
            return
        if not self._first_delivery(backup_info):
            LOG.info('Ignoring a repeated create_backup of backup %s '
                     '(attempt %s).', backup_id,
                     backup_info.get('attempt_id'))
            return
        if not self._busy.acquire(timeout=self.BUSY_WAIT):
            # Only this attempt fails: the report names it, and the
            # worker applies it to no other run.
            self.worker.update_backup(
                context, self.instance_id, backup_id, states.FAILED,
                attempt_id=backup_info.get('attempt_id'),
                fail_reason='Another backup of this instance is running on '
                            'its agent.')
            return
        # The RPC thread returns at once; the backup runs on its own.
        thread = threading.Thread(target=self._run,
                                  args=(context, backup_info),
                                  name='backup-%s' % backup_id, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _run(self, context, backup_info):
        try:
            self.runner.run(context, backup_info)
        finally:
            self._busy.release()

    @messaging.expose
    def restore_backup(self, context, restore_info=None, backup_id=None,
                       container=None, storage_driver=None, target=None,
                       checksum=None, trust_id=None):
        """1.2: restore_info, a cast: restore into this instance. 1.0: the
        other arguments, a call: restore into the directory target."""
        if restore_info is None:
            restore.restore_backup(self.conf, self.datastore, storage_driver,
                                   container, backup_id, target, checksum,
                                   trust_id)
            return {'backup_id': backup_id, 'target': target}
        self._start_restore(context, restore_info)

    def _start_restore(self, context, info):
        restore_id = info['id']
        if info.get('instance_id') != self.instance_id:
            LOG.warning('Refusing restore %s into instance %s: this agent '
                        'serves %s.', restore_id, info.get('instance_id'),
                        self.instance_id)
            return
        if not self._first_delivery(info):
            LOG.info('Ignoring a repeated restore_backup of restore %s '
                     '(attempt %s).', restore_id, info.get('attempt_id'))
            return
        if not self._busy.acquire(timeout=self.BUSY_WAIT):
            self.worker.update_restore(
                context, self.instance_id, restore_id, states.FAILED,
                info.get('attempt_id'),
                fail_reason='Another backup or restore of this instance is '
                            'running on its agent; the instance keeps its '
                            'data.')
            return
        thread = threading.Thread(target=self._run_restore,
                                  args=(context, info),
                                  name='restore-%s' % restore_id, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _run_restore(self, context, info):
        try:
            self.restores.run(context, info)
        finally:
            self._busy.release()

    @messaging.expose
    def verify_backup(self, context, verify_info):
        """1.2: verify a backup of this instance in a scratch place; one
        at a time, in the order they arrive, beside any backup or restore
        (it touches no live data)."""
        backup_id = verify_info['backup_id']
        if verify_info.get('instance_id') != self.instance_id:
            LOG.warning('Refusing to verify backup %s of instance %s: this '
                        'agent serves %s.', backup_id,
                        verify_info.get('instance_id'), self.instance_id)
            return
        if not self._first_delivery(dict(verify_info, id=backup_id)):
            LOG.info('Ignoring a repeated verify_backup of backup %s '
                     '(attempt %s).', backup_id,
                     verify_info.get('attempt_id'))
            return
        # Queued here, on the RPC thread: the order of arrival.
        ticket = self.verify_queue.join()
        if ticket is None:
            self.worker.update_verification(
                context, self.instance_id, backup_id, states.VERIFY_FAILED,
                verify_info.get('attempt_id'),
                details=verify_runner.details_json(
                    error=verify_runner.not_run_error(
                        '%d verifications already wait on the agent of '
                        'instance %s ([agent] max_waiting_verifications).'
                        % (self.verify_queue.max_waiting,
                           self.instance_id))))
            return
        thread = threading.Thread(target=self._run_verify,
                                  args=(context, verify_info, ticket),
                                  name='verify-%s' % backup_id, daemon=True)
        self.threads.append(thread)
        try:
            thread.start()
        except Exception:
            # Not left first in the queue for ever: the next one runs.
            self.verify_queue.leave(ticket)
            raise

    def _run_verify(self, context, info, ticket):
        try:
            if self._wait_turn(context, info, ticket):
                self.verifier.run(context, info)
        finally:
            self.verify_queue.leave(ticket)

    def _wait_turn(self, context, info, ticket):
        """True when ticket's turn has come; False if the verification is
        not to run. Meanwhile it reports RUNNING as a running one does."""
        interval = self.conf.agent.progress_interval
        limit = self.conf.agent.max_runtime
        started = time.monotonic()
        if not self.verify_queue.wait_turn(ticket, 0):
            LOG.info('Verification of backup %s waits for its turn: %d '
                     'before it on the agent.', info['backup_id'],
                     self.verify_queue.waiting_before(ticket))
        while not self.verify_queue.wait_turn(ticket, interval):
            if self.verify_queue.stopped:
                # As a killed agent's: the reaper ends it, for want of
                # a sign of life.
                LOG.info('Agent stopping: verification of backup %s not '
                         'run.', info['backup_id'])
                return False
            if limit and time.monotonic() - started > limit:
                self.verifier.report_not_run(
                    context, info,
                    'it waited longer than [agent] max_runtime (%d seconds) '
                    'for the verifications before it on the agent of '
                    'instance %s.' % (limit, self.instance_id))
                return False
            if self.verifier.report_waiting(context, info) is False:
                LOG.info('Worker gave up on the verification of backup %s '
                         'while it waited.', info['backup_id'])
                return False
        return True

    def stop(self):
        """Verifications waiting for their turn leave without running
        (shutdown); the running one is not stopped."""
        self.verify_queue.stop()

    def wait(self):
        """Wait for the backups, restores and verifications started so
        far, those waiting for their turn included, unless stop() sends
        them away (tests, shutdown)."""
        for thread in list(self.threads):
            thread.join()
