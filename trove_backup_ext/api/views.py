"""How a backup is shown to API callers."""

_TIME_FORMAT = '%Y-%m-%dT%H:%M:%S'   # naive UTC, no "Z": as Trove shows it


def backup_view(backup):
    """The API's dict of a backup row: every field, always."""
    return {
        'id': backup.id,
        'name': backup.name,
        'description': backup.description,
        'locationRef': backup.location,
        'instance_id': backup.instance_id,
        'created': backup.created.strftime(_TIME_FORMAT),
        'updated': backup.updated.strftime(_TIME_FORMAT),
        'size': backup.size,
        'status': backup.status,
        'parent_id': backup.parent_id,
        'project_id': backup.project_id,
        'storage_driver': backup.storage_driver,
        'datastore': {
            'type': backup.datastore,
            'version': backup.datastore_version,
            'version_id': backup.datastore_version_id,
        },
    }
