"""Storage in OpenStack Swift, through python-swiftclient.

Authentication: the service always authenticates with credentials it holds
itself, never with a user's raw token, so a long upload cannot outlive the
token it started with. With auth_version 1 (tempauth) that is [swift]
user/key. With auth_version 3 (Keystone) it is a keystoneauth session built
from the service user's password (project-scoped, or scoped to a Keystone
trust the user granted, so the data lands in the user's own account) or
from an application credential; on a 401 swiftclient invalidates the
session and the session authenticates again from those credentials.

Objects are small: the pipeline already cuts a backup into chunks of a few
MiB, each stored as its own object with the manifest last, so no Swift
large-object (SLO/DLO) manifest is needed. Every upload carries its MD5 as
ETag, so Swift refuses a body damaged on the way (422); every download is
checked against the ETag Swift returns.
"""

import concurrent.futures
import contextlib
import functools
import hashlib
import io
import queue
import threading
import time
from urllib import parse

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1.identity import generic as ks_generic
from keystoneauth1.identity import v3 as ks_v3
from keystoneauth1 import session as ks_session
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils
import requests
import swiftclient
from swiftclient import exceptions as swift_exceptions
from urllib3 import exceptions as urllib3_exceptions

from trove_backup_ext import exception
from trove_backup_ext.storage import base
from trove_backup_ext import opt_groups

LOG = logging.getLogger(__name__)

swift_group = cfg.OptGroup('swift', title='Swift storage')
swift_opts = [
    cfg.StrOpt('auth_url',
               help='Identity endpoint: the tempauth URL (auth_version 1, '
                    'e.g. http://host:8080/auth/v1.0) or the Keystone URL '
                    '(auth_version 3, e.g. http://host/identity).'),
    cfg.StrOpt('auth_version', default='3', choices=['1', '3'],
               help='1 for tempauth/swauth, 3 for Keystone.'),
    cfg.StrOpt('user', help='The service user (tempauth: account:user).'),
    cfg.StrOpt('key', secret=True,
               help='The service user\'s password or tempauth key.'),
    cfg.StrOpt('user_domain_name', default='Default',
               help='Keystone domain of the service user.'),
    cfg.StrOpt('project_name',
               help='Keystone project whose account holds the backups when '
                    'no trust is given.'),
    cfg.StrOpt('project_id', help='As project_name, by id.'),
    cfg.StrOpt('project_domain_name', default='Default',
               help='Keystone domain of project_name.'),
    cfg.StrOpt('application_credential_id',
               help='Authenticate with this Keystone application credential '
                    'instead of user/key.'),
    cfg.StrOpt('application_credential_secret', secret=True,
               help='Secret of application_credential_id.'),
    cfg.StrOpt('region_name', help='Region of the object-store endpoint.'),
    cfg.StrOpt('endpoint_type', default='public',
               help='Interface of the object-store endpoint in the catalog '
                    '(public, internal, admin).'),
    cfg.StrOpt('service_type', default='object-store',
               help='Service type of Swift in the Keystone catalog.'),
    cfg.StrOpt('swift_url',
               help='Storage URL to use instead of the one authentication '
                    'returns, e.g. http://host:8080/v1/AUTH_backups.'),
    cfg.BoolOpt('insecure', default=False,
                help='Do not verify TLS certificates.'),
    cfg.StrOpt('cacert', help='CA bundle to verify TLS certificates with.'),
    cfg.IntOpt('retries', default=5, min=0,
               help='Retries of a request that failed to connect, timed out '
                    'or got a 5xx, with exponential backoff.'),
    cfg.FloatOpt('starting_backoff', default=1.0, min=0,
                 help='Seconds before the first retry; doubled each time.'),
    cfg.FloatOpt('max_backoff', default=16.0, min=0,
                 help='Longest wait between two retries, in seconds.'),
    cfg.FloatOpt('timeout', default=60.0, min=0.1,
                 help='Seconds to wait for Swift to connect or answer.'),
    cfg.BoolOpt('store_in_owner_account', default=False,
                help='Keep each backup in the Swift account of the project '
                     'that owns it (needs auth_version 3 and [api] '
                     'auth_strategy keystone). At each create request the '
                     'API then creates a Keystone trust from the caller to '
                     'the [swift] user, with the caller\'s roles on the '
                     'project; the worker and the agent authenticate as the '
                     '[swift] user scoped to that trust, so no upload ever '
                     'depends on the caller\'s token. Otherwise backups '
                     'live in the account of [swift] project_name.'),
    cfg.ListOpt('operator_roles', default=['member', 'swiftoperator'],
                help='With store_in_owner_account: the roles Swift\'s '
                     'keystoneauth lets write in a project\'s account (its '
                     'operator_roles), least privileged first. The '
                     'credentials (or trust) delegate only the first of '
                     'them the caller has, and never admin; a caller with '
                     'none of them is refused (403) at create, as Swift '
                     'would refuse the upload.'),
    cfg.StrOpt('owner_account_credentials', default='application_credential',
               choices=[('application_credential',
                         'Keystone application credentials with access '
                         'rules: one per phase of each backup, usable on '
                         'that backup\'s objects only (needs Keystone '
                         'Train or later and Swift\'s auth_token with '
                         'service_type = object-store).'),
                        ('trust',
                         'A Keystone trust per backup: its tokens reach the '
                         'whole project, on every service. Only where '
                         'application credentials cannot be used.')],
               help='With store_in_owner_account: what the service holds '
                    'to reach a backup in its owner\'s account.'),
    cfg.StrOpt('credential_secret_key', secret=True,
               help='With application credentials: the key (32 random '
                    'bytes or more, e.g. "openssl rand -hex 32") the '
                    'credentials\' secrets are derived from. Needed by '
                    'the API and the worker, never by agents; the secrets '
                    'themselves are stored nowhere.'),
    cfg.ListOpt('previous_credential_secret_keys', default=[], secret=True,
                help='Keys credential_secret_key had before: the '
                     'credentials made under them stay usable.'),
    cfg.IntOpt('write_credential_lifetime', default=86400, min=600,
               help='Seconds from create after which the credential that '
                    'writes a backup expires (it is revoked as soon as the '
                    'backup is COMPLETED or FAILED).'),
    cfg.IntOpt('retained_credential_days', default=0, min=0,
               help='Days after which the credentials that read and delete '
                    'a backup expire; 0: they live as long as the backup '
                    'and are revoked when it is deleted. A backup older '
                    'than that can no longer be restored or deleted by '
                    'the service.'),
    cfg.IntOpt('trust_lifetime_days', default=365, min=0,
               help='With owner_account_credentials = trust: days after '
                    'which a backup\'s trust expires (0: never). A backup '
                    'older than that can no longer be restored or deleted '
                    'by the service.'),
]

