"""The worker's verification endpoint: sends a backup to be verified and
records the result.

The API (or the worker itself after a backup, [backup]
verify_after_create) marks the verification RUNNING; here the worker
claims it with an attempt id and sends it to the agent of the backup's
instance, or runs it itself ([backup] verify_on = worker). A report counts
only for the run it names; a repeated one is answered as the first.
"""

import json
import threading

from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_utils import uuidutils

from trove_backup_ext.agent import verify_runner
from trove_backup_ext import agent_auth
from trove_backup_ext import datastores
from trove_backup_ext.db import lifecycle
from trove_backup_ext.db import verifications
from trove_backup_ext import notifications
from trove_backup_ext import states
from trove_backup_ext import storage_access

LOG = logging.getLogger(__name__)

_ENDS = (states.VERIFY_PASSED, states.VERIFY_FAILED)


class VerifyManager:
    """RPC endpoint of trove-backup-worker for verifications."""

    target = messaging.Target(version='1.3')

    def __init__(self, conf, agent_api, notifier, worker_api=None):
        """worker_api: how a verification run by the worker itself
        reports ([backup] verify_on = worker)."""
        self.conf = conf
        self.agents = agent_api
        self.notifier = notifier
        self.worker_api = worker_api
        self.agent_auth = agent_auth.Authenticator(conf)
        self.threads = []

    def start(self, context, backup):
        """After a backup completed ([backup] verify_after_create)."""
        if verifications.start(context, backup.id):
            self.verify_backup(context, backup.id)

    # From the API.

    @messaging.expose
    def verify_backup(self, context, backup_id):
        attempt_id = uuidutils.generate_uuid()
        if not verifications.claim(context, backup_id, attempt_id):
            LOG.info('Ignoring verify_backup of backup %s: no verification '
                     'of it waits (a repeated message).', backup_id)
            return
        backup = lifecycle.get(context, backup_id)
        if backup is None:
            # Deleted between the claim and this read (another worker).
            LOG.info('Backup %s was deleted before its verification '
                     'started.', backup_id)
            return
        info = {'backup_id': backup.id, 'attempt_id': attempt_id,
                'instance_id': backup.instance_id,
                'backup': {'container': backup.container,
                           'storage_driver': backup.storage_driver,
                           'checksum': backup.checksum,
                           'datastore': backup.datastore}}
        try:
            info['backup'].update(storage_access.agent_fields(
                self.conf, context, backup, storage_access.READ))
            if self.conf.backup.verify_on == 'worker':
                self._run_here(context, backup, info)
            else:
                self.agents.verify_backup(context, backup.instance_id, info)
        except Exception as exc:
            LOG.exception('Cannot start the verification of backup %s',
                          backup_id)
            self._end(context, backup_id, attempt_id, states.VERIFY_FAILED,
                      verify_runner.details_json(
                          error='The verification could not be started: '
                                '%s' % exc))

    def _run_here(self, context, backup, info):
        runner = verify_runner.VerifyRunner(
            self.conf, backup.instance_id,
            datastores.load(self.conf, backup.datastore), self.worker_api)
        thread = threading.Thread(target=runner.run, args=(context, info),
                                  name='verify-%s' % backup.id, daemon=True)
        self.threads.append(thread)
        thread.start()

    # From agents (or the worker's own runner).

    @messaging.expose
    @agent_auth.signed_report
    def update_verification(self, context, instance_id, backup_id, status,
                            attempt_id, details=None):
        backup = lifecycle.get(context, backup_id)
        if (backup is None or backup.instance_id != instance_id or
                status not in (states.VERIFY_RUNNING,) + _ENDS or
                not attempt_id):
            LOG.warning('Refused verification report %s of backup %s from '
                        'the agent of %s.', status, backup_id, instance_id)
            return False
        if verifications.update(context, backup_id, attempt_id, status,
                                details):
            if status in _ENDS:
                self._notify(context, backup_id, status)
            return True
        backup = lifecycle.get(context, backup_id)
        if (backup is not None and backup.verification_status == status and
                backup.verification_attempt_id == attempt_id):
            return True     # A repeated report.
        LOG.info('Dropped verification report %s of backup %s (attempt '
                 '%s): a late report or another run.', status, backup_id,
                 attempt_id)
        return False

    def _end(self, context, backup_id, attempt_id, status, details,
             updated_before=None):
        if verifications.update(context, backup_id, attempt_id, status,
                                details, updated_before=updated_before):
            self._notify(context, backup_id, status)
            return True
        return False

    def fail_stuck(self, context, backup, timeout, cutoff):
        """The reaper's: FAILED if still silent since cutoff."""
        return self._end(
            context, backup.id, None, states.VERIFY_FAILED,
            verify_runner.details_json(
                error='No sign of life for %d seconds: the agent of '
                      'instance %s stopped or never started the '
                      'verification.' % (timeout, backup.instance_id)),
            updated_before=cutoff)

    def _notify(self, context, backup_id, status):
        backup = lifecycle.get(context, backup_id)
        if backup is None:
            return
        payload = notifications.backup_payload(
            backup, verification_status=status,
            verification_details=_details(backup.verification_details))
        if status == states.VERIFY_PASSED:
            self.notifier.info(context, 'dbaas.backup_verify.end', payload)
        else:
            self.notifier.error(context, 'dbaas.backup_verify.error',
                                payload)


def _details(text):
    try:
        return json.loads(text) if text else None
    except ValueError:
        return {'error': text}
