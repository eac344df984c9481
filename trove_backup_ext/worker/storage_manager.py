"""RPC endpoint of trove-backup-worker for agents' storage tokens.

An agent gets a token of the backup's credential with each backup,
restore or verification (storage_access.py). A token lives as long as
Keystone's [token] expiration; an agent whose run outlasts it asks for
another here, in a signed call naming the run. The worker answers only
for a run it started on that instance and that is still running.
"""

from oslo_log import log as logging
import oslo_messaging as messaging

from trove_backup_ext import agent_auth
from trove_backup_ext.db import lifecycle
from trove_backup_ext.db import restores as restores_db
from trove_backup_ext import exception
from trove_backup_ext import states
from trove_backup_ext import storage_access

LOG = logging.getLogger(__name__)


class StorageAccessManager:

    target = messaging.Target(version='1.3')

    def __init__(self, conf):
        self.conf = conf
        self.agent_auth = agent_auth.Authenticator(conf)

    @messaging.expose
    @agent_auth.signed_report
    def renew_storage_access(self, context, instance_id, kind, operation_id,
                             attempt_id):
        """A new storage_access for the run attempt_id of operation_id
        (kind: backup, restore or verify) on instance_id; False if that
        is not a run of this instance that is still going."""
        backup, phase = self._running(context, instance_id, kind,
                                      operation_id, attempt_id)
        if backup is None:
            LOG.warning('Refused a storage token for %s %s (attempt %s) to '
                        'the agent of %s: no such run of that instance is '
                        'going on.', kind, operation_id, attempt_id,
                        instance_id)
            return False
        try:
            fields = storage_access.agent_fields(self.conf, context, backup,
                                                 phase)
        except (exception.ServiceUnavailable,
                exception.ConfigurationError) as exc:
            LOG.warning('No storage token for %s %s: %s', kind,
                        operation_id, exc)
            return False
        return fields.get('storage_access') or False

    @staticmethod
    def _running(context, instance_id, kind, operation_id, attempt_id):
        """The backup whose storage the run reaches, and the phase."""
        if not attempt_id:
            return None, None
        if kind == 'backup':
            row = lifecycle.get(context, operation_id)
            if (row is not None and row.instance_id == instance_id and
                    row.attempt_id == attempt_id and
                    row.status in states.RUNNING and
                    row.delete_requested_at is None):
                return row, storage_access.WRITE
        elif kind == 'restore':
            restore = restores_db.find(context, operation_id)
            if (restore is not None and restore.instance_id == instance_id
                    and restore.attempt_id == attempt_id and
                    restore.status in states.RESTORE_RUNNING):
                return (lifecycle.get(context, restore.backup_id),
                        storage_access.READ)
        elif kind == 'verify':
            row = lifecycle.get(context, operation_id)
            if (row is not None and row.instance_id == instance_id and
                    row.verification_attempt_id == attempt_id and
                    row.verification_status == states.VERIFY_RUNNING):
                return row, storage_access.READ
        return None, None
