"""RPC endpoint of trove-backup-agent: one instance, one backup at a time."""

import collections
import threading

from oslo_log import log as logging
import oslo_messaging as messaging

from trove_backup_ext.agent import restore
from trove_backup_ext.agent import runner
from trove_backup_ext import states

LOG = logging.getLogger(__name__)


class AgentManager:

    target = messaging.Target(version='1.1')

    # Attempts remembered to drop repeated create_backup messages: far
    # more than the backups one instance can run while a message may
    # still be redelivered.
    REMEMBERED_ATTEMPTS = 256

    def __init__(self, conf, instance_id, datastore, worker_api):
        self.conf = conf
        self.instance_id = instance_id
        self.datastore = datastore
        self.worker = worker_api
        self.runner = runner.BackupRunner(conf, instance_id, datastore,
                                          worker_api)
        self._busy = threading.Lock()
        self._seen_lock = threading.Lock()
        self._seen = collections.OrderedDict()
        self.threads = []

    def _first_delivery(self, backup_info):
        """False if this run was received before (a repeated message)."""
        key = (backup_info['id'], backup_info.get('attempt_id'))
        with self._seen_lock:
            if key in self._seen:
                return False
            self._seen[key] = True
            while len(self._seen) > self.REMEMBERED_ATTEMPTS:
                self._seen.popitem(last=False)
        return True

    def create_backup(self, context, backup_info):
        backup_id = backup_info['id']
        if backup_info.get('instance_id') != self.instance_id:
            LOG.warning('Refusing backup %s of instance %s: this agent '
                        'serves %s.', backup_id,
                        backup_info.get('instance_id'), self.instance_id)
            return
        if not self._first_delivery(backup_info):
            LOG.info('Ignoring a repeated create_backup of backup %s '
                     '(attempt %s).', backup_id,
                     backup_info.get('attempt_id'))
            return
        if not self._busy.acquire(blocking=False):
            # Only this attempt fails: the report names it, and the
            # worker applies it to no other run.
            self.worker.update_backup(
                context, self.instance_id, backup_id, states.FAILED,
                attempt_id=backup_info.get('attempt_id'),
                fail_reason='Another backup of this instance is running on '
                            'its agent.')
            return
        # The RPC thread returns at once; the backup runs on its own.
        thread = threading.Thread(target=self._run,
                                  args=(context, backup_info),
                                  name='backup-%s' % backup_id, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _run(self, context, backup_info):
        try:
            self.runner.run(context, backup_info)
        finally:
            self._busy.release()

    def restore_backup(self, context, backup_id, container, storage_driver,
                       target, checksum=None, trust_id=None):
        restore.restore_backup(self.conf, self.datastore, storage_driver,
                               container, backup_id, target, checksum,
                               trust_id)
        return {'backup_id': backup_id, 'target': target}

    def wait(self):
        """Wait for backups started so far (tests, shutdown)."""
        for thread in list(self.threads):
            thread.join()