# Idle connections kept for reuse; more are opened when more threads need
# one at the same time.
_MAX_IDLE = 16
_DELETE_THREADS = 8
_UPLOAD_BLOCK = 256 * 1024
_MAX_CONTAINER_BYTES = 256
_MAX_OBJECT_BYTES = 1024
# Seconds before a storage token's expiry when the agent asks for the
# next one: longer than the slowest single request.
_RENEW_BEFORE = 600
_RENEW_PAUSE = 60
# Keystone's answers that refuse a credential for good (not an outage).
_REFUSED = (401, 403, 404)


def register_opts(conf):
    opt_groups.register(conf, swift_group, swift_opts)


def list_opts():
    return {swift_group: swift_opts}


def check_container(container):
    """Refuse a name Swift would refuse (or read as another path)."""
    size = len(container.encode('utf-8', 'surrogatepass'))
    if (not container or '/' in container or '\0' in container or
            container in ('.', '..') or size > _MAX_CONTAINER_BYTES):
        raise ValueError('Invalid Swift container name %r: it must be 1 to '
                         '%d bytes of UTF-8 without "/"'
                         % (container, _MAX_CONTAINER_BYTES))
    return container


def _check_object(name):
    size = len(name.encode('utf-8', 'surrogatepass'))
    if not name or '\0' in name or size > _MAX_OBJECT_BYTES:
        raise ValueError('Invalid Swift object name %r' % name)
    return name


def _expiring(grant):
    if not grant.expires:
        return False
    try:
        expires = timeutils.normalize_time(
            timeutils.parse_isotime(grant.expires))
    except ValueError:
        return False
    return timeutils.is_soon(expires, _RENEW_BEFORE)


