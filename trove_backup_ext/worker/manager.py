"""The worker: owns each backup's state after the API created it.

It sends a NEW backup to the agent of its instance, accepts the agent's
reports only where the state machine allows them, deletes backups' stored
objects before their rows, and (see reaper.py) fails backups that stopped
moving and retries deletions.
"""

import functools
import json

from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_utils import uuidutils

from trove_backup_ext import agent_auth
from trove_backup_ext.db import lifecycle
from trove_backup_ext import exception
from trove_backup_ext.pipeline import manifest as backup_manifest
from trove_backup_ext import notifications
from trove_backup_ext import states
from trove_backup_ext import storage_access
from trove_backup_ext.worker import delete_retries

LOG = logging.getLogger(__name__)

# What an agent may report, from which statuses. A result may overtake
# the report that the run started (another worker may take that one), so
# it is accepted from NEW too: the attempt id says it is the right run.
AGENT_TRANSITIONS = {
    states.BUILDING: (states.NEW, states.BUILDING),
    states.COMPLETED: (states.NEW, states.BUILDING),
    states.FAILED: (states.NEW, states.BUILDING),
}
_GB = 1024.0 ** 3


def delete_stored_objects(driver, container, backup_id):
    """Delete every object of a backup, its manifest first: as the
    manifest is written last, a backup whose deletion was cut off halfway
    is never taken for a whole one."""
    try:
        driver.delete_object(container,
                             backup_manifest.manifest_name(backup_id))
        driver.delete_prefix(container,
                             backup_manifest.object_prefix(backup_id))
    except ValueError as exc:
        # A name the store refuses (a container ".." accepted by an
        # earlier release): nothing can have been stored under it, and a
        # deletion that can never succeed must not keep the row forever.
        LOG.warning('Backup %s names no storable place (%s): nothing to '
                    'delete.', backup_id, exc)


