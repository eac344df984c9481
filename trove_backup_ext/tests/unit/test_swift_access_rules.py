"""The access_rules filter of Swift's proxy, on its own: how it matches a
request to the rules, and which callbacks it wraps. Its effect inside a
real proxy is test_storage_token_escape's."""

from keystonemiddleware import auth_token
import testtools

from trove_backup_ext_swift import access_rules

ACCOUNT = '/v1/AUTH_p'
RULES = [
    {'service': 'object-store', 'method': 'PUT',
     'path': ACCOUNT + '/backups/b1/**'},
    {'service': 'object-store', 'method': 'GET',
     'path': ACCOUNT + '/backups/b0/**'},
    {'service': 'compute', 'method': 'GET', 'path': ACCOUNT + '/**'},
]


def environ(path, method='GET', rules=RULES, script_name=''):
    env = {'REQUEST_METHOD': method, 'PATH_INFO': path,
           'SCRIPT_NAME': script_name}
    if rules is not None:
        env['keystone.token_info'] = {'token': {'application_credential': {
            'id': 'c', 'access_rules': rules}}}
    return env


class Request(object):
    """What the filter reads of Swift's swob.Request."""

    def __init__(self, env):
        self.environ = env


class PathPatternTest(testtools.TestCase):

    # (rule path, request path): what auth_token's own matching says is
    # the reference, for paths without a regular expression's characters.
    CASES = [
        ('/v1/a/c/b1/**', '/v1/a/c/b1/manifest'),
        ('/v1/a/c/b1/**', '/v1/a/c/b1/chunks/0001'),
        ('/v1/a/c/b1/**', '/v1/a/c/b1/'),
        ('/v1/a/c/b1/**', '/v1/a/c/b1'),
        ('/v1/a/c/b1/**', '/v1/a/c/b10/manifest'),
        ('/v1/a/c/b1**', '/v1/a/c/b10/manifest'),
        ('/v1/a/c/*', '/v1/a/c/x'),
        ('/v1/a/c/*', '/v1/a/c/x/y'),
        ('/v1/a/c/*', '/v1/a/c/'),
        ('/v1/a/{container}/x', '/v1/a/c/x'),
        ('/v1/a/{container}/x', '/v1/a/c/d/x'),
        ('/v1/a/c', '/v1/a/c'),
        ('/v1/a/c', '/v1/a/c/'),
        ('/v1/a/c', '/v1/a/other'),
        ('/v1/a/c/%3Cp%3E/**', '/v1/a/c/%3Cp%3E/m'),
    ]

    def test_matches_as_auth_token_does(self):
        for rule, path in self.CASES:
            expected = bool(auth_token._path_matches(path, rule))
            got = bool(access_rules.path_pattern(rule).fullmatch(path))
            self.assertEqual(expected, got, (rule, path))

    def test_literal_characters_stand_for_themselves(self):
        # auth_token would let '.' match any character.
        pattern = access_rules.path_pattern('/v1/a/c.d/**')
        self.assertTrue(pattern.fullmatch('/v1/a/c.d/x'))
        self.assertFalse(pattern.fullmatch('/v1/a/cXd/x'))

    def test_request_path_is_quoted_as_webob_quotes_it(self):
        # PATH_INFO holds the UTF-8 bytes as latin-1 text (PEP 3333).
        raw = '/v1/a/c/é :@+<'.encode('utf-8').decode('latin-1')
        self.assertEqual('/v1/a/c/%C3%A9%20:@+%3C',
                         access_rules.request_path(environ(raw)))
        self.assertEqual('/proxy/v1/a', access_rules.request_path(
            environ('/v1/a', script_name='/proxy')))


class AllowsTest(testtools.TestCase):

    def test_method_path_and_service_must_all_match(self):
        self.assertTrue(access_rules.allows(
            RULES, 'PUT', ACCOUNT + '/backups/b1/manifest'))
        self.assertTrue(access_rules.allows(
            RULES, 'GET', ACCOUNT + '/backups/b0/chunk'))
        # Not the method of that path's rule.
        self.assertFalse(access_rules.allows(
            RULES, 'GET', ACCOUNT + '/backups/b1/manifest'))
        self.assertFalse(access_rules.allows(
            RULES, 'HEAD', ACCOUNT + '/backups/b0/chunk'))
        # Another service's rule does not count for Swift.
        self.assertFalse(access_rules.allows(
            RULES, 'GET', ACCOUNT + '/other/secret'))

    def test_no_rules_allow_nothing(self):
        self.assertFalse(access_rules.allows([], 'GET', ACCOUNT + '/c/o'))


class FilterTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.asked = []
        self.seen = []
        self.filter = access_rules.AccessRulesEverywhere(
            self.app, {}, lambda request: 'denied %s' % request.environ[
                'PATH_INFO'])

    def app(self, env, start_response):
        self.seen.append(env)
        return [b'ok']

    def keystoneauth(self, request):
        self.asked.append(request.environ['PATH_INFO'])
        return None

    def call(self, env):
        env['swift.authorize'] = self.keystoneauth
        self.assertEqual([b'ok'], self.filter(env, None))
        return env['swift.authorize']

    def test_a_restricted_token_is_held_to_its_rules_everywhere(self):
        authorize = self.call(environ(ACCOUNT + '/backups/b0/large'))
        # The caller's own request, then a dlo sub-request (which carries
        # a copy of the environment's swift.authorize) elsewhere.
        self.assertIsNone(authorize(Request(environ(
            ACCOUNT + '/backups/b0/large'))))
        self.assertEqual('denied %s/other/secret' % ACCOUNT,
                         authorize(Request(environ(
                             ACCOUNT + '/other/secret', rules=None))))
        self.assertEqual('denied %s/backups/b1/x' % ACCOUNT,
                         authorize(Request(environ(
                             ACCOUNT + '/backups/b1/x', 'HEAD', None))))
        # keystoneauth was asked only of what the rules let through.
        self.assertEqual([ACCOUNT + '/backups/b0/large'], self.asked)

    def test_the_rules_apply_with_a_service_token_too(self):
        env = environ(ACCOUNT + '/backups/b0/large')
        env['HTTP_X_SERVICE_TOKEN'] = 'anything'
        env['HTTP_X_SERVICE_IDENTITY_STATUS'] = 'Confirmed'
        authorize = self.call(env)
        self.assertIsNotNone(authorize(Request(environ(
            ACCOUNT + '/other/secret'))))

    def test_keystoneauth_still_decides_what_the_rules_allow(self):
        env = environ(ACCOUNT + '/backups/b1/x', 'PUT')
        env['swift.authorize'] = lambda request: 'keystoneauth says no'
        self.filter(env, None)
        self.assertEqual('keystoneauth says no', env['swift.authorize'](
            Request(environ(ACCOUNT + '/backups/b1/x', 'PUT'))))

    def test_other_tokens_are_left_alone(self):
        for env in (environ(ACCOUNT + '/c/o', rules=None),
                    dict(environ(ACCOUNT + '/c/o', rules=None),
                         **{'keystone.token_info': {'token': {
                             'application_credential': {'id': 'c'}}}})):
            self.assertEqual(self.keystoneauth, self.call(env))

    def test_no_authorize_callback_no_wrapper(self):
        # Anonymous or tempurl requests: keystoneauth set nothing to wrap.
        env = environ(ACCOUNT + '/c/o')
        self.filter(env, None)
        self.assertNotIn('swift.authorize', env)
