"""The encryption keys of backup data, from [backup_encryption]."""

from oslo_log import log as logging

from trove_backup_ext import exception
from trove_backup_ext.pipeline import codec as chunk_codec

LOG = logging.getLogger(__name__)


def load_key(conf):
    """The 32-byte key new backups are written with, or None when they
    are not encrypted."""
    group = conf.backup_encryption
    text = group.key
    if group.key_file:
        text = _read(group.key_file, 'key_file')
    return _parse(text) if text else None


def load_previous_keys(conf, strict=False):
    """The 32-byte keys kept only to read older backups.

    Not strict (a backup or restore running), a file that cannot be read
    or holds no key is logged and skipped: only the backups sealed with
    that key are affected, and they report it missing by its id. Strict
    (the agent starting), it is a configuration error.
    """
    keys = []
    for path in conf.backup_encryption.previous_key_files:
        try:
            keys.append(_parse(_read(path, 'previous_key_files'),
                               'previous_key_files %s' % path))
        except exception.ConfigurationError as exc:
            if strict:
                raise
            LOG.warning('%s; backups sealed with that key cannot be read '
                        'until it is fixed.', exc)
    return keys


def check(conf):
    """Raise ConfigurationError unless every configured key loads."""
    load_key(conf)
    load_previous_keys(conf, strict=True)


def _read(path, option):
    try:
        with open(path) as key_file:
            return key_file.read().strip()
    except OSError as exc:
        raise exception.ConfigurationError(
            'Cannot read [backup_encryption] %s: %s' % (option, exc))


def _parse(text, where='key'):
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b''
    if len(key) != 32:
        raise exception.ConfigurationError(
            'The backup encryption key (%s) must be 64 hexadecimal digits.'
            % where)
    return key


def make_codec(conf):
    """The codec new backups are written with."""
    return chunk_codec.ChunkCodec(level=conf.agent.compression_level,
                                  key=load_key(conf))


def make_keyring(conf, current=None):
    """Every key backups may be read with: current (make_codec's if not
    given) and the previous keys. Read again each time, so that a key
    file added takes effect without restarting the agent."""
    return chunk_codec.Keyring(current or make_codec(conf),
                               load_previous_keys(conf))
