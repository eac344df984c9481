"""JSON Schemas of the backup schedules requests.

The crons and the time zone are checked for meaning (five fields that
croniter reads, an IANA zone) by services/schedule_times.py; here only
their type and length.
"""

from trove_backup_ext.api.schemas import backups as backup_schemas

uuid = backup_schemas.uuid
non_empty_string = backup_schemas.non_empty_string

# Bounded so that no value overflows a 32-bit INTEGER column (a 500).
_COUNT_MAX = 100000
_DAYS_MAX = 36500

cron = {'type': 'string', 'minLength': 1, 'maxLength': 255}
nullable_cron = {'type': ['string', 'null'], 'minLength': 1,
                 'maxLength': 255}
timezone = {'type': 'string', 'minLength': 1, 'maxLength': 64}


def _count(maximum):
    return {'type': ['integer', 'null'], 'minimum': 0, 'maximum': maximum,
            'x-message': 'must be an integer from 0 to %d, or null'
                         % maximum}


retention = {
    'type': 'object',
    'properties': {
        'keep_last': _count(_COUNT_MAX),
        'keep_daily': _count(_COUNT_MAX),
        'keep_weekly': _count(_COUNT_MAX),
        'keep_monthly': _count(_COUNT_MAX),
        'keep_yearly': _count(_COUNT_MAX),
        'max_age_days': _count(_DAYS_MAX),
    },
    'additionalProperties': False,
}

_immutable = {'not': {}, 'x-message': 'cannot be changed; create another '
                                      'schedule instead'}

create_request_body = {
    'type': 'object',
    'properties': {
        'backup_schedule': {
            'type': 'object',
            'properties': {
                'name': non_empty_string,
                'description': non_empty_string,
                'instance_id': uuid,
                'full_cron': cron,
                'incremental_cron': nullable_cron,
                'timezone': timezone,
                'retention': retention,
                'enabled': {'type': 'boolean'},
            },
            'required': ['name', 'instance_id', 'full_cron'],
            'additionalProperties': False,
        },
    },
    'required': ['backup_schedule'],
    'additionalProperties': False,
}

# PATCH: a JSON merge patch of the mutable fields; null clears the
# nullable ones (description, incremental_cron, retention or its keys).
update_request_body = {
    'type': 'object',
    'properties': {
        'backup_schedule': {
            'type': 'object',
            'properties': {
                'name': non_empty_string,
                'description': dict(non_empty_string,
                                    type=['string', 'null']),
                'full_cron': cron,
                'incremental_cron': nullable_cron,
                'timezone': timezone,
                'retention': dict(retention, type=['object', 'null']),
                'enabled': {'type': 'boolean'},
                'instance_id': _immutable,
                'project_id': _immutable,
                'id': _immutable,
            },
            'minProperties': 1,
            'additionalProperties': False,
        },
    },
    'required': ['backup_schedule'],
    'additionalProperties': False,
}

list_request_query = {
    'type': 'object',
    'properties': {
        'limit': backup_schemas.list_request_query['properties']['limit'],
        'marker': {'type': 'string', 'minLength': 1, 'maxLength': 256},
        'instance_id': uuid,
        'all_projects': backup_schemas.list_request_query[
            'properties']['all_projects'],
        'project_id': {'type': 'string', 'minLength': 1, 'maxLength': 255},
    },
    'additionalProperties': False,
}

health_request_query = {
    'type': 'object',
    'properties': {
        'limit': backup_schemas.list_request_query['properties']['limit'],
    },
    'additionalProperties': False,
}
