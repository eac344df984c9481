"""Run by Trove's python: writes rows with Trove's code and judges them."""

# <trove venv>/bin/python trove_seed.py URL < spec.json > result.json
#
# Imports only Trove, never trove_backup_ext: it runs in the venv that
# tools/trove-schema.sh makes. Datastores and versions are added by the
# functions behind `trove-manage datastore_update` and
# `datastore_version_update`; instances, service statuses and backups by
# Trove's own models, as its API, task manager and conductor write them.
# Then, for each instance not deleted, Trove's own Instance says what its
# status is and whether validate_can_perform_action() lets a backup start:
# the oracle the trove instance source is tested against. Trove asks Nova
# for the server status; here the server_status column stands in for
# Nova, or ACTIVE where it is empty, as the source itself assumes.

import datetime
import json
import sys

# Trove's modules read their configuration when imported.
from trove.common import cfg

CONF = cfg.CONF


def _setup(url):
    CONF([], project='trove', default_config_files=[])
    CONF.set_override('connection', url, group='database')
    from trove.db import get_db_api
    get_db_api().configure_db()


def _datastores(specs):
    from trove.datastore import models
    result = {}
    for spec in specs:
        models.update_datastore(spec['name'], '')
        models.update_datastore_version(
            spec['name'], spec['version'], spec['manager'], 'image-' +
            spec['manager'], '', '', 1)
        models.update_datastore(spec['name'], spec['version'])
        datastore = models.Datastore.load(spec['name'])
        version = models.DatastoreVersion.load(datastore, spec['version'])
        entry = result.setdefault(spec['name'], {'id': datastore.id,
                                                 'versions': {}})
        entry['versions'][spec['version']] = version.id
    return result


def _add_instance(spec, version_id):
    from oslo_utils import timeutils

    from trove.backup import models as backup_models
    from trove.db import get_db_api
    from trove.instance import models
    from trove.instance import service_status
    from trove.instance import tasks

    cluster_id = None
    if spec.get('cluster'):
        # As Trove's cluster API makes one, before its members.
        from trove.cluster import models as cluster_models
        from trove.cluster import tasks as cluster_tasks
        cluster_id = cluster_models.DBCluster.create(
            name='cluster-' + spec['name'], tenant_id=spec['tenant_id'],
            task_status=cluster_tasks.ClusterTasks.NONE,
            datastore_version_id=version_id).id
    db_info = models.DBInstance.create(
        id=spec['id'], name=spec['name'], flavor_id='flavor-1',
        tenant_id=spec['tenant_id'], volume_size=1,
        datastore_version_id=version_id, region_id='RegionOne',
        task_status=getattr(tasks.InstanceTasks, spec['task']),
        cluster_id=cluster_id)
    if spec.get('compute', True):
        # The task manager records the Nova server once it exists; the
        # column caches Nova's status only where Trove saved it.
        db_info.update(compute_instance_id='server-' + spec['id'][:8],
                       server_status=spec.get('server_status'))
    status = models.InstanceServiceStatus.create(
        instance_id=spec['id'],
        status=getattr(service_status.ServiceStatuses, spec['service']))
    if spec.get('heartbeat_age'):
        # The guest agent's last heartbeat was that long ago (save() would
        # stamp now).
        status.updated_at = timeutils.utcnow() - datetime.timedelta(
            seconds=spec['heartbeat_age'])
        get_db_api().save(status)
    if spec.get('trove_backup'):
        backup_models.DBBackup.create(
            name='trove-backup', tenant_id=spec['tenant_id'],
            state=spec['trove_backup'], instance_id=spec['id'],
            datastore_version_id=version_id, backup_type='full',
            storage_driver='swift')
    if spec.get('deleted'):
        db_info.delete()


def _verdict(instance_id):
    from trove.common import context as trove_context
    from trove.common import exception
    from trove.instance import models

    db_info = models.DBInstance.find_by(id=instance_id, deleted=False)
    if db_info.task_status.action == 'BUILDING':
        server_status = 'BUILD'
    else:
        server_status = db_info.server_status or 'ACTIVE'
    db_info.server_status = server_status
    status = models.InstanceServiceStatus.find_by(instance_id=instance_id)
    # What Trove does when it shows an instance: a guest silent for too
    # long is FAILED_TIMEOUT_GUESTAGENT.
    models.update_service_status(db_info.task_status, status, instance_id)
    context = trove_context.TroveContext(is_admin=True)
    instance = models.Instance(context, db_info, None, status)
    try:
        instance.validate_can_perform_action()
        refusal = None
    except exception.UnprocessableEntity as exc:
        refusal = str(exc)
    # Trove's Backup.create refuses a member of a cluster
    # (ClusterInstanceOperationNotSupported) after this check.
    return {'status': instance.status, 'refusal': refusal,
            'datastore_status': status.status.api_status,
            'cluster_id': db_info.cluster_id}


def main():
    _setup(sys.argv[1])
    spec = json.load(sys.stdin)
    datastores = _datastores(spec['datastores'])
    verdicts = {}
    for instance in spec['instances']:
        version_id = datastores[instance['datastore']]['versions'][
            instance['version']]
        _add_instance(instance, version_id)
        if not instance.get('deleted'):
            verdicts[instance['id']] = _verdict(instance['id'])
    json.dump({'datastores': datastores, 'verdicts': verdicts}, sys.stdout)


if __name__ == '__main__':
    main()
