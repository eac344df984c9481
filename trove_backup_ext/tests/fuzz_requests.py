"""The requests of the hostile-input runs (tests/api_fuzz.py).

document_requests(): schemathesis makes them from the OpenAPI document,
fitting it and not, with ids often swapped for ids that exist.
hostile_requests(): what no schema describes (see api_fuzz's docstring).
Both are hypothesis strategies of (method, raw path, path template or
None, raw query string, body bytes or None, headers).
"""

import json
import urllib.parse

from hypothesis import strategies as st

from trove_backup_ext.api import openapi

PROJECT = 'fuzz-project'
OTHER_PROJECT = 'fuzz-other'

# Requests from the OpenAPI document.

_BODY_IDS = {'instance': 'instanceId', 'instance_id': 'instanceId',
             'parent_id': 'backupId', 'backup_id': 'backupId',
             'marker': 'backupId'}


def _pick(rnd, pool):
    """An item of pool, or None if it is empty. The same draws whatever
    the pool holds: hypothesis replays them while the data changes."""
    roll, index = rnd.random(), rnd.randrange(1 << 16)
    return pool[index % len(pool)] if pool and roll < 0.6 else None


def _swap_ids(runner, rnd, values, kinds):
    """Replace, often, the ids in values by ids that exist."""
    if not isinstance(values, dict):
        return values
    for key in list(values):
        kind = kinds.get(key)
        known = _pick(rnd, runner.ids[kind]) if kind else None
        if known:
            values[key] = known
        elif isinstance(values[key], dict):
            _swap_ids(runner, rnd, values[key], kinds)
    return values


def document_requests(runner):
    """A strategy of (method, path, template, query, body, headers) made
    by schemathesis from the document, both fitting and not."""
    import schemathesis
    from schemathesis.generation import modes

    schema = schemathesis.openapi.from_dict(runner.document)
    strategies = [result.ok().as_strategy(generation_mode=mode)
                  for result in schema.get_all_operations()
                  for mode in (modes.GenerationMode.POSITIVE,
                               modes.GenerationMode.NEGATIVE)]
    return st.tuples(st.one_of(strategies), st.randoms(
        use_true_random=False)).map(
            lambda pair: _case_request(runner, *pair))


def _case_request(runner, case, rnd):
    params = case.path_parameters or {}
    if 'project_id' in params and rnd.random() < 0.85:
        params['project_id'] = (PROJECT if rnd.random() < 0.85
                                else OTHER_PROJECT)
    path_kinds = {name: name for name in runner.ids}
    _swap_ids(runner, rnd, params, path_kinds)
    if isinstance(case.query, dict):
        _swap_ids(runner, rnd, case.query, _BODY_IDS)
    if isinstance(case.body, dict):
        for value in case.body.values():
            _swap_ids(runner, rnd, value, _BODY_IDS)
    kwargs = case.as_transport_kwargs(base_url='http://localhost')
    url = urllib.parse.urlsplit(kwargs['url'])
    query = url.query
    if kwargs.get('params'):
        extra = urllib.parse.urlencode(kwargs['params'], doseq=True)
        query = '&'.join(filter(None, (query, extra)))
    headers = {key: value for key, value in kwargs['headers'].items()
               if key.lower() not in ('user-agent', 'accept-encoding',
                                      'connection')}
    if runner.keystone:
        # schemathesis fills the security scheme's header with random
        # text: the runner's member token instead (fuzz_keystone's
        # with_identity sends the others).
        headers = {key: value for key, value in headers.items()
                   if key.lower() != 'x-auth-token'}
    body = None
    if 'json' in kwargs:
        body = json.dumps(kwargs['json']).encode('utf-8')
        headers.setdefault('Content-Type', 'application/json')
    elif kwargs.get('data') is not None:
        body = kwargs['data']
        if isinstance(body, str):
            body = body.encode('utf-8', 'surrogatepass')
    if rnd.random() < 0.1:
        headers['X-Roles'] = 'admin'
    return (case.method.upper(), url.path,
            case.path if _routes_as_named(params.values()) else None,
            query, body, headers)


