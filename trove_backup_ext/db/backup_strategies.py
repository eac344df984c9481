"""SQL of the backup_strategies table: Trove's default backup containers.

A project holds at most one strategy per instance and one project-wide
(instance_id PROJECT_WIDE), which the unique constraint enforces; putting
a strategy replaces the container of the one already there.
"""

from oslo_db import exception as db_exc
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from trove_backup_ext.db import api as db_api
from trove_backup_ext.db import backups as backups_db
from trove_backup_ext.db import models

BackupStrategy = models.BackupStrategy

PROJECT_WIDE = ''    # Trove's instance_id of a project's own strategy.
# Trove's one backend; kept in the row and the view for its clients.
SWIFT = 'swift'


def put(context, project_id, instance_id, swift_container):
    """Create the strategy of (project_id, instance_id), or change the
    container of the one there; return it."""
    try:
        return _put(context, project_id, instance_id, swift_container)
    except db_exc.DBDuplicateEntry:
        # A parallel put inserted it between our read and our insert:
        # it exists now, so this one updates it.
        return _put(context, project_id, instance_id, swift_container)


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def _put(context, project_id, instance_id, swift_container):
    session = context.session
    backups_db.write_first(session)
    now = timeutils.utcnow()
    strategy = session.execute(
        sa.select(BackupStrategy)
        .where(BackupStrategy.project_id == project_id,
               BackupStrategy.instance_id == instance_id)
        .with_for_update()).scalar_one_or_none()
    if strategy is None:
        strategy = BackupStrategy(
            id=uuidutils.generate_uuid(), project_id=project_id,
            instance_id=instance_id, backend=SWIFT, created=now)
        session.add(strategy)
    strategy.swift_container = swift_container
    strategy.updated = now
    session.flush()
    return strategy


@db_api.context_manager.reader
def list_for_project(context, project_id, instance_id=None):
    """The project's strategies, the project-wide one first; with
    instance_id only that instance's."""
    stmt = sa.select(BackupStrategy).where(
        BackupStrategy.project_id == project_id)
    if instance_id is not None:
        stmt = stmt.where(BackupStrategy.instance_id == instance_id)
    # The unique constraint's index serves both the filter and the order.
    stmt = stmt.order_by(BackupStrategy.instance_id)
    return list(context.session.execute(stmt).scalars())


@db_api.context_manager.writer
def delete(context, project_id, instance_id):
    """Delete one strategy; deleting one that is not there is no error
    (as in Trove)."""
    context.session.execute(
        sa.delete(BackupStrategy)
        .where(BackupStrategy.project_id == project_id,
               BackupStrategy.instance_id == instance_id))


@db_api.context_manager.reader
def default_container(context, project_id, instance_id):
    """The container a new backup of the instance goes to when its
    request names none: the instance's strategy, else the project's,
    else None (then the configured backup_swift_container)."""
    rows = context.session.execute(
        sa.select(BackupStrategy.instance_id, BackupStrategy.swift_container)
        .where(BackupStrategy.project_id == project_id,
               BackupStrategy.instance_id.in_([instance_id, PROJECT_WIDE]))
    ).all()
    by_instance = dict(rows)
    return by_instance.get(instance_id) or by_instance.get(PROJECT_WIDE)
