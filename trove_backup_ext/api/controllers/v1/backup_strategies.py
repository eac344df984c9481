"""/v1.0/{project_id}/backup_strategies: Trove's default containers.

A strategy names the Swift container of a project's new backups (with
instance_id: of one instance's); a backup request that names no container
takes it (services.backups.BackupService.create). The collection is the only
URL: create (or change), list and delete all act on it, as in Trove.
"""

import pecan
import webob.exc

from trove_backup_ext.api.controllers.v1 import resource
from trove_backup_ext.api.schemas import backup_strategies as schemas
from trove_backup_ext.api import strategy_views
from trove_backup_ext.api import validation
from trove_backup_ext.db import backup_strategies as strategies_db
from trove_backup_ext import exception
from trove_backup_ext.policies import backup_strategies as strategy_policies
from trove_backup_ext import policy
from trove_backup_ext.services import instance_access

_MAX_CONTAINER_BYTES = 256    # Swift's limit, in bytes not characters.


class BackupStrategiesController(resource.ResourceController):

    def __init__(self, project_id):
        # As in the backups controller: a URL project holding a character
        # no string may names no project.
        if validation.forbidden_character(project_id) is not None:
            raise exception.NotFound(uuid=project_id)
        self.project_id = project_id

    def _filters(self, context):
        """(project, instance_id) named by the query; only administrators
        may name another project (Trove: 403)."""
        query = validation.single_valued_query(pecan.request)
        validation.validate(schemas.request_query, query, root='query')
        project_id = query.get('project_id', self.project_id)
        if project_id != self.project_id and not context.is_admin:
            raise exception.ProjectMismatch(caller=context.project_id,
                                            project=project_id)
        instance_id = query.get('instance_id')
        return project_id, instance_id.lower() if instance_id else None

    @pecan.expose('json')
    def get_all(self, **ignored):
        context = pecan.request.context
        project_id, instance_id = self._filters(context)
        policy.authorize(context, strategy_policies.INDEX,
                         policy.project_target(project_id))
        strategies = strategies_db.list_for_project(context, project_id,
                                                    instance_id)
        return {'backup_strategies': [
            strategy_views.backup_strategy_view(s) for s in strategies]}

    @pecan.expose('json')
    def post(self, *remainder, **ignored):
        if remainder:
            pecan.abort(404)
        context = pecan.request.context
        policy.authorize(context, strategy_policies.CREATE,
                         policy.project_target(self.project_id))
        body = validation.read_json_body(
            pecan.request, pecan.request.conf.api.max_request_body_size)
        validation.validate(schemas.create_request_body, body)
        spec = body['backup_strategy']
        container = spec['swift_container']
        if len(container.encode('utf-8')) > _MAX_CONTAINER_BYTES:
            raise exception.ValidationError(
                reason="backup_strategy['swift_container'] is longer than "
                       "%d bytes" % _MAX_CONTAINER_BYTES)
        instance_id = strategies_db.PROJECT_WIDE
        if 'instance_id' in spec:
            # Better than Trove, which takes any id: a strategy of an
            # instance the project does not have would never apply.
            instance_id = instance_access.project_instance(
                pecan.request.backup_service.instances, context,
                spec['instance_id'], self.project_id).id
        strategy = strategies_db.put(context, self.project_id, instance_id,
                                     container)
        pecan.response.status = 202
        return {'backup_strategy':
                strategy_views.backup_strategy_view(strategy)}

    # Clients send "Accept: application/json" with DELETE too; the answer
    # is an empty body.
    @pecan.expose(content_type='application/json')
    def delete(self, *remainder, **ignored):
        if remainder:
            pecan.abort(404)
        context = pecan.request.context
        project_id, instance_id = self._filters(context)
        policy.authorize(context, strategy_policies.DELETE,
                         policy.project_target(project_id))
        # Without instance_id: the project-wide strategy, as in Trove.
        strategies_db.delete(context, project_id,
                             instance_id or strategies_db.PROJECT_WIDE)
        pecan.response.status = 202
        pecan.response.content_type = None
        return ''

    @pecan.expose('json')
    def get_one(self, *remainder, **ignored):
        # A strategy has no URL of its own.
        pecan.abort(404)

    @pecan.expose('json')
    def put(self, *remainder, **ignored):
        if remainder:
            pecan.abort(404)
        raise webob.exc.HTTPMethodNotAllowed(
            headers=[('Allow', 'GET, POST, DELETE')])
