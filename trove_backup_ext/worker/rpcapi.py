"""Client side of the worker's RPC API, used by the API service."""

from trove_backup_ext import agent_auth
from trove_backup_ext import rpc


class WorkerAPI:
    """Casts and calls to trove-backup-worker, from the API and agents.

    Casts carry ids, never database rows: the worker reads the row itself,
    so a cast can be repeated and a message never holds stale data.

    API version history:

    * 1.0 - Initial version: create_backup(backup_id),
      delete_backup(backup_id) from the API; update_backup(instance_id,
      backup_id, status, stored_size, checksum, location, fail_reason)
      from agents.
    * 1.1 - update_backup takes attempt_id, the run the report is about,
      as the worker gave it in the agent's create_backup.
    * 1.2 - restore_backup(restore_id) from the API; update_restore(
      instance_id, restore_id, status, attempt_id, fail_reason, progress)
      from agents; update_backup takes progress. verify_backup(
      backup_id) from the API; update_verification(instance_id,
      backup_id, status, attempt_id, details) from agents.
    * 1.3 - update_backup, update_restore and update_verification take
      signature: the agent's HMAC of the report with its instance's key
      (agent_auth.py); a worker may refuse an unsigned report.
      renew_storage_access(instance_id, kind, operation_id, attempt_id)
      (call, signed) from agents: a new token for a run in an owner's
      Swift account whose token nears its expiry.
    """

    RPC_API_VERSION = '1.3'
    # Release names an operator may set in [upgrade_levels] worker.
    VERSION_ALIASES = {
        '2027.1': '1.0',
    }

    def __init__(self, conf, transport, signer=None):
        """signer(method, kwargs): the signature of an agent's report
        (agent_auth.FileSigner, or the worker's StoreSigner)."""
        self.retry = conf.api.rpc_cast_retry
        self.signer = signer
        self.client = rpc.get_client(
            transport, rpc.WORKER_TOPIC, conf.upgrade_levels.worker,
            self.VERSION_ALIASES, self.RPC_API_VERSION)

    def can_send_version(self, version):
        return self.client.can_send_version(version)

    def create_backup(self, context, backup_id):
        cctxt = self.client.prepare(version='1.0', retry=self.retry)
        cctxt.cast(context, 'create_backup', backup_id=backup_id)

    def delete_backup(self, context, backup_id):
        cctxt = self.client.prepare(version='1.0', retry=self.retry)
        cctxt.cast(context, 'delete_backup', backup_id=backup_id)

    def restore_backup(self, context, restore_id):
        cctxt = self.client.prepare(version='1.2', retry=self.retry)
        cctxt.cast(context, 'restore_backup', restore_id=restore_id)

    def verify_backup(self, context, backup_id):
        cctxt = self.client.prepare(version='1.2', retry=self.retry)
        cctxt.cast(context, 'verify_backup', backup_id=backup_id)

    def _report(self, method, version, kwargs):
        """The report's version and arguments, signed if the worker can
        take a signature (1.3) and this client has a key."""
        if not self.client.can_send_version('1.3'):
            return version, kwargs
        return '1.3', agent_auth.signed_kwargs(self.signer, method, kwargs)

    def renew_storage_access(self, context, instance_id, kind, operation_id,
                             attempt_id, timeout=None):
        """An agent's call for a new storage_access (1.3, signed); None
        when the worker cannot take it, False when it refuses."""
        if not self.client.can_send_version('1.3'):
            return None
        _, kwargs = self._report('renew_storage_access', '1.3', {
            'instance_id': instance_id, 'kind': kind,
            'operation_id': operation_id, 'attempt_id': attempt_id})
        cctxt = self.client.prepare(version='1.3', retry=self.retry,
                                    timeout=timeout)
        return cctxt.call(context, 'renew_storage_access', **kwargs)

    def update_verification(self, context, instance_id, backup_id, status,
                            attempt_id, wait=False, timeout=None, **fields):
        """An agent's report on a verification (see update_restore)."""
        kwargs = dict(fields, instance_id=instance_id, backup_id=backup_id,
                      status=status, attempt_id=attempt_id)
        version, kwargs = self._report('update_verification', '1.2', kwargs)
        cctxt = self.client.prepare(version=version, retry=self.retry,
                                    timeout=timeout)
        if wait:
            return cctxt.call(context, 'update_verification', **kwargs)
        cctxt.cast(context, 'update_verification', **kwargs)

    def update_restore(self, context, instance_id, restore_id, status,
                       attempt_id, wait=False, timeout=None, **fields):
        """An agent's report on a restore; with wait, a call whose answer
        says whether the worker accepted it."""
        kwargs = dict(fields, instance_id=instance_id, restore_id=restore_id,
                      status=status, attempt_id=attempt_id)
        version, kwargs = self._report('update_restore', '1.2', kwargs)
        cctxt = self.client.prepare(version=version, retry=self.retry,
                                    timeout=timeout)
        if wait:
            return cctxt.call(context, 'update_restore', **kwargs)
        cctxt.cast(context, 'update_restore', **kwargs)

    def update_backup(self, context, instance_id, backup_id, status,
                      wait=False, timeout=None, **fields):
        """An agent's report. With wait, a call whose answer says whether
        the worker accepted it (an agent stops a backup the worker has
        given up on); otherwise a cast."""
        version = '1.2'
        if not self.client.can_send_version('1.2'):
            version = '1.1'
            fields.pop('progress', None)
        if not self.client.can_send_version('1.1'):
            # A 1.0 worker knows no attempts; it checks the instance only.
            version = '1.0'
            fields.pop('attempt_id', None)
        kwargs = dict(fields, instance_id=instance_id, backup_id=backup_id,
                      status=status)
        version, kwargs = self._report('update_backup', version, kwargs)
        cctxt = self.client.prepare(version=version, retry=self.retry,
                                    timeout=timeout)
        if wait:
            return cctxt.call(context, 'update_backup', **kwargs)
        cctxt.cast(context, 'update_backup', **kwargs)
