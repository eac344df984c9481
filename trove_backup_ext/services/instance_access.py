"""Which instances a caller may name: the rule of every instance route.

As in Trove, an instance of another project is "not found" to a caller
who is not an administrator, never "forbidden", so ids do not leak.
"""

from oslo_utils import uuidutils

from trove_backup_ext import exception


def visible_instance(instance_source, context, instance_id):
    """The instance, if the caller may see it (its project's members and
    administrators); else InstanceNotFound."""
    if not uuidutils.is_uuid_like(instance_id):
        raise exception.InstanceNotFound(uuid=instance_id)
    # Ids are stored in lower case (see services/backups.py _canonical).
    instance = instance_source.get_instance(context, instance_id.lower())
    if not context.is_admin and instance.project_id != context.project_id:
        raise exception.InstanceNotFound(uuid=instance_id)
    return instance


def project_instance(instance_source, context, instance_id, project_id):
    """The instance, if it is project_id's and the caller may see it."""
    instance = visible_instance(instance_source, context, instance_id)
    if instance.project_id != project_id:
        raise exception.InstanceNotFound(uuid=instance_id)
    return instance


def check_can_back_up(instance):
    """Refuse (422) an instance a backup or restore cannot run on: a
    member of a cluster (Trove backs up clusters whole), or one whose
    status is not ready."""
    if instance.cluster_id is not None:
        raise exception.ClusterInstanceNotSupported(
            instance_id=instance.id, cluster_id=instance.cluster_id)
    if not instance.can_back_up:
        raise exception.InstanceNotAvailable(instance_id=instance.id,
                                             status=instance.status)
