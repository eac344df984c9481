"""/v1.0/{project_id}/instances: only {id}/backups is served here.

Instances themselves are the host's (Trove's) business; inside Trove's
pipeline it answers every other /instances route (see api/paste.py). Here
alone, those routes do not exist: 404 in Trove's fault body.
"""

import pecan
from pecan import rest
import webob.exc

from trove_backup_ext.api import pagination
from trove_backup_ext.api.schemas import instances as schemas
from trove_backup_ext.api import validation
from trove_backup_ext.api import views
from trove_backup_ext import exception
from trove_backup_ext.policies import instances as instance_policies
from trove_backup_ext import policy
from trove_backup_ext.services import instance_access


class InstanceBackupsController(rest.RestController):
    """GET /v1.0/{project_id}/instances/{id}/backups: Trove's
    `instance:backups`, the backups list of one instance."""

    def __init__(self, instance_id):
        self.instance_id = instance_id

    @pecan.expose('json')
    def get_all(self, **ignored):
        context = pecan.request.context
        service = pecan.request.backup_service
        instance = instance_access.visible_instance(
            service.instances, context, self.instance_id)
        policy.authorize(context, instance_policies.BACKUPS,
                         policy.project_target(instance.project_id))
        query = validation.single_valued_query(pecan.request)
        validation.validate(schemas.backups_request_query, query,
                            root='query')
        # As Trove: administrators see every project's backups of it.
        backups, more = service.list_page(
            context, pagination.page_size(pecan.request, query),
            None if context.is_admin else context.project_id,
            instance_id=instance.id,
            after=pagination.after(
                query.get('marker'),
                lambda backup_id: service.get(context, backup_id)))
        body = {'backups': [views.backup_view(b) for b in backups]}
        if more:
            body['links'] = pagination.next_links(pecan.request, backups[-1])
        return body

    @pecan.expose('json')
    def get_one(self, *remainder, **ignored):
        pecan.abort(404)

    @pecan.expose('json')
    def post(self, *remainder, **ignored):
        self._not_allowed(remainder)

    @pecan.expose('json')
    def put(self, *remainder, **ignored):
        self._not_allowed(remainder)

    @pecan.expose('json')
    def delete(self, *remainder, **ignored):
        self._not_allowed(remainder)

    @staticmethod
    def _not_allowed(remainder):
        if remainder:
            pecan.abort(404)
        raise webob.exc.HTTPMethodNotAllowed(headers=[('Allow', 'GET')])


class InstancesController:
    """Routes /instances/{id}/backups; nothing else under /instances."""

    def __init__(self, project_id):
        self.project_id = project_id

    @pecan.expose()
    def _lookup(self, instance_id, *remainder):
        if not remainder or remainder[0] != 'backups':
            pecan.abort(404)
        if validation.forbidden_character(instance_id) is not None:
            # Like a URL project holding one: names no instance.
            raise exception.InstanceNotFound(uuid=instance_id)
        return InstanceBackupsController(instance_id), list(remainder[1:])

    @pecan.expose()
    def index(self, *args, **kwargs):
        # GET /instances (the instance list) is not ours yet: see above.
        pecan.abort(404)
