"""Storage in a local directory: <storage_dir>/<container>/<object>."""

import os

from oslo_config import cfg

from trove_backup_ext.storage import base

local_group = cfg.OptGroup('local_storage', title='Local directory storage')
local_opts = [
    cfg.StrOpt('storage_dir', default='/var/lib/trove-backup-ext/backups',
               help='Directory under which the local driver keeps one '
                    'subdirectory per container.'),
]

_READ_SIZE = 1 << 20


def register_opts(conf):
    conf.register_group(local_group)
    conf.register_opts(local_opts, group=local_group)


def list_opts():
    return {local_group: local_opts}


def _safe(name):
    # Object and container names come from our own code, but a name that
    # climbs out of the storage directory must never be written.
    if not name or name in ('.', '..') or '/' in name or '\0' in name:
        raise ValueError('Invalid storage name: %r' % name)
    return name


class LocalStorage(base.Storage):

    def __init__(self, conf):
        super().__init__(conf)
        register_opts(conf)
        self.root = conf.local_storage.storage_dir

    def _path(self, container, name=None):
        path = os.path.join(self.root, _safe(container))
        return path if name is None else os.path.join(path, _safe(name))

    def put_object(self, container, name, chunks):
        os.makedirs(self._path(container), exist_ok=True)
        path = self._path(container, name)
        partial = path + '.partial'
        # Written aside and renamed: a reader never sees half an object.
        with open(partial, 'wb') as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
        return 'file://' + path

    def get_object(self, container, name):
        path = self._path(container, name)
        if not os.path.isfile(path):
            raise KeyError(name)
        with open(path, 'rb') as source:
            while chunk := source.read(_READ_SIZE):
                yield chunk

    def delete_object(self, container, name):
        try:
            os.unlink(self._path(container, name))
        except FileNotFoundError:
            pass

    def list_objects(self, container, prefix=''):
        try:
            names = os.listdir(self._path(container))
        except FileNotFoundError:
            return []
        return sorted(n for n in names
                      if n.startswith(prefix) and not n.endswith('.partial'))
