"""SQL of restores: created by the API, moved by the worker.

As for backups, every state change is one conditional UPDATE naming the
statuses it may leave from (and the run it is about), and the instance's
lock (instance_locks) is taken with the row and given back in the
statement's transaction when the restore stops running.
"""

from oslo_utils import timeutils
import sqlalchemy as sa

from trove_backup_ext.db import api as db_api
from trove_backup_ext.db import backups as backups_db
from trove_backup_ext.db import instance_locks
from trove_backup_ext.db import keyset
from trove_backup_ext.db import models
from trove_backup_ext import exception
from trove_backup_ext import states

Backup = models.Backup
Restore = models.Restore


def create(context, values):
    """Insert a NEW restore of a COMPLETED backup, taking the lock of
    the target instance; 422 if the instance is busy or the backup can
    no longer be restored (it is being deleted, say)."""
    try:
        return _insert(context, values)
    except instance_locks.InstanceBusy:
        raise instance_locks.not_available(context, values['instance_id'])


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def _insert(context, values):
    session = context.session
    backups_db.write_first(session)
    # Locked: a delete of the backup waits for this insert, then sees
    # the restore and refuses (see backups_db.request_delete).
    backup = session.execute(
        sa.select(Backup).where(Backup.id == values['backup_id'])
        .with_for_update()).scalar_one_or_none()
    if backup is None:
        raise exception.BackupNotFound(uuid=values['backup_id'])
    if backup.status != states.COMPLETED or backup.delete_requested_at:
        raise exception.BackupNotRestorable(
            backup_id=backup.id,
            reason='it is being deleted' if backup.delete_requested_at
            else 'its status is %s; only a COMPLETED backup can be '
                 'restored' % backup.status)
    now = timeutils.utcnow()
    restore = Restore(status=states.NEW, created=now, updated=now,
                      **values)
    session.add(restore)
    session.flush()
    instance_locks.take(session, values['instance_id'], 'restore',
                        restore.id)
    return restore


@db_api.context_manager.writer
def undo_create(context, restore_id):
    """Remove a NEW restore whose cast failed, and free its instance."""
    session = context.session
    instance_locks.release(session, restore_id)
    session.execute(sa.delete(Restore).where(Restore.id == restore_id,
                                             Restore.status == states.NEW))


def _visible(stmt, project_id):
    return stmt if project_id is None else stmt.where(
        Restore.project_id == project_id)


@db_api.context_manager.reader
def get(context, restore_id, project_id=None):
    """The restore; project_id None means any project (admins)."""
    restore = context.session.execute(
        _visible(sa.select(Restore).where(Restore.id == restore_id),
                 project_id)).scalar_one_or_none()
    if restore is None:
        raise exception.RestoreNotFound(uuid=restore_id)
    return restore


@db_api.context_manager.reader
def find(context, restore_id):
    """The restore row, whatever its project, or None (the worker)."""
    return context.session.get(Restore, restore_id)


@db_api.context_manager.reader
def list_page(context, limit, project_id=None, instance_id=None,
              backup_id=None, after=None):
    """Up to limit restores, newest first, after the (created, id)
    given; project_id None lists every project (admins)."""
    stmt = _visible(sa.select(Restore), project_id)
    if instance_id is not None:
        stmt = stmt.where(Restore.instance_id == instance_id)
    if backup_id is not None:
        stmt = stmt.where(Restore.backup_id == backup_id)
    return keyset.newest_first_page(context.session, stmt, Restore, limit,
                                    after)


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def claim(context, restore_id, attempt_id):
    """Make attempt_id the one run of a NEW restore (see
    lifecycle.claim)."""
    return context.session.execute(
        sa.update(Restore)
        .where(Restore.id == restore_id, Restore.status == states.NEW,
               Restore.attempt_id.is_(None))
        .values(attempt_id=attempt_id, updated=timeutils.utcnow())
    ).rowcount == 1


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def transition(context, restore_id, from_statuses, to_status,
               instance_id=None, attempt_id=None, updated_before=None,
               **fields):
    """Move the restore to to_status if it is in from_statuses (and, if
    given, restores into instance_id as attempt_id). Returns whether it
    moved. Leaving the running statuses frees the instance."""
    now = timeutils.utcnow()
    values = dict(fields, status=to_status, updated=now)
    if to_status == states.RESTORING:
        values['started'] = sa.func.coalesce(Restore.started, now)
    if to_status not in states.RESTORE_RUNNING:
        values.update(finished=now, progress=None)
    stmt = (sa.update(Restore)
            .where(Restore.id == restore_id,
                   Restore.status.in_(list(from_statuses)))
            .values(**values))
    if instance_id is not None:
        stmt = stmt.where(Restore.instance_id == instance_id)
    if attempt_id is not None:
        stmt = stmt.where(Restore.attempt_id == attempt_id)
    if updated_before is not None:
        stmt = stmt.where(Restore.updated < updated_before)
    moved = context.session.execute(stmt).rowcount == 1
    if moved and to_status not in states.RESTORE_RUNNING:
        instance_locks.release(context.session, restore_id)
    return moved


@db_api.context_manager.reader
def stuck(context, updated_before, limit=100):
    """Running restores that have not moved since updated_before."""
    return list(context.session.execute(
        sa.select(Restore)
        .where(Restore.status.in_(list(states.RESTORE_RUNNING)),
               Restore.updated < updated_before)
        .order_by(Restore.updated).limit(limit)).scalars())


@db_api.context_manager.reader
def running_of_backups(context, backup_ids):
    """Ids of the running restores of any of backup_ids."""
    return list(context.session.execute(
        sa.select(Restore.id).where(
            Restore.backup_id.in_(list(backup_ids)),
            Restore.status.in_(list(states.RESTORE_RUNNING)))).scalars())
