"""Reads request bodies and checks them and query strings against schemas.

Messages name the field and what is wrong with it, in Trove's
"Validation error: backup['name'] ..." shape.
"""

import json

import jsonschema

from trove_backup_ext import exception

_SHOWN_VALUE = 64   # characters of a bad value repeated in a message


def read_json_body(request, limit):
    """The decoded JSON object of request, or a 4xx exception."""
    if request.content_length is not None and request.content_length > limit:
        raise exception.RequestTooLarge(size=request.content_length,
                                        limit=limit)
    raw = request.body_file.read(limit + 1)
    if len(raw) > limit:
        raise exception.RequestTooLarge(size=len(raw), limit=limit)
    if not raw.strip():
        raise exception.BadRequest(
            reason='the request body is empty; send a JSON object.')
    content_type = request.content_type or ''
    if content_type != 'application/json':
        raise exception.UnsupportedMediaType(
            content_type=content_type or '(none)')
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise exception.BadRequest(
            reason='the request body is not valid JSON: %s.' % exc)


def _path(error, root):
    path = ''
    for index, part in enumerate(error.absolute_path):
        path += part if index == 0 else '[%r]' % (part,)
    return path or root


def _shown(value):
    text = repr(value)
    if len(text) > _SHOWN_VALUE:
        text = text[:_SHOWN_VALUE] + '...(%d characters)' % len(str(value))
    return text


def _describe(error, root):
    path = _path(error, root)
    custom = error.schema.get('x-message') if isinstance(
        error.schema, dict) else None
    if custom and error.validator not in ('type', 'required'):
        return '%s %s %s' % (path, _shown(error.instance), custom)
    if error.validator == 'maxLength':
        return '%s %s is longer than %d characters' % (
            path, _shown(error.instance), error.validator_value)
    if error.validator in ('additionalProperties', 'required', 'type'):
        return '%s %s' % (path, error.message)
    return '%s %s %s' % (path, _shown(error.instance),
                         error.message.split(' ', 1)[-1]
                         if error.message.startswith(repr(error.instance))
                         else error.message)


def validate(schema, data, root='body'):
    """Raise ValidationError naming every problem of data against schema.

    root names data itself in messages ("body", "query").
    """
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(data),
                    key=lambda e: (list(e.absolute_path), e.validator))
    # A value of the wrong type fails other checks too; say it once.
    mistyped = {tuple(e.absolute_path) for e in errors
                if e.validator == 'type'}
    errors = [e for e in errors if e.validator == 'type' or
              tuple(e.absolute_path) not in mistyped]
    if errors:
        raise exception.ValidationError(
            reason='; '.join(_describe(error, root) for error in errors))


def single_valued_query(request):
    """Query parameters as a dict; a repeated parameter is a 400."""
    params = {}
    for key, value in request.GET.items():
        if key in params:
            raise exception.ValidationError(
                reason="query parameter '%s' is given more than once" % key)
        params[key] = value
    return params
