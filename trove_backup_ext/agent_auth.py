"""Per-instance keys that authenticate the agents' reports to the worker.

Each instance has a 32-byte key of its own. Its agent holds it in a file
([agent] key_file); the workers hold every instance's key in the
database, sealed (AES-256-GCM) with a master key file only they and
trove-backup-manage read ([worker] agent_keys_master_key_file). An agent
signs each report with HMAC-SHA256 over the method, the instance, the
attempt and every argument, with the time it signed; the worker applies a
report only if it is signed with the key of the instance it names, within
[worker] agent_message_max_age, and (checked by the handlers' compare-and-
set) about an attempt the worker sent to that instance. Keys never travel
on the bus nor appear in logs: a signature names its key by a
fingerprint.
"""

import base64
import datetime
import functools
import hashlib
import hmac
import inspect
import json
import os
import secrets
import stat
import time

from cryptography.hazmat.primitives.ciphers import aead
from oslo_log import log as logging
from oslo_utils import timeutils

from trove_backup_ext.db import agent_keys as agent_keys_db
from trove_backup_ext import exception

LOG = logging.getLogger(__name__)

KEY_BYTES = 32
SIGNATURE_VERSION = 1
_KEY_ID_CONTEXT = b'trove-backup-ext agent key\x00'
_SEAL_CONTEXT = 'trove-backup-ext agent key seal'


def key_id(key):
    """A key's fingerprint: names it in rows, signatures and logs."""
    return hashlib.sha256(_KEY_ID_CONTEXT + key).hexdigest()[:16]


def new_key():
    return secrets.token_bytes(KEY_BYTES)


# Key files.

def read_key_file(path, option):
    """The key in path (64 hexadecimal digits), which only its owner may
    read or write: a key others can read is no longer the agent's own."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
    except OSError as exc:
        raise exception.ConfigurationError('Cannot read %s %s: %s'
                                           % (option, path, exc.strerror))
    with os.fdopen(fd) as key_file:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode) or mode & 0o077:
            raise exception.ConfigurationError(
                '%s %s must be a regular file that only its owner can read '
                'or write (mode 0600 or stricter), not %s.'
                % (option, path, oct(stat.S_IMODE(mode))))
        text = key_file.read(4096).strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b''
    if len(key) != KEY_BYTES:
        raise exception.ConfigurationError(
            '%s %s must hold 64 hexadecimal digits.' % (option, path))
    return key


def write_key_file(path, key):
    """Replace path with key, mode 0600, in one rename: an agent reading
    it meanwhile reads the old key or the new, never half of one."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    temporary = os.path.join(directory, '.%s.%s' % (
        os.path.basename(path), secrets.token_hex(4)))
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, 'w') as out:
            out.write(key.hex() + '\n')
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


# Signatures.

def _canonical(method, payload, timestamp):
    """The bytes signed: one JSON text, keys sorted, no spaces; arguments
    that are None are left out (absent and None mean the same to the
    handlers, and a sender may leave either out)."""
    arguments = {name: value for name, value in payload.items()
                 if value is not None}
    return json.dumps(
        ['trove-backup-agent-report', SIGNATURE_VERSION, method,
         payload.get('instance_id'), payload.get('attempt_id'), timestamp,
         arguments],
        sort_keys=True, separators=(',', ':'), ensure_ascii=True
    ).encode('ascii')


def sign(key, method, payload, now=None):
    """The signature of a report: a dict sent beside its arguments."""
    timestamp = int(time.time() if now is None else now)
    mac = hmac.new(key, _canonical(method, payload, timestamp),
                   hashlib.sha256).hexdigest()
    return {'v': SIGNATURE_VERSION, 'key_id': key_id(key),
            'timestamp': timestamp, 'hmac': mac}


def check(keys, method, payload, signature, max_age, now=None):
    """None if signature is valid for method and payload under one of
    keys ({key_id: key}); else why not (names no key)."""
    if not isinstance(signature, dict) or signature.get(
            'v') != SIGNATURE_VERSION:
        return 'a signature of an unknown form'
    kid = signature.get('key_id')
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        return ('signed with key %s, not a key of this instance now'
                % str(signature.get('key_id'))[:16])
    timestamp = signature.get('timestamp')
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        return 'a signature without its time'
    age = int(time.time() if now is None else now) - timestamp
    if abs(age) > max_age:
        return ('signed %d seconds %s, beyond [worker] '
                'agent_message_max_age' % (abs(age), 'ago' if age > 0
                                           else 'ahead'))
    expected = hmac.new(key, _canonical(method, payload, timestamp),
                        hashlib.sha256).hexdigest()
    mac = signature.get('hmac')
    if not isinstance(mac, str) or not mac.isascii() or (
            not hmac.compare_digest(expected, mac)):
        return 'a signature that does not match the message'
    return None


