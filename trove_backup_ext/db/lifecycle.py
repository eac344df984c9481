"""SQL of a backup's life after the API: the worker's state changes.

Each change is one conditional UPDATE naming the statuses it may leave
from, so an agent's report, the reaper and a delete can never overwrite
each other's outcome: whoever loses the race changes nothing and is told.
"""

import datetime

from oslo_utils import timeutils
import sqlalchemy as sa
from sqlalchemy import orm

from trove_backup_ext.db import api as db_api
from trove_backup_ext.db import backups as backups_db
from trove_backup_ext.db import instance_locks
from trove_backup_ext.db import models
from trove_backup_ext import states

Backup = models.Backup


@db_api.context_manager.reader
def get(context, backup_id):
    """The backup row, whatever its project, or None."""
    return context.session.get(Backup, backup_id)


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def claim(context, backup_id, attempt_id):
    """Make attempt_id the one run of a NEW backup. False if the backup
    is gone, being deleted, no longer NEW or already claimed: a second
    delivery of the same create cast then does nothing."""
    stmt = (sa.update(Backup)
            .where(Backup.id == backup_id,
                   Backup.status == states.NEW,
                   Backup.attempt_id.is_(None),
                   Backup.delete_requested_at.is_(None))
            .values(attempt_id=attempt_id, updated=timeutils.utcnow()))
    return context.session.execute(stmt).rowcount == 1


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def transition(context, backup_id, from_statuses, to_status,
               instance_id=None, attempt_id=None, updated_before=None,
               **fields):
    """Move the backup to to_status if it is in from_statuses (and, if
    given, belongs to instance_id, runs as attempt_id, and was last
    updated before updated_before) and is not being deleted. Returns
    whether it moved. Leaving the running statuses frees the instance for
    its next backup."""
    values = dict(fields, status=to_status, updated=timeutils.utcnow())
    if to_status not in states.RUNNING:
        values.update(running_instance_id=None, progress=None)
    stmt = (sa.update(Backup)
            .where(Backup.id == backup_id,
                   Backup.status.in_(list(from_statuses)),
                   Backup.delete_requested_at.is_(None))
            .values(**values))
    if instance_id is not None:
        stmt = stmt.where(Backup.instance_id == instance_id)
    if attempt_id is not None:
        stmt = stmt.where(Backup.attempt_id == attempt_id)
    if updated_before is not None:
        stmt = stmt.where(Backup.updated < updated_before)
    moved = context.session.execute(stmt).rowcount == 1
    if moved and to_status not in states.RUNNING:
        instance_locks.release(context.session, backup_id)
    return moved


@db_api.context_manager.reader
def stuck(context, updated_before, limit=100):
    """Running backups that have not moved since updated_before."""
    return list(context.session.execute(
        sa.select(Backup)
        .where(Backup.status.in_(list(states.RUNNING)),
               Backup.delete_requested_at.is_(None),
               Backup.updated < updated_before)
        .order_by(Backup.updated).limit(limit)).scalars())


@db_api.context_manager.reader
def pending_deletes(context, attempted_before, now=None, backoff=None,
                    refusals_limit=0, limit=100):
    """Backups marked for deletion and due for another attempt: a lost
    delete cast (no attempt since attempted_before), or a DELETE_FAILED
    whose wait is over by now. backoff: [(failures, seconds), ...], the
    wait after that many failures in a row (the last: and more); default:
    due at once. Never one refused refusals_limit times in a row (if not
    0). Leaves only: a parent goes after its children, whose own retries
    (and their back-off) lead the way."""
    now = now or timeutils.utcnow()
    steps = backoff or [(1, 0)]

    def waited(seconds):
        return Backup.updated <= now - datetime.timedelta(seconds=seconds)
    waits = [Backup.delete_failures <= 0]
    waits += [sa.and_(Backup.delete_failures == failures, waited(seconds))
              for failures, seconds in steps[:-1]]
    failures, seconds = steps[-1]
    waits.append(sa.and_(Backup.delete_failures >= failures,
                         waited(seconds)))
    failed_due = sa.and_(Backup.status == states.DELETE_FAILED,
                         sa.or_(*waits))
    if refusals_limit:
        failed_due = sa.and_(failed_due,
                             Backup.delete_refusals < refusals_limit)
    child = orm.aliased(Backup)
    return list(context.session.execute(
        sa.select(Backup)
        .where(Backup.delete_requested_at.is_not(None),
               sa.or_(sa.and_(Backup.status != states.DELETE_FAILED,
                              Backup.updated < attempted_before),
                      failed_due),
               ~sa.exists().where(child.parent_id == Backup.id))
        .order_by(Backup.updated).limit(limit)).scalars())


@db_api.context_manager.reader
def delete_order(context, backup_id):
    """The backup and its descendants marked for deletion, children
    before their parents."""
    order, frontier = [], [backup_id]
    while frontier:
        rows = list(context.session.execute(
            sa.select(Backup).where(Backup.id.in_(frontier),
                                    Backup.delete_requested_at.is_not(None))
        ).scalars())
        order.extend(rows)
        frontier = list(context.session.execute(
            sa.select(Backup.id).where(Backup.parent_id.in_(
                [row.id for row in rows]))).scalars())
    return list(reversed(order))


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def remove(context, backup_id):
    """Delete the row of a backup whose objects are gone, and give its
    quota back. False if it still has children or is not marked."""
    session = context.session
    backups_db.write_first(session)
    backup = session.execute(
        sa.select(Backup).where(Backup.id == backup_id,
                                Backup.delete_requested_at.is_not(None))
        .with_for_update()).scalar_one_or_none()
    if backup is None:
        return False
    if session.execute(sa.select(sa.func.count()).select_from(Backup)
                       .where(Backup.parent_id == backup_id)).scalar():
        return False
    instance_locks.release(session, backup_id)
    session.delete(backup)
    session.flush()
    backups_db.count_one_less(session, backup.project_id)
    return True


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def mark_delete_failed(context, backup_id, reason, refused=False,
                       decide=None):
    """Storage refused: the row stays, visibly DELETE_FAILED, to retry.

    Counts the failure (and, if refused, the refusal of the backup's
    credential) in a row; decide(failures, refusals, reason) gives (when
    it is retried, None if no more; the reason to keep), default: at the
    next pass. Returns that pair, or None if the row is gone."""
    session = context.session
    backups_db.write_first(session)
    backup = session.execute(
        sa.select(Backup).where(Backup.id == backup_id)
        .with_for_update()).scalar_one_or_none()
    if backup is None:
        return None
    now = timeutils.utcnow()
    failures = (backup.delete_failures or 0) + 1
    refusals = (backup.delete_refusals or 0) + 1 if refused else 0
    retry_at, reason = (decide(failures, refusals, reason) if decide
                        else (now, reason))
    backup.status = states.DELETE_FAILED
    backup.fail_reason = reason[:1024]
    backup.running_instance_id = None
    backup.delete_failures = failures
    backup.delete_refusals = refusals
    backup.updated = now
    instance_locks.release(session, backup_id)
    return retry_at, reason


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def retry_delete_now(context, backup_id):
    """Re-arm the retries of a DELETE_FAILED backup (an operator's
    reset-status): the reaper tries at its next pass, and the counts
    start again. False if it is not DELETE_FAILED."""
    return context.session.execute(
        sa.update(Backup)
        .where(Backup.id == backup_id,
               Backup.status == states.DELETE_FAILED,
               Backup.delete_requested_at.is_not(None))
        .values(delete_failures=0, delete_refusals=0,
                updated=timeutils.utcnow())).rowcount == 1
