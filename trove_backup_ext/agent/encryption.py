"""The encryption key of backup data, from [backup_encryption]."""

from trove_backup_ext import exception
from trove_backup_ext.pipeline import codec as chunk_codec


def load_key(conf):
    """The 32-byte key, or None when backups are not encrypted."""
    group = conf.backup_encryption
    text = group.key
    if group.key_file:
        try:
            with open(group.key_file) as key_file:
                text = key_file.read().strip()
        except OSError as exc:
            raise exception.ConfigurationError(
                'Cannot read [backup_encryption] key_file: %s' % exc)
    if not text:
        return None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b''
    if len(key) != 32:
        raise exception.ConfigurationError(
            'The backup encryption key must be 64 hexadecimal digits.')
    return key


def make_codec(conf):
    return chunk_codec.ChunkCodec(level=conf.agent.compression_level,
                                  key=load_key(conf))
