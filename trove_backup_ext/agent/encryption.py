"""The encryption keys of backup data, from [backup_encryption]."""

from trove_backup_ext import exception
from trove_backup_ext.pipeline import codec as chunk_codec


def load_key(conf):
    """The 32-byte key new backups are written with, or None when they
    are not encrypted."""
    group = conf.backup_encryption
    text = group.key
    if group.key_file:
        text = _read(group.key_file, 'key_file')
    return _parse(text) if text else None


def load_previous_keys(conf):
    """The 32-byte keys kept only to read older backups."""
    return [_parse(_read(path, 'previous_key_files'))
            for path in conf.backup_encryption.previous_key_files]


def _read(path, option):
    try:
        with open(path) as key_file:
            return key_file.read().strip()
    except OSError as exc:
        raise exception.ConfigurationError(
            'Cannot read [backup_encryption] %s: %s' % (option, exc))


def _parse(text):
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b''
    if len(key) != 32:
        raise exception.ConfigurationError(
            'The backup encryption key must be 64 hexadecimal digits.')
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
