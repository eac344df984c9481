"""SQL of a backup's verification: started by the API (or the worker after
a backup), run by an agent, ended by the worker.

One verification of a backup at a time: starting it is a compare-and-set
that sets RUNNING where it was not, and every later change names the run
(attempt id) it is about, as for backups and restores.
"""

from oslo_utils import timeutils
import sqlalchemy as sa

from trove_backup_ext.db import api as db_api
from trove_backup_ext.db import models
from trove_backup_ext import states

Backup = models.Backup

RUNNING = states.VERIFY_RUNNING
PASSED = states.VERIFY_PASSED
FAILED = states.VERIFY_FAILED


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def start(context, backup_id):
    """RUNNING, if the backup is COMPLETED, not being deleted and not
    being verified. Returns whether it started."""
    now = timeutils.utcnow()
    return context.session.execute(
        sa.update(Backup)
        .where(Backup.id == backup_id,
               Backup.status == states.COMPLETED,
               Backup.delete_requested_at.is_(None),
               sa.or_(Backup.verification_status.is_(None),
                      Backup.verification_status != RUNNING))
        .values(verification_status=RUNNING, verification_attempt_id=None,
                verification_updated=now, verification_details=None)
    ).rowcount == 1


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def claim(context, backup_id, attempt_id):
    """Make attempt_id the one run of a RUNNING verification."""
    return context.session.execute(
        sa.update(Backup)
        .where(Backup.id == backup_id, Backup.verification_status == RUNNING,
               Backup.verification_attempt_id.is_(None))
        .values(verification_attempt_id=attempt_id,
                verification_updated=timeutils.utcnow())
    ).rowcount == 1


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def update(context, backup_id, attempt_id, status, details=None,
           updated_before=None):
    """Record a report of run attempt_id (None: any run, the reaper's and
    a failed dispatch's): RUNNING touches it, PASSED or FAILED ends it."""
    now = timeutils.utcnow()
    values = {'verification_status': status, 'verification_updated': now}
    if status != RUNNING:
        values.update(verification_checked=now,
                      verification_details=(details or '')[:2048] or None)
    stmt = (sa.update(Backup)
            .where(Backup.id == backup_id,
                   Backup.verification_status == RUNNING)
            .values(**values))
    if attempt_id is not None:
        stmt = stmt.where(Backup.verification_attempt_id == attempt_id)
    if updated_before is not None:
        stmt = stmt.where(Backup.verification_updated < updated_before)
    return context.session.execute(stmt).rowcount == 1


@db_api.context_manager.writer
def undo_start(context, backup_id, previous):
    """Put back the verification fields of before a start whose cast
    failed (previous: their values)."""
    context.session.execute(
        sa.update(Backup)
        .where(Backup.id == backup_id, Backup.verification_status == RUNNING,
               Backup.verification_attempt_id.is_(None))
        .values(**previous))


@db_api.context_manager.reader
def stuck(context, updated_before, limit=100):
    """Running verifications with no sign of life since updated_before."""
    return list(context.session.execute(
        sa.select(Backup)
        .where(Backup.verification_status == RUNNING,
               Backup.verification_updated < updated_before)
        .order_by(Backup.verification_updated).limit(limit)).scalars())


def fields_of(backup):
    """The verification fields of a row, for undo_start."""
    return {name: getattr(backup, name) for name in (
        'verification_status', 'verification_attempt_id',
        'verification_updated', 'verification_checked',
        'verification_details')}
