"""Client side of the agents' RPC API, used by the worker and tools."""

from trove_backup_ext import exception
from trove_backup_ext import rpc


class AgentAPI:
    """Messages to trove-backup-agent.<instance_id>.

    API version history:

    * 1.0 - Initial version: create_backup(backup_info) (cast),
      restore_backup(backup_id, container, storage_driver, target,
      checksum, trust_id) (call).
    * 1.1 - backup_info of create_backup holds attempt_id, which the agent
      echoes in each update_backup of that run.
    * 1.2 - restore_backup(restore_info) (cast): restore into the live
      instance, reported with update_restore; verify_backup(verify_info)
      (cast), reported with update_verification. For a backup in its
      owner's Swift account, backup_info, restore_info['backup'] and
      verify_info['backup'] carry storage_access {token, storage_url,
      expires}, a token for that phase of that backup only, instead of
      trust_id (create_backup is then sent as 1.2).
    """

    RPC_API_VERSION = '1.2'
    VERSION_ALIASES = {'2027.1': '1.0'}

    def __init__(self, conf, transport):
        # Each message names its agent's topic (see prepare below).
        self.client = rpc.get_client(
            transport, rpc.AGENT_TOPIC_PREFIX + 'unset',
            conf.upgrade_levels.agent, self.VERSION_ALIASES,
            self.RPC_API_VERSION)

    def can_send_version(self, version):
        return self.client.can_send_version(version)

    def create_backup(self, context, instance_id, backup_info):
        version = '1.1'
        if 'storage_access' in backup_info:
            # An older agent would ignore it and store in the service's
            # account.
            if not self.client.can_send_version('1.2'):
                raise exception.ServiceUnavailable(
                    reason='The agent of instance %s is capped below RPC '
                           '1.2 ([upgrade_levels] agent) and cannot store '
                           'in the owner\'s account.' % instance_id)
            version = '1.2'
        elif not self.client.can_send_version('1.1'):
            version = '1.0'
            backup_info = dict(backup_info)
            backup_info.pop('attempt_id', None)
        cctxt = self.client.prepare(topic=rpc.agent_topic(instance_id),
                                    version=version, retry=3)
        cctxt.cast(context, 'create_backup', backup_info=backup_info)

    def verify_backup(self, context, instance_id, verify_info):
        cctxt = self.client.prepare(topic=rpc.agent_topic(instance_id),
                                    version='1.2', retry=3)
        cctxt.cast(context, 'verify_backup', verify_info=verify_info)

    def restore_into_instance(self, context, instance_id, restore_info):
        cctxt = self.client.prepare(topic=rpc.agent_topic(instance_id),
                                    version='1.2', retry=3)
        cctxt.cast(context, 'restore_backup', restore_info=restore_info)

    def restore_backup(self, context, instance_id, backup_id, container,
                       storage_driver, target, checksum=None, trust_id=None,
                       timeout=3600):
        cctxt = self.client.prepare(topic=rpc.agent_topic(instance_id),
                                    version='1.0', timeout=timeout)
        return cctxt.call(context, 'restore_backup', backup_id=backup_id,
                          container=container, storage_driver=storage_driver,
                          target=target, checksum=checksum,
                          trust_id=trust_id)
