"""JSON Schemas of the instances requests we serve."""

from trove_backup_ext.api.schemas import backups

_LIST = backups.list_request_query['properties']

# GET /instances: paging, the administrators' project filters, and
# python-troveclient's include_clustered (no clusters here: ignored).
list_request_query = {
    'type': 'object',
    'properties': {
        'limit': _LIST['limit'],
        'marker': _LIST['marker'],
        'all_projects': _LIST['all_projects'],
        'project_id': _LIST['project_id'],
        'include_clustered': _LIST['all_projects'],
    },
    'additionalProperties': False,
}

# GET /instances/{id}: nothing to ask.
show_request_query = {
    'type': 'object',
    'properties': {},
    'additionalProperties': False,
}

# GET /instances/{id}/backups: the paging of the backups list, no filters.
backups_request_query = {
    'type': 'object',
    'properties': {
        name: _LIST[name] for name in ('limit', 'marker')
    },
    'additionalProperties': False,
}
