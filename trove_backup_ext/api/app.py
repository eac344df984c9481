"""Builds the pecan application of the API."""

import pecan

from trove_backup_ext.api.controllers import root
from trove_backup_ext.api import hooks
from trove_backup_ext import backup_service
from trove_backup_ext import instance_sources
from trove_backup_ext import rpc
from trove_backup_ext import trusts
from trove_backup_ext.worker import rpcapi as worker_rpcapi


def setup_app(conf, instance_source=None, worker_api=None):
    """The bare pecan app; deploy.py wraps it in the middleware stack."""
    trust_maker = None
    if conf.swift.store_in_owner_account:
        trusts.check_configuration(conf)
        trust_maker = trusts.TrustMaker(conf)
    service = backup_service.BackupService(
        conf,
        instance_source or instance_sources.load(conf),
        worker_api or worker_rpcapi.WorkerAPI(conf,
                                              rpc.get_transport(conf)),
        trusts=trust_maker)
    return pecan.make_app(
        root.RootController(root.load_resource_controllers()),
        hooks=[hooks.ContextHook(), hooks.ServiceHook(conf, service),
               hooks.FaultHook()],
        # URLs mean what they say: no ".json" suffix magic, no redirects.
        guess_content_type_from_ext=False,
        force_canonical=False)
