"""Which backup schedules are failing: no success for twice their period.

Read by trove-backup-status (upgrade_checks.py) and by an admin summary;
a schedule is overdue once two of its slots (full or incremental) have
passed since its last success, so an hourly incremental schedule is
overdue after two hours without a COMPLETED backup, a nightly full one
after two days, a Monday-to-Friday one on Tuesday (not on Sunday). A
schedule that never succeeded counts from its creation. Its period, shown,
is the gap between its next two slots.
"""

from oslo_utils import timeutils

from trove_backup_ext.db import backup_schedules as schedules_db
from trove_backup_ext.services import schedule_times

_PAGE = 1000


def period(schedule, now):
    """The time between the schedule's next two slots after now."""
    first, _ = schedule_times.next_schedule_slot(
        schedule.full_cron, schedule.incremental_cron, schedule.timezone,
        now)
    second, _ = schedule_times.next_schedule_slot(
        schedule.full_cron, schedule.incremental_cron, schedule.timezone,
        first)
    return second - first


def slot_after(schedule, start, count):
    """The count-th slot of the schedule after start."""
    slot = start
    for _ in range(count):
        slot, _ = schedule_times.next_schedule_slot(
            schedule.full_cron, schedule.incremental_cron,
            schedule.timezone, slot)
    return slot


def enabled_schedules(context):
    """Every enabled schedule, page by page (keyset)."""
    after = None
    while True:
        page = schedules_db.list_page(context, _PAGE, enabled=True,
                                      after=after)
        yield from page
        if len(page) < _PAGE:
            return
        after = (page[-1].created, page[-1].id)


def overdue(context, now=None, factor=2):
    """[{schedule_id, name, project_id, instance_id, last_success,
    consecutive_failures, last_run_status, period_seconds,
    seconds_since_success}] of the enabled schedules with no success for
    factor times their period, longest overdue first."""
    now = now or timeutils.utcnow()
    found = []
    for schedule in enabled_schedules(context):
        start = schedule.last_success or schedule.created
        try:
            gap = period(schedule, now)
            due = slot_after(schedule, start, factor)
        except Exception:  # nosec B112
            continue    # A cron the API refused cannot be stored; be safe.
        since = now - start
        # factor slots passed since the last success, none succeeded:
        # for evenly spaced slots the same as "since > factor * gap",
        # and no false alarm where they are not (a weekend without
        # slots, a night of two close ones).
        if now > due:
            found.append({
                'schedule_id': schedule.id, 'name': schedule.name,
                'project_id': schedule.project_id,
                'instance_id': schedule.instance_id,
                'last_success': schedule.last_success,
                'consecutive_failures': schedule.consecutive_failures,
                'last_run_status': schedule.last_run_status,
                'period_seconds': int(gap.total_seconds()),
                'seconds_since_success': int(since.total_seconds())})
    found.sort(key=lambda item: item['seconds_since_success'], reverse=True)
    return found


def summary(context, now=None, limit=None):
    """The admin summary: counts and the overdue schedules, longest
    overdue first; with limit, only the first limit of them (the API's
    answer stays bounded; overdue_count counts them all)."""
    now = now or timeutils.utcnow()
    late = overdue(context, now)
    shown = late if limit is None else late[:limit]
    return {'checked_at': now.strftime('%Y-%m-%dT%H:%M:%S'),
            'enabled_schedules': sum(1 for _ in enabled_schedules(context)),
            'overdue_count': len(late),
            'overdue': [dict(item, last_success=(
                item['last_success'].strftime('%Y-%m-%dT%H:%M:%S')
                if item['last_success'] else None)) for item in shown]}
