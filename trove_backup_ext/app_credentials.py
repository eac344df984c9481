"""Keystone application credentials that reach one backup's objects only.

With [swift] store_in_owner_account (the default owner_account_credentials
= application_credential), the API spends the caller's token, once, on
three application credentials of the caller's, one per phase of the
backup's life (PHASES): each carries one role Swift lets write and access
rules that allow only the object-store requests of that phase on that
backup's paths in the owner's account. Keystone refuses such a
credential's tokens everywhere else: on its own APIs, on this backups API,
on other containers and objects, with other methods.

The secret of each credential is not stored: it is an HMAC of the
credential's row id under [swift] credential_secret_key, which only the API
and the worker hold, so the database alone opens nothing. The worker
authenticates with the credential and hands an agent a token of it, never
the secret. Nothing here logs a credential's id or secret (backup and
schedule ids, yes).
"""

import base64
import datetime
import hashlib
import hmac
from urllib import parse

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1.identity import v3 as ks_v3
from keystoneauth1 import session as ks_session
from oslo_log import log as logging
from oslo_utils import timeutils
from oslo_utils import uuidutils

from trove_backup_ext.db import storage_credentials as credentials_db
from trove_backup_ext import exception
from trove_backup_ext.pipeline import manifest as backup_manifest
from trove_backup_ext import trusts
from trove_backup_ext_swift import access_rules as swift_access_rules

LOG = logging.getLogger(__name__)

WRITE, READ, DELETE = 'write', 'read', 'delete'
PHASES = (WRITE, READ, DELETE)
# Keystone's limit on an access rule's path.
_MAX_RULE_PATH = 225
# Characters an access rule reads as wildcards.
# Characters of a container's name an access rule path cannot hold as
# themselves: Keystone's wildcards, and what auth_token then reads as
# regular-expression syntax among the characters webob leaves unquoted
# ("+" repeats, "$" anchors, "(" and ")" group; an unbalanced one makes
# auth_token fail). "." matches any character there; our Swift filter
# matches it as itself, so it stays allowed.
_WILDCARDS = set('*{}$()+')
# What webob leaves unquoted in request.path, which auth_token matches.
_PATH_SAFE = swift_access_rules.PATH_SAFE


def key_id(key):
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _keys(options):
    keys = [options.credential_secret_key] + list(
        options.previous_credential_secret_keys or [])
    return {key_id(key): key for key in keys if key}


