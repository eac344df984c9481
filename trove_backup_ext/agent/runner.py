"""Runs one backup on the agent: driver -> pipeline -> storage, reported.

Progress reports are calls: when the worker answers that it no longer
expects this backup (the reaper failed it, or it is being deleted), the
agent stops and removes what it stored. The final result is reported the
same way, so a result the worker refuses leaves no objects behind. Every
report names the run's attempt id, so the worker applies it to this run
only.
"""

import threading
import time

from oslo_log import log as logging

from trove_backup_ext.agent import encryption
from trove_backup_ext.agent import progress as agent_progress
from trove_backup_ext import exception
from trove_backup_ext.pipeline import chunk_index
from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import manifest as backup_manifest
from trove_backup_ext.pipeline import reader as backup_reader
from trove_backup_ext.pipeline import writer as backup_writer
from trove_backup_ext import states
from trove_backup_ext import storage
from trove_backup_ext.storage import base as storage_base

LOG = logging.getLogger(__name__)


class BackupAbandoned(Exception):
    """The worker no longer expects this backup, or it ran too long."""


class Heartbeat:
    """Reports BUILDING every interval seconds for the whole run.

    From its own thread, whether data flows or not: PostgreSQL's
    checkpoint wait, MariaDB's lock waits or indexing a large parent send
    no data for minutes, and the reaper, which fails a backup after
    [worker] backup_timeout seconds of silence, must not take them for a
    dead agent. Given to the pipeline as its progress callback, it stops
    the backup there once the worker has given up on it.

    A heartbeat alone would keep a hung tool alive forever: so the
    operation is given up after max_runtime seconds (0: never), and
    giving up also runs the callbacks registered with when_abandoned()
    (closing the tool's session), which unblocks a data path that waits
    on a tool that sends nothing.
    """

    def __init__(self, report, interval, status=states.BUILDING,
                 progress=None, max_runtime=0, clock=time.monotonic):
        """report(status, progress) sends one report and returns the
        worker's answer (False: it gave up on the operation)."""
        self.report = report
        self.interval = interval
        self.status = status
        self.progress = progress or agent_progress.Progress()
        self.max_runtime = max_runtime
        self.abandoned = threading.Event()
        self.reason = None
        self._clock = clock
        self._started = clock()
        self._callbacks = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True,
                                        name='heartbeat')

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def stop(self):
        """No report after this returns."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def _beat(self):
        while not self._stopped.wait(self.interval):
            if (self.max_runtime and
                    self._clock() - self._started > self.max_runtime):
                return self.abandon('It ran longer than [agent] '
                                    'max_runtime (%d seconds).'
                                    % self.max_runtime)
            if self.report(self.status,
                           self.progress.snapshot()) is False:
                return self.abandon(None)

    def abandon(self, reason):
        """Give up: reason None when the worker did (nothing to report),
        else the failure to report."""
        with self._lock:
            if self.abandoned.is_set():
                return
            self.reason = reason
            self.abandoned.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                LOG.exception('Could not stop the abandoned operation')

    def when_abandoned(self, callback):
        """Call callback (from the heartbeat's thread) on giving up; at
        once if given up already."""
        with self._lock:
            if not self.abandoned.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def __call__(self, done_bytes):
        """The pipeline's progress callback: plain bytes done so far."""
        self.progress.set_done(done_bytes)
        if self.abandoned.is_set():
            raise BackupAbandoned()


# A result is reported until the worker answers: RabbitMQ drops a call
# nobody consumed within its timeout (a worker restarting), and a result
# never heard of gets a whole backup reaped. A repeated result is answered
# as the first (worker/manager.py), so retrying is safe.
RESULT_TRIES = 8
RESULT_PAUSE_MAX = 30.0


def report_until_answered(report):
    """report() until it answers True or False; None if it never did."""
    for attempt in range(RESULT_TRIES):
        answer = report()
        if answer is not None:
            return answer
        if attempt + 1 < RESULT_TRIES:
            time.sleep(min(2.0 ** (attempt + 1), RESULT_PAUSE_MAX))
    return None


def storage_renewer(conf, worker, context, instance_id, kind, operation_id,
                    attempt_id):
    """The renew() of a storage.Grant: asks the worker for the run's next
    storage token (worker/storage_manager.py)."""
    def renew():
        return worker.renew_storage_access(
            context, instance_id, kind, operation_id, attempt_id,
            timeout=conf.agent.report_timeout)
    return renew


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

    def _report(self, context, info, status, wait=True, **fields):
        try:
            return self.worker.update_backup(
                context, self.instance_id, info['id'], status, wait=wait,
                timeout=self.conf.agent.report_timeout,
                attempt_id=info.get('attempt_id'), **fields)
        except Exception:
            # The worker may be restarting; its reaper settles the backup
            # if we never get through.
            LOG.exception('Could not report %s of backup %s', status,
                          info['id'])
            return None

    def run(self, context, info):
        backup_id = info['id']
        if self._report(context, info, states.BUILDING) is False:
            LOG.warning('Worker refused to start backup %s', backup_id)
            return
        store = None
        heartbeat = Heartbeat(
            lambda status, progress: self._report(context, info, status,
                                                  progress=progress),
            self.conf.agent.progress_interval,
            progress=agent_progress.Progress(
                self.datastore.estimated_size()),
            max_runtime=self.conf.agent.max_runtime)
        try:
            store = storage.load(self.conf, info['storage_driver'],
                                 trust_id=storage.access_of(
                                     info, renew=storage_renewer(
                                         self.conf, self.worker, context,
                                         self.instance_id, 'backup',
                                         backup_id, info.get('attempt_id'))))
            with heartbeat:
                result = self._write(info, store, heartbeat)
                if heartbeat.abandoned.is_set():
                    raise BackupAbandoned()
                # Reported while the heartbeat goes on, so the backup
                # stays alive while the result waits for a worker; a
                # BUILDING handled after it is refused, harmlessly.
                accepted = report_until_answered(lambda: self._report(
                    context, info, states.COMPLETED,
                    stored_size=result.stored_size,
                    checksum=result.checksum, location=result.location))
        except Exception as exc:
            # A failure caused by giving up (a closed session) is the
            # giving up: its reason, or nothing if the worker gave up.
            abandoned = (isinstance(exc, BackupAbandoned) or
                         heartbeat.abandoned.is_set())
            if not abandoned:
                LOG.exception('Backup %s failed', backup_id)
            self._remove_objects(store, info)
            reason = (heartbeat.reason if abandoned
                      else describe_failure(exc))
            if reason:
                LOG.warning('Backup %s failed: %s', backup_id, reason)
                self._report(context, info, states.FAILED, wait=False,
                             fail_reason=reason)
            return
        if accepted is False:
            LOG.warning('Worker refused the result of backup %s; removing '
                        'its objects.', backup_id)
            self._remove_objects(store, info)

    def _write(self, info, store, progress):
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
            progress=progress)
        described = {key: info.get(key) for key in (
            'instance_id', 'project_id', 'datastore', 'datastore_version',
            'backup_type')}
        try:
            with self.datastore.backup(
                    parent_manifest['metadata'] if parent_manifest else None
            ) as session:
                # Closing stops the tool: a read blocked on it returns.
                progress.when_abandoned(session.close)
                return writer.write(session, described)
        finally:
            if parent_index is not None:
                parent_index.close()

    def _usable_parent(self, store, codec, parent, index):
        """The parent's manifest, but its members, if this backup may
        build on it; its chunks go into index.

        The parent is read with the key that sealed it, current or
        previous. A native incremental needs only its manifest, so builds
        on a parent under any key it holds (and fails naming the key it
        lacks). A backup's chunks are all sealed with its own key (or
        none), so that a retired key is never needed by newer backups: a
        deduplicating incremental on a parent sealed otherwise is taken
        whole.
        """
        dedup = self.datastore.incremental == 'dedup'
        # Read as a stream: a parent of a million chunks is never held
        # as dicts. A native incremental needs none of its chunks.
        on_chunk = index.add if dedup else lambda chunk: None
        try:
            manifest = backup_reader.BackupReader(
                store, encryption.make_keyring(self.conf, codec)).manifest(
                    parent['container'], parent['id'],
                    parent.get('checksum'), on_chunk=on_chunk)
        except chunk_codec.MissingKey:
            if not dedup:
                raise
            manifest = None
        if dedup and (manifest is None or backup_manifest.sealed_with(
                manifest, parent['id']) != codec.key_id):
            LOG.info('Parent backup %s was sealed with another key; '
                     'storing every chunk again.', parent['id'])
            index.close()   # _write forgets it, unclosed
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
