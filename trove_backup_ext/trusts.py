"""Keystone trusts from backup owners to the service's Swift user.

The fallback of [swift] store_in_owner_account where a deployment cannot
use application credentials (owner_account_credentials = trust; see
app_credentials.py for the default). The API uses the caller's token
once, to delegate one of the caller's roles on the project that Swift
lets write ([swift] operator_roles) to the service user, until [swift]
trust_lifetime_days. The worker acts as the service user scoped to that
trust and gives agents only tokens of it, so no agent needs the service
user's password. The worker deletes the trust with the backup.

Nothing here logs a trust id: it is what the service user's password
turns into the owner's account.
"""

import datetime
import threading

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1.identity import generic as ks_generic
from keystoneauth1 import session as ks_session
from oslo_log import log as logging
from oslo_utils import timeutils

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
        # An application credential cannot be scoped to a trust, nor
        # delete another user's application credentials.
        raise exception.ConfigurationError(
            '[swift] store_in_owner_account needs [swift] user and key: '
            'the service user that revokes the owners\' credentials (or '
            'that the trusts are made to).')
    if (conf.swift.owner_account_credentials == 'application_credential'
            and not conf.swift.credential_secret_key):
        raise exception.ConfigurationError(
            '[swift] store_in_owner_account with application credentials '
            'needs [swift] credential_secret_key, from which the '
            'credentials\' secrets are derived.')


def check_caller(context, project_id):
    """Refuse (403) a caller whose token cannot delegate project_id."""
    if not context.auth_token:
        raise exception.Forbidden(
            'Storing backups in your own Swift account needs your '
            'Keystone token.')
    if project_id != context.project_id:
        # Delegation is of roles on the token's project: the data
        # would land in the caller's account, not the owner's.
        raise exception.Forbidden(
            'A backup of project %s is kept in that project\'s Swift '
            'account: create it with a token scoped to project %s, '
            'not to %s.' % (project_id, project_id, context.project_id))


def identity_url(auth_url):
    """Keystone's v3 API under [swift] auth_url."""
    url = auth_url.rstrip('/')
    return url if url.endswith('/v3') else url + '/v3'


def verify(options):
    """The TLS check of the [swift] options' Keystone calls."""
    return False if options.insecure else (options.cacert or True)


def caller_session(options, context):
    """A session of the caller's own token, on the [swift] Keystone."""
    auth = ks_generic.Token(auth_url=options.auth_url,
                            token=context.auth_token,
                            project_id=context.project_id)
    return ks_session.Session(auth=auth, verify=verify(options),
                              timeout=options.timeout)


def service_session(options):
    """A session of the [swift] service user (options: conf.swift)."""
    auth = ks_generic.Password(
        auth_url=options.auth_url, username=options.user,
        password=options.key, user_domain_name=options.user_domain_name,
        project_name=options.project_name, project_id=options.project_id,
        project_domain_name=options.project_domain_name)
    return ks_session.Session(auth=auth, verify=verify(options),
                              timeout=options.timeout)


