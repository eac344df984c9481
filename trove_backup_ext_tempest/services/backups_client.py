"""A tempest.lib RestClient of /v1.0/{project_id}/backups."""

import json
from urllib import parse

from tempest.lib.common import rest_client
from tempest.lib import exceptions as lib_exc


class BackupsClient(rest_client.RestClient):
    """The four operations and verify, each checking its documented
    success code.

    The catalog endpoint ends in /v1.0/{project_id}, so paths are relative
    to the caller's project, as for python-troveclient.
    """

    def list_backups(self, **params):
        """GET backups?params (limit, marker, instance_id, datastore,
        all_projects, project_id)."""
        url = 'backups'
        if params:
            url += '?' + parse.urlencode(params)
        resp, body = self.get(url)
        self.expected_success(200, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))

    def show_backup(self, backup_id):
        resp, body = self.get('backups/%s' % backup_id)
        self.expected_success(200, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))

    def create_backup(self, **backup):
        """POST backups {"backup": backup}; 202 and the NEW backup."""
        return self.create_backup_raw(json.dumps({'backup': backup}))

    def create_backup_raw(self, body):
        """POST a body as given, for requests no client would build."""
        resp, body = self.post('backups', body)
        self.expected_success(202, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))

    def delete_backup(self, backup_id):
        """DELETE backups/id; 202 with an empty body."""
        resp, body = self.delete('backups/%s' % backup_id)
        self.expected_success(202, resp.status)
        return rest_client.ResponseBody(resp, body)

    def verify_backup(self, backup_id, body=None):
        """POST backups/id/verify with body as given (None: no body);
        202 and the backup, its verification RUNNING."""
        resp, body = self.post('backups/%s/verify' % backup_id, body)
        self.expected_success(202, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))

    def list_instances(self, **params):
        """GET instances?params (limit, marker, all_projects,
        project_id): the instances backups are taken of, read-only."""
        url = 'instances'
        if params:
            url += '?' + parse.urlencode(params)
        resp, body = self.get(url)
        self.expected_success(200, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))

    def show_instance(self, instance_id):
        resp, body = self.get('instances/%s' % instance_id)
        self.expected_success(200, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))

    def is_resource_deleted(self, id):
        try:
            self.show_backup(id)
        except lib_exc.NotFound:
            return True
        return False

    @property
    def resource_type(self):
        return 'backup'