class FileSigner:
    """The agent's: signs with its key file, read again for each report
    so that a rotated key is taken up without a restart."""

    def __init__(self, path):
        self.path = path

    def __call__(self, method, payload):
        try:
            key = read_key_file(self.path, '[agent] key_file')
        except exception.ConfigurationError as exc:
            # Sent unsigned: the worker refuses it and says so, and the
            # operation ends as a refused one, its objects removed.
            LOG.error('Report %s sent unsigned: %s', method, exc)
            return None
        return sign(key, method, payload)


def agent_signer(path):
    """At the agent's start, the signer of its key file path ([agent]
    key_file): a file there must be usable; one not written yet is only
    warned about (trove-backup-manage instance add may run after the
    agent starts)."""
    if not path:
        LOG.warning('[agent] key_file is not set: this agent\'s reports '
                    'go unsigned, and a worker requiring signed reports '
                    'refuses them.')
        return None
    if not os.path.exists(path):
        LOG.warning('[agent] key_file %s does not exist yet; reports go '
                    'unsigned until it does.', path)
    else:
        read_key_file(path, '[agent] key_file')
    return FileSigner(path)


def check_worker(conf):
    """At the worker's start: raise ConfigurationError unless the agents'
    reports can be judged as configured."""
    path = conf.worker.agent_keys_master_key_file
    if path:
        read_key_file(path, '[worker] agent_keys_master_key_file')
    elif conf.worker.require_signed_agent_messages:
        raise exception.ConfigurationError(
            '[worker] require_signed_agent_messages is True but '
            'agent_keys_master_key_file is not set: no agent could sign a '
            'report this worker accepts. Set it (see the upgrade notes).')
    if not conf.worker.require_signed_agent_messages:
        LOG.warning('[worker] require_signed_agent_messages is False: '
                    'unsigned reports of instances without an agent key '
                    'are accepted. Give every instance its key and set it '
                    'to True.')


# The workers' key store.

class KeyStore:
    """Every instance's keys, sealed with the master key in agent_keys."""

    def __init__(self, conf):
        self.conf = conf

    def _master(self):
        path = self.conf.worker.agent_keys_master_key_file
        if not path:
            raise exception.ConfigurationError(
                '[worker] agent_keys_master_key_file is not set: agent keys '
                'can be neither made nor read.')
        return read_key_file(path, '[worker] agent_keys_master_key_file')

    @staticmethod
    def _aad(instance_id, kid):
        return ('%s\x00%s\x00%s' % (_SEAL_CONTEXT, instance_id,
                                    kid)).encode()

    def _seal(self, master, instance_id, key):
        nonce = secrets.token_bytes(12)
        sealed = aead.AESGCM(master).encrypt(
            nonce, key, self._aad(instance_id, key_id(key)))
        return base64.b64encode(nonce + sealed).decode('ascii')

    def _unseal(self, master, instance_id, kid, sealed):
        raw = base64.b64decode(sealed)
        return aead.AESGCM(master).decrypt(raw[:12], raw[12:],
                                           self._aad(instance_id, kid))

    def rotate(self, context, instance_id, grace_period=None):
        """Give instance_id a new key (its first, or the next: the one
        before stays valid for grace_period seconds, [worker]
        agent_key_grace_period if None). Returns the new key, for the
        agent's key file only."""
        master = self._master()
        if grace_period is None:
            grace_period = self.conf.worker.agent_key_grace_period
        key = new_key()
        values = {'key_id': key_id(key),
                  'sealed_key': self._seal(master, instance_id, key),
                  'master_key_id': key_id(master)}
        while True:
            row = agent_keys_db.get(context, instance_id)
            if row is None:
                generation = None
                values.update(previous_key_id=None, previous_sealed_key=None,
                              previous_expires=None)
            else:
                generation = row.generation
                self._check_master(row, master)
                keep = grace_period > 0
                values.update(
                    previous_key_id=row.key_id if keep else None,
                    previous_sealed_key=row.sealed_key if keep else None,
                    previous_expires=timeutils.utcnow() + datetime.timedelta(
                        seconds=grace_period) if keep else None)
            if agent_keys_db.store(context, instance_id, generation, values):
                LOG.info('Instance %s has a new agent key, %s.',
                         instance_id, values['key_id'])
                return key

    @staticmethod
    def _check_master(row, master):
        if row.master_key_id != key_id(master):
            raise exception.ConfigurationError(
                'The agent keys of instance %s were sealed with master key '
                '%s, not the one of [worker] agent_keys_master_key_file.'
                % (row.instance_id, row.master_key_id))

    def keys(self, context, instance_id, now=None):
        """{key_id: key} valid for instance_id now; {} if it has no key.
        Raises ConfigurationError when its keys cannot be unsealed."""
        row = agent_keys_db.get(context, instance_id)
        if row is None:
            return {}
        master = self._master()
        self._check_master(row, master)
        found = {row.key_id: self._unseal(master, instance_id, row.key_id,
                                          row.sealed_key)}
        now = now or timeutils.utcnow()
        if row.previous_sealed_key and row.previous_expires and (
                row.previous_expires > now):
            found[row.previous_key_id] = self._unseal(
                master, instance_id, row.previous_key_id,
                row.previous_sealed_key)
        return found

    def current_key(self, context, instance_id):
        row = agent_keys_db.get(context, instance_id)
        if row is None:
            return None
        master = self._master()
        self._check_master(row, master)
        return self._unseal(master, instance_id, row.key_id, row.sealed_key)

    def remove(self, context, instance_id):
        return agent_keys_db.remove(context, instance_id)


