"""How a backup schedule and its retention preview are shown."""

import datetime

from trove_backup_ext.services import backup_schedules

_TIME_FORMAT = '%Y-%m-%dT%H:%M:%S'   # naive UTC, as every time of the API


def _time(value):
    return value.strftime(_TIME_FORMAT) if value else None


def schedule_view(schedule):
    """The API's dict of a schedule row: every field, always."""
    return {
        'id': schedule.id,
        'name': schedule.name,
        'description': schedule.description,
        'instance_id': schedule.instance_id,
        'project_id': schedule.project_id,
        'full_cron': schedule.full_cron,
        'incremental_cron': schedule.incremental_cron,
        'timezone': schedule.timezone,
        'retention': {key: getattr(schedule, key)
                      for key in backup_schedules.RETENTION_KEYS},
        'enabled': schedule.enabled,
        'next_run': _time(schedule.next_run),
        'last_run': ({'time': _time(schedule.last_run_time),
                      'backup_id': schedule.last_run_backup_id,
                      'status': schedule.last_run_status}
                     if schedule.last_run_time else None),
        'last_success': _time(schedule.last_success),
        'consecutive_failures': schedule.consecutive_failures,
        'created': _time(schedule.created),
        'updated': _time(schedule.updated),
    }


def preview_item_view(item):
    """One backup of a retention preview: the retention service's dict
    (backup_id, rule, ...) with its times in the API's format."""
    if not isinstance(item, dict):
        item = item.as_dict()
    return {key: _time(value) if isinstance(value, datetime.datetime)
            else value for key, value in item.items()}