class WorkerManager:
    """RPC endpoint of trove-backup-worker (see rpcapi.WorkerAPI)."""

    target = messaging.Target(version='1.3')

    def __init__(self, conf, instance_source, agent_api, notifier):
        self.conf = conf
        self.instances = instance_source
        self.agents = agent_api
        self.notifier = notifier
        self.agent_auth = agent_auth.Authenticator(conf)
        # The VerifyManager, for [backup] verify_after_create.
        self.verifier = None
        # Called as listener(context, backup_id, status) when a backup
        # ends COMPLETED or FAILED (the scheduler records its outcome).
        self.end_listeners = []

    # From the API.

    @messaging.expose
    def create_backup(self, context, backup_id):
        # Claiming the row and casting to the agent are two steps; the
        # claim is a compare-and-set, so of two deliveries of this cast
        # only one ever reaches the agent.
        attempt_id = uuidutils.generate_uuid()
        if not lifecycle.claim(context, backup_id, attempt_id):
            LOG.info('Ignoring create_backup of backup %s: it is gone, '
                     'being deleted, no longer NEW or already started '
                     '(a repeated message).', backup_id)
            return
        backup = lifecycle.get(context, backup_id)
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
        if instance.cluster_id is not None:
            return self._fail(context, backup, 'Instance %s is a member of '
                              'cluster %s: backups of cluster members are '
                              'not supported.' % (instance.id,
                                                  instance.cluster_id))
        if not instance.can_back_up:
            return self._fail(context, backup, 'Instance %s is %s, not '
                              'ACTIVE.' % (instance.id, instance.status))
        try:
            info = self._backup_info(context, backup)
            info.update(storage_access.agent_fields(
                self.conf, context, backup, storage_access.WRITE))
        except (exception.ServiceUnavailable,
                exception.ConfigurationError) as exc:
            return self._fail(context, backup, str(exc))
        try:
            self.agents.create_backup(context, backup.instance_id, info)
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
        return {'id': backup.id, 'attempt_id': backup.attempt_id,
                'instance_id': backup.instance_id,
                'project_id': backup.project_id,
                'datastore': backup.datastore,
                'datastore_version': backup.datastore_version,
                'storage_driver': backup.storage_driver,
                'container': backup.container,
                'backup_type': backup.backup_type,
                'parent': parent}

    def _fail(self, context, backup, reason):
        LOG.warning('Backup %s failed: %s', backup.id, reason)
        if lifecycle.transition(context, backup.id, states.RUNNING,
                                states.FAILED, attempt_id=backup.attempt_id,
                                fail_reason=reason[:1024]):
            storage_access.ended(self.conf, context, backup.id,
                                 states.FAILED)
            self.notifier.error(context, 'dbaas.backup_create.error',
                                notifications.backup_payload(
                                    backup, status=states.FAILED,
                                    message=reason))
            self.backup_ended(context, backup.id, states.FAILED)

    # From agents.

    @messaging.expose
    @agent_auth.signed_report
    def update_backup(self, context, instance_id, backup_id, status,
                      stored_size=None, checksum=None, location=None,
                      fail_reason=None, attempt_id=None, progress=None):
        """Apply an agent's report if it is about the run this worker
        started; anything else (a repeated, late or foreign report) is
        dropped with a log line and answered False."""
        if status not in AGENT_TRANSITIONS:
            LOG.warning('Agent of %s reported impossible status %s for '
                        'backup %s; ignored.', instance_id, status, backup_id)
            return False
        # A report naming no attempt comes from an agent that received
        # none (a worker capped at agent 1.0 sent the backup) or that is
        # capped at worker 1.0 itself: during a rolling upgrade. It is
        # judged by the 1.0 rule, its instance, rather than refused, which
        # would fail every backup until the last cap is lifted.
        fields = {}
        if stored_size is not None:
            fields['size'] = stored_size / _GB
        if status == states.COMPLETED:
            fields.update(checksum=checksum, location=location)
        if fail_reason:
            fields['fail_reason'] = fail_reason[:1024]
        if progress is not None and status == states.BUILDING:
            fields['progress'] = json.dumps(progress)[:255]
        ending = status in (states.COMPLETED, states.FAILED)
        # Read before the move: once it has ended, a delete (served by
        # another worker) may remove the row before the notification is
        # made, and the end must still be told.
        before = lifecycle.get(context, backup_id) if ending else None
        moved = lifecycle.transition(
            context, backup_id, AGENT_TRANSITIONS[status], status,
            instance_id=instance_id, attempt_id=attempt_id, **fields)
        if not moved:
            if self._already_applied(context, instance_id, backup_id,
                                     status, attempt_id, checksum):
                # The same report, delivered again (or a retried call
                # whose first delivery got through): the agent must hear
                # "accepted", or it would remove a good backup's objects.
                LOG.info('Report %s of backup %s (attempt %s) was applied '
                         'already.', status, backup_id, attempt_id)
                return True
            row = lifecycle.get(context, backup_id)
            if row is not None and row.instance_id != instance_id:
                # Signed by its own agent, about another's backup.
                LOG.warning('Dropped %s for backup %s from the agent of %s: '
                            'the backup is of another instance.', status,
                            backup_id, instance_id)
                return False
            LOG.info('Dropped %s for backup %s (attempt %s) from the agent '
                     'of %s: a late report, another attempt, another '
                     'instance, or the backup is being deleted.',
                     status, backup_id, attempt_id, instance_id)
            return False
        if ending:
            storage_access.ended(self.conf, context, backup_id, status)
            backup = lifecycle.get(context, backup_id)
            if backup is None:
                LOG.info('Backup %s ended %s and was deleted at once.',
                         backup_id, status)
            event = ('dbaas.backup_create.end' if status == states.COMPLETED
                     else 'dbaas.backup_create.error')
            send = (self.notifier.info if status == states.COMPLETED
                    else self.notifier.error)
            send(context, event, notifications.backup_payload(
                backup or before, status=status, message=fail_reason,
                **({} if backup else {'size': fields.get('size'),
                                      'location': location})))
            if (backup is not None and status == states.COMPLETED and
                    self.verifier is not None and
                    self.conf.backup.verify_after_create):
                self.verifier.start(context, backup)
            self.backup_ended(context, backup_id, status)
        return True

    def backup_ended(self, context, backup_id, status):
        """Tell the end listeners; their failure is logged, never the
        backup's."""
        for listener in self.end_listeners:
            try:
                listener(context, backup_id, status)
            except Exception:
                LOG.exception('After backup %s ended %s, %r failed.',
                              backup_id, status, listener)

    @staticmethod
    def _already_applied(context, instance_id, backup_id, status,
                         attempt_id, checksum):
        row = lifecycle.get(context, backup_id)
        return (row is not None and row.delete_requested_at is None and
                row.instance_id == instance_id and row.status == status and
                (attempt_id is None or row.attempt_id == attempt_id) and
                (status != states.COMPLETED or row.checksum == checksum))

    # Deletion.

    @messaging.expose
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

    def _delete_failed(self, context, backup, exc):
        """Keep the row DELETE_FAILED, with when it is tried again (or
        that it no longer is: delete_retries.py), and say so."""
        refused = storage_access.refused(exc)
        marked = lifecycle.mark_delete_failed(
            context, backup.id, 'Deleting the stored objects failed: %s'
            % exc, refused=refused,
            decide=functools.partial(delete_retries.decide, self.conf))
        if marked is None:
            return      # Deleted meanwhile by another delivery.
        retry_at, reason = marked
        if retry_at is None:
            LOG.error('Backup %s: %s', backup.id, reason)
        else:
            LOG.warning('Backup %s: %s; trying again after %s.', backup.id,
                        reason, retry_at.isoformat())
        self.notifier.error(context, 'dbaas.backup_delete.error',
                            notifications.backup_payload(
                                backup, status=states.DELETE_FAILED,
                                message=reason))

    def _delete_one(self, context, backup):
        try:
            delete_stored_objects(
                storage_access.driver(self.conf, context, backup,
                                      storage_access.DELETE),
                backup.container, backup.id)
        except Exception as exc:
            self._delete_failed(context, backup, exc)
            return False
        if not lifecycle.remove(context, backup.id):
            if lifecycle.get(context, backup.id) is None:
                # A repeated delete message, handled at the same time.
                LOG.info('Backup %s was deleted by another delivery of '
                         'its delete message.', backup.id)
                return True
            LOG.warning('Backup %s keeps its row: it gained a child or was '
                        'not marked for deletion.', backup.id)
            return False
        self.notifier.info(context, 'dbaas.backup_delete.end',
                           notifications.backup_payload(backup))
        # Only now: a retried deletion needs the credentials until the
        # row is gone.
        storage_access.deleted(self.conf, context, backup)
        return True
