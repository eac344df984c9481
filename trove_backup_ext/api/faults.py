"""Trove's fault body, and the middleware that makes every error one.

Every error a client sees is {"<faultName>": {"code": N, "message": "..."}}
with Content-Type application/json: python-troveclient reads its message
from that shape, and crashes on some others.
"""

import json

from oslo_log import log as logging
import webob
import webob.dec
import webob.exc

LOG = logging.getLogger(__name__)

FAULT_NAMES = {
    400: 'badRequest',
    401: 'unauthorized',
    403: 'forbidden',
    404: 'itemNotFound',
    405: 'badMethod',
    409: 'conflict',
    413: 'overLimit',
    415: 'badMediaType',
    422: 'unprocessableEntity',
    500: 'instanceFault',
    501: 'notImplemented',
    503: 'serviceUnavailable',
}


def fault_name(code):
    name = FAULT_NAMES.get(code)
    if name is None:
        # Trove's rule for the rest: the webob class name, "HTTP" cut off
        # and the first letter lowered.
        cls = webob.exc.status_map.get(code, webob.exc.HTTPInternalServerError)
        title = cls.__name__[len('HTTP'):]
        name = title[:1].lower() + title[1:]
    return name


def fault_body(code, message):
    """Trove's fault body of an error, as JSON bytes."""
    return json.dumps({fault_name(code): {
        'code': code, 'message': message}}).encode('utf-8')


def fault_response(code, message, headers=None):
    response = webob.Response(status=code, body=fault_body(code, message),
                              content_type='application/json',
                              charset=None)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def internal_error_response(request_id):
    return fault_response(
        500, 'Internal Server Error. Please keep this ID to help us figure '
             'out what went wrong: (%s).' % request_id)


def _is_fault_body(response):
    if not (response.content_type or '').startswith('application/json'):
        return False
    try:
        body = json.loads(response.body)
    except ValueError:
        return False
    name = fault_name(response.status_code)
    return (isinstance(body, dict) and list(body) == [name] and
            isinstance(body[name], dict) and 'message' in body[name])


def _message_of(response):
    try:
        body = json.loads(response.body)
        if isinstance(body, dict) and isinstance(body.get('error'), dict):
            return str(body['error'].get('message') or response.status)
    except ValueError:
        pass
    return response.status.split(' ', 1)[1] + '.'


class FaultWrapper:
    """Outermost middleware: no error leaves in another shape.

    It catches what escaped the application (a bug: 500 with the request
    id, the traceback only in the log) and rewrites error responses made by
    middleware below it, such as keystonemiddleware's 401.
    """

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, request):
        try:
            response = request.get_response(self.application)
        except Exception:
            request_id = request.environ.get('openstack.request_id', '-')
            # The raw path: request.path decodes it, and fails (again) on
            # a path that is not UTF-8.
            LOG.exception('Unexpected error serving %s %r (request %s)',
                          request.method,
                          request.environ.get('PATH_INFO', ''), request_id)
            return internal_error_response(request_id)
        if response.status_code >= 400 and not _is_fault_body(response):
            headers = {}
            if 'WWW-Authenticate' in response.headers:
                headers['WWW-Authenticate'] = response.headers[
                    'WWW-Authenticate']
            return fault_response(response.status_code,
                                  _message_of(response), headers)
        return response
