"""Routes /, /v1.0/ and /v1.0/{project_id}/<resource>.

The resources under a project are the controllers found in the stevedore
namespace trove_backup_ext.api.controllers, so a deployer's package can
mount more beside ours.
"""

import pecan
from stevedore import extension
import webob.exc

from trove_backup_ext.api import validation
from trove_backup_ext import exception

NAMESPACE = 'trove_backup_ext.api.controllers'
VERSION = 'v1.0'


def load_resource_controllers():
    def fail(manager, entry_point, exc):
        raise exception.ConfigurationError(
            'Cannot load API controller %r: %s' % (entry_point.name, exc))
    manager = extension.ExtensionManager(
        NAMESPACE, invoke_on_load=False, on_load_failure_callback=fail)
    return {ext.name: ext.plugin for ext in manager}


def _read_only():
    """A version document is read only: pecan would serve index() to any
    method (PUT /, DELETE /v1.0/ answered 200)."""
    if pecan.request.method != 'GET':
        raise webob.exc.HTTPMethodNotAllowed(headers=[('Allow', 'GET')])


def _version_doc():
    return {'id': VERSION, 'status': 'CURRENT',
            'updated': '2012-08-01T00:00:00Z',
            'links': [{'rel': 'self',
                       'href': '%s/%s/' % (pecan.request.host_url,
                                           VERSION)}]}


class ProjectController:
    """/v1.0/{project_id}: the project's resources."""

    def __init__(self, project_id, resources):
        self.project_id = project_id
        self.resources = resources

    @pecan.expose()
    def _lookup(self, resource, *remainder):
        controller = self.resources.get(resource)
        if controller is None:
            pecan.abort(404)
        return controller(self.project_id), list(remainder)


class V1Controller:

    def __init__(self, resources):
        self.resources = resources

    @pecan.expose('json')
    def index(self):
        _read_only()
        return {'version': _version_doc()}

    @pecan.expose()
    def _lookup(self, project_id, *remainder):
        # The project in the URL filters lists and owns new rows: one
        # holding a character no string may (NUL is a 500 on PostgreSQL)
        # names no project, like an unknown id.
        if validation.forbidden_character(project_id) is not None:
            raise exception.NotFound(uuid=project_id)
        context = pecan.request.context
        if project_id != context.project_id and not context.is_admin:
            raise exception.ProjectMismatch(caller=context.project_id,
                                            project=project_id)
        return ProjectController(project_id, self.resources), list(remainder)


class RootController:

    def __init__(self, resources):
        self.v1 = V1Controller(resources)

    @pecan.expose('json')
    def index(self):
        _read_only()
        return {'versions': [_version_doc()]}

    @pecan.expose()
    def _lookup(self, version, *remainder):
        if version != VERSION:
            pecan.abort(404)
        return self.v1, list(remainder)
