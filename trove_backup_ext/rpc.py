"""Message bus set-up shared by every RPC client and server of the plugin."""

import re

import oslo_messaging as messaging

from trove_backup_ext import context as backup_context
from trove_backup_ext import exception

WORKER_TOPIC = 'trove-backup-worker'
AGENT_TOPIC_PREFIX = 'trove-backup-agent.'


def agent_topic(instance_id):
    return AGENT_TOPIC_PREFIX + instance_id


def get_transport(conf):
    return messaging.get_rpc_transport(conf)


class RequestContextSerializer(messaging.NoOpSerializer):
    """Sends the request context as a plain dict, and back."""

    def serialize_context(self, context):
        values = context.to_dict()
        # The caller's token stays in the API: the worker and agents act
        # with their own credentials, and a message (or a notification)
        # must not carry a token anyone could replay.
        values.pop('auth_token', None)
        return values

    def deserialize_context(self, context):
        return backup_context.RequestContext.from_dict(context)


_VERSION = re.compile(r'^([0-9]+)\.[0-9]+$')


def get_client(transport, topic, configured_cap, aliases, latest):
    """A versioned RPC client of topic, capped by an [upgrade_levels]
    value, sending contexts as dicts."""
    target = messaging.Target(topic=topic, version=latest)
    return messaging.get_rpc_client(
        transport, target,
        version_cap=version_cap(configured_cap, aliases, latest),
        serializer=RequestContextSerializer())


def version_cap(configured, aliases, latest):
    """Resolve an [upgrade_levels] value (alias, version or 'latest').

    Anything else is a start-up error: a typo, or a release name this code
    does not know (2026.2 reads like version 2026.2, whose major no client
    here speaks), left as the cap, would fail every cast later.
    """
    if not configured or configured == 'latest':
        return latest
    cap = aliases.get(configured, configured)
    match = _VERSION.match(cap)
    latest_major = int(_VERSION.match(latest).group(1))
    if match is None or int(match.group(1)) > latest_major:
        raise exception.ConfigurationError(
            "RPC version cap %r is not 'latest', a known release name "
            "(%s) or a version such as '%s'."
            % (configured, ', '.join(sorted(aliases)) or 'none', latest))
    return cap
