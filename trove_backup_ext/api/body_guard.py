"""Refuses requests pecan must not parse: bodies too large or too deep,
URLs and bodies that are not UTF-8, method overrides.

pecan parses a JSON body itself, before any controller runs (to offer its
keys as arguments), and turns any error but ValueError into a 500: a body
nested a thousand levels deep exhausts Python's stack in json.loads, and
a body of any size is parsed before a controller could answer 413. This
WSGI filter, in front of pecan, reads at most the allowed size and scans
the nesting depth without parsing, then hands pecan the same bytes.

pecan also answers a path, query string or body that is not UTF-8 with a
400 that names nothing (and logs a traceback for it), and a request whose
Accept header does not name JSON with a 406 that names nothing. It serves
"get" as GET and routes "POST ...?_method=delete" (or a form field
_method) as a DELETE: routes no document lists, that get past anything
filtering by method; and it serves "GET_ALL /backups" as a list.
"""

import io
import urllib.parse

import webob.dec

from trove_backup_ext.api import faults

# pecan's method override, read from the query string or a form body.
_METHOD_OVERRIDE = '_method'
# RFC 9110's methods: pecan answers each as it should (a 405 where a
# resource has none).
_HTTP_METHODS = ('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE',
                 'OPTIONS', 'TRACE', 'CONNECT')
_OVERRIDE_MESSAGE = ('Validation error: the %s parameter is not supported; '
                     'send the HTTP method itself.' % _METHOD_OVERRIDE)

# Far more than any request of this API nests (3 levels), far less than
# Python's recursion limit.
MAX_DEPTH = 64


def nesting_depth(body):
    """The deepest nesting of arrays and objects in a JSON text, counted
    without parsing it (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5c:          # backslash
                escaped = True
            elif byte == 0x22:          # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5b, 0x7b):      # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5d, 0x7d):      # ] }
            depth -= 1
    return deepest


class BodyGuard:

    def __init__(self, application, max_size):
        self.application = application
        self.max_size = max_size

    @webob.dec.wsgify
    def __call__(self, request):
        problem = _url_problem(request.environ) or _method_problem(
            request.method)
        if problem:
            return faults.fault_response(400, problem)
        # One representation, JSON, whatever Accept says (RFC 9110
        # 12.5.1 lets a server disregard it), as Trove answers.
        request.environ.pop('HTTP_ACCEPT', None)
        # pecan reads no body of a GET (only its query string); it does
        # read one of a HEAD (as JSON: a body that is not UTF-8 logged a
        # traceback).
        if request.method == 'GET' or not (
                request.content_length or request.is_body_readable):
            return request.get_response(self.application)
        if (request.content_length is not None and
                request.content_length > self.max_size):
            return self._too_large(request.content_length)
        body = request.body_file.read(self.max_size + 1)
        if len(body) > self.max_size:
            return self._too_large(len(body))
        if nesting_depth(body) > MAX_DEPTH:
            return faults.fault_response(
                400, 'Validation error: the request body is nested more '
                     'than %d levels deep.' % MAX_DEPTH)
        try:
            text = body.decode('utf-8')
        except UnicodeDecodeError as exc:
            return faults.fault_response(
                400, 'Validation error: the request body is not valid '
                     'UTF-8 (byte 0x%02x at offset %d).'
                     % (body[exc.start], exc.start))
        if _form_overrides_method(request.content_type, text):
            return faults.fault_response(400, _OVERRIDE_MESSAGE)
        if request.content_type == 'application/json':
            # JSON is UTF-8 and application/json has no charset (RFC 8259
            # 8.1, 11); pecan would decode with the one given ("charset=
            # utf-16" logged a traceback and answered a 400 naming
            # nothing).
            request.environ['CONTENT_TYPE'] = 'application/json'
        request.environ['wsgi.input'] = io.BytesIO(body)
        request.environ['CONTENT_LENGTH'] = str(len(body))
        request.environ.pop('HTTP_TRANSFER_ENCODING', None)
        return request.get_response(self.application)

    def _too_large(self, size):
        return faults.fault_response(
            413, 'Request body is %d bytes; the most allowed is %d.'
                 % (size, self.max_size))


def _url_problem(environ):
    """Why the request's path or query string cannot be read, or None."""
    # WSGI hands both over as latin-1 characters of the raw bytes; the
    # path already unquoted, the query string not.
    path = environ.get('PATH_INFO', '').encode('latin-1')
    query = environ.get('QUERY_STRING', '')
    for raw, what in ((path, 'URL path'), (urllib.parse.unquote_to_bytes(
            query.replace('+', ' ')), 'query string')):
        try:
            raw.decode('utf-8')
        except UnicodeDecodeError:
            return 'The %s is not valid UTF-8.' % what
    if _METHOD_OVERRIDE in urllib.parse.parse_qs(query,
                                                 keep_blank_values=True):
        return _OVERRIDE_MESSAGE
    return None


def _method_problem(method):
    # Methods are case-sensitive (RFC 9110 9.1); pecan lowers them, so
    # "get" and "delete" would get past a proxy filtering GET or DELETE.
    if method != method.upper():
        return ('Method %r is not %r: HTTP methods are case-sensitive.'
                % (method[:16], method[:16].upper()))
    # pecan routes a method it has no handler for to the controller
    # method of that name: "GET_ALL /backups" listed them.
    if method not in _HTTP_METHODS:
        return ('Method %r is not one this API knows (%s).'
                % (method[:16], ', '.join(_HTTP_METHODS)))
    return None


def _form_overrides_method(content_type, text):
    """Whether a form body (which pecan reads parameters from) names
    _method."""
    if content_type == 'application/x-www-form-urlencoded':
        return _METHOD_OVERRIDE in urllib.parse.parse_qs(
            text, keep_blank_values=True)
    if content_type == 'multipart/form-data':
        return 'name="%s"' % _METHOD_OVERRIDE in text
    return False
