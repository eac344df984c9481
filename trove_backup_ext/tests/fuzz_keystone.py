"""Keystone mode of the hostile-input runs: tokens, forged identity
headers, and what a caller may get with them.

The app has keystonemiddleware's auth_token in front, its AuthTokenFixture
knowing TOKENS (register_tokens). api_fuzz.Runner(keystone=True) sends
every request with the token of PROJECT's member unless it names another
(or None: no token); with_identity() makes a share of the requests come
from someone else, or from the member claiming to be someone else; and
identity_problem() says what no such caller may get.
"""

import urllib.parse

from hypothesis import strategies as st

from trove_backup_ext.tests import fuzz_requests

PROJECT = fuzz_requests.PROJECT
OTHER_PROJECT = fuzz_requests.OTHER_PROJECT
ADMIN_PROJECT = 'fuzz-admin-project'
# {token: (project, roles)}.
TOKENS = {'fuzz-member': (PROJECT, ['member']),
          'fuzz-other-member': (OTHER_PROJECT, ['member']),
          'fuzz-admin': (ADMIN_PROJECT, ['admin'])}
# Identity headers a caller may add to try to be someone else; auth_token
# must strip every one. (X-Service-Token is not among them: auth_token
# validates it, and a token without the service role is a 401.)
FORGED = {'X-Roles': 'admin', 'X-Role': 'admin', 'X-Project-Id': PROJECT,
          'X-Tenant-Id': PROJECT, 'X-Tenant': PROJECT,
          'X-Project-Name': PROJECT, 'X-User-Id': 'fuzz-member',
          'X-Identity-Status': 'Confirmed', 'X-Is-Admin-Project': 'True',
          'X-Service-Roles': 'admin',
          'X-Service-Identity-Status': 'Confirmed',
          'X-Domain-Id': 'default', 'X-User-Domain-Id': 'default'}
# Not " fuzz-member ": HTTP drops the spaces around a header's value.
_UNKNOWN_TOKENS = ('unknown', 'FUZZ-MEMBER', 'fuzz-membe', 'fuzz-member-',
                   'fuzz-admin\x00', 'x' * 10000)
# Served without a token: oslo.middleware's health check, outside
# auth_token (the version documents are inside).
_PUBLIC = ('/healthcheck',)


def member_token(project):
    return [token for token, (owner, roles) in TOKENS.items()
            if owner == project and roles == ['member']][0]


def register_tokens(token_fixture):
    """TOKENS, in keystonemiddleware's AuthTokenFixture."""
    for token, (project, roles) in TOKENS.items():
        token_fixture.add_token_data(token_id=token, user_id=token,
                                     project_id=project, role_list=roles)


def with_identity(requests):
    """requests (a strategy of them), often with another identity: no
    token, an unknown one, another project's member, the admin (asking
    for all_projects), and in any case often forged identity headers."""
    def alter(pair):
        (method, path, template, query, body, headers), rnd = pair
        headers = dict(headers)
        # hypothesis draws 0.0 often: it keeps the member's token.
        roll = rnd.random()
        if roll > 0.9:
            headers['X-Auth-Token'] = None
        elif roll > 0.8:
            headers['X-Auth-Token'] = rnd.choice(_UNKNOWN_TOKENS)
        elif roll > 0.65:
            headers['X-Auth-Token'] = member_token(OTHER_PROJECT)
        elif roll > 0.55:
            headers['X-Auth-Token'] = 'fuzz-admin'
            if method in ('GET', 'HEAD'):
                query = '&'.join(filter(None, (query, 'all_projects=1')))
        if rnd.random() > 0.7:
            names = sorted(FORGED)
            for name in rnd.sample(names, rnd.randrange(1, len(names))):
                headers[name] = FORGED[name]
            if rnd.random() < 0.5:
                headers['X-Project-Id'] = OTHER_PROJECT
        return method, path, template, query, body, headers
    return st.tuples(requests, st.randoms(use_true_random=False)).map(alter)


def identity_problem(path, token, response, owners):
    """(kind, detail) of what response gives a caller with token (None:
    none) that it should not get, or None: anything but a 401 without a
    known token; for a member, success on another project's URL or any
    row of another project (owners: {row id: project})."""
    code = response.status_code
    if isinstance(path, bytes):
        path = path.decode('latin-1')
    if token not in TOKENS:
        if code != 401 and path.rstrip('/') not in _PUBLIC:
            return 'served without a valid token', None
        return None
    project, roles = TOKENS[token]
    if 'admin' in roles or code >= 400:
        return None
    parts = urllib.parse.unquote(path, 'latin-1').strip('/').split('/')
    if parts[0] == 'v1.0' and len(parts) > 1 and parts[1] != project:
        return 'served on another project\'s URL', None
    body = response.body.decode('utf-8', 'replace')
    for row_id, owner in owners.items():
        if owner != project and row_id in body:
            return 'showed another project\'s row', row_id
    return None
