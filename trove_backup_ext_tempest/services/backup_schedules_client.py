"""A tempest.lib RestClient of /v1.0/{project_id}/backup_schedules."""

import json
from urllib import parse

from tempest.lib.common import rest_client
from tempest.lib import exceptions as lib_exc


class BackupSchedulesClient(rest_client.RestClient):
    """Create, list, show, update (PATCH), delete, the retention
    preview and the health summary, each checking its documented success
    code. Paths are relative to the caller's project, as for the backups
    client."""

    def create_backup_schedule(self, **schedule):
        """POST backup_schedules {"backup_schedule": schedule}; 201."""
        return self.create_backup_schedule_raw(
            json.dumps({'backup_schedule': schedule}))

    def create_backup_schedule_raw(self, body):
        """POST a body as given, for requests no client would build."""
        resp, body = self.post('backup_schedules', body)
        self.expected_success(201, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))

    def list_backup_schedules(self, **params):
        """GET backup_schedules?params (limit, marker, instance_id,
        all_projects, project_id)."""
        url = 'backup_schedules'
        if params:
            url += '?' + parse.urlencode(params)
        resp, body = self.get(url)
        self.expected_success(200, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))

    def show_backup_schedule(self, schedule_id):
        resp, body = self.get('backup_schedules/%s' % schedule_id)
        self.expected_success(200, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))

    def update_backup_schedule(self, schedule_id, **changes):
        """PATCH backup_schedules/id {"backup_schedule": changes}: a JSON
        merge patch; 200 and the schedule as changed."""
        resp, body = self.patch('backup_schedules/%s' % schedule_id,
                                json.dumps({'backup_schedule': changes}))
        self.expected_success(200, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))

    def delete_backup_schedule(self, schedule_id):
        """DELETE backup_schedules/id; 204, nothing left to do."""
        resp, body = self.delete('backup_schedules/%s' % schedule_id)
        self.expected_success(204, resp.status)
        return rest_client.ResponseBody(resp, body)

    def show_retention_preview(self, schedule_id):
        resp, body = self.get('backup_schedules/%s/retention_preview'
                              % schedule_id)
        self.expected_success(200, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))

    def show_backup_schedules_health(self, **params):
        """GET backup_schedules/health?params (limit): the administrators'
        summary of the overdue schedules of every project; 200."""
        url = 'backup_schedules/health'
        if params:
            url += '?' + parse.urlencode(params)
        resp, body = self.get(url)
        self.expected_success(200, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))

    def is_resource_deleted(self, id):
        try:
            self.show_backup_schedule(id)
        except lib_exc.NotFound:
            return True
        return False

    @property
    def resource_type(self):
        return 'backup_schedule'
