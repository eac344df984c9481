"""Assembles a running worker: RPC server, manager and reaper."""

import socket

import oslo_messaging as messaging

from trove_backup_ext.agent import rpcapi as agent_rpcapi
from trove_backup_ext import context as backup_context
from trove_backup_ext import instance_sources
from trove_backup_ext import notifications
from trove_backup_ext import rpc
from trove_backup_ext.worker import manager as worker_manager
from trove_backup_ext.worker import reaper as worker_reaper
from trove_backup_ext.worker import restore_manager
from trove_backup_ext.worker import rpcapi as worker_rpcapi
from trove_backup_ext.worker import verify_manager


class WorkerService:

    def __init__(self, conf, transport, instance_source=None,
                 notifier=None):
        instance_source = instance_source or instance_sources.load(conf)
        agent_api = agent_rpcapi.AgentAPI(conf, transport)
        notifier = notifier or notifications.Notifier(conf,
                                                      'trove-backup-worker')
        self.manager = worker_manager.WorkerManager(
            conf, instance_source, agent_api, notifier)
        self.restores = restore_manager.RestoreManager(
            conf, instance_source, agent_api, notifier)
        self.verifier = verify_manager.VerifyManager(
            conf, agent_api, notifier,
            worker_api=worker_rpcapi.WorkerAPI(conf, transport))
        self.manager.verifier = self.verifier
        self.reaper = worker_reaper.Reaper(
            conf, self.manager, backup_context.get_admin_context,
            restores=self.restores, verifier=self.verifier)
        self.server = messaging.get_rpc_server(
            transport,
            messaging.Target(topic=rpc.WORKER_TOPIC,
                             server=socket.gethostname()),
            [self.manager, self.restores, self.verifier],
            executor='threading',
            serializer=rpc.RequestContextSerializer())

    def start(self):
        self.server.start()
        self.reaper.start()

    def stop(self):
        self.reaper.stop()
        self.server.stop()
        self.server.wait()
