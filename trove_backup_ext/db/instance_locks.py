"""One backup or restore at a time per instance (instance_operations).

Taking the lock is an INSERT of the instance's row in the transaction
that creates the operation: a second one fails on the primary key, which
no check-then-write can race. The row goes when the operation leaves its
running statuses, in the transaction that moves it.
"""

from oslo_db import exception as db_exc
from oslo_utils import timeutils
import sqlalchemy as sa

from trove_backup_ext.db import api as db_api
from trove_backup_ext.db import models
from trove_backup_ext import exception

InstanceOperation = models.InstanceOperation

# What a busy instance reports as its status, as Trove names them.
_SHOWN_AS = {'backup': 'BACKUP', 'restore': 'RESTORE'}


class InstanceBusy(Exception):
    """The instance runs another operation (raised inside a writer)."""


def take(session, instance_id, kind, operation_id):
    session.add(InstanceOperation(instance_id=instance_id, kind=kind,
                                  operation_id=operation_id,
                                  created=timeutils.utcnow()))
    try:
        session.flush()
    except db_exc.DBDuplicateEntry:
        raise InstanceBusy(instance_id)


def release(session, operation_id):
    session.execute(sa.delete(InstanceOperation).where(
        InstanceOperation.operation_id == operation_id))


@db_api.context_manager.reader
def _holder_kind(context, instance_id):
    row = context.session.get(InstanceOperation, instance_id)
    return row.kind if row else None


def not_available(context, instance_id):
    """The 422 of a busy instance, naming what keeps it busy."""
    kind = _holder_kind(context, instance_id)
    return exception.InstanceNotAvailable(
        instance_id=instance_id, status=_SHOWN_AS.get(kind, 'BUSY'))
