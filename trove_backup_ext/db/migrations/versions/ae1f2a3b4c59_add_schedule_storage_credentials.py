"""Storage credentials of backup schedules, and the backups that use them.

Revision ID: ae1f2a3b4c59
Revises: 9d0e1f2a3b48
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa

revision = 'ae1f2a3b4c59'
down_revision = '9d0e1f2a3b48'
branch_labels = None
depends_on = None


def upgrade():
    # A schedule's credentials belong to no backup: backup_id becomes
    # optional (batch: SQLite cannot alter a column in place).
    with op.batch_alter_table('storage_credentials') as batch:
        batch.alter_column('backup_id', existing_type=sa.String(36),
                           nullable=True)
        batch.add_column(sa.Column('schedule_id', sa.String(36)))
        batch.add_column(sa.Column('container', sa.String(256)))
        batch.create_unique_constraint(
            'uniq_storage_credentials0schedule_id0phase',
            ['schedule_id', 'phase'])
    # No foreign key: a schedule's backups outlive it, and keep its
    # credentials alive until the last of them is deleted.
    op.add_column('backups',
                  sa.Column('credential_schedule_id', sa.String(36)))
    op.create_index('ix_backups_credential_schedule_id', 'backups',
                    ['credential_schedule_id'])