def secret(options, row_id, wanted_key_id):
    """The secret of the credential of that row, from the key it names."""
    key = _keys(options).get(wanted_key_id)
    if key is None:
        raise exception.ConfigurationError(
            'The storage credential was made with a [swift] '
            'credential_secret_key (id %s) this service no longer has; '
            'add it to previous_credential_secret_keys.' % wanted_key_id)
    digest = hmac.new(key.encode(), b'trove-backup-ext storage credential '
                      + row_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip('=')


def quoted(text):
    """text as it appears in the request path an access rule matches."""
    return parse.quote(text, safe=_PATH_SAFE)


def check_rule_paths(paths):
    """Refuse (400) access rule paths longer than Keystone takes."""
    for path in paths:
        if len(path) > _MAX_RULE_PATH:
            raise exception.BadRequest(
                reason='The container name is too long for a credential '
                       'limited to it (Keystone allows %d characters per '
                       'path); choose a shorter swift_container.'
                % _MAX_RULE_PATH)


def access_rules(account_path, phase, backup, chain):
    """The object-store requests a phase needs. backup and chain's
    entries are (container, backup id); chain is the backup's ancestors,
    whose objects an incremental reads."""
    container, backup_id = backup
    root = '%s/%s' % (account_path, quoted(container))
    own = '%s/%s**' % (root, quoted(backup_manifest.object_prefix(
        backup_id)))
    read = ['%s/%s**' % (account_path, quoted('%s/%s' % (
        c, backup_manifest.object_prefix(b)))) for c, b in
        [backup] + list(chain)]
    if phase == WRITE:
        # The backup's objects are written; the parents' are read (an
        # incremental's base). Not the container itself: a PUT of it sets
        # its metadata (X-Container-Read: .r:* opens every backup in it to
        # anyone, a temp-URL key signs URLs for all its objects) and a
        # HEAD shows it; the API made it (make_container). No listing, no
        # DELETE: what a failed run left is removed by the worker with the
        # delete credential.
        rules = [('PUT', own)]
        rules += [('GET', path) for path in read[1:]]
    elif phase == READ:
        rules = [(method, path) for path in read
                 for method in ('GET', 'HEAD')]
    else:
        # Deleting lists the container (names, sizes, hashes; no data)
        # for the backup's prefix, then deletes its objects.
        rules = [('GET', root), ('DELETE', own), ('HEAD', own)]
    check_rule_paths([path for _, path in rules])
    return [{'service': 'object-store', 'method': method, 'path': path}
            for method, path in rules]


def check_container(container):
    """Refuse a container an access rule would not read as itself."""
    if _WILDCARDS & set(container):
        raise exception.BadRequest(
            reason='swift_container may not contain any of %s when '
                   'backups are kept in your own Swift account.'
                   % ' '.join('"%s"' % c for c in sorted(_WILDCARDS)))


def _endpoint(options, session):
    return session.get_endpoint(service_type=options.service_type,
                                interface=options.endpoint_type,
                                region_name=options.region_name)


def account_path(options, session):
    """/v1/AUTH_<project>: the owner's account, as access rules name it,
    from the catalog of session's token."""
    path = parse.urlparse(_endpoint(options, session)).path
    # Swift serves /v1/<account> at its root; a prefix a proxy in front
    # strips would not be in the path auth_token matches.
    return '/' + '/'.join(path.rstrip('/').split('/')[-2:])


def make_container(options, session, container):
    """Create the owner's container if missing, with the caller's own
    token: the backup's credentials may not touch the container."""
    url = '%s/%s' % (_endpoint(options, session).rstrip('/'),
                     parse.quote(container, safe=''))
    try:
        session.head(url, log=False)
    except ks_exceptions.NotFound:
        session.put(url, log=False)


class CredentialMaker:
    """The API's side: makes a backup's credentials from the caller's
    token."""

    def __init__(self, conf):
        self.options = conf.swift
        self._roles = trusts.TrustMaker(conf)

    def caller_session(self, context):
        """A session of the caller's own token."""
        return trusts.caller_session(self.options, context)

    def post_credential(self, context, session, body):
        """Create an application credential of the caller's; Keystone's
        answer (its id)."""
        response = session.post(
            '%s/users/%s/application_credentials' % (
                trusts.identity_url(self.options.auth_url), context.user_id),
            # Not logged, even at debug: the body and the answer hold the
            # secret and the id.
            json={'application_credential': body}, raise_exc=True,
            log=False)
        return response.json()['application_credential']

    def delete_credential(self, session, user_id, credential_id,
                          backup_id=None, schedule_id=None):
        """Best effort: delete a credential just made."""
        try:
            session.delete('%s/users/%s/application_credentials/%s' % (
                trusts.identity_url(self.options.auth_url), user_id,
                credential_id), log=False)
        except ks_exceptions.ClientException as exc:
            LOG.warning('Could not delete an unused storage credential of '
                        '%s %s: %s', 'backup' if backup_id else 'schedule',
                        backup_id or schedule_id, trusts.status(exc))

    def check(self, context, project_id):
        """Refuse early (403) a caller that cannot delegate: before the
        backup's row is written."""
        trusts.check_caller(context, project_id)
        return self._roles.writer_role(context)

    def create(self, context, backup, chain):
        """The backup's credentials, one per phase, recorded; all or
        none. backup: the new row; chain: its ancestors' rows."""
        role = self.check(context, backup.project_id)
        session = self.caller_session(context)
        made = []
        try:
            account = account_path(self.options, session)
            make_container(self.options, session, backup.container)
            for phase in PHASES:
                made.append(self._create_one(
                    context, session, backup, chain, phase, role, account))
        except (ks_exceptions.Unauthorized,
                ks_exceptions.Forbidden) as exc:
            self._delete(context, session, made)
            raise exception.Forbidden(
                'Keystone refused to let project %s make the application '
                'credentials a backup in its own Swift account needs: %s'
                % (context.project_id, trusts.reason(exc)))
        except ks_exceptions.ClientException as exc:
            self._delete(context, session, made)
            LOG.warning('Creating the storage credentials of backup %s '
                        'failed: %s', backup.id, trusts.status(exc))
            raise exception.ServiceUnavailable(
                reason='Keystone could not create the credentials the '
                       'backup needs (%s).' % trusts.reason(exc))
        except Exception:
            self._delete(context, session, made)
            raise
        return made

    def _create_one(self, context, session, backup, chain, phase, role,
                    account):
        row_id = uuidutils.generate_uuid()
        kid = key_id(self.options.credential_secret_key)
        lifetime = (self.options.write_credential_lifetime
                    if phase == WRITE else
                    self.options.retained_credential_days * 86400)
        expires = (timeutils.utcnow() +
                   datetime.timedelta(seconds=lifetime) if lifetime else None)
        made = self.post_credential(context, session, {
            'name': 'trove-backup-%s-%s' % (backup.id, phase),
            'description': 'The %s phase of backup %s (trove-backup-ext).'
                           % (phase, backup.id),
            'secret': secret(self.options, row_id, kid),
            'roles': [{'name': role}],
            'unrestricted': False,
            'access_rules': access_rules(
                account, phase, (backup.container, backup.id),
                [(row.container, row.id) for row in chain]),
            'expires_at': expires.isoformat() if expires else None})
        return credentials_db.add(context, {
            'id': row_id, 'backup_id': backup.id, 'phase': phase,
            'credential_id': made['id'], 'user_id': context.user_id,
            'project_id': backup.project_id, 'key_id': kid,
            'expires_at': expires})

    def _delete(self, context, session, rows):
        for row in rows:
            self.delete_credential(session, row.user_id, row.credential_id,
                                   backup_id=row.backup_id)
            credentials_db.remove(context, row.id)

    def discard(self, context, backup_id):
        """Best effort, with the caller's token: the credentials of a
        backup that was not created after all."""
        self._delete(context, self.caller_session(context),
                     credentials_db.of_backup(context, backup_id))


def _credential_auth(options, row):
    return ks_v3.ApplicationCredential(
        auth_url=trusts.identity_url(options.auth_url),
        application_credential_id=row.credential_id,
        application_credential_secret=secret(options, row.id, row.key_id))


def session_for(conf, row):
    """A keystoneauth session authenticated by the credential (the
    worker's own storage work: deleting, verifying in the worker)."""
    return ks_session.Session(auth=_credential_auth(conf.swift, row),
                              verify=trusts.verify(conf.swift),
                              timeout=conf.swift.timeout)


def _owner(row):
    """What a credential row serves, for messages: its backup, or the
    backup schedule whose backups share it."""
    if row.backup_id is None:
        return 'backup schedule %s' % row.schedule_id
    return 'backup %s' % row.backup_id


def issue_token(conf, row):
    """{token, storage_url, expires}: a token of the credential for an
    agent, which never sees the secret."""
    session = session_for(conf, row)
    try:
        access = session.auth.get_access(session)
        url = _endpoint(conf.swift, session)
    except ks_exceptions.ClientException as exc:
        raise exception.ServiceUnavailable(
            reason='Keystone refused the %s credential of %s (%s): it was '
                   'revoked, expired, or its owner lost the role.'
            % (row.phase, _owner(row), trusts.status(exc)))
    return {'token': access.auth_token, 'storage_url': url,
            'expires': access.expires.isoformat()}


def revoke(conf, context, row):
    """Delete the credential in Keystone (and the row); True once gone.

    Keystone lets only the credential's owner or an administrator delete
    it, and never with a token of an application credential: the worker
    does it as the [swift] service user, which the deployer's Keystone
    policy allows to (see doc/source/admin/threat-model.rst). On failure
    the row stays and the reaper tries again; the credential expires
    anyway if it has an expiry, and its secret is in no database."""
    session = trusts.service_session(conf.swift)
    try:
        session.delete('%s/users/%s/application_credentials/%s' % (
            trusts.identity_url(conf.swift.auth_url), row.user_id,
            row.credential_id),
            raise_exc=True, log=False)
    except ks_exceptions.NotFound:
        pass
    except ks_exceptions.ClientException as exc:
        LOG.warning('Could not revoke the %s storage credential of %s '
                    '(%s); the reaper tries again.', row.phase, _owner(row),
                    trusts.status(exc))
        return False
    credentials_db.remove(context, row.id)
    return True
