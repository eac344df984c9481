"""Keystone trusts from backup owners to the service's Swift user.

A backup can outlast the token of the user who asked for it (Trove's
uploads fail when it expires). With [swift] store_in_owner_account, the
API uses the caller's token once, to delegate the caller's roles on the
project to the service user; from then on the worker and the agents act
as the service user scoped to that trust, in the owner's Swift account.
"""

import threading

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1.identity import generic as ks_generic
from keystoneauth1 import session as ks_session
from oslo_log import log as logging

from trove_backup_ext import exception

LOG = logging.getLogger(__name__)


def check_configuration(conf):
    """Refuse at start-up a configuration that cannot make trusts."""
    if conf.api.auth_strategy != 'keystone':
        raise exception.ConfigurationError(
            '[swift] store_in_owner_account needs [api] auth_strategy '
            'keystone: trusts are made from the caller\'s Keystone token.')
    if conf.swift.auth_version != '3':
        raise exception.ConfigurationError(
            '[swift] store_in_owner_account needs [swift] auth_version 3.')


def _identity_url(auth_url):
    url = auth_url.rstrip('/')
    return url if url.endswith('/v3') else url + '/v3'


class TrustMaker:

    def __init__(self, conf):
        self.options = conf.swift
        self._trustee_id = None
        self._lock = threading.Lock()

    def _verify(self):
        return False if self.options.insecure else (
            self.options.cacert or True)

    def trustee_id(self):
        """The [swift] user's id, looked up once."""
        with self._lock:
            if self._trustee_id is None:
                o = self.options
                auth = ks_generic.Password(
                    auth_url=o.auth_url, username=o.user, password=o.key,
                    user_domain_name=o.user_domain_name,
                    project_name=o.project_name, project_id=o.project_id,
                    project_domain_name=o.project_domain_name)
                self._trustee_id = ks_session.Session(
                    auth=auth, verify=self._verify(),
                    timeout=o.timeout).get_user_id()
            return self._trustee_id

    def _caller_session(self, context):
        auth = ks_generic.Token(auth_url=self.options.auth_url,
                                token=context.auth_token,
                                project_id=context.project_id)
        return ks_session.Session(auth=auth, verify=self._verify(),
                                  timeout=self.options.timeout)

    def create(self, context):
        """A new trust from the caller to the service user; its id."""
        if not context.auth_token:
            raise exception.Forbidden(
                'Storing backups in your own Swift account needs your '
                'Keystone token.')
        body = {'trust': {
            'trustor_user_id': context.user_id,
            'trustee_user_id': None,
            'project_id': context.project_id,
            # Tokens of the trust act as the owner, whose roles Swift's
            # access rules know.
            'impersonation': True,
            'roles': [{'name': role} for role in context.roles],
        }}
        try:
            body['trust']['trustee_user_id'] = self.trustee_id()
            response = self._caller_session(context).post(
                _identity_url(self.options.auth_url) + '/OS-TRUST/trusts',
                json=body, raise_exc=True)
        except (ks_exceptions.Unauthorized, ks_exceptions.Forbidden) as exc:
            raise exception.Forbidden(
                'Keystone refused to let project %s delegate its roles to '
                'the backup service: %s' % (context.project_id,
                                            _reason(exc)))
        except ks_exceptions.ClientException as exc:
            LOG.warning('Creating a trust for project %s failed: %s',
                        context.project_id, exc)
            raise exception.ServiceUnavailable(
                reason='Keystone could not create the trust the backup '
                       'needs (%s).' % _reason(exc))
        return response.json()['trust']['id']

    def delete(self, context, trust_id):
        """Best effort: drop a trust whose backup was not created."""
        try:
            self._caller_session(context).delete(
                _identity_url(self.options.auth_url) +
                '/OS-TRUST/trusts/' + trust_id, raise_exc=True)
        except ks_exceptions.ClientException as exc:
            LOG.warning('Could not delete unused trust %s: %s', trust_id,
                        exc)


def _reason(exc):
    return getattr(exc, 'message', None) or type(exc).__name__
