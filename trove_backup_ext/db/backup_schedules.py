"""SQL of backup schedules and of their runs (one row per fired slot).

The API writes the schedule's definition; the worker's scheduler moves
next_run, takes slots and records what came of them. Each of those writes
is one statement with its precondition in the WHERE clause (or a unique
key), so any number of API servers and workers can run them at once:

- a caller's change is a compare-and-set on ``version``;
- the scheduler moves ``next_run`` with a compare-and-set on its old value;
- a slot fires once: ``claim_slot`` inserts the unique
  (schedule_id, slot) row, and only the worker whose insert succeeds fires.

Every function takes a RequestContext (its ``session`` is the plugin's
enginefacade session; see db/api.py) and returns detached rows whose
columns can be read after the transaction ends. Times are naive UTC.
"""

from oslo_db import exception as db_exc
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from trove_backup_ext.db import api as db_api
from trove_backup_ext.db import keyset
from trove_backup_ext.db import models
from trove_backup_ext import exception

Schedule = models.BackupSchedule
Run = models.BackupScheduleRun

# Run states (backup_schedule_runs.state).
FIRED = 'FIRED'          # the slot's backup was requested (backup_id set)
MISSED = 'MISSED'        # all workers were down past the grace period
SKIPPED = 'SKIPPED'      # still not possible at the end of the grace period
RETRYING = 'RETRYING'    # taken, but not fired yet (the instance was busy)
RUN_STATES = frozenset((FIRED, MISSED, SKIPPED, RETRYING))

FULL = 'full'
INCREMENTAL = 'incremental'

# What a caller may change (PATCH); next_run is recomputed by the caller
# (services/backup_schedules.py) when the times or enabled change.
MUTABLE = frozenset((
    'name', 'description', 'full_cron', 'incremental_cron', 'timezone',
    'keep_last', 'keep_daily', 'keep_weekly', 'keep_monthly',
    'keep_yearly', 'max_age_days', 'enabled', 'next_run'))

# last_run_status values that count as a failure of the schedule.
FAILURE_STATUSES = frozenset(('FAILED', MISSED, SKIPPED))
SUCCESS_STATUS = 'COMPLETED'
OUTCOME_STATUSES = FAILURE_STATUSES | {SUCCESS_STATUS}


class ScheduleChanged(exception.Conflict):
    message = ('Backup schedule %(uuid)s was changed by another request '
               'meanwhile; read it again and retry.')


def _visible(stmt, project_id):
    return stmt if project_id is None else stmt.where(
        Schedule.project_id == project_id)


# The API's functions.

@db_api.retry_on_deadlock
@db_api.context_manager.writer
def create(context, values):
    """Insert a schedule; values holds every column but id, version,
    consecutive_failures, created and updated (id is made if absent).
    Returns the row."""
    now = timeutils.utcnow()
    values = dict(values)
    values.setdefault('id', uuidutils.generate_uuid())
    schedule = Schedule(version=1, consecutive_failures=0, created=now,
                        updated=now, **values)
    context.session.add(schedule)
    context.session.flush()
    return schedule


@db_api.context_manager.reader
def get(context, schedule_id, project_id=None):
    """The schedule; project_id None means any project (admins).
    BackupScheduleNotFound if there is none the caller may see."""
    schedule = context.session.execute(
        _visible(sa.select(Schedule).where(Schedule.id == schedule_id),
                 project_id)).scalar_one_or_none()
    if schedule is None:
        raise exception.BackupScheduleNotFound(uuid=schedule_id)
    return schedule


@db_api.context_manager.reader
def find(context, schedule_id):
    """The schedule row, whatever its project, or None (the worker)."""
    return context.session.get(Schedule, schedule_id)


@db_api.context_manager.reader
def list_page(context, limit, project_id=None, instance_id=None,
              enabled=None, after=None):
    """Up to limit schedules, newest first, after the (created, id) given
    (db/keyset.py); project_id None lists every project."""
    stmt = _visible(sa.select(Schedule), project_id)
    if instance_id is not None:
        stmt = stmt.where(Schedule.instance_id == instance_id)
    if enabled is not None:
        stmt = stmt.where(Schedule.enabled == sa.true() if enabled
                          else Schedule.enabled == sa.false())
    return keyset.newest_first_page(context.session, stmt, Schedule, limit,
                                    after)


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def update(context, schedule_id, expected_version, values,
           project_id=None):
    """Change the columns of values (names from MUTABLE) if the row is
    still at expected_version; bumps version and updated. Returns the
    row as written. BackupScheduleNotFound if it is gone (or not
    project_id's), ScheduleChanged (409) if another change came first."""
    unknown = set(values) - MUTABLE
    if unknown:
        raise ValueError('not mutable: %s' % ', '.join(sorted(unknown)))
    session = context.session
    stmt = (sa.update(Schedule)
            .where(Schedule.id == schedule_id,
                   Schedule.version == expected_version)
            .values(version=Schedule.version + 1,
                    updated=timeutils.utcnow(), **values))
    if project_id is not None:
        stmt = stmt.where(Schedule.project_id == project_id)
    if session.execute(stmt).rowcount != 1:
        current = session.execute(_visible(
            sa.select(Schedule.id).where(Schedule.id == schedule_id),
            project_id)).scalar_one_or_none()
        if current is None:
            raise exception.BackupScheduleNotFound(uuid=schedule_id)
        raise ScheduleChanged(uuid=schedule_id)
    session.expire_all()
    return session.get(Schedule, schedule_id)


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def delete(context, schedule_id, project_id=None):
    """Delete the schedule and its runs (the backups it made stay).
    Schedules are deleted for good, as backups are: there is no soft
    delete. BackupScheduleNotFound if there is none to delete."""
    session = context.session
    session.execute(sa.delete(Run).where(Run.schedule_id == schedule_id))
    deleted = session.execute(_visible(
        sa.delete(Schedule).where(Schedule.id == schedule_id),
        project_id)).rowcount
    if deleted != 1:
        raise exception.BackupScheduleNotFound(uuid=schedule_id)


