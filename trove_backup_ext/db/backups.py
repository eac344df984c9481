"""SQL of the backups table and of the project usage counter.

The rules that must hold under parallel requests live here as single
statements the database enforces: the quota is one conditional UPDATE of the
project's counter, "one running backup per instance" is a unique column.
"""

from oslo_db import exception as db_exc
from oslo_utils import timeutils
import sqlalchemy as sa

from trove_backup_ext.db import api as db_api
from trove_backup_ext.db import instance_locks
from trove_backup_ext.db import keyset
from trove_backup_ext.db import models
from trove_backup_ext import exception
from trove_backup_ext import states

Backup = models.Backup
ProjectUsage = models.ProjectUsage


def create(context, values, parent_id=None, incremental=False,
           quota_limit=-1):
    """Insert a NEW backup counted against its project's quota.

    The parent is parent_id, or with incremental the instance's newest
    COMPLETED backup; the backup is full when there is none.
    """
    _ensure_usage_row(context, values['project_id'])
    try:
        return _insert(context, values, parent_id, incremental, quota_limit)
    except instance_locks.InstanceBusy:
        raise instance_locks.not_available(context, values['instance_id'])


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def _insert(context, values, parent_id, incremental, quota_limit):
    session = context.session
    # The counter row is locked first: creates of one project queue here,
    # always in the same order, so they cannot deadlock on what follows.
    _count_one_more(session, values['project_id'], quota_limit)
    if values.get('credential_schedule_id'):
        _schedule_still_there(session, values['credential_schedule_id'])
    if parent_id:
        parent = _usable_parent(session, parent_id, values)
    elif incremental:
        parent = _last_completed(session, values)
    else:
        parent = None
    now = timeutils.utcnow()
    backup = Backup(parent_id=parent.id if parent else None,
                    backup_type=(states.INCREMENTAL if parent
                                 else states.FULL),
                    status=states.NEW,
                    running_instance_id=values['instance_id'],
                    created=now, updated=now, **values)
    session.add(backup)
    try:
        session.flush()
    except db_exc.DBDuplicateEntry:
        raise instance_locks.InstanceBusy(values['instance_id'])
    instance_locks.take(session, values['instance_id'], 'backup', backup.id)
    return backup


def _count_one_more(session, project_id, limit):
    stmt = (sa.update(ProjectUsage)
            .where(ProjectUsage.project_id == project_id)
            .values(backups=ProjectUsage.backups + 1))
    if limit >= 0:
        stmt = stmt.where(ProjectUsage.backups < limit)
    if session.execute(stmt).rowcount != 1:
        raise exception.QuotaExceeded(project_id=project_id, limit=limit)


def count_one_less(session, project_id, count=1):
    session.execute(sa.update(ProjectUsage)
                    .where(ProjectUsage.project_id == project_id)
                    .values(backups=ProjectUsage.backups - count))


def _ensure_usage_row(context, project_id):
    if _usage_row_exists(context, project_id):
        return
    try:
        _insert_usage_row(context, project_id)
    except db_exc.DBDuplicateEntry:
        pass    # A parallel create of the same project made it first.


@db_api.context_manager.reader
def _usage_row_exists(context, project_id):
    return context.session.get(ProjectUsage, project_id) is not None


@db_api.context_manager.writer
def _insert_usage_row(context, project_id):
    context.session.add(ProjectUsage(project_id=project_id, backups=0))


@db_api.context_manager.reader
def usage(context, project_id):
    """How many backups the project holds now."""
    row = context.session.get(ProjectUsage, project_id)
    return row.backups if row else 0


def _restored_at(session, instance_id):
    """When the instance's data was last replaced by a restore, or None.

    A backup taken before that holds other data than the instance now:
    an incremental on it would store the difference from data the
    instance no longer has (MariaDB's LSNs even go back), and its chain
    could not be restored.
    """
    return session.execute(
        sa.select(sa.func.max(models.Restore.finished))
        .where(models.Restore.instance_id == instance_id,
               models.Restore.status == states.COMPLETED)).scalar()


def _usable_parent(session, parent_id, values):
    parent = session.execute(
        sa.select(Backup).where(Backup.id == parent_id).with_for_update()
    ).scalar_one_or_none()
    if parent is None or parent.project_id != values['project_id']:
        raise exception.BackupNotFound(uuid=parent_id)
    restored_at = _restored_at(session, values['instance_id'])
    if restored_at is not None and parent.created <= restored_at:
        raise exception.ParentNotUsable(
            parent_id=parent_id,
            reason='instance %s was restored after it was taken, so its '
                   'data is no longer what the backup holds; take a full '
                   'backup.' % values['instance_id'])
    if parent.instance_id != values['instance_id']:
        raise exception.ParentNotUsable(
            parent_id=parent_id,
            reason='it is a backup of instance %s, not of instance %s.' % (
                parent.instance_id, values['instance_id']))
    if parent.status != states.COMPLETED:
        raise exception.ParentNotUsable(
            parent_id=parent_id,
            reason='its status is %s; only a COMPLETED backup can be a '
                   'parent.' % parent.status)
    if parent.delete_requested_at is not None:
        raise exception.ParentNotUsable(parent_id=parent_id,
                                        reason='it is being deleted.')
    return parent


