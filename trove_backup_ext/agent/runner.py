"""Runs one backup on the agent: driver -> pipeline -> storage, reported.

Progress reports are calls: when the worker answers that it no longer
expects this backup (the reaper failed it, or it is being deleted), the
agent stops and removes what it stored. The final result is reported the
same way, so a result the worker refuses leaves no objects behind.
"""

import time

from oslo_log import log as logging

from trove_backup_ext.agent import encryption
from trove_backup_ext import exception
from trove_backup_ext.pipeline import chunk_index
from trove_backup_ext.pipeline import manifest as backup_manifest
from trove_backup_ext.pipeline import reader as backup_reader
from trove_backup_ext.pipeline import writer as backup_writer
from trove_backup_ext import states
from trove_backup_ext import storage
from trove_backup_ext.storage import base as storage_base

LOG = logging.getLogger(__name__)


class BackupAbandoned(Exception):
    """The worker no longer expects this backup."""


class _Progress:
    """Reports BUILDING every progress_interval seconds while data flows."""

    def __init__(self, report, interval):
        self.report = report
        self.interval = interval
        self.last = time.monotonic()

    def __call__(self, done_bytes):
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            if self.report(states.BUILDING) is False:
                raise BackupAbandoned()


def describe_failure(exc):
    """A message for users: ours as they are, others by their type."""
    if isinstance(exc, exception.BackupExtError):
        return str(exc)
    if isinstance(exc, storage_base.StorageError):
        return 'Storage failed: %s' % exc
    return 'Unexpected %s: %s' % (type(exc).__name__, exc)


class BackupRunner:

    def __init__(self, conf, instance_id, datastore, worker_api):
        self.conf = conf
        self.instance_id = instance_id
        self.datastore = datastore
        self.worker = worker_api

    def _report(self, context, backup_id, status, wait=True, **fields):
        try:
            return self.worker.update_backup(
                context, self.instance_id, backup_id, status, wait=wait,
                timeout=self.conf.agent.report_timeout, **fields)
        except Exception:
            # The worker may be restarting; its reaper settles the backup
            # if we never get through.
            LOG.exception('Could not report %s of backup %s', status,
                          backup_id)
            return None

    def run(self, context, info):
        backup_id = info['id']
        if self._report(context, backup_id, states.BUILDING) is False:
            LOG.warning('Worker refused to start backup %s', backup_id)
            return
        store = None
        try:
            store = storage.load(self.conf, info['storage_driver'],
                                 trust_id=info.get('trust_id'))
            result = self._write(context, info, store)
        except Exception as exc:
            if not isinstance(exc, BackupAbandoned):
                LOG.exception('Backup %s failed', backup_id)
            self._remove_objects(store, info)
            if not isinstance(exc, BackupAbandoned):
                self._report(context, backup_id, states.FAILED, wait=False,
                             fail_reason=describe_failure(exc))
            return
        accepted = self._report(
            context, backup_id, states.COMPLETED,
            stored_size=result.stored_size, checksum=result.checksum,
            location=result.location)
        if accepted is False:
            LOG.warning('Worker refused the result of backup %s; removing '
                        'its objects.', backup_id)
            self._remove_objects(store, info)

    def _write(self, context, info, store):
        codec = encryption.make_codec(self.conf)
        parent = info.get('parent')
        parent_manifest = parent_index = None
        if parent:
            parent_index = chunk_index.ChunkIndex(parent['container'])
            parent_manifest = self._usable_parent(store, codec, parent,
                                                  parent_index)
            if parent_manifest is None:
                parent_index = None
        writer = backup_writer.BackupWriter(
            store, info['container'], info['id'], codec,
            chunk_size=self.conf.agent.chunk_size,
            object_size=self.conf.agent.object_size,
            parallel=self.conf.agent.parallel_uploads,
            parent=parent_manifest,
            parent_container=parent['container'] if parent else None,
            parent_index=parent_index,
            progress=_Progress(
                lambda status: self._report(context, info['id'], status),
                self.conf.agent.progress_interval))
        described = {key: info.get(key) for key in (
            'instance_id', 'project_id', 'datastore', 'datastore_version',
            'backup_type')}
        try:
            with self.datastore.backup(
                    parent_manifest['metadata'] if parent_manifest else None
            ) as session:
                return writer.write(session, described)
        finally:
            if parent_index is not None:
                parent_index.close()

    def _usable_parent(self, store, codec, parent, index):
        """The parent's manifest, but its members, if this backup may
        build on it; its chunks go into index.

        A backup's chunks are all sealed with one key (or none): reusing
        a parent's chunks sealed otherwise would make a backup no single
        key restores. A native incremental cannot do without its parent,
        so it fails; a deduplicating one is then taken whole.
        """
        # Read as a stream: a parent of a million chunks is never held
        # as dicts. A native incremental needs none of its chunks.
        on_chunk = (index.add if self.datastore.incremental == 'dedup'
                    else lambda chunk: None)
        try:
            manifest = backup_reader.BackupReader(store, codec).manifest(
                parent['container'], parent['id'], parent.get('checksum'),
                on_chunk=on_chunk)
            sealed_with = (manifest.get('encryption') or {}).get('key_id')
            if sealed_with != codec.key_id:
                raise backup_manifest.KeyMismatch(parent['id'], sealed_with,
                                                  codec.key_id)
        except backup_manifest.KeyMismatch as exc:
            if self.datastore.incremental == 'native':
                raise exception.BackupExtError(
                    'Cannot build on the parent: %s. Take a full backup.'
                    % exc.msg.split(': ', 1)[-1])
            LOG.info('Parent backup %s was sealed with another key; '
                     'storing every chunk again.', parent['id'])
            return None
        return manifest

    @staticmethod
    def _remove_objects(store, info):
        if store is None:
            return
        try:
            store.delete_prefix(info['container'],
                                backup_manifest.object_prefix(info['id']))
        except Exception:
            LOG.exception('Could not remove the objects of backup %s; the '
                          'worker removes them when the backup is deleted.',
                          info['id'])
