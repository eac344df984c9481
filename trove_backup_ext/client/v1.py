"""The HTTP calls of our resources that python-troveclient lacks.

One place for them: the OSC plugin uses it, and so will the dashboard
(DESIGN §2e). It speaks through a keystoneauth1 session, so it works with
whatever authenticated the session: Keystone (the endpoint of the
``database`` service in the catalog, whose URL ends in the project id) or
``auth_type none`` with a fixed endpoint. Backups themselves (create, list,
delete) stay python-troveclient's.
"""

import urllib.parse

from keystoneauth1 import adapter
from oslo_utils import uuidutils

SERVICE_TYPE = 'database'


class Error(Exception):
    """Base of this client's errors; str() is meant for a user."""


class ClientError(Error):
    """The API refused a call; str() is its message and the HTTP code, as
    python-troveclient shows them: ``<message> (HTTP 404)``."""

    def __init__(self, status, message, fault_name=None, request_id=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fault_name = fault_name
        self.request_id = request_id

    def __str__(self):
        return '%s (HTTP %d)' % (self.message, self.status)


class NotFound(ClientError):
    pass


class NoUniqueMatch(Error):
    pass


def _error(response):
    """ClientError of a refused response, from Trove's fault body
    ``{"<faultName>": {"code": N, "message": "..."}}`` when it has one."""
    fault_name, message = None, None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and len(body) == 1:
        fault_name, fault = next(iter(body.items()))
        if isinstance(fault, dict):
            message = fault.get('message')
    if not message:
        # Not one of ours (a proxy, a load balancer): say what came back.
        text = ' '.join(response.text.split())[:200]
        message = '%s %s answered %s' % (
            response.request.method, response.url,
            text or response.reason or 'nothing')
    cls = NotFound if response.status_code == 404 else ClientError
    return cls(response.status_code, message, fault_name,
               response.headers.get('x-openstack-request-id'))


def _path(*parts):
    """/part/part..., each quoted: an id or name with a "/" or "?" is one
    path segment, never a route of its own."""
    return ''.join('/' + urllib.parse.quote(part, safe='') for part in parts)


def _next_marker(body):
    """The marker of the body's ``next`` link, or None on the last page.
    The link's host may be one the client cannot reach (a proxy's inside
    name), so only its marker is used."""
    for link in body.get('links') or ():
        if link.get('rel') == 'next':
            query = urllib.parse.parse_qs(
                urllib.parse.urlsplit(link['href']).query)
            return query.get('marker', [None])[0]
    return None


class Client:
    """Restores, verification and backup schedules of
    ``/v1.0/{project_id}``.

    ``session`` is a keystoneauth1 session; the other arguments choose the
    endpoint as for any keystoneauth1 Adapter (``endpoint_override`` skips
    the catalog).
    """

    def __init__(self, session, interface=None, region_name=None,
                 endpoint_override=None, service_type=SERVICE_TYPE, **kwargs):
        self.http = adapter.Adapter(
            session, service_type=service_type, interface=interface,
            region_name=region_name, endpoint_override=endpoint_override,
            client_name='trove-backup-ext', **kwargs)

    def _call(self, method, path, body=None, params=None):
        response = self.http.request(
            path, method, json=body, params=params, raise_exc=False,
            headers={'Accept': 'application/json'})
        if response.status_code >= 400:
            raise _error(response)
        return response.json() if response.content else None

    def _pages(self, path, key, params, limit):
        """Every item of a list, following ``next`` links; one page of at
        most ``limit`` when limit is given."""
        items = []
        while True:
            body = self._call('GET', path, params=params)
            items.extend(body[key])
            marker = _next_marker(body)
            if limit is not None or marker is None:
                return items
            params = dict(params, marker=marker)

    # Restores

    def create_restore(self, backup_id, instance_id):
        """POST /restores: restore backup_id into instance_id."""
        return self._call('POST', '/restores', {'restore': {
            'backup_id': backup_id, 'instance_id': instance_id}})['restore']

    def restore_backup(self, backup_id, instance_id):
        """POST /backups/{id}/restore, the alias of create_restore."""
        return self._call('POST', _path('backups', backup_id, 'restore'), {
            'restore': {'instance_id': instance_id}})['restore']

    def get_restore(self, restore_id):
        return self._call('GET', _path('restores', restore_id))['restore']

    def list_restores(self, instance_id=None, backup_id=None, limit=None,
                      marker=None, all_projects=False, project_id=None):
        params = {key: value for key, value in (
            ('instance_id', instance_id), ('backup_id', backup_id),
            ('limit', limit), ('marker', marker),
            ('all_projects', 'true' if all_projects else None),
            ('project_id', project_id)) if value is not None}
        return self._pages('/restores', 'restores', params, limit)

    # Backups: what the restore and verify commands need of them.

    def get_backup(self, backup_id):
        return self._call('GET', _path('backups', backup_id))['backup']

    def find_backup(self, name_or_id):
        """The backup of that id, else the one backup of that name."""
        try:
            return self.get_backup(name_or_id)
        except NotFound:
            pass
        backups = self._pages('/backups', 'backups', {}, None)
        found = [backup for backup in backups
                 if backup['name'] == name_or_id]
        if not found:
            raise NotFound(404, "No backup with a name or ID of '%s' "
                                "exists." % name_or_id)
        if len(found) > 1:
            raise NoUniqueMatch("More than one backup exists with the name "
                                "'%s'; use its ID." % name_or_id)
        return found[0]

    def verify_backup(self, backup_id):
        """POST /backups/{id}/verify: restore it into a scratch place and
        check it; the backup with ``verification`` RUNNING."""
        return self._call('POST', _path('backups', backup_id, 'verify'),
                          {})['backup']

    # Backup schedules

    def create_backup_schedule(self, name, instance_id, full_cron,
                               **fields):
        """POST /backup_schedules. fields: description,
        incremental_cron, timezone, retention (a dict of keep_last,
        keep_daily, keep_weekly, keep_monthly, keep_yearly,
        max_age_days), enabled; None values are left out."""
        spec = {'name': name, 'instance_id': instance_id,
                'full_cron': full_cron}
        spec.update({key: value for key, value in fields.items()
                     if value is not None})
        return self._call('POST', '/backup_schedules',
                          {'backup_schedule': spec})['backup_schedule']

    def get_backup_schedule(self, schedule_id):
        return self._call('GET', _path('backup_schedules', schedule_id))[
            'backup_schedule']

    def list_backup_schedules(self, instance_id=None, limit=None,
                              marker=None, all_projects=False,
                              project_id=None):
        params = {key: value for key, value in (
            ('instance_id', instance_id), ('limit', limit),
            ('marker', marker),
            ('all_projects', 'true' if all_projects else None),
            ('project_id', project_id)) if value is not None}
        return self._pages('/backup_schedules', 'backup_schedules', params,
                           limit)

    def find_backup_schedule(self, name_or_id):
        """The schedule of that id, else the one schedule of that name."""
        # Only an id-shaped value is looked up as an id: "health" is a
        # route of its own under /backup_schedules, not a schedule.
        if uuidutils.is_uuid_like(name_or_id):
            try:
                return self.get_backup_schedule(name_or_id)
            except NotFound:
                pass
        found = [schedule for schedule in self.list_backup_schedules()
                 if schedule['name'] == name_or_id]
        if not found:
            raise NotFound(404, "No backup schedule with a name or ID of "
                                "'%s' exists." % name_or_id)
        if len(found) > 1:
            raise NoUniqueMatch("More than one backup schedule exists with "
                                "the name '%s'; use its ID." % name_or_id)
        return found[0]

    def update_backup_schedule(self, schedule_id, **changes):
        """PATCH /backup_schedules/{id}: a JSON merge patch, so a None
        value clears a field (description, incremental_cron, retention
        or one of its rules) and a field not given stays."""
        return self._call('PATCH', _path('backup_schedules', schedule_id),
                          {'backup_schedule': changes})['backup_schedule']

    def delete_backup_schedule(self, schedule_id):
        """DELETE /backup_schedules/{id}; the backups it made stay."""
        self._call('DELETE', _path('backup_schedules', schedule_id))

    def backup_schedules_health(self, limit=None):
        """GET /backup_schedules/health (administrators): the enabled
        schedules of every project with no success for twice their
        period, at most limit of them, and the counts."""
        params = {'limit': limit} if limit is not None else None
        return self._call('GET', '/backup_schedules/health',
                          params=params)['schedules_health']

    def backup_schedule_retention_preview(self, schedule_id):
        """What the schedule's next pruning would delete, with the rule
        that selects each backup."""
        return self._call('GET', _path('backup_schedules', schedule_id,
                                       'retention_preview'))[
            'retention_preview']