def _schedule_still_there(session, schedule_id):
    """Lock the schedule whose storage credentials the new backup uses:
    once its row is deleted, no backup takes them up any more, so they
    can be revoked when its last backup goes (storage_credentials.py)."""
    if session.execute(
            sa.select(models.BackupSchedule.id)
            .where(models.BackupSchedule.id == schedule_id)
            .with_for_update()).scalar_one_or_none() is None:
        raise exception.BackupScheduleNotFound(uuid=schedule_id)


def _last_completed(session, values):
    """The newest COMPLETED backup of the instance taken since its last
    restore (see _restored_at): none makes the backup a full one. A
    backup made with a schedule's storage credentials chains only to
    that schedule's backups: the only ones those credentials read."""
    stmt = (sa.select(Backup)
            .where(Backup.instance_id == values['instance_id'],
                   Backup.project_id == values['project_id'],
                   Backup.status == states.COMPLETED,
                   Backup.delete_requested_at.is_(None)))
    if values.get('credential_schedule_id'):
        stmt = stmt.where(Backup.credential_schedule_id ==
                          values['credential_schedule_id'])
    restored_at = _restored_at(session, values['instance_id'])
    if restored_at is not None:
        stmt = stmt.where(Backup.created > restored_at)
    return session.execute(
        stmt.order_by(Backup.created.desc(), Backup.id.desc())
        .limit(1).with_for_update()).scalar_one_or_none()


def write_first(session):
    """On SQLite, take the database's write lock before the first read.

    oslo.db begins SQLite transactions DEFERRED: one that reads and then
    writes holds a shared lock, and its first write fails at once with
    "database is locked" (500) when another writer got in between. A
    write that changes nothing, first, makes it wait its turn instead.
    MySQL and PostgreSQL lock the rows read with FOR UPDATE.
    """
    if session.get_bind().dialect.name == 'sqlite':
        session.execute(sa.update(Backup).where(sa.false())
                        .values(updated=Backup.updated))


@db_api.context_manager.writer
def undo_create(context, backup_id):
    """Remove a NEW backup whose cast failed, and give back its quota."""
    session = context.session
    write_first(session)
    backup = session.get(Backup, backup_id)
    if backup is None:
        return
    instance_locks.release(session, backup_id)
    session.delete(backup)
    count_one_less(session, backup.project_id)


def _visible(stmt, project_id):
    return stmt if project_id is None else stmt.where(
        Backup.project_id == project_id)


@db_api.context_manager.reader
def get(context, backup_id, project_id=None):
    """The backup; project_id None means any project (admins)."""
    backup = context.session.execute(
        _visible(sa.select(Backup).where(Backup.id == backup_id),
                 project_id)).scalar_one_or_none()
    if backup is None:
        raise exception.BackupNotFound(uuid=backup_id)
    return backup


@db_api.context_manager.reader
def list_page(context, limit, project_id=None, instance_id=None,
              datastore=None, after=None):
    """Up to limit backups, newest first, after the (created, id) given.

    project_id None lists every project (admins with all_projects).
    """
    stmt = _visible(sa.select(Backup), project_id)
    if instance_id is not None:
        stmt = stmt.where(Backup.instance_id == instance_id)
    if datastore is not None:
        stmt = stmt.where(Backup.datastore == datastore)
    return keyset.newest_first_page(context.session, stmt, Backup, limit,
                                    after)


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def request_delete(context, backup_id, project_id, running_expired_before):
    """Mark a backup and all its incremental descendants for deletion.

    Refuses while any of them is running, unless it started before
    running_expired_before. Returns the (ids newly marked, the mark) so a
    failed cast can undo exactly this request's marks.
    """
    session = context.session
    write_first(session)
    backup = session.execute(
        _visible(sa.select(Backup).where(Backup.id == backup_id),
                 project_id).with_for_update()).scalar_one_or_none()
    if backup is None:
        raise exception.BackupNotFound(uuid=backup_id)
    tree = [backup] + _descendants(session, backup.id)
    for member in tree:
        if (member.status in states.RUNNING and
                member.created > running_expired_before):
            if member is backup:
                raise exception.BackupRunning(backup_id=backup_id)
            raise exception.ChildBackupRunning(backup_id=backup_id,
                                               child_id=member.id)
    # A restore reads its backup's objects (and its parents'): they stay
    # while it runs. Its insert locked the backup row as this did.
    restoring = session.execute(
        sa.select(models.Restore.id)
        .where(models.Restore.backup_id.in_([m.id for m in tree]),
               models.Restore.status.in_(list(states.RESTORE_RUNNING)))
        .limit(1)).scalar_one_or_none()
    if restoring is not None:
        raise exception.BackupBeingRestored(backup_id=backup_id,
                                            restore_id=restoring)
    mark = timeutils.utcnow()
    marked = [m.id for m in tree if m.delete_requested_at is None]
    for member in tree:
        if member.delete_requested_at is None:
            member.delete_requested_at = mark
            member.updated = mark
    return marked, mark


def _descendants(session, backup_id):
    found, frontier = [], [backup_id]
    while frontier:
        children = list(session.execute(
            sa.select(Backup).where(Backup.parent_id.in_(frontier))
            .with_for_update()).scalars())
        found.extend(children)
        frontier = [child.id for child in children]
    return found


@db_api.context_manager.writer
def undo_delete_request(context, backup_ids, mark):
    """Clear the delete marks a failed delete request set."""
    if not backup_ids:
        return
    context.session.execute(
        sa.update(Backup)
        .where(Backup.id.in_(backup_ids),
               Backup.delete_requested_at == mark)
        .values(delete_requested_at=None))
