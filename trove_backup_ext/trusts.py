"""Keystone trusts from backup owners to the service's Swift user.

A backup can outlast the token of the user who asked for it (Trove's
uploads fail when it expires). With [swift] store_in_owner_account, the
API uses the caller's token once, to delegate one of the caller's roles
on the project that Swift lets write ([swift] operator_roles) to the
service user; from then on the worker and the agents act as the service
user scoped to that trust, in the owner's Swift account. The worker
deletes the trust with the backup.
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
    if not (conf.swift.user and conf.swift.key):
        # An application credential cannot be scoped to a trust.
        raise exception.ConfigurationError(
            '[swift] store_in_owner_account needs [swift] user and key: '
            'the service user the trusts are made to.')


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

    def _writer_role(self, context):
        # One role Swift lets write is all the trust needs: the least
        # privileged the caller has (never admin when member will do),
        # since the service holds the trust as long as the backup lives.
        held = {role.lower(): role for role in context.roles}
        for wanted in self.options.operator_roles:
            if wanted.lower() in held:
                return held[wanted.lower()]
        raise exception.Forbidden(
            'Backups are kept in your project\'s Swift account, where '
            'storing them needs one of the roles %s; your roles are: %s.'
            % (', '.join(self.options.operator_roles),
               ', '.join(sorted(context.roles)) or 'none'))

    def create(self, context, project_id):
        """A new trust from the caller to the service user, on the
        backup's project_id; its id."""
        if not context.auth_token:
            raise exception.Forbidden(
                'Storing backups in your own Swift account needs your '
                'Keystone token.')
        if project_id != context.project_id:
            # A trust delegates roles on the token's project: the data
            # would land in the caller's account, not the owner's.
            raise exception.Forbidden(
                'A backup of project %s is kept in that project\'s Swift '
                'account: create it with a token scoped to project %s, '
                'not to %s.' % (project_id, project_id, context.project_id))
        body = {'trust': {
            'trustor_user_id': context.user_id,
            'trustee_user_id': None,
            'project_id': project_id,
            # Tokens of the trust act as the owner, whose roles Swift's
            # access rules know.
            'impersonation': True,
            'roles': [{'name': self._writer_role(context)}],
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


def release(conf, trust_id):
    """Best effort: delete the trust of a deleted backup, as the service
    user scoped to it. Keystone lets a trust's trustor delete it, and the
    trust's tokens impersonate the trustor; no user token is needed."""
    o = conf.swift
    auth = ks_generic.Password(
        auth_url=o.auth_url, username=o.user, password=o.key,
        user_domain_name=o.user_domain_name, trust_id=trust_id)
    session = ks_session.Session(
        auth=auth, verify=False if o.insecure else (o.cacert or True),
        timeout=o.timeout)
    try:
        session.delete(_identity_url(o.auth_url) + '/OS-TRUST/trusts/' +
                       trust_id, raise_exc=True)
    except ks_exceptions.NotFound:
        pass
    except ks_exceptions.ClientException as exc:
        # Left behind, it still lets the service user act in the owner's
        # account: name it, so that an operator can delete it.
        LOG.warning('Could not delete trust %s of a deleted backup; delete '
                    'it by hand: %s', trust_id, exc)


def _reason(exc):
    return getattr(exc, 'message', None) or type(exc).__name__
