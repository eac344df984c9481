"""Storage in a local directory: <storage_dir>/<container>/<object>.

Object names may contain "/": they become subdirectories.
"""

import ctypes
import os
import tempfile

from oslo_config import cfg

from trove_backup_ext.storage import base
from trove_backup_ext import opt_groups

local_group = cfg.OptGroup('local_storage', title='Local directory storage')
local_opts = [
    cfg.StrOpt('storage_dir', default='/var/lib/trove-backup-ext/backups',
               help='Directory under which the local driver keeps one '
                    'subdirectory per container.'),
]


def register_opts(conf):
    opt_groups.register(conf, local_group, local_opts)


def list_opts():
    return {local_group: local_opts}


def _sync_file_system(path):
    """Write every dirty page and inode of the file system holding path
    to disk: one syncfs() instead of an fsync() per object (which cost a
    fifth of a backup's throughput). os.sync() where syncfs is missing."""
    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if syncfs(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
    finally:
        os.close(fd)


def _check(name):
    # Names come from our own code, but one that could climb out of the
    # storage directory must never reach the file system.
    parts = name.split('/')
    if not name or '\0' in name or any(p in ('', '.', '..') for p in parts):
        raise ValueError('Invalid storage name: %r' % name)
    return name


class LocalStorage(base.Storage):

    name = 'local'

    def __init__(self, conf):
        super().__init__(conf)
        register_opts(conf)
        self.root = os.path.abspath(conf.local_storage.storage_dir)

    def _path(self, container, name=None):
        path = os.path.join(self.root, _check(container))
        return path if name is None else os.path.join(path, _check(name))

    def ensure_container(self, container):
        try:
            os.makedirs(self._path(container), exist_ok=True)
        except OSError as exc:
            raise base.StorageError('Cannot create container %s: %s'
                                    % (container, exc))

    def put_object(self, container, name, data):
        path = self._path(container, name)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            # Written aside and renamed: nobody sees half an object.
            fd, partial = tempfile.mkstemp(dir=os.path.dirname(path),
                                           prefix='.partial-')
            try:
                with os.fdopen(fd, 'wb') as out:
                    out.write(data)
                # Durable at flush(), which the pipeline calls before and
                # after it puts the manifest.
                os.replace(partial, path)
            except BaseException:
                os.unlink(partial)
                raise
        except OSError as exc:
            raise base.StorageError('Cannot write %s/%s: %s'
                                    % (container, name, exc))

    def flush(self, container):
        try:
            _sync_file_system(self._path(container))
        except OSError as exc:
            raise base.StorageError('Cannot flush container %s to disk: %s'
                                    % (container, exc))

    def get_object(self, container, name):
        return self.get_object_range(container, name, 0, -1)

    def get_object_range(self, container, name, offset, length):
        try:
            with open(self._path(container, name), 'rb') as source:
                source.seek(offset)
                return source.read(length)
        except FileNotFoundError:
            raise base.ObjectNotFound('%s/%s' % (container, name))
        except OSError as exc:
            raise base.StorageError('Cannot read %s/%s: %s'
                                    % (container, name, exc))

    def delete_object(self, container, name):
        try:
            os.unlink(self._path(container, name))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise base.StorageError('Cannot delete %s/%s: %s'
                                    % (container, name, exc))

    def list_objects(self, container, prefix=''):
        top = self._path(container)
        names = []
        for directory, _, files in os.walk(top):
            for file_name in files:
                if file_name.startswith('.partial-'):
                    continue
                name = os.path.relpath(os.path.join(directory, file_name),
                                       top)
                if name.startswith(prefix):
                    names.append(name)
        return sorted(names)

    def delete_prefix(self, container, prefix):
        super().delete_prefix(container, prefix)
        self._remove_partials(container, prefix)
        self._prune(container)

    def _remove_partials(self, container, prefix):
        # Uploads cut off by a killed writer leave their temporary files;
        # listings never show them, so only this removes them.
        top = self._path(container)
        for directory, _, files in os.walk(top):
            for file_name in files:
                path = os.path.join(directory, file_name)
                if (file_name.startswith('.partial-') and
                        os.path.relpath(path, top).startswith(prefix)):
                    try:
                        os.unlink(path)
                    except FileNotFoundError:
                        pass

    def _prune(self, container):
        # Directories emptied by a deletion go too, so deleted backups
        # leave nothing behind; the container itself stays.
        top = self._path(container)
        for directory, _, _ in os.walk(top, topdown=False):
            if directory != top:
                try:
                    os.rmdir(directory)
                except OSError:
                    pass    # Not empty, or already gone.

    def object_url(self, container, name):
        return 'file://' + self._path(container, name)
