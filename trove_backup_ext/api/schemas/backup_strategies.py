"""JSON Schemas of the backup strategies requests (Trove's, stricter)."""

from trove_backup_ext.api.schemas import backups

# The same rule as a backup's own swift_container, so a strategy can never
# name a container a backup request would be refused (Trove checks neither
# "/" nor the size here, and its backups then fail on the guest).
swift_container = (backups.create_request_body['properties']['backup']
                   ['properties']['swift_container'])

create_request_body = {
    'type': 'object',
    'properties': {
        'backup_strategy': {
            'type': 'object',
            'properties': {
                'instance_id': backups.uuid,
                'swift_container': swift_container,
            },
            'required': ['swift_container'],
            'additionalProperties': False,
        },
    },
    'required': ['backup_strategy'],
    'additionalProperties': False,
}

# GET and DELETE take the same two filters.
request_query = {
    'type': 'object',
    'properties': {
        'instance_id': backups.uuid,
        'project_id': {'type': 'string', 'minLength': 1, 'maxLength': 255},
    },
    'additionalProperties': False,
}
