"""JSON Schemas of the response bodies, for the OpenAPI document.

The API never validates its answers with these: views.py and its siblings
build them. The OpenAPI document (api/openapi.py) publishes them and its
tests check every answer of the live app against them, so a field a view
adds, drops or changes is caught there.
"""

from trove_backup_ext.api.schemas import backups

# As views.api_time writes them: naive UTC, no "Z".
TIME = {'type': 'string', 'pattern': backups.full_match(
    '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}')}
NULLABLE_TIME = dict(TIME, type=['string', 'null'])
STRING = {'type': 'string'}
NULLABLE_STRING = {'type': ['string', 'null']}
NULLABLE_INTEGER = {'type': ['integer', 'null']}


def _object(properties, nullable=False, closed=True, optional=()):
    """An object with every one of properties but the optional ones,
    always (and, closed, no other)."""
    schema = {'type': ['object', 'null'] if nullable else 'object',
              'properties': properties,
              'required': sorted(set(properties) - set(optional))}
    if closed:
        schema['additionalProperties'] = False
    return schema


def _wrapped(key, schema):
    return _object({key: schema})


LINKS = {'type': 'array', 'items': _object({'rel': STRING, 'href': STRING})}

PROGRESS = _object({
    'bytes_done': NULLABLE_INTEGER,
    'bytes_total': NULLABLE_INTEGER,
    'percent': {'type': ['number', 'null']},
    'rate': {'type': ['number', 'null']},
}, nullable=True)

DATASTORE = _object({'type': NULLABLE_STRING, 'version': NULLABLE_STRING,
                     'version_id': NULLABLE_STRING})

BACKUP = _object({
    'id': STRING,
    'name': STRING,
    'description': NULLABLE_STRING,
    'locationRef': NULLABLE_STRING,
    'instance_id': NULLABLE_STRING,
    'created': TIME,
    'updated': TIME,
    'size': {'type': ['number', 'null']},
    'status': {'enum': ['NEW', 'BUILDING', 'SAVING', 'COMPLETED', 'FAILED',
                        'DELETE_FAILED', 'RESTORED']},
    'parent_id': NULLABLE_STRING,
    'progress': PROGRESS,
    'verification': _object({
        'status': {'enum': ['RUNNING', 'PASSED', 'FAILED']},
        'checked': NULLABLE_TIME,
        'details': {'type': ['object', 'array', 'string', 'null']},
    }, nullable=True),
    'project_id': STRING,
    'storage_driver': NULLABLE_STRING,
    'datastore': DATASTORE,
    'fault': _object({'message': STRING, 'created': NULLABLE_TIME},
                     nullable=True),
}, optional=('fault',))

RESTORE = _object({
    'id': STRING,
    'backup_id': NULLABLE_STRING,
    'instance_id': STRING,
    'source_instance_id': NULLABLE_STRING,
    'project_id': STRING,
    'restore_point': NULLABLE_STRING,
    'status': {'enum': ['NEW', 'RESTORING', 'COMPLETED', 'FAILED']},
    'progress': PROGRESS,
    'fault': _object({'message': STRING, 'created': NULLABLE_TIME},
                     nullable=True),
    'created': TIME,
    'updated': TIME,
    'started': NULLABLE_TIME,
    'finished': NULLABLE_TIME,
})

SCHEDULE = _object({
    'id': STRING,
    'name': STRING,
    'description': NULLABLE_STRING,
    'instance_id': STRING,
    'project_id': STRING,
    'full_cron': STRING,
    'incremental_cron': NULLABLE_STRING,
    'timezone': STRING,
    'retention': _object({key: NULLABLE_INTEGER for key in (
        'keep_last', 'keep_daily', 'keep_weekly', 'keep_monthly',
        'keep_yearly', 'max_age_days')}),
    'enabled': {'type': 'boolean'},
    'next_run': NULLABLE_TIME,
    'last_run': _object({'time': TIME, 'backup_id': NULLABLE_STRING,
                         'status': NULLABLE_STRING}, nullable=True),
    'last_success': NULLABLE_TIME,
    'consecutive_failures': {'type': 'integer'},
    'created': TIME,
    'updated': TIME,
})

RETENTION_PREVIEW_ITEM = {
    'type': 'object',
    'properties': {'backup_id': STRING, 'action': STRING, 'rule': STRING,
                   'rules': {'type': 'array', 'items': STRING}},
    'required': ['backup_id', 'action'],
}

SCHEDULES_HEALTH = _object({
    'checked_at': TIME,
    'enabled_schedules': {'type': 'integer'},
    'overdue_count': {'type': 'integer'},
    'overdue': {'type': 'array', 'items': {
        'type': 'object', 'required': ['schedule_id', 'project_id']}},
})

INSTANCE = _object({
    'id': STRING,
    'name': NULLABLE_STRING,
    'status': STRING,
    'datastore': DATASTORE,
    'flavor': _object({'id': NULLABLE_STRING, 'links': LINKS}),
    'created': NULLABLE_TIME,
    'tenant_id': STRING,
    'links': LINKS,
})

STRATEGY = _object({'project_id': STRING, 'instance_id': STRING,
                    'backend': STRING, 'swift_container': STRING})

VERSION = {'type': 'object', 'required': ['id', 'status', 'links']}


def page(key, item):
    """A list answer: its items and, when another page follows, links."""
    return {'type': 'object',
            'properties': {key: {'type': 'array', 'items': item},
                           'links': LINKS},
            'required': [key], 'additionalProperties': False}


# The bodies of successful answers, by name (components/schemas).
BODIES = {
    'Backup': _wrapped('backup', BACKUP),
    'BackupList': page('backups', BACKUP),
    'Restore': _wrapped('restore', RESTORE),
    'RestoreList': page('restores', RESTORE),
    'BackupSchedule': _wrapped('backup_schedule', SCHEDULE),
    'BackupScheduleList': page('backup_schedules', SCHEDULE),
    'RetentionPreview': _wrapped('retention_preview', {
        'type': 'array', 'items': RETENTION_PREVIEW_ITEM}),
    'SchedulesHealth': _wrapped('schedules_health', SCHEDULES_HEALTH),
    'Instance': _wrapped('instance', INSTANCE),
    'InstanceList': page('instances', INSTANCE),
    'BackupStrategy': _wrapped('backup_strategy', STRATEGY),
    'BackupStrategyList': _wrapped('backup_strategies', {
        'type': 'array', 'items': STRATEGY}),
    'Version': _wrapped('version', VERSION),
    'Versions': _wrapped('versions', {'type': 'array', 'items': VERSION}),
}


def fault(name):
    """Trove's fault body of one fault name (faults.py)."""
    return _object({name: _object({
        'code': {'type': 'integer'}, 'message': STRING}, closed=False)})
