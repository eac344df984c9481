"""Assembles a running worker: RPC server, manager, reaper, scheduler."""

import socket

import oslo_messaging as messaging

from trove_backup_ext.agent import rpcapi as agent_rpcapi
from trove_backup_ext import agent_auth
from trove_backup_ext import context as backup_context
from trove_backup_ext import instance_sources
from trove_backup_ext import notifications
from trove_backup_ext import rpc
from trove_backup_ext import schedule_credentials
from trove_backup_ext.services import backups as backup_service
from trove_backup_ext import storage_access
from trove_backup_ext.worker import manager as worker_manager
from trove_backup_ext.worker import reaper as worker_reaper
from trove_backup_ext.worker import restore_manager
from trove_backup_ext.worker import rpcapi as worker_rpcapi
from trove_backup_ext.worker import scheduler as worker_scheduler
from trove_backup_ext.worker import storage_manager
from trove_backup_ext.worker import verify_manager


class WorkerService:

    def __init__(self, conf, transport, instance_source=None,
                 notifier=None):
        agent_auth.check_worker(conf)
        storage_access.check_worker(conf)
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
            # Its own verifications report signed with the instance's
            # key, as the instance's agent would.
            worker_api=worker_rpcapi.WorkerAPI(
                conf, transport, signer=agent_auth.StoreSigner(
                    conf, backup_context.get_admin_context)))
        self.manager.verifier = self.verifier
        self.reaper = worker_reaper.Reaper(
            conf, self.manager, backup_context.get_admin_context,
            restores=self.restores, verifier=self.verifier)
        # Schedules fire through the API's path: the same checks, quota
        # and create_backup cast as a user's POST.
        # With store_in_owner_account, with the schedule's own storage
        # credentials (there is no caller's token to make a backup's).
        self.scheduler = worker_scheduler.Scheduler(
            conf, backup_service.BackupService(
                conf, instance_source,
                worker_rpcapi.WorkerAPI(conf, transport),
                scheduled_storage=schedule_credentials.ScheduledStorage(
                    conf) if schedule_credentials.needed(conf) else None),
            notifier)
        self.manager.end_listeners.append(self.scheduler.backup_ended)
        self.server = messaging.get_rpc_server(
            transport,
            messaging.Target(topic=rpc.WORKER_TOPIC,
                             server=socket.gethostname()),
            [self.manager, self.restores, self.verifier,
             storage_manager.StorageAccessManager(conf)],
            executor='threading',
            serializer=rpc.RequestContextSerializer(),
            # Only the methods of the RPC API (@messaging.expose): any
            # process on the bus can call an endpoint's public method.
            access_policy=messaging.ExplicitRPCAccessPolicy)

    def start(self):
        self.server.start()
        self.reaper.start()
        if self.scheduler.conf.scheduler.enabled:
            self.scheduler.start()

    def stop(self):
        self.scheduler.stop()
        self.reaper.stop()
        self.server.stop()
        self.server.wait()
