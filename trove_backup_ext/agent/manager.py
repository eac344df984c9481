"""RPC endpoint of trove-backup-agent: one instance, one backup at a time."""

import threading

from oslo_log import log as logging
import oslo_messaging as messaging

from trove_backup_ext.agent import restore
from trove_backup_ext.agent import runner
from trove_backup_ext import states

LOG = logging.getLogger(__name__)


class AgentManager:

    target = messaging.Target(version='1.0')

    def __init__(self, conf, instance_id, datastore, worker_api):
        self.conf = conf
        self.instance_id = instance_id
        self.datastore = datastore
        self.worker = worker_api
        self.runner = runner.BackupRunner(conf, instance_id, datastore,
                                          worker_api)
        self._busy = threading.Lock()
        self.threads = []

    def create_backup(self, context, backup_info):
        backup_id = backup_info['id']
        if backup_info.get('instance_id') != self.instance_id:
            LOG.warning('Refusing backup %s of instance %s: this agent '
                        'serves %s.', backup_id,
                        backup_info.get('instance_id'), self.instance_id)
            return
        if not self._busy.acquire(blocking=False):
            self.worker.update_backup(
                context, self.instance_id, backup_id, states.FAILED,
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
