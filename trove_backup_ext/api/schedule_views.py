"""How a backup schedule and its retention preview are shown."""

import datetime

from trove_backup_ext.api import views
from trove_backup_ext.services import backup_schedules


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
        'next_run': views.api_time(schedule.next_run),
        'last_run': ({'time': views.api_time(schedule.last_run_time),
                      'backup_id': schedule.last_run_backup_id,
                      'status': schedule.last_run_status}
                     if schedule.last_run_time else None),
        'last_success': views.api_time(schedule.last_success),
        'consecutive_failures': schedule.consecutive_failures,
        'created': views.api_time(schedule.created),
        'updated': views.api_time(schedule.updated),
    }


def preview_item_view(item):
    """One backup of a retention preview: the retention service's dict
    (backup_id, rule, ...) with its times in the API's format."""
    if not isinstance(item, dict):
        item = item.as_dict()
    return {key: views.api_time(value) if isinstance(value, datetime.datetime)
            else value for key, value in item.items()}
