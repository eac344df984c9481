"""A tempest.lib RestClient of /v1.0/{project_id}/restores."""

import json
from urllib import parse

from tempest.lib.common import rest_client


class RestoresClient(rest_client.RestClient):
    """Create (both routes), list and show, each checking its documented
    success code. Paths are relative to the caller's project, as for the
    backups client."""

    def create_restore(self, **restore):
        """POST restores {"restore": restore}; 202 and the NEW restore."""
        return self.create_restore_raw(json.dumps({'restore': restore}))

    def create_restore_raw(self, body):
        """POST a body as given, for requests no client would build."""
        resp, body = self.post('restores', body)
        self.expected_success(202, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))

    def restore_backup(self, backup_id, /, **restore):
        """POST backups/{backup_id}/restore {"restore": restore}: the
        Cinder-style alias; 202 and the NEW restore."""
        resp, body = self.post('backups/%s/restore' % backup_id,
                               json.dumps({'restore': restore}))
        self.expected_success(202, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))

    def list_restores(self, **params):
        """GET restores?params (limit, marker, instance_id, backup_id,
        all_projects, project_id)."""
        url = 'restores'
        if params:
            url += '?' + parse.urlencode(params)
        resp, body = self.get(url)
        self.expected_success(200, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))

    def show_restore(self, restore_id):
        resp, body = self.get('restores/%s' % restore_id)
        self.expected_success(200, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))

    def delete_restore(self, restore_id):
        """DELETE restores/id: never allowed (405); for negative tests."""
        resp, body = self.delete('restores/%s' % restore_id)
        self.expected_success(202, resp.status)
        return rest_client.ResponseBody(resp, body)