class StoreSigner:
    """The worker's, for the reports of work it runs itself for an
    instance ([backup] verify_on = worker): signs with the instance's
    current key, or not at all if it has none."""

    def __init__(self, conf, context_factory):
        self.store = KeyStore(conf)
        self.context_factory = context_factory

    def __call__(self, method, payload):
        try:
            key = self.store.current_key(self.context_factory(),
                                         payload['instance_id'])
        except Exception as exc:
            LOG.error('Report %s sent unsigned: %s', method, exc)
            return None
        return None if key is None else sign(key, method, payload)


class Authenticator:
    """The worker's judge of agents' reports."""

    def __init__(self, conf):
        self.conf = conf
        self.store = KeyStore(conf)

    def accept(self, context, method, payload, signature):
        """Whether payload (the report's arguments) comes from the agent
        of the instance it names; a refusal is logged at WARNING, naming
        the claimed sender."""
        instance_id = payload.get('instance_id')
        # The claim is the sender's own words: logged as it is only when it
        # is a short printable id, else quoted and cut short.
        claimed = (instance_id if isinstance(instance_id, str) and
                   len(instance_id) <= 64 and instance_id.isprintable()
                   else repr(instance_id)[:64])
        if not isinstance(instance_id, str) or not instance_id:
            # About no instance, so signed by none: and the handlers'
            # compare-and-set checks no instance when given None.
            return self._refuse(method, claimed, 'it names no instance')
        try:
            keys = self.store.keys(context, instance_id)
        except Exception as exc:
            LOG.error('Dropped %s from the claimed agent of instance %s: '
                      'its keys cannot be read (%s).', method, claimed, exc)
            return False
        if signature is None:
            if keys or self.conf.worker.require_signed_agent_messages:
                return self._refuse(method, claimed, 'it is unsigned')
            LOG.warning('Accepted an unsigned %s from the claimed agent of '
                        'instance %s, which has no key: [worker] '
                        'require_signed_agent_messages is False.', method,
                        claimed)
            return True
        if not keys:
            return self._refuse(method, claimed,
                                'the instance has no agent key')
        reason = check(keys, method, payload, signature,
                       self.conf.worker.agent_message_max_age)
        if reason:
            return self._refuse(method, claimed, reason)
        return True

    @staticmethod
    def _refuse(method, instance_id, reason):
        LOG.warning('Dropped %s from the claimed agent of instance %s: %s.',
                    method, instance_id, reason)
        return False


def signed_report(handler):
    """A worker handler of agents' reports: runs only for a report its
    Authenticator (self.agent_auth) accepts, else answers False. The
    report's arguments are taken by name as the handler declares them, so
    every argument is covered by the signature."""
    parameters = inspect.signature(handler)

    @functools.wraps(handler)
    def wrapper(self, context, *args, signature=None, **kwargs):
        bound = parameters.bind(self, context, *args, **kwargs)
        payload = {name: value for name, value in bound.arguments.items()
                   if name not in ('self', 'context')}
        if not self.agent_auth.accept(context, handler.__name__, payload,
                                      signature):
            return False
        return handler(self, context, *args, **kwargs)
    return wrapper


def signed_kwargs(signer, method, kwargs):
    """kwargs with their signature added (the agent's and the worker's
    client), unless there is no signer or it has no key."""
    if signer is None:
        return kwargs
    signature = signer(method, kwargs)
    return kwargs if signature is None else dict(kwargs,
                                                 signature=signature)