def _etag(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _reason(exc):
    """The useful end of a requests/urllib3 error, without object reprs."""
    inner = exc.args[0] if exc.args else None
    if isinstance(inner, urllib3_exceptions.ProtocolError):
        exc = inner     # In requests' ConnectionError.
        inner = exc.args[0] if exc.args else None
    if (isinstance(exc, urllib3_exceptions.ProtocolError) and
            isinstance(inner, str) and len(exc.args) == 2):
        # ('Connection aborted.', RemoteDisconnected('...')), or
        # ('Connection broken: IncompleteRead(...)', IncompleteRead(...)).
        cause = str(exc.args[1])
        return inner if cause in inner else '%s (%s)' % (inner.rstrip('.'),
                                                         cause)
    text = str(getattr(inner, 'reason', None) or exc)
    return text.rsplit('>: ', 1)[-1].strip("')")


class SwiftStorage(base.Storage):

    name = 'swift'

    def __init__(self, conf, trust_id=None, grant=None, session=None):
        """trust_id: a Keystone trust from the backup's owner to the
        service user; the driver then works in the owner's account.
        grant: a storage.Grant, a token the worker issued for one backup
        (an agent's case: no credentials of its own are used). session:
        a keystoneauth session of a backup's application credential."""
        super().__init__(conf)
        register_opts(conf)
        self.options = conf.swift
        self.trust_id = trust_id
        self.grant = grant
        # Limited to one backup's objects, in its owner's account.
        self._restricted = grant is not None or session is not None
        # Reached with a credential of the backup's owner.
        self._owner_account = self._restricted or trust_id is not None
        if not self._restricted:
            self._check_options()
        secrets = (self.options.key,
                   self.options.application_credential_secret,
                   grant.token if grant else None)
        self._secrets = [secret for secret in secrets if secret]
        self._session = session
        if (session is None and grant is None and
                self.options.auth_version == '3'):
            self._session = self._keystone_session()
        self._grant_lock = threading.Lock()
        self._renew_after = 0.0
        self._idle = queue.LifoQueue()
        self._storage_url = (grant.storage_url if grant else
                             None if session else self.options.swift_url)

    def _check_options(self):
        o = self.options
        missing = [name for name, value in (
            ('auth_url', o.auth_url),
            ('user', o.user or o.application_credential_id),
            ('key', o.key or o.application_credential_secret)) if not value]
        if missing:
            raise exception.ConfigurationError(
                'The swift storage driver needs [swift] %s'
                % ', '.join(missing))
        if o.application_credential_id and self.trust_id:
            raise exception.ConfigurationError(
                'A Keystone trust needs [swift] user and key: an '
                'application credential cannot be scoped to a trust')

    def _keystone_session(self):
        o = self.options
        if o.application_credential_id:
            auth_url = o.auth_url.rstrip('/')
            if not auth_url.endswith('/v3'):
                auth_url += '/v3'
            auth = ks_v3.ApplicationCredential(
                auth_url=auth_url,
                application_credential_id=o.application_credential_id,
                application_credential_secret=(
                    o.application_credential_secret))
        else:
            scope = ({'trust_id': self.trust_id} if self.trust_id else
                     {'project_id': o.project_id,
                      'project_name': o.project_name,
                      'project_domain_name': o.project_domain_name})
            auth = ks_generic.Password(
                auth_url=o.auth_url, username=o.user, password=o.key,
                user_domain_name=o.user_domain_name, **scope)
        verify = False if o.insecure else (o.cacert or True)
        # One session for every connection: one token, renewed from the
        # credentials whenever Swift answers 401 or it nears expiry.
        return ks_session.Session(auth=auth, verify=verify,
                                  timeout=o.timeout)

    def _new_connection(self):
        o = self.options
        if self.grant is not None:
            # No credentials: on a 401 (the token expired or was revoked)
            # swiftclient has nothing to authenticate again with.
            return swiftclient.Connection(
                preauthurl=self.grant.storage_url,
                preauthtoken=self.grant.token, retries=o.retries,
                starting_backoff=o.starting_backoff,
                max_backoff=o.max_backoff, timeout=o.timeout,
                insecure=o.insecure, cacert=o.cacert)
        os_options = {'region_name': o.region_name,
                      'endpoint_type': o.endpoint_type,
                      'service_type': o.service_type}
        if o.swift_url and not self._restricted:
            os_options['object_storage_url'] = o.swift_url
        return swiftclient.Connection(
            authurl=o.auth_url, user=o.user, key=o.key,
            auth_version=o.auth_version, session=self._session,
            os_options=os_options, retries=o.retries,
            starting_backoff=o.starting_backoff, max_backoff=o.max_backoff,
            timeout=o.timeout, insecure=o.insecure, cacert=o.cacert)

    @contextlib.contextmanager
    def _connection(self):
        # A swiftclient Connection is not thread-safe: each call borrows
        # one for itself. A pool rather than one per thread, because the
        # pipeline's threads live for one backup and connections (with
        # their token and keep-alive socket) should outlive them.
        self._renew_grant()
        try:
            connection = self._idle.get_nowait()
        except queue.Empty:
            connection = self._new_connection()
        if self.grant is not None:
            # swiftclient forgets both on a 401 (a refused HEAD of the
            # container included).
            connection.token = self.grant.token
            connection.url = self.grant.storage_url
        try:
            yield connection
        finally:
            if self._idle.qsize() < _MAX_IDLE:
                self._idle.put(connection)
            else:
                connection.close()

    def _renew_grant(self):
        """Ask the worker for the next token when this one nears its
        expiry: a run may outlast Keystone's token lifetime."""
        grant = self.grant
        if (grant is None or grant.renew is None or not _expiring(grant) or
                time.monotonic() < self._renew_after):
            return
        with self._grant_lock:
            if self.grant is not grant:
                return      # Another thread renewed it.
            # One call a minute at most, whatever the answer.
            self._renew_after = time.monotonic() + _RENEW_PAUSE
            try:
                access = grant.renew()
            except Exception as exc:
                access = None
                reason = type(exc).__name__
            else:
                reason = 'refused'
            if not access:
                # The token may still work until it expires; if not,
                # Swift's 401 says so.
                LOG.warning('Could not renew the storage token (%s).',
                            reason)
                return
            self.grant = grant._replace(token=access['token'],
                                        storage_url=access['storage_url'],
                                        expires=access.get('expires'))
            self._secrets.append(access['token'])

    def _call(self, verb, what, method, *args, **kwargs):
        """Run a Connection method to <verb> <what>; failures become
        StorageError (ObjectNotFound for a 404)."""
        action = '%s %s' % (verb, what)
        with self._connection() as connection:
            try:
                return getattr(connection, method)(*args, **kwargs)
            except swift_exceptions.ClientException as exc:
                if exc.http_status == 404:
                    raise base.ObjectNotFound(self._scrub(
                        'Swift has no %s' % what))
                detail = str(exc)
                if exc.http_status in (401, 403) and self._restricted:
                    detail += (' (the backup\'s storage credential allows '
                               'only its own objects; it may have expired '
                               'or been revoked)')
                if exc.http_status is None and exc.__context__ is not None:
                    detail = '%s (%s)' % (detail, _reason(exc.__context__))
                raise self._refusal(exc.http_status in (401, 403))(
                    self._scrub('Swift refused to %s: %s' % (action, detail)))
            except ks_exceptions.HttpError as exc:
                if exc.http_status not in _REFUSED:
                    raise self._unreachable(connection, action, exc)
                # Keystone answered: no token of this credential.
                raise self._refusal(True)(self._scrub(
                    'Keystone refused the credential to %s: HTTP %s (%s)'
                    % (action, exc.http_status, type(exc).__name__)))
            except (requests.RequestException, OSError,
                    urllib3_exceptions.HTTPError,
                    ks_exceptions.ClientException) as exc:
                # urllib3's own errors: a response body cut off or timed
                # out, read by swiftclient from the raw response.
                raise self._unreachable(connection, action, exc)

    def _refusal(self, credential_refused):
        """The error of a refusal: CredentialRefused when the credential
        of the backup's owner was refused (the service's own credentials
        are the operator's to fix, for every backup at once)."""
        return (base.CredentialRefused
                if credential_refused and self._owner_account
                else base.StorageError)

    def _unreachable(self, connection, action, exc):
        # The socket may be mid-response; the token is still good.
        connection.close()
        if connection.url and connection.token:
            where = 'Swift at %s' % connection.url
        else:
            where = 'the auth service at %s' % self.options.auth_url
        return base.StorageError(self._scrub(
            'Cannot reach %s to %s (%d attempts): %s'
            % (where, action, max(connection.attempts, 1), _reason(exc))))

    def _scrub(self, message):
        for secret in self._secrets:
            message = message.replace(secret, '***')
        return message

    def ensure_container(self, container):
        check_container(container)
        try:
            self._call('read', 'container %s' % container,
                       'head_container', container)
        except base.ObjectNotFound:
            # PUT is idempotent: a writer racing us to create it is fine.
            self._call('create', 'container %s' % container,
                       'put_container', container)
        except base.StorageError:
            if not self._restricted:
                raise
            # A backup's own credentials may not touch its container (a
            # PUT of it would set ACLs or a temp-URL key that open every
            # backup in it): the API made it with the owner's token.
            # Writing the objects says if it did not.

    def put_object(self, container, name, data):
        check_container(container)
        _check_object(name)
        etag = _etag(data)
        # Swift compares the body with the ETag and stores nothing on a
        # mismatch; a PUT replaces the object at once, never partly. A
        # seekable body, because swiftclient retries (after a 401 or a 5xx)
        # only bodies it can rewind.
        stored = self._call('store', 'object %s/%s' % (container, name),
                            'put_object', container, name, io.BytesIO(data),
                            content_length=len(data), etag=etag,
                            chunk_size=_UPLOAD_BLOCK,
                            content_type='application/octet-stream')
        if stored and stored != etag:
            raise base.StorageError(
                'Swift stored object %s/%s with ETag %s, expected %s'
                % (container, name, stored, etag))

    def get_object(self, container, name):
        check_container(container)
        _check_object(name)
        headers, body = self._call('read', 'object %s/%s' % (container, name),
                                   'get_object', container, name)
        expected = headers.get('etag', '').strip('"')
        # Large-object manifests have an ETag that is not the body's MD5.
        whole = not (headers.get('x-static-large-object') or
                     headers.get('x-object-manifest'))
        if whole and expected and _etag(body) != expected:
            raise base.StorageError(
                'Object %s/%s read from Swift does not match its ETag: it '
                'was damaged in storage or in transit' % (container, name))
        return body

    def get_object_range(self, container, name, offset, length):
        check_container(container)
        _check_object(name)
        # A ranged read's ETag is the whole object's: the pipeline checks
        # each chunk's digest instead.
        _, body = self._call(
            'read', 'object %s/%s' % (container, name), 'get_object',
            container, name,
            headers={'Range': 'bytes=%d-%d' % (offset, offset + length - 1)})
        return body

    def delete_object(self, container, name):
        check_container(container)
        _check_object(name)
        try:
            self._call('delete', 'object %s/%s' % (container, name),
                       'delete_object', container, name)
        except base.ObjectNotFound:
            pass

    def list_objects(self, container, prefix=''):
        check_container(container)
        try:
            # full_listing: swiftclient follows markers across pages.
            _, listing = self._call(
                'list', 'container %s' % container, 'get_container', container,
                prefix=prefix or None, full_listing=True)
        except base.ObjectNotFound:
            return []
        return sorted(entry['name'] for entry in listing)

    def list_containers(self):
        if self._restricted:
            # A backup's credential reaches its own objects only.
            raise NotImplementedError()
        _, listing = self._call('list', 'the containers of the account',
                                'get_account', full_listing=True)
        return sorted(entry['name'] for entry in listing)

    def delete_prefix(self, container, prefix):
        # A backup has hundreds of chunks: delete them a few at a time.
        names = self.list_objects(container, prefix)
        delete = functools.partial(self.delete_object, container)
        with concurrent.futures.ThreadPoolExecutor(_DELETE_THREADS) as pool:
            for _ in pool.map(delete, names):
                pass

    def storage_url(self):
        """The account's URL: [swift] swift_url, or what auth returns."""
        if not self._storage_url:
            url, _ = self._call('authenticate',
                                'with %s' % self.options.auth_url,
                                'get_auth')
            self._storage_url = url
        return self._storage_url

    def capabilities(self):
        """What the proxy lists at /info: its middlewares and limits."""
        return self._call('read', 'the proxy\'s capabilities',
                          'get_capabilities')

    def object_url(self, container, name):
        check_container(container)
        _check_object(name)
        return '%s/%s/%s' % (self.storage_url().rstrip('/'),
                             parse.quote(container, safe=''),
                             parse.quote(name, safe='/'))
