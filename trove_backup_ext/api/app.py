"""Builds the pecan application of the API."""

import pecan

from trove_backup_ext import app_credentials
from trove_backup_ext.api import body_guard
from trove_backup_ext.api.controllers import root
from trove_backup_ext.api import hooks
from trove_backup_ext.api import pecan_argspec
from trove_backup_ext import instance_sources
from trove_backup_ext import rpc
from trove_backup_ext import schedule_credentials
from trove_backup_ext.services import backup_schedules as schedule_service
from trove_backup_ext.services import backups as backup_service
from trove_backup_ext.services import restores as restore_service
from trove_backup_ext import trusts
from trove_backup_ext.worker import rpcapi as worker_rpcapi


def setup_app(conf, instance_source=None, worker_api=None):
    """The bare pecan app; deploy.py wraps it in the middleware stack."""
    pecan_argspec.install()
    trust_maker = credential_maker = schedule_maker = None
    if schedule_credentials.needed(conf):
        schedule_maker = schedule_credentials.ScheduleCredentialMaker(conf)
    if conf.swift.store_in_owner_account:
        trusts.check_configuration(conf)
        if conf.swift.owner_account_credentials == 'trust':
            trust_maker = trusts.TrustMaker(conf)
        else:
            credential_maker = app_credentials.CredentialMaker(conf)
    instance_source = instance_source or instance_sources.load(conf)
    worker_api = worker_api or worker_rpcapi.WorkerAPI(
        conf, rpc.get_transport(conf))
    services = {
        'backup_service': backup_service.BackupService(
            conf, instance_source, worker_api, trusts=trust_maker,
            credentials=credential_maker),
        'restore_service': restore_service.RestoreService(
            conf, instance_source, worker_api),
        'backup_schedule_service': schedule_service.BackupScheduleService(
            conf, instance_source, credentials=schedule_maker),
    }
    application = pecan.make_app(
        root.RootController(root.load_resource_controllers()),
        hooks=[hooks.ContextHook(), hooks.ServiceHook(conf, services),
               hooks.FaultHook()],
        # URLs mean what they say: no ".json" suffix magic, no redirects.
        guess_content_type_from_ext=False,
        force_canonical=False)
    return body_guard.BodyGuard(application,
                                conf.api.max_request_body_size)
