"""SQL that retention reads: an instance's backups, a schedule's slots."""

import sqlalchemy as sa

from trove_backup_ext.db import api as db_api
from trove_backup_ext.db import models

Backup = models.Backup


@db_api.context_manager.reader
def instance_backups(context, instance_id):
    """All backups of the instance, whatever their status or project: a
    range scan of ix_backups_instance_created."""
    return list(context.session.execute(
        sa.select(Backup).where(Backup.instance_id == instance_id)
        .order_by(Backup.created, Backup.id)).scalars())


@db_api.context_manager.reader
def backup_slots(context, schedule_id):
    """{backup id: slot} of the backups the schedule's runs made that
    still exist (runs of deleted backups stay, and are not read)."""
    Run = models.BackupScheduleRun
    return dict(context.session.execute(
        sa.select(Run.backup_id, Run.slot)
        .join(Backup, Backup.id == Run.backup_id)
        .where(Run.schedule_id == schedule_id)).all())
