"""Message bus set-up shared by every RPC client and server of the plugin."""

import oslo_messaging as messaging

from trove_backup_ext import context as backup_context

WORKER_TOPIC = 'trove-backup-worker'
AGENT_TOPIC_PREFIX = 'trove-backup-agent.'


def agent_topic(instance_id):
    return AGENT_TOPIC_PREFIX + instance_id


def get_transport(conf):
    return messaging.get_rpc_transport(conf)


class RequestContextSerializer(messaging.NoOpSerializer):
    """Sends the request context as a plain dict, and back."""

    def serialize_context(self, context):
        return context.to_dict()

    def deserialize_context(self, context):
        return backup_context.RequestContext.from_dict(context)


def version_cap(configured, aliases, latest):
    """Resolve an [upgrade_levels] value (alias, version or 'latest')."""
    if not configured or configured == 'latest':
        return latest
    return aliases.get(configured, configured)
