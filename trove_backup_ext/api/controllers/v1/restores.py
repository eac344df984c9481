"""/v1.0/{project_id}/restores: restore a backup into an instance, list
and follow restores."""

import pecan
import webob.exc

from trove_backup_ext.api.controllers.v1 import resource
from trove_backup_ext.api import pagination
from trove_backup_ext.api.schemas import restores as schemas
from trove_backup_ext.api import validation
from trove_backup_ext.api import views
from trove_backup_ext.policies import restores as restore_policies
from trove_backup_ext import policy


def _service():
    return pecan.request.restore_service


def _not_allowed(allow):
    raise webob.exc.HTTPMethodNotAllowed(headers=[('Allow', allow)])


def _refuse(path):
    """405 with the Allow of the path (or 404: no such path)."""
    if len(path) > 1:
        pecan.abort(404)
    _not_allowed('GET' if path else 'GET, POST')


def create(project_id, backup_id, instance_id):
    """The one create path of both routes (this one and the backups
    alias): policy, then the service; the 202 view."""
    context = pecan.request.context
    policy.authorize(context, restore_policies.CREATE,
                     policy.project_target(project_id))
    restore = _service().create(context, project_id, backup_id, instance_id)
    pecan.response.status = 202
    return {'restore': views.restore_view(restore)}


def read_body(schema):
    body = validation.read_json_body(
        pecan.request, pecan.request.conf.api.max_request_body_size)
    validation.validate(schema, body)
    return body['restore']


class RestoresController(resource.ResourceController):

    def __init__(self, project_id):
        self.project_id = project_id

    @pecan.expose('json')
    def get_all(self, **ignored):
        context = pecan.request.context
        policy.authorize(context, restore_policies.INDEX,
                         policy.project_target(self.project_id))
        query = validation.single_valued_query(pecan.request)
        validation.validate(schemas.list_request_query, query, root='query')
        project_id = pagination.listed_project(
            context, self.project_id, query,
            restore_policies.INDEX_ALL_PROJECTS)
        restores, more = _service().list_page(
            context, pagination.page_size(pecan.request, query), project_id,
            instance_id=query.get('instance_id'),
            backup_id=query.get('backup_id'),
            after=pagination.after(
                query.get('marker'),
                lambda restore_id: _service().get(context, restore_id),
                'restore'))
        body = {'restores': [views.restore_view(r) for r in restores]}
        if more:
            body['links'] = pagination.next_links(pecan.request,
                                                  restores[-1])
        return body

    @pecan.expose('json')
    def get_one(self, restore_id=None, *extra, **ignored):
        if not restore_id or extra:
            pecan.abort(404)
        context = pecan.request.context
        restore = _service().get(context, restore_id)
        policy.authorize(context, restore_policies.SHOW,
                         policy.project_target(restore.project_id))
        return {'restore': views.restore_view(restore)}

    @pecan.expose('json')
    def post(self, *restore_id, **ignored):
        if restore_id:
            _refuse(restore_id)
        spec = read_body(schemas.create_request_body)
        return create(self.project_id, spec['backup_id'],
                      spec['instance_id'])

    @pecan.expose('json')
    def put(self, *restore_id, **ignored):
        # A restore is a record of what happened: it cannot be changed.
        _refuse(restore_id)

    @pecan.expose('json')
    def delete(self, *restore_id, **ignored):
        # ... nor deleted: it is the audit trail of the instance's data.
        _refuse(restore_id)
