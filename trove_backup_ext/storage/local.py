"""Storage in a local directory: <storage_dir>/<container>/<object>.

Object names may contain "/": they become subdirectories.
"""

import ctypes
import os
import tempfile
from urllib import parse

from oslo_config import cfg

from trove_backup_ext.storage import base
from trove_backup_ext import opt_groups

_PARTIAL = '.partial-'
_CREATE_ATTEMPTS = 5

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


def _create_partial(directory):
    """mkstemp() of a .partial-* file in directory, made if missing."""
    for attempt in range(_CREATE_ATTEMPTS):
        try:
            os.makedirs(directory, exist_ok=True)
            return tempfile.mkstemp(dir=directory, prefix=_PARTIAL)
        except (FileNotFoundError, FileExistsError):
            # The directory, or a parent, was removed between makedirs
            # and mkstemp (or inside makedirs, which then reports it as
            # existing) by the deletion of a prefix that covers it, or by
            # a process of a release that pruned whole containers: make
            # it again. A file in the directory's place stays an error.
            if attempt == _CREATE_ATTEMPTS - 1:
                raise


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
            # Written aside and renamed: nobody sees half an object.
            fd, partial = _create_partial(os.path.dirname(path))
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
        for directory, files in self._walk_prefix(container, prefix):
            names.extend(os.path.relpath(os.path.join(directory, name), top)
                         for name in files
                         if not name.startswith(_PARTIAL))
        return sorted(names)

    def list_containers(self):
        try:
            return sorted(name for name in os.listdir(self.root)
                          if os.path.isdir(os.path.join(self.root, name)))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise base.StorageError('Cannot list the containers of %s: %s'
                                    % (self.root, exc))

    def delete_prefix(self, container, prefix):
        # Only the prefix's own files and directories: other backups of
        # the container may be writing, and a directory one of them has
        # just made must not vanish before its first file is in it.
        top = self._path(container)
        directories = []
        for directory, files in self._walk_prefix(container, prefix):
            # A directory's files go before its subdirectories': a
            # backup's manifest before its objects.
            for name in sorted(files):
                # Uploads cut off by a killed writer leave .partial-*
                # files, which no listing shows: they go here too.
                self.delete_object(container, os.path.relpath(
                    os.path.join(directory, name), top))
            relative = os.path.relpath(directory, top)
            if directory != top and (relative + '/').startswith(prefix):
                directories.append(directory)
        # Emptied now, unless a writer of this prefix is still at work;
        # children before parents, and the container itself stays.
        for directory in reversed(directories):
            try:
                os.rmdir(directory)
            except OSError:
                pass    # Not empty.

    def _walk_prefix(self, container, prefix):
        """(directory, file names) of each directory that may hold names
        starting with prefix, parents first. Only the part of the
        container the prefix covers is read, so listing or deleting a
        backup costs the same in a container of a million objects."""
        top = self._path(container)
        head, _, tail = prefix.rpartition('/')
        try:
            start = os.path.join(top, _check(head)) if head else top
        except ValueError:
            return      # No valid name starts with this prefix.
        for directory, subdirectories, files in os.walk(start):
            if directory == start and tail:
                subdirectories[:] = [d for d in subdirectories
                                     if d.startswith(tail)]
                files = [f for f in files if f.startswith(tail)]
            yield directory, files

    def object_url(self, container, name):
        # The store and the object, as Swift's URL names them: never the
        # server's file-system path, which callers have no use for and
        # should not learn.
        self._path(container, name)     # Refuses what _path refuses.
        return 'local://%s/%s' % (parse.quote(container, safe=''),
                                  parse.quote(name, safe='/'))
