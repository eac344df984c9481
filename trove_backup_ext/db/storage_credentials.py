"""SQL of the storage credentials of owner-account backups."""

from oslo_utils import timeutils
import sqlalchemy as sa

from trove_backup_ext.db import api as db_api
from trove_backup_ext.db import models
from trove_backup_ext import states

StorageCredential = models.StorageCredential
Backup = models.Backup


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def add(context, values):
    row = StorageCredential(created=timeutils.utcnow(), **values)
    context.session.add(row)
    context.session.flush()
    return row


@db_api.context_manager.reader
def get(context, backup_id, phase):
    """The credential of backup_id for phase, or None."""
    return context.session.execute(sa.select(StorageCredential).where(
        StorageCredential.backup_id == backup_id,
        StorageCredential.phase == phase)).scalar_one_or_none()


@db_api.context_manager.reader
def of_backup(context, backup_id, phases=None):
    query = sa.select(StorageCredential).where(
        StorageCredential.backup_id == backup_id)
    if phases is not None:
        query = query.where(StorageCredential.phase.in_(phases))
    return list(context.session.execute(query).scalars())


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def remove(context, row_id):
    """Forget a revoked credential; False if another worker did first."""
    return context.session.execute(sa.delete(StorageCredential).where(
        StorageCredential.id == row_id)).rowcount == 1


@db_api.context_manager.reader
def left_over(context, limit=100):
    """Credentials still held that nothing needs (a revocation failed
    before): those of backups whose row is gone, the write credentials of
    backups that ended, the read credentials of failed ones."""
    query = sa.select(StorageCredential).outerjoin(
        Backup, Backup.id == StorageCredential.backup_id).where(sa.or_(
            Backup.id.is_(None),
            sa.and_(StorageCredential.phase == 'write',
                    Backup.status.in_((states.COMPLETED, states.FAILED))),
            sa.and_(StorageCredential.phase == 'read',
                    Backup.status == states.FAILED))).limit(limit)
    return list(context.session.execute(query).scalars())