class TrustMaker:

    def __init__(self, conf):
        self.options = conf.swift
        self._trustee_id = None
        self._lock = threading.Lock()

    def trustee_id(self):
        """The [swift] user's id, looked up once."""
        with self._lock:
            if self._trustee_id is None:
                self._trustee_id = service_session(
                    self.options).get_user_id()
            return self._trustee_id

    def writer_role(self, context):
        # One role Swift lets write is all the trust needs: the least
        # privileged the caller has (never admin when member will do),
        # since the service holds the trust as long as the backup lives.
        held = {role.lower(): role for role in context.roles}
        for wanted in self.options.operator_roles:
            # admin opens every project's account (Swift's reseller
            # admin) and every other service: never delegated.
            if wanted.lower() in held and wanted.lower() != 'admin':
                return held[wanted.lower()]
        raise exception.Forbidden(
            'Backups are kept in your project\'s Swift account, where '
            'storing them needs one of the roles %s; your roles are: %s.'
            % (', '.join(r for r in self.options.operator_roles
                         if r.lower() != 'admin'),
               ', '.join(sorted(context.roles)) or 'none'))

    _writer_role = writer_role

    def create(self, context, project_id):
        """A new trust from the caller to the service user, on the
        backup's project_id; its id."""
        check_caller(context, project_id)
        days = self.options.trust_lifetime_days
        body = {'trust': {
            'trustor_user_id': context.user_id,
            'trustee_user_id': None,
            'project_id': project_id,
            # Impersonation is what lets the worker delete the trust with
            # its backup: Keystone lets only the trustor delete a trust.
            'impersonation': True,
            'roles': [{'name': self.writer_role(context)}],
            'expires_at': (timeutils.utcnow() + datetime.timedelta(
                days=days)).isoformat() + 'Z' if days else None,
        }}
        try:
            body['trust']['trustee_user_id'] = self.trustee_id()
            response = caller_session(self.options, context).post(
                identity_url(self.options.auth_url) + '/OS-TRUST/trusts',
                # Not logged, even at debug: the answer holds the id.
                json=body, raise_exc=True, log=False)
        except (ks_exceptions.Unauthorized, ks_exceptions.Forbidden) as exc:
            raise exception.Forbidden(
                'Keystone refused to let project %s delegate its roles to '
                'the backup service: %s' % (context.project_id,
                                            reason(exc)))
        except ks_exceptions.ClientException as exc:
            LOG.warning('Creating a trust for project %s failed: %s',
                        context.project_id, status(exc))
            raise exception.ServiceUnavailable(
                reason='Keystone could not create the trust the backup '
                       'needs (%s).' % reason(exc))
        return response.json()['trust']['id']

    def delete(self, context, trust_id):
        """Best effort: drop a trust whose backup was not created."""
        try:
            caller_session(self.options, context).delete(
                identity_url(self.options.auth_url) +
                '/OS-TRUST/trusts/' + trust_id, raise_exc=True, log=False)
        except ks_exceptions.ClientException as exc:
            LOG.warning('Could not delete an unused trust of project %s: '
                        '%s', context.project_id, status(exc))


def _trust_session(conf, trust_id):
    o = conf.swift
    auth = ks_generic.Password(
        auth_url=o.auth_url, username=o.user, password=o.key,
        user_domain_name=o.user_domain_name, trust_id=trust_id)
    return ks_session.Session(
        auth=auth, verify=verify(o), timeout=o.timeout)


def issue_token(conf, trust_id):
    """{token, storage_url, expires}: a token of the trust for an agent,
    which so needs no password of its own."""
    o = conf.swift
    session = _trust_session(conf, trust_id)
    try:
        access = session.auth.get_access(session)
        url = o.swift_url or session.get_endpoint(
            service_type=o.service_type, interface=o.endpoint_type,
            region_name=o.region_name)
    except ks_exceptions.ClientException as exc:
        raise exception.ServiceUnavailable(
            reason='Keystone refused the backup\'s trust (%s): it was '
                   'deleted, expired, or its trustor lost the role.'
            % status(exc))
    return {'token': access.auth_token, 'storage_url': url,
            'expires': access.expires.isoformat()}


def release(conf, trust_id, backup_id=None):
    """Best effort: delete the trust of a deleted backup, as the service
    user scoped to it. Keystone lets a trust's trustor delete it, and the
    trust's tokens impersonate the trustor; no user token is needed."""
    o = conf.swift
    session = _trust_session(conf, trust_id)
    try:
        session.delete(identity_url(o.auth_url) + '/OS-TRUST/trusts/' +
                       trust_id, raise_exc=True, log=False)
    except ks_exceptions.NotFound:
        pass
    except ks_exceptions.ClientException as exc:
        # Left behind, it still lets the service user act in the owner's
        # account until it expires. The id stays out of the log: the
        # operator finds it among the trusts of the backup's creator to
        # the [swift] user (openstack trust list).
        LOG.warning('Could not delete the trust of deleted backup %s; '
                    'delete it by hand: %s', backup_id, status(exc))


def reason(exc):
    """What an answer to the caller may say of a Keystone error."""
    return getattr(exc, 'message', None) or type(exc).__name__


def status(exc):
    """What a log may say of a Keystone error: its kind and HTTP status,
    not its message, which can name the trust or credential."""
    code = getattr(exc, 'http_status', None)
    return '%s%s' % (type(exc).__name__, ' (HTTP %s)' % code if code else '')
