"""SQL of the storage credentials of owner-account backups."""

from oslo_utils import timeutils
import sqlalchemy as sa
from sqlalchemy import orm

from trove_backup_ext.db import api as db_api
from trove_backup_ext.db import models
from trove_backup_ext import states

StorageCredential = models.StorageCredential
Backup = models.Backup
Schedule = models.BackupSchedule


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


@db_api.context_manager.reader
def of_schedule(context, schedule_id, phases=None):
    """The credentials of a backup schedule, {phase: row}."""
    query = sa.select(StorageCredential).where(
        StorageCredential.schedule_id == schedule_id)
    if phases is not None:
        query = query.where(StorageCredential.phase.in_(phases))
    return {row.phase: row for row in context.session.execute(query).scalars()}


def _schedule_unneeded(schedule_id_column):
    """Whether a schedule credential is needed no more: its schedule is
    gone, and no backup uses it (the write one: no running backup)."""
    # An alias: left_over joins the backups table for other rows.
    user = orm.aliased(Backup)
    uses = sa.select(user.id).where(
        user.credential_schedule_id == schedule_id_column)
    return sa.and_(
        ~sa.exists().where(Schedule.id == schedule_id_column),
        sa.or_(~uses.exists(),
               sa.and_(StorageCredential.phase == 'write',
                       ~uses.where(user.status.in_(
                           list(states.RUNNING))).exists())))


@db_api.context_manager.reader
def unneeded_of_schedule(context, schedule_id):
    """The credentials of a deleted schedule that nothing needs now.
    Stable once the schedule's row is gone: no backup can take up its
    credentials after (db/backups.py checks the row in the insert)."""
    return list(context.session.execute(sa.select(StorageCredential).where(
        StorageCredential.schedule_id == schedule_id,
        _schedule_unneeded(StorageCredential.schedule_id))).scalars())


@db_api.context_manager.reader
def schedules_without(context, limit=10):
    """Enabled schedules that hold no write credential (made before
    store_in_owner_account, or before this release): (id, project_id),
    oldest first, at most limit; and how many there are."""
    held = sa.exists().where(StorageCredential.schedule_id == Schedule.id,
                             StorageCredential.phase == 'write')
    where = (Schedule.enabled == sa.true(), ~held)
    count = context.session.execute(
        sa.select(sa.func.count()).select_from(Schedule).where(*where)
    ).scalar_one()
    rows = context.session.execute(
        sa.select(Schedule.id, Schedule.project_id).where(*where)
        .order_by(Schedule.created, Schedule.id).limit(limit)).all()
    return [tuple(row) for row in rows], count


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def remove(context, row_id):
    """Forget a revoked credential; False if another worker did first."""
    return context.session.execute(sa.delete(StorageCredential).where(
        StorageCredential.id == row_id)).rowcount == 1


@db_api.context_manager.reader
def left_over(context, limit=100, made_before=None):
    """Credentials still held that nothing needs (a revocation failed
    before): those of backups whose row is gone, the write credentials of
    backups that ended, the read credentials of failed ones; those of
    schedules that are gone (unneeded_of_schedule) and were made before
    made_before (a schedule's are made just before its row is written)."""
    of_backup = sa.and_(StorageCredential.backup_id.is_not(None), sa.or_(
        Backup.id.is_(None),
        sa.and_(StorageCredential.phase == 'write',
                Backup.status.in_((states.COMPLETED, states.FAILED))),
        sa.and_(StorageCredential.phase == 'read',
                Backup.status == states.FAILED)))
    of_schedule = sa.and_(StorageCredential.schedule_id.is_not(None),
                          _schedule_unneeded(StorageCredential.schedule_id))
    if made_before is not None:
        of_schedule = sa.and_(of_schedule,
                              StorageCredential.created < made_before)
    query = sa.select(StorageCredential).outerjoin(
        Backup, Backup.id == StorageCredential.backup_id).where(
            sa.or_(of_backup, of_schedule)).limit(limit)
    return list(context.session.execute(query).scalars())
