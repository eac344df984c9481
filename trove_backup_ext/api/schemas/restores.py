"""JSON Schemas of the restores requests."""

from trove_backup_ext.api.schemas import backups as backup_schemas

uuid = backup_schemas.uuid

create_request_body = {
    'type': 'object',
    'properties': {
        'restore': {
            'type': 'object',
            'properties': {
                'backup_id': uuid,
                'instance_id': uuid,
            },
            'required': ['backup_id', 'instance_id'],
            'additionalProperties': False,
        },
    },
    'required': ['restore'],
    'additionalProperties': False,
}

# POST /backups/{id}/restore: the backup is in the path.
backup_restore_request_body = {
    'type': 'object',
    'properties': {
        'restore': {
            'type': 'object',
            'properties': {'instance_id': uuid},
            'required': ['instance_id'],
            'additionalProperties': False,
        },
    },
    'required': ['restore'],
    'additionalProperties': False,
}

list_request_query = {
    'type': 'object',
    'properties': {
        'limit': backup_schemas.list_request_query['properties']['limit'],
        'marker': {'type': 'string', 'minLength': 1, 'maxLength': 256},
        'instance_id': uuid,
        'backup_id': uuid,
        'all_projects': backup_schemas.list_request_query[
            'properties']['all_projects'],
        'project_id': {'type': 'string', 'minLength': 1, 'maxLength': 255},
    },
    'additionalProperties': False,
}
