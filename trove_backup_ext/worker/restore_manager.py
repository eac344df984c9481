"""The worker's restore endpoint: owns each restore's state after the API.

Built on the rules of the backups' state machine (see manager.py and
doc/source/reference/rpc.rst): the worker claims a NEW restore with a
compare-and-set that gives the run an attempt id, only the claimer casts
to the agent of the target instance, and an agent's report counts only
for the run it names; a repeated report whose change is made already is
answered "accepted".
"""

import json

from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_utils import uuidutils

from trove_backup_ext import agent_auth
from trove_backup_ext.db import lifecycle
from trove_backup_ext.db import restores as restores_db
from trove_backup_ext import exception
from trove_backup_ext import notifications
from trove_backup_ext.services import datastore_versions
from trove_backup_ext.services import instance_access
from trove_backup_ext import states
from trove_backup_ext import storage_access

LOG = logging.getLogger(__name__)

# What an agent may report on a restore, from which statuses.
AGENT_TRANSITIONS = {
    states.RESTORING: (states.NEW, states.RESTORING),
    states.COMPLETED: (states.NEW, states.RESTORING),
    states.FAILED: (states.NEW, states.RESTORING),
}


class RestoreManager:
    """RPC endpoint of trove-backup-worker for restores."""

    target = messaging.Target(version='1.3')

    def __init__(self, conf, instance_source, agent_api, notifier):
        self.conf = conf
        self.instances = instance_source
        self.agents = agent_api
        self.notifier = notifier
        self.agent_auth = agent_auth.Authenticator(conf)

    # From the API.

    @messaging.expose
    def restore_backup(self, context, restore_id):
        attempt_id = uuidutils.generate_uuid()
        if not restores_db.claim(context, restore_id, attempt_id):
            LOG.info('Ignoring restore_backup of restore %s: it is gone, '
                     'no longer NEW or already started (a repeated '
                     'message).', restore_id)
            return
        restore = restores_db.find(context, restore_id)
        self.notifier.info(context, 'dbaas.backup_restore.start',
                           notifications.restore_payload(restore))
        try:
            info = self._restore_info(context, restore)
        except exception.BackupExtError as exc:
            return self.fail(context, restore, str(exc))
        except Exception as exc:
            LOG.exception('Cannot check restore %s', restore.id)
            return self.fail(context, restore, 'The restore could not be '
                             'checked: %s' % exc)
        try:
            self.agents.restore_into_instance(context, restore.instance_id,
                                              info)
        except Exception as exc:
            LOG.exception('Cannot reach the agent of instance %s',
                          restore.instance_id)
            self.fail(context, restore, 'The agent of instance %s cannot '
                      'be reached: %s' % (restore.instance_id,
                                          type(exc).__name__))

    def _restore_info(self, context, restore):
        """What the agent needs, after checking again what the API
        checked: time has passed since."""
        backup = lifecycle.get(context, restore.backup_id)
        if (backup is None or backup.status != states.COMPLETED or
                backup.delete_requested_at is not None):
            raise exception.BackupNotRestorable(
                backup_id=restore.backup_id,
                reason='it was deleted or is no longer COMPLETED')
        instance = self.instances.get_instance(context, restore.instance_id)
        instance_access.check_can_back_up(instance)
        reason = datastore_versions.why_not_restorable(
            backup.datastore, backup.datastore_version, instance.datastore,
            instance.datastore_version)
        if reason:
            raise exception.RestoreTargetNotUsable(instance_id=instance.id,
                                                   reason=reason)
        return {'id': restore.id, 'attempt_id': restore.attempt_id,
                'instance_id': restore.instance_id,
                'backup': {'id': backup.id, 'container': backup.container,
                           'storage_driver': backup.storage_driver,
                           'checksum': backup.checksum,
                           'datastore': backup.datastore,
                           **storage_access.agent_fields(
                               self.conf, context, backup,
                               storage_access.READ)}}

    def fail(self, context, restore, reason, updated_before=None):
        """FAILED, unless it moved meanwhile (or, with updated_before,
        reported since); the error notification."""
        if restores_db.transition(
                context, restore.id, states.RESTORE_RUNNING, states.FAILED,
                attempt_id=restore.attempt_id,
                updated_before=updated_before, fail_reason=reason[:1024]):
            LOG.warning('Restore %s failed: %s', restore.id, reason)
            self.notifier.error(context, 'dbaas.backup_restore.error',
                                notifications.restore_payload(
                                    restore, status=states.FAILED,
                                    message=reason))
            return True
        return False

    # From agents.

    @messaging.expose
    @agent_auth.signed_report
    def update_restore(self, context, instance_id, restore_id, status,
                       attempt_id, fail_reason=None, progress=None):
        """Apply an agent's report on the run attempt_id of a restore;
        False (and a log line) for anything else."""
        if status not in AGENT_TRANSITIONS or not attempt_id:
            LOG.warning('Refused %s for restore %s from the agent of %s: '
                        'no such report, or no attempt named.', status,
                        restore_id, instance_id)
            return False
        fields = {}
        if fail_reason:
            fields['fail_reason'] = fail_reason[:1024]
        if progress is not None and status == states.RESTORING:
            fields['progress'] = json.dumps(progress)[:255]
        moved = restores_db.transition(
            context, restore_id, AGENT_TRANSITIONS[status], status,
            instance_id=instance_id, attempt_id=attempt_id, **fields)
        if not moved:
            restore = restores_db.find(context, restore_id)
            if (restore is not None and restore.status == status and
                    restore.instance_id == instance_id and
                    restore.attempt_id == attempt_id):
                LOG.info('Report %s of restore %s (attempt %s) was applied '
                         'already.', status, restore_id, attempt_id)
                return True
            if restore is not None and restore.instance_id != instance_id:
                # Signed by its own agent, about another's restore.
                LOG.warning('Dropped %s for restore %s from the agent of '
                            '%s: the restore is into another instance.',
                            status, restore_id, instance_id)
                return False
            LOG.info('Dropped %s for restore %s (attempt %s) from the agent '
                     'of %s: a late report, another attempt or another '
                     'instance.', status, restore_id, attempt_id,
                     instance_id)
            return False
        if status in (states.COMPLETED, states.FAILED):
            restore = restores_db.find(context, restore_id)
            if status == states.COMPLETED:
                self.notifier.info(context, 'dbaas.backup_restore.end',
                                   notifications.restore_payload(restore))
            else:
                self.notifier.error(context, 'dbaas.backup_restore.error',
                                    notifications.restore_payload(
                                        restore, message=fail_reason))
        return True
