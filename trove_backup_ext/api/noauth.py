"""Development authentication: trust the URL and the X-Roles header.

The project is the one in /v1.0/{project_id}/, the roles those listed in
X-Roles (default "member"; "admin" makes an administrator). Any token, or
none, is accepted. Never deploy this facing untrusted callers.
"""

import webob.dec

from trove_backup_ext.api import faults
from trove_backup_ext.api import validation

_MAX_USER_ID = 255

_IDENTITY_HEADERS = ('HTTP_X_USER_ID', 'HTTP_X_PROJECT_ID', 'HTTP_X_ROLES',
                     'HTTP_X_IDENTITY_STATUS')


class NoAuthMiddleware:

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, request):
        roles = request.headers.get('X-Roles') or 'member'
        user_id = request.headers.get('X-User-Id') or 'noauth'
        # Stored with what the caller creates: the same rules as any
        # string of a request, and the column's length.
        if (validation.forbidden_character(user_id) is not None or
                len(user_id) > _MAX_USER_ID):
            return faults.fault_response(
                400, 'Validation error: X-User-Id must be at most %d '
                     'characters, without control characters.'
                % _MAX_USER_ID)
        for header in _IDENTITY_HEADERS:
            request.environ.pop(header, None)
        try:
            path = request.path_info
        except UnicodeDecodeError:
            # No project can be read from it; pecan would say the same.
            return faults.fault_response(
                400, 'The URL path is not valid UTF-8.')
        parts = path.strip('/').split('/')
        project_id = parts[1] if len(parts) > 1 and parts[0] == 'v1.0' else ''
        request.environ.update({
            'HTTP_X_USER_ID': user_id,
            'HTTP_X_PROJECT_ID': project_id,
            'HTTP_X_ROLES': roles,
            'HTTP_X_IDENTITY_STATUS': 'Confirmed',
        })
        return request.get_response(self.application)


def filter_factory(global_conf, **local_conf):
    """Paste filter factory."""
    return NoAuthMiddleware
