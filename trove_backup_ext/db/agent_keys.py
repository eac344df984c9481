"""SQL of agent_keys: each instance's sealed agent key (agent_auth.py)."""

from oslo_db import exception as db_exc
from oslo_utils import timeutils
import sqlalchemy as sa

from trove_backup_ext.db import api as db_api
from trove_backup_ext.db import models

AgentKey = models.AgentKey


@db_api.context_manager.reader
def get(context, instance_id):
    """The instance's row, or None when it has no key."""
    return context.session.get(AgentKey, instance_id)


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def _insert(context, instance_id, values):
    now = timeutils.utcnow()
    context.session.add(AgentKey(instance_id=instance_id, generation=1,
                                 created=now, updated=now, **values))


def store(context, instance_id, generation, values):
    """Write the instance's keys if its row is still at generation (None:
    no row yet). A compare-and-set: of two rotations at once, one wins and
    the other gets False (and tries again from a fresh read)."""
    if generation is None:
        try:
            _insert(context, instance_id, values)
        except db_exc.DBDuplicateEntry:
            return False
        return True
    return _update(context, instance_id, generation, values)


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def _update(context, instance_id, generation, values):
    return context.session.execute(
        sa.update(AgentKey)
        .where(AgentKey.instance_id == instance_id,
               AgentKey.generation == generation)
        .values(generation=generation + 1, updated=timeutils.utcnow(),
                **values)
    ).rowcount == 1


@db_api.context_manager.reader
def count(context):
    return context.session.execute(
        sa.select(sa.func.count()).select_from(AgentKey)).scalar()


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def remove(context, instance_id):
    """Forget the instance's keys; whether there were any."""
    return context.session.execute(
        sa.delete(AgentKey).where(AgentKey.instance_id == instance_id)
    ).rowcount == 1
