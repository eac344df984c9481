"""Notifications with Trove's event types: dbaas.backup_create.start ...

Sent through oslo.messaging's notifier; [oslo_messaging_notifications]
driver decides where they go (none by default).
"""

import socket

from oslo_log import log as logging
import oslo_messaging as messaging

from trove_backup_ext import rpc

LOG = logging.getLogger(__name__)


def backup_payload(backup, **extra):
    """The traits consumers of Trove's backup notifications read."""
    payload = {
        'tenant_id': backup.project_id,
        'project_id': backup.project_id,
        'backup_id': backup.id,
        'name': backup.name,
        'description': backup.description,
        'instance_id': backup.instance_id,
        'parent_id': backup.parent_id,
        'datastore': backup.datastore,
        'datastore_version': backup.datastore_version,
        'storage_driver': backup.storage_driver,
        'status': backup.status,
        'size': backup.size,
        'location': backup.location,
    }
    payload.update(extra)
    return payload


def restore_payload(restore, **extra):
    """The traits of dbaas.backup_restore.* notifications."""
    payload = {
        'tenant_id': restore.project_id,
        'project_id': restore.project_id,
        'restore_id': restore.id,
        'backup_id': restore.backup_id,
        'instance_id': restore.instance_id,
        'source_instance_id': restore.source_instance_id,
        'status': restore.status,
    }
    payload.update(extra)
    return payload


def schedule_payload(schedule, **extra):
    """The traits of dbaas.backup_schedule.* notifications."""
    payload = {
        'tenant_id': schedule.project_id,
        'project_id': schedule.project_id,
        'schedule_id': schedule.id,
        'name': schedule.name,
        'instance_id': schedule.instance_id,
    }
    payload.update(extra)
    return payload


class Notifier:

    def __init__(self, conf, role, transport=None):
        transport = transport or messaging.get_notification_transport(conf)
        self._notifier = messaging.Notifier(
            transport, publisher_id='%s.%s' % (role, socket.gethostname()),
            serializer=rpc.RequestContextSerializer())

    def _send(self, context, event_type, payload, level):
        try:
            getattr(self._notifier, level)(context, event_type, payload)
        except Exception:
            # A notification must never undo or block the work it reports.
            LOG.exception('Could not send notification %s', event_type)

    def info(self, context, event_type, payload):
        self._send(context, event_type, payload, 'info')

    def error(self, context, event_type, payload):
        self._send(context, event_type, payload, 'error')
