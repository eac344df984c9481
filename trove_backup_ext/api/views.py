"""How backups and restores are shown to API callers."""

import json

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
        'progress': progress_view(backup.progress),
        'verification': verification_view(backup),
        'fault': fault_view(backup.fail_reason, backup.updated),
        'project_id': backup.project_id,
        'storage_driver': backup.storage_driver,
        'datastore': {
            'type': backup.datastore,
            'version': backup.datastore_version,
            'version_id': backup.datastore_version_id,
        },
    }


def api_time(value):
    """A time as every view of this API shows it, None as None."""
    return value.strftime(_TIME_FORMAT) if value else None


def fault_view(reason, when):
    """{message, created} of what went wrong (a FAILED backup or
    restore, a DELETE_FAILED backup), or None."""
    if not reason:
        return None
    return {'message': reason, 'created': api_time(when)}


def progress_view(progress):
    """{bytes_done, bytes_total, percent, rate} of a running operation
    (the agent's last report, kept as JSON), or None."""
    if not progress:
        return None
    values = json.loads(progress)
    return {key: values.get(key) for key in (
        'bytes_done', 'bytes_total', 'percent', 'rate')}


def verification_view(backup):
    """{status, checked, details} of the backup's last verification, or
    None if it was never verified."""
    if not backup.verification_status:
        return None
    details = backup.verification_details
    if details:
        try:
            details = json.loads(details)
        except ValueError:
            details = {'error': details}
    return {'status': backup.verification_status,
            'checked': api_time(backup.verification_checked),
            'details': details}


def restore_view(restore):
    """The API's dict of a restore row: every field, always."""
    return {
        'id': restore.id,
        'backup_id': restore.backup_id,
        'instance_id': restore.instance_id,
        'source_instance_id': restore.source_instance_id,
        'project_id': restore.project_id,
        'restore_point': (restore.restore_point.strftime(
            _TIME_FORMAT + 'Z') if restore.restore_point else None),
        'status': restore.status,
        'progress': progress_view(restore.progress),
        'fault': fault_view(restore.fail_reason,
                            restore.finished or restore.updated),
        'created': api_time(restore.created),
        'updated': api_time(restore.updated),
        'started': api_time(restore.started),
        'finished': api_time(restore.finished),
    }
