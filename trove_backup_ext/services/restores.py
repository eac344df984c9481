"""What the API does to restores, apart from HTTP: check, write, cast.

Everything that can be refused is refused here, before anything is
written: a restore that gets 202 has passed every check the API can make,
and the worker checks again when it starts it.
"""

from oslo_log import log as logging
from oslo_utils import uuidutils

from trove_backup_ext.db import backups as backups_db
from trove_backup_ext.db import restores as restores_db
from trove_backup_ext import exception
from trove_backup_ext.services import datastore_versions
from trove_backup_ext.services import instance_access
from trove_backup_ext import states

LOG = logging.getLogger(__name__)


def _canonical(uuid):
    return uuid.lower() if uuid else uuid


class RestoreService:

    def __init__(self, conf, instance_source, worker_api):
        self.conf = conf
        self.instances = instance_source
        self.worker = worker_api

    @staticmethod
    def _visible_project(context):
        return None if context.is_admin else context.project_id

    def get(self, context, restore_id):
        if not uuidutils.is_uuid_like(restore_id):
            raise exception.RestoreNotFound(uuid=restore_id)
        return restores_db.get(context, _canonical(restore_id),
                               self._visible_project(context))

    def list_page(self, context, limit, project_id, instance_id=None,
                  backup_id=None, after=None):
        rows = restores_db.list_page(context, limit + 1, project_id,
                                     _canonical(instance_id),
                                     _canonical(backup_id), after)
        return rows[:limit], len(rows) > limit

    def create(self, context, project_id, backup_id, instance_id):
        """Create a NEW restore of backup_id into instance_id, and cast.

        The backup must be one the caller sees in project_id; the target
        an instance the caller sees (another project's only for an
        administrator), ACTIVE, of the backup's datastore and release
        line, and running no backup or restore.
        """
        if not uuidutils.is_uuid_like(backup_id):
            raise exception.BackupNotFound(uuid=backup_id)
        backup = backups_db.get(context, _canonical(backup_id),
                                self._visible_project(context))
        if backup.project_id != project_id and not context.is_admin:
            raise exception.BackupNotFound(uuid=backup_id)
        if backup.status != states.COMPLETED:
            raise exception.BackupNotRestorable(
                backup_id=backup.id,
                reason='its status is %s; only a COMPLETED backup can be '
                       'restored' % backup.status)
        target = instance_access.visible_instance(self.instances, context,
                                                  instance_id)
        instance_access.check_can_back_up(target)
        reason = datastore_versions.why_not_restorable(
            backup.datastore, backup.datastore_version, target.datastore,
            target.datastore_version)
        if reason:
            raise exception.RestoreTargetNotUsable(instance_id=target.id,
                                                   reason=reason)
        restore = restores_db.create(context, {
            'id': uuidutils.generate_uuid(),
            # The restore belongs to the target's project: it changes
            # that instance, and its owners must see it happen.
            'project_id': target.project_id,
            'user_id': context.user_id,
            'backup_id': backup.id,
            'instance_id': target.id,
            'source_instance_id': backup.instance_id,
        })
        try:
            self.worker.restore_backup(context, restore.id)
        except Exception:
            LOG.exception('Casting restore_backup for restore %s failed; '
                          'removing it.', restore.id)
            restores_db.undo_create(context, restore.id)
            raise exception.ServiceUnavailable(
                reason='the request could not be sent to the backup '
                       'worker.')
        return restore
