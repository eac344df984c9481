"""/v1.0/{project_id}/backup_schedules: when instances are backed up and
which of their backups are kept. The worker's scheduler does the rest."""

import pecan
import webob.exc

from trove_backup_ext.api.controllers.v1 import resource
from trove_backup_ext.api import pagination
from trove_backup_ext.api import schedule_views as views
from trove_backup_ext.api.schemas import backup_schedules as schemas
from trove_backup_ext.api import validation
from trove_backup_ext.policies import backup_schedules as schedule_policies
from trove_backup_ext import policy
from trove_backup_ext.services import schedule_health

# .../backup_schedules/health, the admin summary: no schedule has this id
# (ids are UUIDs).
HEALTH = 'health'


def _service():
    return pecan.request.backup_schedule_service


def _read_body(schema):
    body = validation.read_json_body(
        pecan.request, pecan.request.conf.api.max_request_body_size)
    validation.validate(schema, body)
    return body['backup_schedule']


def _not_allowed(allow):
    raise webob.exc.HTTPMethodNotAllowed(headers=[('Allow', allow)])


def _authorized_schedule(schedule_id, action):
    """The schedule, 404 unless the caller sees it; then action's policy
    on its project."""
    context = pecan.request.context
    schedule = _service().get(context, schedule_id)
    policy.authorize(context, action,
                     policy.project_target(schedule.project_id))
    return schedule


def _refuse(path, collection_allows):
    """405 with the Allow of the path (or 404: no such path)."""
    if not path:
        _not_allowed(collection_allows)     # The collection itself.
    if path == (HEALTH,) or (len(path) == 2 and
                             path[1] == 'retention_preview'):
        _not_allowed('GET')                 # Read only.
    if len(path) > 1:
        pecan.abort(404)
    _not_allowed('GET, PATCH, DELETE')


def _schedule_id(path, allow):
    """The id of a path that names one schedule. The id comes from the
    path only: pecan would fill a named argument from the query string
    or a JSON body (?schedule_id=X)."""
    if len(path) != 1 or path[0] == HEALTH:
        _refuse(path, allow)
    return path[0]


class BackupSchedulesController(resource.ResourceController):

    def __init__(self, project_id):
        self.project_id = project_id

    @pecan.expose('json')
    def get_all(self, **ignored):
        context = pecan.request.context
        policy.authorize(context, schedule_policies.INDEX,
                         policy.project_target(self.project_id))
        query = validation.single_valued_query(pecan.request)
        validation.validate(schemas.list_request_query, query, root='query')
        project_id = pagination.listed_project(
            context, self.project_id, query,
            schedule_policies.INDEX_ALL_PROJECTS)
        schedules, more = _service().list_page(
            context, pagination.page_size(pecan.request, query), project_id,
            instance_id=query.get('instance_id'),
            after=pagination.after(
                query.get('marker'),
                lambda schedule_id: _service().get(context, schedule_id),
                'backup schedule'))
        body = {'backup_schedules': [views.schedule_view(s)
                                     for s in schedules]}
        if more:
            body['links'] = pagination.next_links(pecan.request,
                                                  schedules[-1])
        return body

    @pecan.expose('json')
    def get_one(self, *path, **ignored):
        if path == (HEALTH,):
            return self._health()
        if len(path) == 2 and path[1] == 'retention_preview':
            return self._retention_preview(path[0])
        if len(path) != 1 or not path[0]:
            # Pecan drops empty path segments: .../backup_schedules// .
            pecan.abort(404)
        schedule = _authorized_schedule(path[0], schedule_policies.SHOW)
        return {'backup_schedule': views.schedule_view(schedule)}

    @staticmethod
    def _retention_preview(schedule_id):
        schedule = _authorized_schedule(schedule_id, schedule_policies.SHOW)
        items = _service().retention_preview(pecan.request.context,
                                             schedule)
        return {'retention_preview': [views.preview_item_view(item)
                                      for item in items]}

    def _health(self):
        """The schedules of every project with no success for twice
        their period, longest overdue first; at most limit of them."""
        context = pecan.request.context
        policy.authorize(context, schedule_policies.HEALTH,
                         policy.project_target(self.project_id))
        query = validation.single_valued_query(pecan.request)
        validation.validate(schemas.health_request_query, query,
                            root='query')
        summary = schedule_health.summary(
            context, limit=pagination.page_size(pecan.request, query))
        return {'schedules_health': summary}

    @pecan.expose('json')
    def post(self, *path, **ignored):
        if path:
            _refuse(path, 'GET, POST')
        context = pecan.request.context
        policy.authorize(context, schedule_policies.CREATE,
                         policy.project_target(self.project_id))
        spec = _read_body(schemas.create_request_body)
        schedule = _service().create(context, self.project_id, spec)
        pecan.response.status = 201
        return {'backup_schedule': views.schedule_view(schedule)}

    @pecan.expose('json')
    def patch(self, *path, **ignored):
        schedule = _authorized_schedule(_schedule_id(path, 'GET, POST'),
                                        schedule_policies.UPDATE)
        changes = _read_body(schemas.update_request_body)
        schedule = _service().update(pecan.request.context, schedule,
                                     changes)
        return {'backup_schedule': views.schedule_view(schedule)}

    @pecan.expose('json')
    def put(self, *path, **ignored):
        # A change is a PATCH of the fields that change.
        _refuse(path, 'GET, POST')

    # Clients send "Accept: application/json" with DELETE too; the answer
    # is an empty body. 204: the schedule is gone when this returns
    # (nothing is left for the worker to do, unlike a backup's 202).
    @pecan.expose(content_type='application/json')
    def delete(self, *path, **ignored):
        schedule = _authorized_schedule(_schedule_id(path, 'GET, POST'),
                                        schedule_policies.DELETE)
        _service().delete(pecan.request.context, schedule)
        pecan.response.status = 204
        pecan.response.content_type = None
        return ''
