"""/v1.0/{project_id}/backups: list, create, show, delete."""

import pecan
import webob.exc

from trove_backup_ext.api.controllers.v1 import resource
from trove_backup_ext.api.controllers.v1 import restores as restore_api
from trove_backup_ext.api import pagination
from trove_backup_ext.api.schemas import restores as restore_schemas
from trove_backup_ext.api.schemas import backups as schemas
from trove_backup_ext.api import validation
from trove_backup_ext.api import views
from trove_backup_ext import exception
from trove_backup_ext.policies import backups as backup_policies
from trove_backup_ext import policy


def _service():
    return pecan.request.backup_service


def _not_allowed(allow):
    raise webob.exc.HTTPMethodNotAllowed(headers=[('Allow', allow)])


class BackupsController(resource.ResourceController):

    def __init__(self, project_id):
        self.project_id = project_id

    @pecan.expose('json')
    def get_all(self, **ignored):
        context = pecan.request.context
        policy.authorize(context, backup_policies.INDEX,
                         policy.project_target(self.project_id))
        query = validation.single_valued_query(pecan.request)
        validation.validate(schemas.list_request_query, query,
                            root='query')
        project_id = pagination.listed_project(
            context, self.project_id, query,
            backup_policies.INDEX_ALL_PROJECTS)
        backups, more = _service().list_page(
            context, pagination.page_size(pecan.request, query), project_id,
            instance_id=query.get('instance_id'),
            datastore=query.get('datastore'),
            after=pagination.after(
                query.get('marker'),
                lambda backup_id: _service().get(context, backup_id)))
        body = {'backups': [views.backup_view(b) for b in backups]}
        if more:
            body['links'] = pagination.next_links(pecan.request, backups[-1])
        return body

    @pecan.expose('json')
    def get_one(self, backup_id=None, **ignored):
        if not backup_id:
            # Pecan drops empty path segments: .../backups// names none.
            pecan.abort(404)
        context = pecan.request.context
        backup = _service().get(context, backup_id)
        policy.authorize(context, backup_policies.SHOW,
                         policy.project_target(backup.project_id))
        return {'backup': views.backup_view(backup)}

    @pecan.expose('json')
    def post(self, *path, **ignored):
        if len(path) == 2 and path[1] == 'verify':
            return self._verify(path[0])
        if len(path) == 2 and path[1] == 'restore':
            # Cinder's form: POST /backups/{id}/restore.
            spec = restore_api.read_body(
                restore_schemas.backup_restore_request_body)
            return restore_api.create(self.project_id, path[0],
                                      spec['instance_id'])
        if len(path) > 1:
            pecan.abort(404)
        if path:
            _not_allowed('GET, DELETE')
        context = pecan.request.context
        policy.authorize(context, backup_policies.CREATE,
                         policy.project_target(self.project_id))
        body = validation.read_json_body(
            pecan.request, pecan.request.conf.api.max_request_body_size)
        validation.validate(schemas.create_request_body, body)
        spec = body['backup']
        container = spec.get('swift_container')
        if container and len(container.encode('utf-8')) > 256:
            raise exception.ValidationError(
                reason="backup['swift_container'] is longer than 256 bytes")
        backup = _service().create(context, self.project_id, spec)
        pecan.response.status = 202
        return {'backup': views.backup_view(backup)}

    @staticmethod
    def _verify(backup_id):
        context = pecan.request.context
        backup = _service().get(context, backup_id)
        policy.authorize(context, backup_policies.VERIFY,
                         policy.project_target(backup.project_id))
        if pecan.request.body:
            # Nothing to say yet: an empty body or {}.
            body = validation.read_json_body(
                pecan.request, pecan.request.conf.api.max_request_body_size)
            validation.validate(schemas.verify_request_body, body)
        backup = _service().verify(context, backup_id)
        pecan.response.status = 202
        return {'backup': views.backup_view(backup)}

    # Clients send "Accept: application/json" with DELETE too; the answer
    # is an empty body.
    @pecan.expose(content_type='application/json')
    def delete(self, *path, **ignored):
        # The id only from the path: pecan would fill a named argument
        # from the query string or a JSON body (?backup_id=X).
        if not path:
            _not_allowed('GET, POST')     # The collection itself.
        if len(path) > 1:
            self.put(*path)               # 405 or 404, as for PUT.
        backup_id = path[0]
        context = pecan.request.context
        backup = _service().get(context, backup_id)
        policy.authorize(context, backup_policies.DELETE,
                         policy.project_target(backup.project_id))
        _service().delete(context, backup_id)
        pecan.response.status = 202
        pecan.response.content_type = None
        return ''

    @pecan.expose('json')
    def put(self, *path, **ignored):
        # Backups are immutable, as in Trove.
        if len(path) == 2 and path[1] in ('verify', 'restore'):
            _not_allowed('POST')
        if len(path) > 1:
            pecan.abort(404)
        _not_allowed('GET, DELETE' if path else 'GET, POST')
