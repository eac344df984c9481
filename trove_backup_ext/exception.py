"""Domain exceptions; each carries the HTTP code and message a client sees."""


class BackupExtError(Exception):
    """Base of every error meant for an API caller.

    ``code`` is the HTTP status the API answers with; the message is shown
    to the caller as is, so it must name the problem and hold no secret.
    """
    code = 500
    message = 'An unknown error occurred.'

    def __init__(self, message=None, **kwargs):
        if message is None:
            message = self.message % kwargs if kwargs else self.message
        super().__init__(message)

    @property
    def msg(self):
        return str(self)


class BadRequest(BackupExtError):
    code = 400
    message = 'Bad request: %(reason)s'


class ValidationError(BadRequest):
    message = 'Validation error: %(reason)s'


class Forbidden(BackupExtError):
    code = 403
    message = 'You are not allowed to do this.'


class PolicyNotAuthorized(Forbidden):
    message = "Policy doesn't allow %(action)s to be performed."


class ProjectMismatch(Forbidden):
    message = ('User with project id %(caller)s cannot access resources of '
               'project %(project)s.')


class NotFound(BackupExtError):
    code = 404
    message = 'Resource %(uuid)s cannot be found.'


class BackupNotFound(NotFound):
    pass


class InstanceNotFound(NotFound):
    pass


class DatastoreNotFound(NotFound):
    message = "Datastore '%(datastore)s' cannot be found."


class Conflict(BackupExtError):
    code = 409
    message = 'Conflict: %(reason)s'


class QuotaExceeded(BackupExtError):
    code = 413
    message = ("Quota exceeded for resources: ['backups']. Project "
               "%(project_id)s may hold at most %(limit)d backups.")


class RequestTooLarge(BackupExtError):
    code = 413
    message = 'Request body is %(size)d bytes; the most allowed is %(limit)d.'


class UnsupportedMediaType(BackupExtError):
    code = 415
    message = ("Content-Type %(content_type)s is not supported; send "
               "application/json.")


class UnprocessableEntity(BackupExtError):
    code = 422
    message = 'Unprocessable entity: %(reason)s'


class InstanceNotAvailable(UnprocessableEntity):
    # Trove's wording, which existing scripts may match on.
    message = ('Instance %(instance_id)s is not currently available for an '
               'action to be performed (instance status was %(status)s).')


class ClusterInstanceNotSupported(UnprocessableEntity):
    # Trove's wording. Trove answers 501
    # (ClusterInstanceOperationNotSupported); the instance is the caller's
    # choice, so here a 422 (doc/source/reference/decisions.rst).
    message = ('Instance %(instance_id)s is a member of cluster '
               '%(cluster_id)s: operation not supported for instances that '
               'are part of a cluster.')


class RestoreNotFound(NotFound):
    message = 'Restore %(uuid)s cannot be found.'


class BackupScheduleNotFound(NotFound):
    message = 'Backup schedule %(uuid)s cannot be found.'


class BackupNotRestorable(UnprocessableEntity):
    message = 'Backup %(backup_id)s cannot be restored: %(reason)s.'


class BackupNotVerifiable(UnprocessableEntity):
    message = 'Backup %(backup_id)s cannot be verified: %(reason)s.'


class RestoreTargetNotUsable(UnprocessableEntity):
    message = 'Instance %(instance_id)s cannot take this backup: %(reason)s'


class BackupBeingRestored(UnprocessableEntity):
    message = ('Backup %(backup_id)s cannot be deleted while restore '
               '%(restore_id)s of it (or of an incremental backup on it) '
               'is running.')


class BackupRunning(UnprocessableEntity):
    message = 'Backup %(backup_id)s cannot be deleted because it is running.'


class ChildBackupRunning(UnprocessableEntity):
    message = ('Backup %(backup_id)s cannot be deleted because its '
               'incremental backup %(child_id)s is running.')


class ParentNotUsable(UnprocessableEntity):
    message = 'Parent backup %(parent_id)s cannot be used: %(reason)s'


class ServiceUnavailable(BackupExtError):
    code = 503
    message = ('The backup service is unavailable: %(reason)s Nothing was '
               'changed; try again later.')


class StorageCredentialGone(ServiceUnavailable):
    """The credential that reaches a backup in its owner's account was
    revoked: only an operator can help (worker/delete_retries.py)."""


class ConfigurationError(Exception):
    """A deployment problem found at start-up, not a caller's error."""