def _routes_as_named(ids):
    """Whether a path made of ids routes to its template: not when an id
    is empty or holds a "/" (pecan then sees other segments) or is the
    name of a fixed path beside the template (backup_schedules/health)."""
    for value in ids:
        value = urllib.parse.unquote(str(value))
        if not value or '/' in value or value == 'health':
            return False
    return True


# Requests no schema describes.

_EXTRA_TEMPLATES = (
    '/v1.0/{project_id}', '/v1.0/{project_id}/', '/v1.0/{project_id}/nope',
    '/v1.0/{project_id}/backups/{backupId}/nope',
    '/v1.0/{project_id}/backups/{backupId}/verify/x',
    '/v1.0/{project_id}/instances/{instanceId}/nope',
    '/v1.0/{project_id}/instances/{instanceId}/backups/{backupId}',
    '/v1.0/{project_id}/backup_strategies/{backupId}',
    '/v1.0/{project_id}/restores/{restoreId}/x',
    '/v1.0/{project_id}/backup_schedules/{scheduleId}/x',
    '/v2.0/', '/v1.0', '//', '/healthcheck', '/healthcheck/x',
)
_METHODS = ('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS',
            'TRACE', 'CONNECT', 'PROPFIND', 'get', 'X' * 300, '', 'GET_ALL',
            'GET_ONE', 'POST_PUT', 'INDEX', '_LOOKUP')
_HOSTILE_IDS = (
    '', '%00', '%FF', '%ED%A0%80', '..', '.', '%2F', '%2E%2E', 'a' * 10000,
    'health', '%C2%9B', '%20', ';', '%25', '%C3%A9', 'x%0A', '{backupId}',
    '00000000-0000-4000-8000-000000000000',
    '00000000-0000-4000-8000-000000000000%0A', 'null', '-1', '%EF%BF%BF',
    '%F4%90%80%80', '%C0%AF', '\u00e9\U0001f600',
)
_NUMBERS = (b'1e999999', b'-1e999999', b'9' * 5000, b'1' + b'0' * 4299,
            b'NaN', b'Infinity', b'-Infinity', b'1.0', b'-0', b'01', b'1e2',
            b'2147483648', b'9223372036854775808', b'1E-400', b'0x10',
            b'-1', b'1.5', b'true', b'null', b'[]', b'{}')
_BAD_BYTES = (b'\xff', b'\xc0\xaf', b'\xed\xa0\x80', b'\xf4\x90\x80\x80',
              b'\xe2\x82', b'\x00', b'\\ud800', b'\\u0000', b'\\q', b'\x1b[2J',
              b'\xc2\x9b', b'\\udfff\\ud800')
_CONTENT_TYPES = ('application/json', 'application/json; charset=utf-8',
                  'application/json; charset=latin-1', 'APPLICATION/JSON',
                  'text/plain', 'application/x-www-form-urlencoded',
                  'multipart/form-data; boundary=xyz', '',
                  'application/json;;;', 'application/merge-patch+json',
                  'application/json; charset=utf-16', None)
_DEPTHS = (63, 64, 65, 1000, 100000)
_QUERY_NAMES = ('_method', 'limit', 'marker', 'instance_id', 'backup_id',
                'datastore',
                'all_projects', 'project_id', 'include_clustered',
                'backupId', 'x', '', 'LIMIT', 'limit[]', '%FF', 'a' * 1000)
_QUERY_VALUES = ('delete', 'PATCH', '1', '0', '-1', '1e3', '9' * 65, '9' * 64,
                 '%FF', '%00',
                 '%ED%A0%80', 'true', 'TRUE', 'maybe', '', '%0A', 'x' * 300,
                 '00000000-0000-4000-8000-000000000000', '%C2%9B', '+',
                 '%2B1', '1%20', 'mysql', PROJECT, OTHER_PROJECT)
_RAW_QUERIES = ('%FF', 'limit=1&limit=2', 'limit', '=x', '&&&', ';limit=1',
                'limit=1;marker=x', 'a' * 20000 + '=1', 'marker=%00',
                'all_projects=%ED%A0%80&project_id=x', '%', '%%', '%G0=1',
                'limit=%', '?', '#x', 'limit=1#frag')