# The scheduler's functions.

@db_api.context_manager.reader
def due_schedules(context, now, limit=100):
    """Enabled schedules whose next_run <= now, earliest first (ties by
    id), at most limit: one range scan of (enabled, next_run).

    Each row's next_run is the slot to claim; the row's other columns
    tell what to do (full_cron, incremental_cron, timezone: the kind is
    schedule_times.slot_kind(...)). Several workers get the same rows:
    claim_slot decides which one fires.
    """
    return list(context.session.execute(
        sa.select(Schedule)
        .where(Schedule.enabled == sa.true(),
               Schedule.next_run.is_not(None),
               Schedule.next_run <= now)
        .order_by(Schedule.next_run, Schedule.id)
        .limit(limit)).scalars())


def claim_slot(context, schedule_id, slot, kind, state=FIRED, reason=None,
               backup_id=None):
    """Take the (schedule_id, slot) row: the one run of that slot.

    Returns the new BackupScheduleRun (id, schedule_id, slot, kind,
    state, backup_id, reason, created, updated) if this call inserted
    it, or None if the slot was already taken (by this worker earlier or
    by another: a duplicate key) or the schedule no longer exists (a
    foreign key failure). The insert is its own transaction, committed
    when this returns: a worker fires only after it owns the slot.

    kind: FULL or INCREMENTAL. state: FIRED (the caller fires now and
    sets backup_id with update_run, or passes it here), RETRYING (taken,
    to fire later), MISSED or SKIPPED (taken only to record that it did
    not fire; reason says why).
    """
    if state not in RUN_STATES:
        raise ValueError('unknown run state %r' % state)
    if kind not in (FULL, INCREMENTAL):
        raise ValueError('unknown run kind %r' % kind)
    try:
        return _insert_run(context, schedule_id, slot, kind, state,
                           reason, backup_id)
    except (db_exc.DBDuplicateEntry, db_exc.DBReferenceError):
        return None


