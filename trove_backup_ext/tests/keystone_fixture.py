"""A real Keystone for the tests: the all-in-one of tools/keystone-aio.sh."""

import collections
import os
import threading

import fixtures
from keystoneauth1 import loading as ks_loading
from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session
import requests

from trove_backup_ext.tests import aio_tools

REPO = aio_tools.REPO
SCRIPT = os.path.join(REPO, 'tools', 'keystone-aio.sh')
VARIABLES = ('TBE_KEYSTONE_URL', 'TBE_KEYSTONE_AUTH_URL',
             'TBE_KEYSTONE_PASSWORD', 'TBE_KEYSTONE_SERVICE_USER',
             'TBE_KEYSTONE_SERVICE_PASSWORD', 'TBE_KEYSTONE_SERVICE_PROJECT')
AUTHTOKEN = 'keystone_authtoken'

# The projects and users tools/keystone-aio.sh provisions: in each project
# <project>-member, <project>-reader and <project>-admin.
PROJECT_A = 'tbe-a'
PROJECT_B = 'tbe-b'

_lock = threading.Lock()
_env = {}

Token = collections.namedtuple('Token', 'id user_id project_id roles')


def keystone_env():
    """The TBE_KEYSTONE_* variables of a running Keystone.

    Taken from the environment when tools/run-tests.sh exported them;
    otherwise tools/keystone-aio.sh starts its Keystone (idempotent, and
    locked against other test processes doing the same; the first install
    takes a minute or two) and prints them. A Keystone that cannot be
    started fails the test: it is never skipped.
    """
    with _lock:
        if not _env:
            _env.update(aio_tools.started(
                'keystone-aio.sh', 'TBE_KEYSTONE_URL', VARIABLES,
                timeout=600))
        return dict(_env)


def login(user, project):
    """A new project-scoped token of user, by password."""
    env = keystone_env()
    auth = v3.Password(auth_url=env['TBE_KEYSTONE_AUTH_URL'],
                       username=user, password=env['TBE_KEYSTONE_PASSWORD'],
                       user_domain_id='default', project_name=project,
                       project_domain_id='default')
    session = ks_session.Session(auth=auth)
    access = auth.get_access(session)
    return Token(access.auth_token, access.user_id, access.project_id,
                 access.role_names)


def revoke(token):
    """Revoke a token, as its owner logging out does."""
    response = requests.delete(
        keystone_env()['TBE_KEYSTONE_AUTH_URL'] + '/auth/tokens',
        headers={'X-Auth-Token': token.id, 'X-Subject-Token': token.id},
        timeout=30)
    if response.status_code != 204:
        raise AssertionError('Revoking gave %d: %s' % (
            response.status_code, response.text))


class AuthToken(fixtures.Fixture):
    """[keystone_authtoken] of conf set as a deployer sets it: the real
    Keystone, and the service user auth_token validates tokens with.

    auth_token registers the options of the auth_type plugin when it loads
    it; they are registered here first so that they can be overridden.
    """

    def __init__(self, conf, **options):
        super().__init__()
        self.conf = conf
        self.options = options

    def _setUp(self):
        env = keystone_env()
        ks_loading.register_auth_conf_options(self.conf, AUTHTOKEN)
        self.conf.register_opts(
            ks_loading.get_auth_plugin_conf_options('password'),
            group=AUTHTOKEN)
        options = {
            'www_authenticate_uri': env['TBE_KEYSTONE_URL'],
            'auth_type': 'password',
            'auth_url': env['TBE_KEYSTONE_AUTH_URL'],
            'username': env['TBE_KEYSTONE_SERVICE_USER'],
            'password': env['TBE_KEYSTONE_SERVICE_PASSWORD'],
            'project_name': env['TBE_KEYSTONE_SERVICE_PROJECT'],
            'user_domain_id': 'default',
            'project_domain_id': 'default',
        }
        options.update(self.options)
        for name, value in options.items():
            self.conf.set_override(name, value, group=AUTHTOKEN)
            self.addCleanup(self.conf.clear_override, name, group=AUTHTOKEN)
