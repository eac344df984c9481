"""Client side of the worker's RPC API, used by the API service."""

import oslo_messaging as messaging

from trove_backup_ext import rpc


class WorkerAPI:
    """Casts to trove-backup-worker.

    Casts carry ids, never database rows: the worker reads the row itself,
    so a cast can be repeated and a message never holds stale data.

    API version history:

    * 1.0 - Initial version: create_backup(backup_id),
      delete_backup(backup_id).
    """

    RPC_API_VERSION = '1.0'
    # Release names an operator may set in [upgrade_levels] worker.
    VERSION_ALIASES = {
        '2027.1': '1.0',
    }

    def __init__(self, conf, transport):
        self.retry = conf.api.rpc_cast_retry
        target = messaging.Target(topic=rpc.WORKER_TOPIC,
                                  version=self.RPC_API_VERSION)
        cap = rpc.version_cap(conf.upgrade_levels.worker,
                              self.VERSION_ALIASES, self.RPC_API_VERSION)
        self.client = messaging.get_rpc_client(
            transport, target, version_cap=cap,
            serializer=rpc.RequestContextSerializer())

    def can_send_version(self, version):
        return self.client.can_send_version(version)

    def create_backup(self, context, backup_id):
        cctxt = self.client.prepare(version='1.0', retry=self.retry)
        cctxt.cast(context, 'create_backup', backup_id=backup_id)

    def delete_backup(self, context, backup_id):
        cctxt = self.client.prepare(version='1.0', retry=self.retry)
        cctxt.cast(context, 'delete_backup', backup_id=backup_id)