@db_api.context_manager.writer
def _insert_run(context, schedule_id, slot, kind, state, reason,
                backup_id):
    now = timeutils.utcnow()
    run = Run(id=uuidutils.generate_uuid(), schedule_id=schedule_id,
              slot=slot, kind=kind, state=state, reason=reason,
              backup_id=backup_id, created=now, updated=now)
    context.session.add(run)
    context.session.flush()
    return run


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def update_run(context, run_id, from_states, state, **values):
    """Move a run to state if it is in from_states, setting values
    (backup_id, reason); returns whether it moved. The compare-and-set
    for RETRYING -> FIRED | SKIPPED, and for setting a FIRED run's
    backup_id (from_states=[FIRED], state=FIRED)."""
    if state not in RUN_STATES:
        raise ValueError('unknown run state %r' % state)
    unknown = set(values) - {'backup_id', 'reason'}
    if unknown:
        raise ValueError('not a run field: %s' % ', '.join(sorted(unknown)))
    return context.session.execute(
        sa.update(Run)
        .where(Run.id == run_id, Run.state.in_(list(from_states)))
        .values(state=state, updated=timeutils.utcnow(), **values)
    ).rowcount == 1


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def advance_next_run(context, schedule_id, expected_next_run, new_next_run):
    """Set next_run to new_next_run if it is still expected_next_run and
    the schedule is enabled; returns whether it moved. False means
    another worker advanced it first, or a caller changed or disabled
    the schedule meanwhile (its new next_run stands): not an error.
    Does not touch version or updated (they are the caller's)."""
    return context.session.execute(
        sa.update(Schedule)
        .where(Schedule.id == schedule_id,
               Schedule.enabled == sa.true(),
               Schedule.next_run == expected_next_run)
        .values(next_run=new_next_run)).rowcount == 1


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def record_run_result(context, schedule_id, run_time, status,
                      backup_id=None):
    """Record what came of the run of slot run_time (UTC) on the schedule:
    last_run {time, backup_id, status} in the API's view.

    status: a backup status (NEW or BUILDING: fired, outcome pending;
    COMPLETED; FAILED) or MISSED or SKIPPED. COMPLETED sets last_success
    to run_time and consecutive_failures to 0; FAILED, MISSED and
    SKIPPED add one to consecutive_failures; others change neither.

    Idempotent and order-tolerant (RPC casts come at least once, in any
    order): a result for an older slot than last_run_time, the very
    result already recorded, or any result for the slot of last_run_time
    once an outcome (COMPLETED, FAILED, MISSED, SKIPPED) is recorded for
    it, changes nothing, except that a COMPLETED one still moves
    last_success up to run_time if it is older. Returns whether the row
    changed. Does not touch version or updated.
    """
    values = {'last_run_time': run_time, 'last_run_status': status,
              'last_run_backup_id': backup_id}
    if status == SUCCESS_STATUS:
        values.update(last_success=run_time, consecutive_failures=0)
    elif status in FAILURE_STATUSES:
        values['consecutive_failures'] = Schedule.consecutive_failures + 1
    # The same slot again: only from a pending status to another status
    # (NEW -> BUILDING -> COMPLETED), never back from an outcome.
    same_slot_moves = sa.and_(
        Schedule.last_run_time == run_time,
        Schedule.last_run_status.is_distinct_from(status),
        Schedule.last_run_status.not_in(list(OUTCOME_STATUSES)))
    changed = context.session.execute(
        sa.update(Schedule)
        .where(Schedule.id == schedule_id,
               sa.or_(Schedule.last_run_time.is_(None),
                      Schedule.last_run_time < run_time,
                      same_slot_moves))
        .values(**values)).rowcount == 1
    if status == SUCCESS_STATUS and not changed:
        # An older slot's backup that outlived a later slot (recorded
        # SKIPPED while it ran): last_run stays the later slot's, but
        # the success is the newest one.
        changed = context.session.execute(
            sa.update(Schedule)
            .where(Schedule.id == schedule_id,
                   sa.or_(Schedule.last_success.is_(None),
                          Schedule.last_success < run_time))
            .values(last_success=run_time)).rowcount == 1
    return changed


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def record_fired_after_skip(context, schedule_id, run_time, status,
                            backup_id):
    """The slot of run_time, recorded SKIPPED by one worker while another
    created its backup, did fire: record status (the backup's) instead,
    and take back the failure the skip counted. Changes nothing unless
    SKIPPED is still what is recorded for that slot (a later slot's
    result stands). Returns whether the row changed."""
    values = {'last_run_status': status, 'last_run_backup_id': backup_id,
              'consecutive_failures': sa.case(
                  (Schedule.consecutive_failures > 0,
                   Schedule.consecutive_failures - 1), else_=0)}
    if status == SUCCESS_STATUS:
        values.update(last_success=run_time, consecutive_failures=0)
    elif status in FAILURE_STATUSES:
        values.pop('consecutive_failures')     # One failure, still.
    return context.session.execute(
        sa.update(Schedule)
        .where(Schedule.id == schedule_id,
               Schedule.last_run_time == run_time,
               Schedule.last_run_status == SKIPPED)
        .values(**values)).rowcount == 1


@db_api.context_manager.reader
def get_run(context, run_id):
    """The run, or None."""
    return context.session.get(Run, run_id)


@db_api.context_manager.reader
def run_of_backup(context, backup_id):
    """The run that made backup_id, or None (not a scheduled backup, or
    its schedule was deleted)."""
    return context.session.execute(
        sa.select(Run).where(Run.backup_id == backup_id)
    ).scalars().first()


@db_api.context_manager.reader
def list_runs(context, schedule_id=None, states=None, slot_before=None,
              limit=1000):
    """Runs, oldest slot first, at most limit; filtered by schedule,
    states (an iterable of RUN_STATES) and slot < slot_before."""
    stmt = sa.select(Run)
    if schedule_id is not None:
        stmt = stmt.where(Run.schedule_id == schedule_id)
    if states is not None:
        stmt = stmt.where(Run.state.in_(list(states)))
    if slot_before is not None:
        stmt = stmt.where(Run.slot < slot_before)
    return list(context.session.execute(
        stmt.order_by(Run.slot, Run.id).limit(limit)).scalars())


@db_api.context_manager.reader
def backup_ids_of(context, schedule_id):
    """Ids of the backups the schedule's runs made (the set retention
    works on), oldest slot first. Backups deleted since are included:
    join with the backups table to see which remain."""
    return list(context.session.execute(
        sa.select(Run.backup_id)
        .where(Run.schedule_id == schedule_id, Run.backup_id.is_not(None))
        .order_by(Run.slot, Run.id)).scalars())
