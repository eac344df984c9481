"""SQL of trove-backup-manage storage audit: the backups table as the
storage sees it."""

import collections

import sqlalchemy as sa

from trove_backup_ext.db import api as db_api
from trove_backup_ext.db import models

Backup = models.Backup
StorageCredential = models.StorageCredential

StoredBackup = collections.namedtuple(
    'StoredBackup', 'id project_id status storage_driver container '
                    'owner_account being_deleted')


def _select():
    owner_account = sa.or_(
        Backup.trust_id.is_not(None),
        Backup.credential_schedule_id.is_not(None),
        sa.exists().where(StorageCredential.backup_id == Backup.id))
    return sa.select(Backup.id, Backup.project_id, Backup.status,
                     Backup.storage_driver, Backup.container,
                     owner_account.label('owner_account'),
                     Backup.delete_requested_at.is_not(None)
                     .label('being_deleted'))


@db_api.context_manager.reader
def backups(context):
    """Every backup row, with where its objects are: owner_account when
    they are in its owner's Swift account, reached with its own trust or
    application credentials (storage_access.py), not the service's."""
    return [StoredBackup(*row) for row in context.session.execute(
        _select().order_by(Backup.created, Backup.id))]


@db_api.context_manager.reader
def backup(context, backup_id):
    """One backup as backups() gives it, or None."""
    row = context.session.execute(
        _select().where(Backup.id == backup_id)).first()
    return StoredBackup(*row) if row is not None else None
