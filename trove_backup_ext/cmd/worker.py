"""trove-backup-worker: the backup state machine, deletions, the reaper."""

import signal
import sys
import threading

from oslo_log import log as logging

from trove_backup_ext import rpc
from trove_backup_ext import service
from trove_backup_ext.worker import service as worker_service

LOG = logging.getLogger(__name__)


def wait_for_signal():
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *args: stop.set())
    while not stop.wait(3600):
        pass


def main(argv=None):
    conf = service.setup(service.parse_args(
        sys.argv[1:] if argv is None else argv))
    worker = worker_service.WorkerService(conf, rpc.get_transport(conf))
    worker.start()
    LOG.info('trove-backup-worker serving topic %s', rpc.WORKER_TOPIC)
    wait_for_signal()
    worker.stop()
    return 0