_ROLES = ('admin', 'member', '', 'ADMIN', 'admin,member', 'reader',
          'a' * 10000, 'admin\x00', ' admin ', 'admin,,', '\u00e9')


def _pairs(pairs):
    """A JSON object text of (key, value text) pairs, repeats kept."""
    return b'{' + b', '.join(json.dumps(key).encode() + b': ' + value
                             for key, value in pairs) + b'}'


def valid_body(runner, template, rnd):
    def pick(kind):
        pool = runner.ids[kind]
        index = rnd.randrange(1 << 16)
        return pool[index % len(pool)] if pool else 'x'
    if template.endswith('/backups'):
        return {'backup': {'name': 'b', 'instance': pick('instanceId')}}
    if template.endswith('/restores'):
        return {'restore': {'backup_id': pick('backupId'),
                            'instance_id': pick('instanceId')}}
    if template.endswith('/restore'):
        return {'restore': {'instance_id': pick('instanceId')}}
    if template.endswith('/backup_schedules'):
        return {'backup_schedule': {'name': 'n', 'full_cron': '0 1 * * *',
                                    'instance_id': pick('instanceId'),
                                    'retention': {'keep_last': 2}}}
    if template.endswith('{scheduleId}'):
        return {'backup_schedule': {'name': 'm',
                                    'retention': {'keep_daily': 2}}}
    if template.endswith('/backup_strategies'):
        return {'backup_strategy': {'swift_container': 'c'}}
    return {}


def _leaf_paths(value, path=()):
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaf_paths(item, path + (key,))
    else:
        yield path


def _with_leaf(value, path, leaf):
    """value with the leaf at path replaced by the raw JSON text leaf."""
    marker = '\u0001LEAF\u0001'
    if not path:
        return leaf
    copy_ = json.loads(json.dumps(value))
    target = copy_
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = marker
    return json.dumps(copy_).encode().replace(
        json.dumps(marker).encode(), leaf)


