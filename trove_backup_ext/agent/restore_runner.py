"""Runs one restore into the agent's live instance, reported.

The agent reports RESTORING, then every progress interval from a
heartbeat (with the bytes restored), restores beside the live data,
swaps it in, and checks it (agent/in_place.py). The old data is dropped
only once the worker has recorded COMPLETED: if the worker gave up on the
restore (its reaper, say), the old data goes back, so a restore the
worker shows FAILED never leaves the instance changed.
"""

import functools

from oslo_log import log as logging

from trove_backup_ext.agent import in_place
from trove_backup_ext.agent import progress as agent_progress
from trove_backup_ext.agent import restore as agent_restore
from trove_backup_ext.agent import runner
from trove_backup_ext import states
from trove_backup_ext import storage

LOG = logging.getLogger(__name__)
# The worker records the first 1024 characters of a reason (the
# fail_reason column); the verdict at its end must be among them.
_REASON_KEPT = 1024
_KEEPS_DATA = ' The instance keeps its data.'


def _failed(reason):
    """reason, cut to leave room for the verdict, and the verdict."""
    room = _REASON_KEPT - len(_KEEPS_DATA) - 1
    if len(reason) > room:
        reason = reason[:room - 3] + '...'
    # A sentence of its own ("No space left on device. The ...").
    if not reason.endswith('.'):
        reason += '.'
    return reason + _KEEPS_DATA


class RestoreRunner:

    def __init__(self, conf, instance_id, datastore, worker_api):
        self.conf = conf
        self.instance_id = instance_id
        self.datastore = datastore
        self.worker = worker_api

    def _report(self, context, info, status, wait=True, **fields):
        try:
            return self.worker.update_restore(
                context, self.instance_id, info['id'], status,
                info['attempt_id'], wait=wait,
                timeout=self.conf.agent.report_timeout, **fields)
        except Exception:
            LOG.exception('Could not report %s of restore %s', status,
                          info['id'])
            return None

    def reconfirm(self, context, state):
        """recover()'s confirm: ask the worker again whether the restore
        cut off while being confirmed is COMPLETED. A repeated COMPLETED
        is answered as the first; if the worker never got it and the
        restore still runs, it is recorded now. True, False, or None if
        the worker does not answer (the restore then waits)."""
        info = {'id': state['restore_id'],
                'attempt_id': state.get('extra', {}).get('attempt_id')}
        if not info['attempt_id']:
            return False
        return runner.report_until_answered(
            lambda: self._report(context, info, states.COMPLETED))

    def run(self, context, info):
        restore_id = info['id']
        if self._report(context, info, states.RESTORING) is False:
            LOG.warning('Worker refused to start restore %s', restore_id)
            return
        progress = agent_progress.Progress()
        heartbeat = runner.Heartbeat(
            lambda status, snapshot: self._report(context, info, status,
                                                  progress=snapshot),
            self.conf.agent.progress_interval, status=states.RESTORING,
            progress=progress, max_runtime=self.conf.agent.max_runtime)
        backup = info['backup']

        def write_restored(staging):
            return agent_restore.restore_backup(
                self.conf, self.datastore, backup['storage_driver'],
                backup['container'], backup['id'], staging,
                checksum=backup.get('checksum'),
                trust_id=storage.access_of(
                    backup, renew=runner.storage_renewer(
                        self.conf, self.worker, context, self.instance_id,
                        'restore', restore_id, info['attempt_id'])),
                progress=progress)

        def before_swap():
            if heartbeat.abandoned.is_set():
                raise runner.BackupAbandoned()

        def confirm():
            # Reported while the heartbeat goes on (see runner.py). No
            # answer at all is not a refusal: the worker may have
            # recorded it, so the restored data stays until it answers.
            if heartbeat.abandoned.is_set():
                return False
            return runner.report_until_answered(
                lambda: self._report(context, info, states.COMPLETED))

        try:
            with heartbeat:
                in_place.restore_in_place(
                    self.datastore, restore_id, write_restored,
                    confirm=confirm, before_swap=before_swap,
                    journal_extra={'attempt_id': info['attempt_id']},
                    recover_confirm=functools.partial(self.reconfirm,
                                                      context))
        except in_place.Unconfirmed:
            # Asked again, as the agent does when it starts; still no
            # answer, the next start or restore asks once more.
            try:
                in_place.recover(self.datastore,
                                 functools.partial(self.reconfirm, context))
            except Exception:
                LOG.exception('Could not settle restore %s; the agent '
                              'tries again when it starts.', restore_id)
        except (runner.BackupAbandoned, in_place.NotConfirmed):
            reason = heartbeat.reason or 'The worker gave up on it.'
            LOG.warning('Restore %s was given up (%s); the instance keeps '
                        'its data.', restore_id, reason)
            self._report(context, info, states.FAILED, wait=False,
                         fail_reason=_failed(reason))
        except in_place.RollbackBlocked as exc:
            # The instance does not have its data back: no verdict.
            LOG.exception('Restore %s failed and was not rolled back',
                          restore_id)
            self._report(context, info, states.FAILED, wait=False,
                         fail_reason=runner.describe_failure(exc)[
                             :_REASON_KEPT])
        except Exception as exc:
            LOG.exception('Restore %s failed', restore_id)
            self._report(context, info, states.FAILED, wait=False,
                         fail_reason=_failed(runner.describe_failure(exc)))
