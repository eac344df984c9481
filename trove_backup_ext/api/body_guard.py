"""Refuses request bodies pecan must not parse: too large or too deep.

pecan parses a JSON body itself, before any controller runs (to offer its
keys as arguments), and turns any error but ValueError into a 500: a body
nested a thousand levels deep exhausts Python's stack in json.loads, and
a body of any size is parsed before a controller could answer 413. This
WSGI filter, in front of pecan, reads at most the allowed size and scans
the nesting depth without parsing, then hands pecan the same bytes.
"""

import io

import webob.dec

from trove_backup_ext.api import faults

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
        if request.method in ('GET', 'HEAD') or not (
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
        request.environ['wsgi.input'] = io.BytesIO(body)
        request.environ['CONTENT_LENGTH'] = str(len(body))
        request.environ.pop('HTTP_TRANSFER_ENCODING', None)
        return request.get_response(self.application)

    def _too_large(self, size):
        return faults.fault_response(
            413, 'Request body is %d bytes; the most allowed is %d.'
                 % (size, self.max_size))
