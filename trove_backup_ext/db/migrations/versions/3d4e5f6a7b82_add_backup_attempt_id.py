"""Add backups.attempt_id: which run of a backup the worker started.

The worker claims a NEW backup by setting it, and agents echo it in every
report, so a duplicated or stale message is told apart from the run that
counts.

Revision ID: 3d4e5f6a7b82
Revises: 2c3d4e5f6a71
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa

revision = '3d4e5f6a7b82'
down_revision = '2c3d4e5f6a71'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('backups') as batch:
        batch.add_column(sa.Column('attempt_id', sa.String(36)))
