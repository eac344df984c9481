"""Fails backups that stopped moving, and finishes deletions.

Nothing in Trove does this: there a backup whose agent died stays
BUILDING forever, and a failed delete hides its row. Here a periodic pass
fails what has made no progress for [worker] backup_timeout seconds
(removing what it had stored) and retries unfinished deletions, backing
off, until the backup's storage credential is refused for good
(delete_retries.py).
"""

import datetime
import threading

from oslo_log import log as logging
from oslo_utils import timeutils

from trove_backup_ext.db import lifecycle
from trove_backup_ext.db import restores as restores_db
from trove_backup_ext.db import verifications
from trove_backup_ext import notifications
from trove_backup_ext import states
from trove_backup_ext import storage_access
from trove_backup_ext.worker import delete_retries
from trove_backup_ext.worker import manager as worker_manager

LOG = logging.getLogger(__name__)


class Reaper:

    def __init__(self, conf, manager, context_factory, restores=None,
                 verifier=None):
        self.conf = conf
        self.manager = manager
        self.restores = restores
        self.verifier = verifier
        self.context_factory = context_factory
        self._stop = threading.Event()
        self._thread = None

    def run_once(self, now=None):
        """One pass as at now (default: the time); returns (backups,
        restores and verifications failed, deletions retried)."""
        context = self.context_factory()
        now = now or timeutils.utcnow()
        failed = 0
        timeout = self.conf.worker.backup_timeout
        cutoff = now - datetime.timedelta(seconds=timeout)
        for backup in lifecycle.stuck(context, cutoff):
            if self._fail_stuck(context, backup, timeout, cutoff):
                failed += 1
        if self.restores is not None:
            for restore in restores_db.stuck(context, cutoff):
                # The agent puts the old data back on its own if it is
                # alive (its report is refused) or when it starts again.
                if self.restores.fail(
                        context, restore,
                        'No progress for %d seconds: the agent of instance '
                        '%s stopped or never started the restore.'
                        % (timeout, restore.instance_id),
                        updated_before=cutoff):
                    failed += 1
        if self.verifier is not None:
            for backup in verifications.stuck(context, cutoff):
                if self.verifier.fail_stuck(context, backup, timeout,
                                            cutoff):
                    failed += 1
        retried = 0
        # Lost delete casts, and failed deletions whose (backed-off) retry
        # time has come: see delete_retries.py.
        for backup in lifecycle.pending_deletes(
                context, now - datetime.timedelta(
                    seconds=self.conf.worker.delete_retry_interval), now,
                backoff=delete_retries.backoff(self.conf),
                refusals_limit=self.conf.worker.delete_refused_attempts):
            self.manager.delete_backup(context, backup.id)
            retried += 1
        # Revocations that failed before (Keystone was down, say).
        storage_access.revoke_left_over(self.conf, context)
        return failed, retried

    def _fail_stuck(self, context, backup, timeout, cutoff):
        reason = ('No progress for %d seconds: the agent of instance %s '
                  'stopped or never started the backup.'
                  % (timeout, backup.instance_id))
        # Still silent since it was selected: a report that arrived
        # meanwhile keeps it alive.
        if not lifecycle.transition(context, backup.id, states.RUNNING,
                                    states.FAILED, fail_reason=reason,
                                    updated_before=cutoff):
            return False    # It moved meanwhile.
        LOG.warning('Backup %s failed: %s', backup.id, reason)
        storage_access.ended(self.conf, context, backup.id, states.FAILED)
        try:
            worker_manager.delete_stored_objects(
                storage_access.driver(self.conf, context, backup,
                                      storage_access.DELETE),
                backup.container, backup.id)
        except Exception:
            LOG.exception('Could not remove the partial objects of backup '
                          '%s; deleting the backup will retry.', backup.id)
        self.manager.notifier.error(
            context, 'dbaas.backup_create.error',
            notifications.backup_payload(backup, status=states.FAILED,
                                         message=reason))
        self.manager.backup_ended(context, backup.id, states.FAILED)
        return True

    def start(self):
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name='backup-reaper')
        self._thread.start()

    def _loop(self):
        while not self._stop.wait(self.conf.worker.reaper_interval):
            try:
                self.run_once()
            except Exception:
                LOG.exception('Reaper pass failed; trying again later.')

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
