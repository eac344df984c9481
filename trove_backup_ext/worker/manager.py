"""The worker: owns each backup's state after the API created it.

It sends a NEW backup to the agent of its instance, accepts the agent's
reports only where the state machine allows them, deletes backups' stored
objects before their rows, and (see reaper.py) fails backups that stopped
moving and retries deletions.
"""

from oslo_log import log as logging
import oslo_messaging as messaging

from trove_backup_ext.db import lifecycle
from trove_backup_ext import exception
from trove_backup_ext.pipeline import manifest as backup_manifest
from trove_backup_ext import notifications
from trove_backup_ext import states
from trove_backup_ext import storage
from trove_backup_ext import trusts

LOG = logging.getLogger(__name__)

# What an agent may report, from which statuses.
AGENT_TRANSITIONS = {
    states.BUILDING: (states.NEW, states.BUILDING),
    states.COMPLETED: (states.BUILDING,),
    states.FAILED: (states.NEW, states.BUILDING),
}
_GB = 1024.0 ** 3


def delete_stored_objects(driver, container, backup_id):
    """Delete every object of a backup, its manifest first: as the
    manifest is written last, a backup whose deletion was cut off halfway
    is never taken for a whole one."""
    driver.delete_object(container, backup_manifest.manifest_name(backup_id))
    driver.delete_prefix(container, backup_manifest.object_prefix(backup_id))


class WorkerManager:
    """RPC endpoint of trove-backup-worker (see rpcapi.WorkerAPI)."""

    target = messaging.Target(version='1.0')

    def __init__(self, conf, instance_source, agent_api, notifier):
        self.conf = conf
        self.instances = instance_source
        self.agents = agent_api
        self.notifier = notifier

    # From the API.

    def create_backup(self, context, backup_id):
        backup = lifecycle.get(context, backup_id)
        if (backup is None or backup.status != states.NEW or
                backup.delete_requested_at is not None):
            LOG.info('Ignoring create_backup of backup %s: it is no longer '
                     'NEW.', backup_id)
            return
        self.notifier.info(context, 'dbaas.backup_create.start',
                           notifications.backup_payload(backup))
        try:
            instance = self.instances.get_instance(context,
                                                   backup.instance_id)
        except exception.NotFound:
            return self._fail(context, backup, 'Instance %s no longer '
                              'exists.' % backup.instance_id)
        except Exception as exc:
            # The instance source itself failed (e.g. Trove's database is
            # down): say so now rather than leave the backup to the reaper.
            LOG.exception('Cannot look up instance %s', backup.instance_id)
            return self._fail(context, backup, 'Instance %s could not be '
                              'checked: %s' % (backup.instance_id, exc))
        if not instance.can_back_up:
            return self._fail(context, backup, 'Instance %s is %s, not '
                              'ACTIVE.' % (instance.id, instance.status))
        try:
            self.agents.create_backup(context, backup.instance_id,
                                      self._backup_info(context, backup))
        except Exception as exc:
            LOG.exception('Cannot reach the agent of instance %s',
                          backup.instance_id)
            self._fail(context, backup, 'The agent of instance %s cannot '
                       'be reached: %s' % (backup.instance_id,
                                           type(exc).__name__))

    @staticmethod
    def _backup_info(context, backup):
        parent = None
        if backup.parent_id:
            row = lifecycle.get(context, backup.parent_id)
            parent = {'id': row.id, 'container': row.container,
                      'checksum': row.checksum}
        return {'id': backup.id, 'instance_id': backup.instance_id,
                'project_id': backup.project_id,
                'datastore': backup.datastore,
                'datastore_version': backup.datastore_version,
                'storage_driver': backup.storage_driver,
                'container': backup.container,
                'backup_type': backup.backup_type,
                # The agent stores under the owner's trust, if any.
                'trust_id': backup.trust_id,
                'parent': parent}

    def _fail(self, context, backup, reason):
        LOG.warning('Backup %s failed: %s', backup.id, reason)
        if lifecycle.transition(context, backup.id, states.RUNNING,
                                states.FAILED, fail_reason=reason[:1024]):
            self.notifier.error(context, 'dbaas.backup_create.error',
                                notifications.backup_payload(
                                    backup, status=states.FAILED,
                                    message=reason))

    # From agents.

    def update_backup(self, context, instance_id, backup_id, status,
                      stored_size=None, checksum=None, location=None,
                      fail_reason=None):
        if status not in AGENT_TRANSITIONS:
            LOG.warning('Agent of %s reported impossible status %s for '
                        'backup %s; ignored.', instance_id, status, backup_id)
            return False
        fields = {}
        if stored_size is not None:
            fields['size'] = stored_size / _GB
        if status == states.COMPLETED:
            fields.update(checksum=checksum, location=location)
        if fail_reason:
            fields['fail_reason'] = fail_reason[:1024]
        moved = lifecycle.transition(
            context, backup_id, AGENT_TRANSITIONS[status], status,
            instance_id=instance_id, **fields)
        if not moved:
            LOG.warning('Refused %s for backup %s from the agent of %s: '
                        'wrong instance, deleted, or not allowed from its '
                        'current status.', status, backup_id, instance_id)
            return False
        if status in (states.COMPLETED, states.FAILED):
            backup = lifecycle.get(context, backup_id)
            event = ('dbaas.backup_create.end' if status == states.COMPLETED
                     else 'dbaas.backup_create.error')
            send = (self.notifier.info if status == states.COMPLETED
                    else self.notifier.error)
            send(context, event, notifications.backup_payload(
                backup, message=fail_reason))
        return True

    # Deletion.

    def delete_backup(self, context, backup_id):
        """Delete the stored objects, then the rows, of the backup and its
        descendants, children first. A storage failure leaves the rows
        visible as DELETE_FAILED, for the reaper to retry."""
        order = lifecycle.delete_order(context, backup_id)
        if not order:
            return
        self.notifier.info(context, 'dbaas.backup_delete.start',
                           notifications.backup_payload(order[-1]))
        for backup in order:
            if not self._delete_one(context, backup):
                return

    def _delete_one(self, context, backup):
        try:
            delete_stored_objects(
                storage.load(self.conf, backup.storage_driver,
                             trust_id=backup.trust_id),
                backup.container, backup.id)
        except Exception as exc:
            reason = 'Deleting the stored objects failed: %s' % exc
            LOG.warning('Backup %s: %s', backup.id, reason)
            lifecycle.mark_delete_failed(context, backup.id, reason)
            self.notifier.error(context, 'dbaas.backup_delete.error',
                                notifications.backup_payload(
                                    backup, status=states.DELETE_FAILED,
                                    message=reason))
            return False
        if not lifecycle.remove(context, backup.id):
            LOG.warning('Backup %s keeps its row: it gained a child or was '
                        'not marked for deletion.', backup.id)
            return False
        if backup.trust_id:
            # Only now: a retried deletion needs the trust until the row
            # is gone.
            trusts.release(self.conf, backup.trust_id)
        self.notifier.info(context, 'dbaas.backup_delete.end',
                           notifications.backup_payload(backup))
        return True
