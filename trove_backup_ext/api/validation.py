"""Reads request bodies and checks them and query strings against schemas.

Messages name the field and what is wrong with it, in Trove's
"Validation error: backup['name'] ..." shape.
"""

import json
import re

import jsonschema

from trove_backup_ext import exception

_SHOWN_VALUE = 64   # characters of a bad value repeated in a message

# What no string of a request may hold, whatever its schema says: checked
# here once for every value and key, so no field can forget it.
# - C0 controls and DEL: no name, id or filter needs them; NUL is refused
#   by PostgreSQL (a 500), a newline slips past a Python "$", and they end
#   up in paths, logs and terminals.
# - C1 controls (U+0080-U+009F): refused too. They are valid UTF-8 but are
#   in practice mis-decoded cp1252 text, and U+009B (CSI) starts a terminal
#   escape sequence in the operator's "openstack ... list".
# - Lone surrogates (U+D800-U+DFFF): not characters. JSON's "\ud800"
#   escape produces one; no database can encode it as UTF-8 (a 500).
_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f-\x9f\ud800-\udfff]')


def forbidden_character(text):
    """The first character of text that no request string may hold, or
    None."""
    match = _FORBIDDEN.search(text)
    return match.group() if match else None


def _character_problem(text):
    char = forbidden_character(text)
    if char is None:
        return None
    if '\ud800' <= char <= '\udfff':
        return 'has lone surrogate U+%04X, which is not a character' % (
            ord(char))
    return 'has control character U+%04X, which no field may hold' % (
        ord(char))


def _bad_strings(data):
    """(path, is_key, message) of every string in data, keys included,
    that holds a forbidden character; a key's path is its object's.

    A loop, not recursion: a body of deeply nested lists that json.loads
    accepts must not exhaust Python's stack here.
    """
    stack = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            problem = _character_problem(value)
            if problem:
                yield path, False, '%s %s' % (_shown(value), problem)
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                problem = _character_problem(key)
                if problem:
                    yield path, True, 'key %s %s' % (_shown(key), problem)
                else:
                    stack.append((path + (key,), item))
        elif isinstance(value, list):
            stack.extend((path + (index,), item) for index, item
                         in reversed(list(enumerate(value))))


def _object_of_unique_keys(pairs):
    """A JSON object's dict; a key given twice is an error, as a query
    parameter given twice is (JSON's RFC 8259 leaves the meaning to each
    reader, so a proxy and this API could read different values)."""
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError('key %s is given more than once' % _shown(key))
        result[key] = value
    return result


def _not_json(constant):
    # Python's json reads NaN, Infinity and -Infinity; JSON has none.
    raise ValueError('%s is not a JSON value' % constant)


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
        return json.loads(raw, object_pairs_hook=_object_of_unique_keys,
                          parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError) as exc:
        raise exception.BadRequest(
            reason='the request body is not valid JSON: %s.' % exc)
    except RecursionError:
        # json.loads recurses once per nested array or object.
        raise exception.BadRequest(
            reason='the request body is nested too deeply.')


def _path(parts, root):
    """backup['name'] for ('backup', 'name'); body[0]['name'] when the
    body is an array (a str + int was once a 500)."""
    parts = tuple(parts)    # jsonschema's are a deque.
    if not parts:
        return root
    if isinstance(parts[0], str):
        path, parts = parts[0], parts[1:]
    else:
        path = root
    return path + ''.join('[%r]' % (part,) for part in parts)


def _shown(value):
    text = repr(value)
    if len(text) > _SHOWN_VALUE:
        text = text[:_SHOWN_VALUE] + '...(%d characters)' % len(str(value))
    return text


def _describe(error, root):
    path = _path(error.absolute_path, root)
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
    """Raise ValidationError naming every problem of data against schema,
    and every string holding a character no request may (see _FORBIDDEN).

    root names data itself in messages ("body", "query").
    """
    bad_strings = list(_bad_strings(data))
    problems = ['%s %s' % (_path(path, root), message)
                for path, _, message in bad_strings]
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(data),
                    key=lambda e: (list(e.absolute_path), e.validator))
    # A value of the wrong type fails other checks too; say it once. A
    # value with a forbidden character may fail its pattern too: the
    # character is what to fix.
    mistyped = {tuple(e.absolute_path) for e in errors
                if e.validator == 'type'}
    errors = [e for e in errors if e.validator == 'type' or
              tuple(e.absolute_path) not in mistyped]
    bad_values = {path for path, is_key, _ in bad_strings if not is_key}
    problems += [_describe(error, root) for error in errors
                 if tuple(error.absolute_path) not in bad_values]
    if problems:
        raise exception.ValidationError(reason='; '.join(problems))


def single_valued_query(request):
    """Query parameters as a dict; a repeated parameter is a 400."""
    params = {}
    for key, value in request.GET.items():
        if key in params:
            raise exception.ValidationError(
                reason="query parameter '%s' is given more than once" % key)
        params[key] = value
    return params
