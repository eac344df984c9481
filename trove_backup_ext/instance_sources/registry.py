"""Instances kept in the plugin's own table, for stand-alone use."""

import uuid

from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.instance_sources import base

# Registry instances have no datastore-version table; their version id is
# derived from (datastore, version), so equal versions share one id.
_VERSION_NAMESPACE = uuid.UUID('6f1d0c9e-8a3b-4c55-9a57-2b7d2b0f4e11')


def datastore_version_id(datastore, version):
    return str(uuid.uuid5(_VERSION_NAMESPACE, '%s:%s' % (datastore, version)))


def to_instance(row):
    return base.Instance(
        id=row.id, name=row.name, project_id=row.project_id,
        datastore=row.datastore, datastore_version=row.datastore_version,
        datastore_version_id=datastore_version_id(row.datastore,
                                                  row.datastore_version),
        status=row.status, created=row.created)


class RegistrySource(base.InstanceSource):
    """Instances registered with trove-backup-manage instance add."""

    def get_instance(self, context, instance_id):
        return to_instance(instances_db.get(context, instance_id))

    def datastore_exists(self, context, datastore):
        return datastore in self.conf.registry.datastores

    def list_instances(self, context, project_id, limit, after=None):
        rows = instances_db.list_page(context, limit + 1, project_id, after)
        return [to_instance(row) for row in rows[:limit]], len(rows) > limit
