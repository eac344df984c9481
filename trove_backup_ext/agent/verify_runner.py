"""Verifies one backup: restore it into a scratch place and check it there.

Never the live database: the chain is restored (every chunk checked
against its digest) into a temporary directory under [agent] scratch_dir,
the driver checks what it restored (a throw-away server where the engine
needs one, its integrity check, the row counts recorded at backup time),
and the directory is removed. The result goes to the worker with the
run's attempt id, until it answers.
"""

import json
import os
import shutil
import signal
import tempfile

from oslo_log import log as logging

from trove_backup_ext.agent import progress as agent_progress
from trove_backup_ext.agent import restore as agent_restore
from trove_backup_ext.agent import runner
from trove_backup_ext import states
from trove_backup_ext import storage

LOG = logging.getLogger(__name__)


def _scratch_prefix(instance_id):
    return 'trove-verify-%s-' % instance_id


def clean_stale_scratch(conf, instance_id):
    """Remove what verifications of this instance left when an earlier
    run of its agent was killed: their throw-away servers, which run in
    sessions of their own and outlive it, and their restored copies.
    Called when the agent starts, before any verification of its own."""
    root = conf.agent.scratch_dir or tempfile.gettempdir()
    try:
        entries = [entry.path for entry in os.scandir(root)
                   if entry.name.startswith(_scratch_prefix(instance_id))
                   and entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return
    for path in entries:
        LOG.warning('Removing %s, left by a verification cut off.', path)
        _kill_processes_of(path)
        shutil.rmtree(path, ignore_errors=True)


def _kill_processes_of(path):
    """SIGKILL the session of every process whose command line names a
    file under path (the server's data directory is in its arguments)."""
    marker = os.fsencode(path + os.sep)
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as source:
                if marker not in source.read():
                    continue
            os.killpg(os.getpgid(int(entry)), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass    # Gone meanwhile, or not ours to see.


def details_json(checks=None, error=None):
    """The details kept with a verification (at most 2048 characters)."""
    if error is not None:
        return json.dumps({'error': error[:1800]})
    text = json.dumps({'checks': checks})
    if len(text) > 2048:
        text = json.dumps({'checks': [dict(check, detail=check['detail'][:80])
                                      for check in checks[:10]]})
    return text


def not_run_error(reason):
    """The error of a verification that was not run: it says nothing of
    the backup, and the message says so."""
    return ('Not run: %s The backup was not checked; verify it again.'
            % reason)


class VerifyRunner:

    def __init__(self, conf, instance_id, datastore, worker_api):
        self.conf = conf
        self.instance_id = instance_id
        self.datastore = datastore
        self.worker = worker_api

    def _report(self, context, info, status, wait=True, **fields):
        try:
            return self.worker.update_verification(
                context, self.instance_id, info['backup_id'], status,
                info['attempt_id'], wait=wait,
                timeout=self.conf.agent.report_timeout, **fields)
        except Exception:
            LOG.exception('Could not report %s of the verification of '
                          'backup %s', status, info['backup_id'])
            return None

    def report_waiting(self, context, info):
        """The sign of life of a verification waiting for its turn: the
        running one's (RUNNING), every [agent] progress_interval seconds,
        so that the reaper does not take it for lost. False: the worker
        gave up on it (reaped, the backup deleted)."""
        return self._report(context, info, states.VERIFY_RUNNING)

    def report_not_run(self, context, info, reason):
        """End a verification that never ran: FAILED, with an error that
        says so. Reported until the worker answers."""
        LOG.warning('Verification of backup %s not run: %s',
                    info['backup_id'], reason)
        return runner.report_until_answered(lambda: self._report(
            context, info, states.VERIFY_FAILED,
            details=details_json(error=not_run_error(reason))))

    def run(self, context, info):
        backup_id = info['backup_id']
        if self._report(context, info, states.VERIFY_RUNNING) is False:
            LOG.warning('Worker refused to start verifying backup %s',
                        backup_id)
            return
        heartbeat = runner.Heartbeat(
            lambda status, snapshot: self._report(context, info, status),
            self.conf.agent.progress_interval, status=states.VERIFY_RUNNING,
            progress=agent_progress.Progress(),
            max_runtime=self.conf.agent.max_runtime)
        try:
            scratch = self._scratch(backup_id)
        except OSError as exc:
            # A scratch_dir full (no inode left) or not writable: the
            # verification fails, as any other, rather than stay RUNNING
            # until the reaper.
            error = ('Cannot make a scratch directory in %s ([agent] '
                     'scratch_dir): %s' % (self.conf.agent.scratch_dir or
                                           tempfile.gettempdir(), exc))
            LOG.warning('Verification of backup %s failed: %s', backup_id,
                        error)
            runner.report_until_answered(lambda: self._report(
                context, info, states.VERIFY_FAILED,
                details=details_json(error=error)))
            return
        try:
            with heartbeat:
                status, details = self._verify(context, info, scratch,
                                               heartbeat)
                if heartbeat.abandoned.is_set() and heartbeat.reason:
                    status, details = states.VERIFY_FAILED, details_json(
                        error=heartbeat.reason)
                # Before the result: a verification shown finished has
                # left nothing behind.
                shutil.rmtree(scratch, ignore_errors=True)
                runner.report_until_answered(lambda: self._report(
                    context, info, status, details=details))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _scratch(self, backup_id):
        """A new directory under [agent] scratch_dir for one
        verification."""
        scratch_dir = self.conf.agent.scratch_dir or None
        if scratch_dir:
            os.makedirs(scratch_dir, exist_ok=True)
        scratch = tempfile.mkdtemp(
            prefix='%s%s-' % (_scratch_prefix(self.instance_id), backup_id),
            dir=scratch_dir)
        # Traversable, not listable: the throw-away server may run as the
        # database's own user (PostgreSQL refuses root), in the directory
        # the driver gives it inside.
        os.chmod(scratch, 0o711)  # nosec B103
        return scratch

    def _verify(self, context, info, scratch, heartbeat):
        backup = info['backup']
        try:
            pieces = agent_restore.restore_pieces(
                self.conf, self.datastore, backup['storage_driver'],
                backup['container'], info['backup_id'],
                checksum=backup.get('checksum'),
                trust_id=storage.access_of(
                    backup, renew=runner.storage_renewer(
                        self.conf, self.worker, context, self.instance_id,
                        'verify', info['backup_id'], info['attempt_id'])),
                progress=heartbeat.progress)
            target = os.path.join(scratch, 'data')
            restored = self.datastore.restore(pieces, target) or target
            checks = self.datastore.verify(restored, pieces[-1].metadata)
        except Exception as exc:
            LOG.warning('Verification of backup %s failed: %s',
                        info['backup_id'], exc)
            return states.VERIFY_FAILED, details_json(
                error=runner.describe_failure(exc))
        passed = all(check['ok'] for check in checks)
        return (states.VERIFY_PASSED if passed else states.VERIFY_FAILED,
                details_json(checks))
