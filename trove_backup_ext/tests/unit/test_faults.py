"""Fault bodies and the fault-wrapping middleware."""

import json

import webob
import webob.dec

from trove_backup_ext.api import faults
from trove_backup_ext.tests import base


class FaultNameTest(base.TestCase):

    def test_trove_names(self):
        for code, name in ((400, 'badRequest'), (404, 'itemNotFound'),
                           (413, 'overLimit'), (422, 'unprocessableEntity'),
                           (409, 'conflict'), (500, 'instanceFault')):
            self.assertEqual(name, faults.fault_name(code))

    def test_other_codes_follow_trove_rule(self):
        self.assertEqual('gone', faults.fault_name(410))

    def test_response_shape(self):
        response = faults.fault_response(404, 'Resource x cannot be found.')
        self.assertEqual(404, response.status_code)
        self.assertEqual('application/json', response.content_type)
        self.assertEqual({'itemNotFound': {
            'code': 404, 'message': 'Resource x cannot be found.'}},
            json.loads(response.body))


class FaultWrapperTest(base.TestCase):

    def _call(self, application):
        return webob.Request.blank('/').get_response(
            faults.FaultWrapper(application))

    def test_crash_becomes_instance_fault(self):
        def crash(environ, start_response):
            raise RuntimeError('secret detail')
        response = self._call(crash)
        self.assertEqual(500, response.status_code)
        body = json.loads(response.body)
        self.assertIn('instanceFault', body)
        self.assertNotIn('secret', response.text)

    def test_foreign_error_is_rewritten(self):
        @webob.dec.wsgify
        def unauthorized(request):
            response = webob.Response(
                status=401, content_type='application/json',
                body=json.dumps({'error': {'code': 401,
                                           'title': 'Unauthorized',
                                           'message': 'No token.'}}).encode())
            response.headers['WWW-Authenticate'] = 'Keystone uri="x"'
            return response
        response = self._call(unauthorized)
        self.assertEqual(401, response.status_code)
        self.assertEqual({'unauthorized': {'code': 401,
                                           'message': 'No token.'}},
                         json.loads(response.body))
        self.assertEqual('Keystone uri="x"',
                         response.headers['WWW-Authenticate'])

    def test_html_error_is_rewritten(self):
        @webob.dec.wsgify
        def html(request):
            return webob.Response(status=403, body=b'<html>no</html>')
        body = json.loads(self._call(html).body)
        self.assertEqual(403, body['forbidden']['code'])

    def test_success_untouched(self):
        @webob.dec.wsgify
        def ok(request):
            return webob.Response(status=200, body=b'plain')
        self.assertEqual(b'plain', self._call(ok).body)
