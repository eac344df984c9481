"""JSON Schemas of the instances requests we serve."""

from trove_backup_ext.api.schemas import backups

# GET /instances/{id}/backups: the paging of the backups list, no filters.
backups_request_query = {
    'type': 'object',
    'properties': {
        name: backups.list_request_query['properties'][name]
        for name in ('limit', 'marker')
    },
    'additionalProperties': False,
}
