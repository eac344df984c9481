"""The development noauth filter."""

import webob
import webob.dec

from trove_backup_ext.api import noauth
from trove_backup_ext.tests import base


@webob.dec.wsgify
def _echo_identity(request):
    return webob.Response(json_body={
        key: request.environ.get(key) for key in (
            'HTTP_X_USER_ID', 'HTTP_X_PROJECT_ID', 'HTTP_X_ROLES',
            'HTTP_X_IDENTITY_STATUS')})


class NoAuthTest(base.TestCase):

    def _identity(self, path, headers=None):
        request = webob.Request.blank(path, headers=headers or {})
        return request.get_response(
            noauth.NoAuthMiddleware(_echo_identity)).json

    def test_project_from_url_and_member_by_default(self):
        identity = self._identity('/v1.0/p1/backups')
        self.assertEqual('p1', identity['HTTP_X_PROJECT_ID'])
        self.assertEqual('member', identity['HTTP_X_ROLES'])
        self.assertEqual('Confirmed', identity['HTTP_X_IDENTITY_STATUS'])

    def test_roles_header_is_used(self):
        identity = self._identity('/v1.0/p1/backups',
                                  {'X-Roles': 'admin,member',
                                   'X-User-Id': 'u1'})
        self.assertEqual('admin,member', identity['HTTP_X_ROLES'])
        self.assertEqual('u1', identity['HTTP_X_USER_ID'])

    def test_project_header_cannot_override_url(self):
        identity = self._identity('/v1.0/p1/backups',
                                  {'X-Project-Id': 'someone-else'})
        self.assertEqual('p1', identity['HTTP_X_PROJECT_ID'])

    def test_no_project_outside_v1(self):
        self.assertEqual('', self._identity('/')['HTTP_X_PROJECT_ID'])

    def test_path_that_is_not_utf8_is_a_400_fault(self):
        request = webob.Request.blank('/v1.0/p1/backups/%FF')
        response = request.get_response(
            noauth.NoAuthMiddleware(_echo_identity))
        self.assertEqual(400, response.status_int)
        self.assertEqual({'badRequest': {
            'code': 400, 'message': 'The URL path is not valid UTF-8.'}},
            response.json)

    def test_user_id_that_could_not_be_stored_is_a_400(self):
        for user_id in ('u\x00', 'u\x01', 'u' * 256):
            request = webob.Request.blank('/v1.0/p1/backups',
                                          headers={'X-User-Id': user_id})
            response = request.get_response(
                noauth.NoAuthMiddleware(_echo_identity))
            self.assertEqual(400, response.status_int, user_id)
            self.assertIn('X-User-Id', response.json['badRequest']['message'])
        self.assertEqual('u' * 255, self._identity(
            '/v1.0/p1/backups', {'X-User-Id': 'u' * 255})['HTTP_X_USER_ID'])
