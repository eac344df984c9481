"""SQL of the registry_instances table (the "registry" instance source)."""

from oslo_utils import timeutils
import sqlalchemy as sa

from trove_backup_ext.db import api as db_api
from trove_backup_ext.db import keyset
from trove_backup_ext.db import models
from trove_backup_ext import exception

RegistryInstance = models.RegistryInstance


@db_api.context_manager.writer
def add(context, values):
    row = RegistryInstance(created=timeutils.utcnow(), **values)
    context.session.add(row)
    return row


@db_api.context_manager.reader
def get(context, instance_id):
    row = context.session.get(RegistryInstance, instance_id)
    if row is None:
        raise exception.InstanceNotFound(uuid=instance_id)
    return row


@db_api.context_manager.reader
def list_all(context):
    return list(context.session.execute(
        sa.select(RegistryInstance).order_by(RegistryInstance.created,
                                             RegistryInstance.id)).scalars())


@db_api.context_manager.reader
def list_page(context, limit, project_id=None, after=None):
    """Up to limit instances of project_id (None: all), newest first,
    after the (created, id) given."""
    stmt = sa.select(RegistryInstance)
    if project_id is not None:
        stmt = stmt.where(RegistryInstance.project_id == project_id)
    return keyset.newest_first_page(context.session, stmt, RegistryInstance,
                                    limit, after)


@db_api.context_manager.writer
def set_status(context, instance_id, status):
    row = context.session.get(RegistryInstance, instance_id)
    if row is None:
        raise exception.InstanceNotFound(uuid=instance_id)
    row.status = status
    return row


@db_api.context_manager.writer
def remove(context, instance_id):
    deleted = context.session.execute(
        sa.delete(RegistryInstance).where(RegistryInstance.id == instance_id))
    if deleted.rowcount != 1:
        raise exception.InstanceNotFound(uuid=instance_id)
