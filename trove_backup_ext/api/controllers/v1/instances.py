"""/v1.0/{project_id}/instances: read-only, from the instance source.

GET /instances and GET /instances/{id} answer in Trove's shape from the
configured instance source (registry or trove); GET /instances/{id}/backups
is the backups list of one instance. Creating, changing and deleting
instances is the host's (Trove's): those methods get 405 here, and inside
Trove's pipeline Trove answers every /instances route but {id}/backups
(see api/paste.py).
"""

import pecan
import webob.exc

from trove_backup_ext.api.controllers.v1 import resource
from trove_backup_ext.api import instance_views
from trove_backup_ext.api import pagination
from trove_backup_ext.api.schemas import instances as schemas
from trove_backup_ext.api import validation
from trove_backup_ext.api import views
from trove_backup_ext import exception
from trove_backup_ext.policies import instances as instance_policies
from trove_backup_ext import policy
from trove_backup_ext.services import instance_access


class InstanceBackupsController(resource.ResourceController):
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


def _not_allowed():
    raise webob.exc.HTTPMethodNotAllowed(headers=[('Allow', 'GET')])


def _source():
    return pecan.request.backup_service.instances


class InstanceController:
    """GET /v1.0/{project_id}/instances/{id}: Trove's `instance:show`."""

    def __init__(self, project_id, instance_id):
        self.project_id = project_id
        self.instance_id = instance_id

    @pecan.expose('json')
    def index(self, **ignored):
        if pecan.request.method != 'GET':
            _not_allowed()
        context = pecan.request.context
        validation.validate(schemas.show_request_query,
                            validation.single_valued_query(pecan.request),
                            root='query')
        # Another project's instance is not found, as in Trove; an
        # administrator sees any.
        instance = instance_access.visible_instance(
            _source(), context, self.instance_id)
        policy.authorize(context, instance_policies.SHOW,
                         policy.project_target(instance.project_id))
        return {'instance': instance_views.instance_view(instance,
                                                         pecan.request)}


class InstancesController:
    """Routes /instances, /instances/{id} and /instances/{id}/backups."""

    def __init__(self, project_id):
        self.project_id = project_id

    @pecan.expose()
    def _lookup(self, instance_id, *remainder):
        if validation.forbidden_character(instance_id) is not None:
            # Like a URL project holding one: names no instance.
            raise exception.InstanceNotFound(uuid=instance_id)
        if not remainder or remainder == ('',):
            return InstanceController(self.project_id, instance_id), []
        if remainder[0] != 'backups':
            pecan.abort(404)
        return InstanceBackupsController(instance_id), list(remainder[1:])

    @pecan.expose('json')
    def index(self, **ignored):
        """GET /v1.0/{project_id}/instances: Trove's `instance:index`,
        newest first, keyset paging as the backups list."""
        if pecan.request.method != 'GET':
            _not_allowed()
        context = pecan.request.context
        policy.authorize(context, instance_policies.INDEX,
                         policy.project_target(self.project_id))
        query = validation.single_valued_query(pecan.request)
        validation.validate(schemas.list_request_query, query, root='query')
        project_id = pagination.listed_project(
            context, self.project_id, query,
            instance_policies.INDEX_ALL_PROJECTS)
        source = _source()
        try:
            instances, more = source.list_instances(
                context, project_id,
                pagination.page_size(pecan.request, query),
                after=pagination.after(
                    query.get('marker'),
                    lambda instance_id: instance_access.visible_instance(
                        source, context, instance_id),
                    'instance'))
        except NotImplementedError:
            raise webob.exc.HTTPNotImplemented(
                explanation='The configured instance source cannot list '
                            'instances.')
        body = {'instances': [instance_views.instance_view(i, pecan.request)
                              for i in instances]}
        if more:
            body['links'] = pagination.next_links(pecan.request,
                                                  instances[-1])
        return body
