"""Assembles a running agent: its datastore driver and RPC server."""

import functools

import oslo_messaging as messaging

from trove_backup_ext.agent import encryption
from trove_backup_ext.agent import in_place
from trove_backup_ext.agent import manager as agent_manager
from trove_backup_ext.agent import verify_runner
from trove_backup_ext import agent_auth
from trove_backup_ext import context as backup_context
from trove_backup_ext import datastores
from trove_backup_ext import rpc
from trove_backup_ext.worker import rpcapi as worker_rpcapi


class AgentService:

    def __init__(self, conf, transport, instance_id, datastore=None,
                 key_file=None):
        """key_file: this agent's key file, if not [agent] key_file (the
        all-in-one runs agents of several instances on one config)."""
        self.datastore = datastore or datastores.load(conf,
                                                      conf.agent.datastore)
        # A key file that cannot be read stops the agent now, not the
        # first backup or restore that needs it.
        encryption.check(conf)
        signer = agent_auth.agent_signer(key_file or conf.agent.key_file)
        self.manager = agent_manager.AgentManager(
            conf, instance_id, self.datastore,
            worker_rpcapi.WorkerAPI(conf, transport, signer=signer))
        # A verification's throw-away server outlives a killed agent.
        verify_runner.clean_stale_scratch(conf, instance_id)
        # A restore cut off by the death of an earlier run is finished
        # (rolled back, or completed if the worker recorded it) before
        # anything else.
        in_place.recover(self.datastore, confirm=functools.partial(
            self.manager.restores.reconfirm,
            backup_context.get_admin_context()))
        self.server = messaging.get_rpc_server(
            transport,
            messaging.Target(topic=rpc.agent_topic(instance_id),
                             server=instance_id),
            [self.manager], executor='threading',
            serializer=rpc.RequestContextSerializer(),
            # Only the agent's RPC API (@messaging.expose), as the worker:
            # anything on the bus could call a public helper otherwise.
            access_policy=messaging.ExplicitRPCAccessPolicy)

    def start(self):
        self.server.start()

    def stop(self):
        self.server.stop()
        self.server.wait()
        # Verifications waiting for their turn are not started: the
        # reaper ends them, as those of an agent killed.
        self.manager.stop()
