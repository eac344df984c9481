"""What the API does to backups, apart from HTTP: check, write, cast.

Every change is written to the database before the worker is told, and is
undone when telling it fails, so a lost cast never leaves a backup NEW
forever nor a quota slot taken.
"""

import datetime

from oslo_log import log as logging
from oslo_utils import timeutils
from oslo_utils import uuidutils

from trove_backup_ext import app_credentials
from trove_backup_ext.db import backup_strategies as backup_strategies_db
from trove_backup_ext.db import backups as backups_db
from trove_backup_ext.db import lifecycle
from trove_backup_ext.db import verifications
from trove_backup_ext import exception
from trove_backup_ext.services import instance_access
from trove_backup_ext import states
from trove_backup_ext import storage

LOG = logging.getLogger(__name__)

_CAST_FAILED = 'the request could not be sent to the backup worker.'


def _canonical(uuid):
    # Ids are stored in lower case; an id given in upper case must find
    # the same row on every database, whatever its collation.
    return uuid.lower() if uuid else uuid


class BackupService:

    def __init__(self, conf, instance_source, worker_api, trusts=None,
                 credentials=None, scheduled_storage=None):
        """When backups are kept in their owners' Swift accounts ([swift]
        store_in_owner_account), credentials: an
        app_credentials.CredentialMaker, or trusts: a trusts.TrustMaker
        (owner_account_credentials = trust); for the scheduler,
        scheduled_storage: a schedule_credentials.ScheduledStorage."""
        self.conf = conf
        self.instances = instance_source
        self.worker = worker_api
        self.trusts = trusts
        self.credentials = credentials
        self.scheduled_storage = scheduled_storage

    @staticmethod
    def _visible_project(context):
        # Admins see every project's backups; others only their own, and
        # another project's backup is "not found", never "forbidden".
        return None if context.is_admin else context.project_id

    def get(self, context, backup_id):
        if not uuidutils.is_uuid_like(backup_id):
            raise exception.BackupNotFound(uuid=backup_id)
        return backups_db.get(context, _canonical(backup_id),
                              self._visible_project(context))

    def list_page(self, context, limit, project_id, instance_id=None,
                  datastore=None, after=None):
        """A page plus whether more follow; project_id None: all."""
        name = None
        if datastore is not None:
            # A name or an id, as in Trove; backups keep the name.
            name = self.instances.datastore_name(context, datastore)
            if name is None:
                raise exception.DatastoreNotFound(datastore=datastore)
        rows = backups_db.list_page(context, limit + 1, project_id,
                                    _canonical(instance_id), name, after)
        return rows[:limit], len(rows) > limit

    def create(self, context, project_id, spec, backup_id=None,
               schedule=None):
        """Create a NEW backup from a validated request and cast it.

        backup_id: the new backup's id (default: a new one). The scheduler
        derives it from the slot's run, so that a second attempt at one
        slot finds the first one's backup instead of making another;
        schedule: the schedule whose slot it is (the scheduler's)."""
        instance = self.instances.get_instance(context,
                                               _canonical(spec['instance']))
        if instance.project_id != project_id:
            raise exception.InstanceNotFound(uuid=spec['instance'])
        instance_access.check_can_back_up(instance)
        values = {
            'id': backup_id or uuidutils.generate_uuid(),
            'name': spec['name'],
            'description': spec.get('description'),
            'project_id': project_id,
            'user_id': context.user_id,
            'instance_id': instance.id,
            'datastore': instance.datastore,
            'datastore_version': instance.datastore_version,
            'datastore_version_id': instance.datastore_version_id,
            'storage_driver': self._storage_driver(spec),
            'container': self._container(context, project_id, instance.id,
                                         spec),
        }
        if (schedule is not None and self.scheduled_storage is not None
                and values['storage_driver'] == 'swift'):
            # No caller's token: the schedule's own credentials.
            self.scheduled_storage.prepare(context, schedule, values)
        delegate = (self.credentials is not None and
                    values['storage_driver'] == 'swift')
        if delegate:
            # Refused before anything is written or delegated.
            self.credentials.check(context, project_id)
            app_credentials.check_container(values['container'])
        values['trust_id'] = self._trust(context, project_id,
                                         values['storage_driver'])
        try:
            backup = backups_db.create(
                context, values, parent_id=_canonical(spec.get('parent_id')),
                incremental=bool(spec.get('incremental')),
                quota_limit=self.conf.max_backups_per_tenant)
        except Exception:
            self._drop_trust(context, values['trust_id'])
            raise
        if delegate:
            # After the row: the parent is known, whose objects an
            # incremental's credentials may read.
            try:
                self.credentials.create(context, backup,
                                        self._ancestors(context, backup))
            except Exception:
                backups_db.undo_create(context, backup.id)
                raise
        try:
            self.worker.create_backup(context, backup.id)
        except Exception:
            LOG.exception('Casting create_backup for backup %s failed; '
                          'removing it.', backup.id)
            backups_db.undo_create(context, backup.id)
            self._drop_trust(context, values['trust_id'])
            if delegate:
                self.credentials.discard(context, backup.id)
            raise exception.ServiceUnavailable(reason=_CAST_FAILED)
        return backup

    @staticmethod
    def _ancestors(context, backup):
        chain, parent_id = [], backup.parent_id
        while parent_id:
            parent = lifecycle.get(context, parent_id)
            if parent is None:
                break
            chain.append(parent)
            parent_id = parent.parent_id
        return chain

    def _container(self, context, project_id, instance_id, spec):
        # As Trove: the request's container, else the instance's backup
        # strategy's, else the project's, else the configured default.
        return (spec.get('swift_container') or
                backup_strategies_db.default_container(
                    context, project_id, instance_id) or
                self.conf.backup_swift_container)

    def _trust(self, context, project_id, storage_driver):
        if self.trusts is None or storage_driver != 'swift':
            return None
        return self.trusts.create(context, project_id)

    def _drop_trust(self, context, trust_id):
        if trust_id:
            self.trusts.delete(context, trust_id)

    def _storage_driver(self, spec):
        name = spec.get('storage_driver') or self.conf.storage_strategy
        installed = storage.installed_driver_names()
        if name not in installed:
            raise exception.BadRequest(
                reason="storage_driver '%s' is not installed; installed "
                       "drivers: %s." % (name, ', '.join(sorted(installed))))
        return name

    def verify(self, context, backup_id):
        """Mark the backup's verification RUNNING and ask the worker to
        run it; the backup, as it is then."""
        backup = self.get(context, backup_id)
        if backup.status != states.COMPLETED or backup.delete_requested_at:
            raise exception.BackupNotVerifiable(
                backup_id=backup.id,
                reason='it is being deleted' if backup.delete_requested_at
                else 'its status is %s; only a COMPLETED backup can be '
                     'verified' % backup.status)
        previous = verifications.fields_of(backup)
        if not verifications.start(context, backup.id):
            raise exception.Conflict(
                reason='backup %s is being verified already, or changed '
                       'meanwhile; see its verification.' % backup.id)
        try:
            self.worker.verify_backup(context, backup.id)
        except Exception:
            LOG.exception('Casting verify_backup for backup %s failed; '
                          'clearing its verification.', backup.id)
            verifications.undo_start(context, backup.id, previous)
            raise exception.ServiceUnavailable(reason=_CAST_FAILED)
        return backups_db.get(context, backup.id)

    def delete(self, context, backup_id):
        """Mark the backup and its incremental children for deletion and
        ask the worker to delete them."""
        if not uuidutils.is_uuid_like(backup_id):
            raise exception.BackupNotFound(uuid=backup_id)
        backup_id = _canonical(backup_id)
        expired_before = timeutils.utcnow() - datetime.timedelta(
            days=self.conf.running_backups_expires)
        marked, mark = backups_db.request_delete(
            context, backup_id, self._visible_project(context),
            expired_before)
        try:
            self.worker.delete_backup(context, backup_id)
        except Exception:
            LOG.exception('Casting delete_backup for backup %s failed; '
                          'clearing its delete request.', backup_id)
            backups_db.undo_delete_request(context, marked, mark)
            raise exception.ServiceUnavailable(reason=_CAST_FAILED)