def _mutated_body(valid, rnd):
    """A hostile variant of a valid body, as bytes."""
    text = json.dumps(valid).encode()
    leaves = list(_leaf_paths(valid))
    leaf = rnd.choice(leaves)
    kind = rnd.randrange(12)
    if kind == 0:
        return text
    if kind == 1:
        depth = rnd.choice(_DEPTHS)
        return b'[' * depth + b']' * depth
    if kind == 2:
        depth = rnd.choice(_DEPTHS)
        return b'{"a": ' * depth + b'1' + b'}' * depth
    if kind == 3:
        depth = rnd.choice(_DEPTHS)
        return _with_leaf(valid, leaf, b'[' * depth + b'1' + b']' * depth)
    if kind == 4:
        return _with_leaf(valid, leaf, rnd.choice(_NUMBERS))
    if kind == 5:
        return _with_leaf(valid, leaf, b'"ab' + rnd.choice(_BAD_BYTES) +
                          b'cd"')
    if kind == 6 and valid:
        # A key given twice, at the top or inside.
        key, inner = next(iter(valid.items()))
        if isinstance(inner, dict) and inner and rnd.random() < 0.5:
            first = next(iter(inner))
            pairs = [(k, json.dumps(v).encode()) for k, v in inner.items()]
            pairs.append((first, b'"other"'))
            return _pairs([(key, _pairs(pairs))])
        return _pairs([(key, json.dumps(inner).encode()),
                       (key, b'{}')])
    if kind == 7:
        return rnd.choice((b'', b' ', b'null', b'[]', b'"s"', b'1', b'{}',
                           b'{}x', b'{}{}', b'/*x*/{}', b'\xef\xbb\xbf' + text,
                           text.decode().encode('utf-16'), text[:-1],
                           text[:len(text) // 2], b'{"a":}', b'\x00' * 8))
    if kind == 8:
        return _with_leaf(valid, leaf, json.dumps(
            'x' * rnd.choice((256, 257, 1025, 60000, 70000))).encode())
    if kind == 9:
        return _pairs([('k%d' % i, b'1') for i in range(rnd.choice(
            (100, 10000)))])
    if kind == 10:
        return bytes(rnd.randrange(256) for _ in range(rnd.randrange(64)))
    return _with_leaf(valid, leaf, rnd.choice((
        b'{}', b'[]', b'null', b'true', b'"\\u0000"', b'"\\ud800"',
        b'"\\uDC00x"', b'""', b'" "', b'"%s"' % b'\xe2\x80\xae' * 3)))


def _hostile_path(runner, template, rnd):
    def value(name):
        if name == 'project_id':
            roll = rnd.random()
            if roll < 0.7:
                return PROJECT
            if roll < 0.8:
                return OTHER_PROJECT
            return rnd.choice(_HOSTILE_IDS)
        hostile = rnd.choice(_HOSTILE_IDS)
        return _pick(rnd, runner.ids.get(name) or []) or hostile
    path = template
    ids = []
    for name in ('project_id', 'backupId', 'instanceId', 'restoreId',
                 'scheduleId'):
        if '{%s}' % name in path:
            ids.append(value(name))
            path = path.replace('{%s}' % name, ids[-1])
    return path, template if _routes_as_named(ids) else None


def _hostile_query(runner, rnd):
    roll = rnd.random()
    if roll < 0.3:
        return ''
    if roll < 0.45:
        return rnd.choice(_RAW_QUERIES)
    pairs = []
    for _ in range(rnd.randrange(1, 4)):
        name = rnd.choice(_QUERY_NAMES)
        kind = _BODY_IDS.get(name)
        value = rnd.choice(_QUERY_VALUES)
        value = (_pick(rnd, runner.ids[kind]) if kind else None) or value
        pairs.append('%s=%s' % (name, value))
    return '&'.join(pairs)


def _hostile_headers(rnd, body):
    headers = {}
    content_type = rnd.choice(_CONTENT_TYPES) if body is not None else None
    if body is not None and rnd.random() < 0.6:
        content_type = 'application/json'
    if content_type is not None:
        headers['Content-Type'] = content_type
    if rnd.random() < 0.3:
        headers['X-Roles'] = rnd.choice(_ROLES)
    if rnd.random() < 0.1:
        headers['X-User-Id'] = rnd.choice(('u', 'x' * 300, 'a\x00',
                                           '\u00e9'))
    if rnd.random() < 0.1:
        headers['X-Project-Id'] = OTHER_PROJECT
    if rnd.random() < 0.1:
        headers['X-Auth-Token'] = rnd.choice(('', 'x' * 10000, '\u00e9'))
    if rnd.random() < 0.1:
        headers['Accept'] = rnd.choice(('text/html', 'application/xml',
                                        '*/*', 'application/json;q=0',
                                        '\x00'))
    if rnd.random() < 0.05:
        headers['X-Openstack-Request-Id'] = rnd.choice(('x', 'req-\x00',
                                                        'r' * 1000))
    if rnd.random() < 0.05:
        headers['X-Forwarded-Proto'] = rnd.choice(('https', 'javascript'))
    if rnd.random() < 0.1 and body is not None:
        headers['Content-Length'] = rnd.choice((
            '0', '-1', 'abc', '99999999999', str(max(len(body) - 1, 0)),
            str(len(body) + 10), ' 1', '1e3'))
    if rnd.random() < 0.05:
        headers['Transfer-Encoding'] = 'chunked'
    return headers


def hostile_requests(runner):
    """A strategy of (method, path, template, query, body, headers)
    that no schema describes."""
    templates = [op.path for op in openapi.OPERATIONS] + list(
        _EXTRA_TEMPLATES)
    methods = {op.path: [] for op in openapi.OPERATIONS}
    for op in openapi.OPERATIONS:
        methods[op.path].append(op.method)

    def build(rnd):
        template = rnd.choice(templates)
        if template in methods and rnd.random() < 0.6:
            method = rnd.choice(methods[template])
        else:
            method = rnd.choice(_METHODS)
        body = None
        if method not in ('GET', 'HEAD') or rnd.random() < 0.1:
            if rnd.random() < 0.9:
                body = _mutated_body(
                    valid_body(runner, template, rnd), rnd)
        headers = _hostile_headers(rnd, body)
        path, template = _hostile_path(runner, template, rnd)
        return (method, path, template, _hostile_query(runner, rnd), body,
                headers)
    return st.randoms(use_true_random=False).map(build)
