"""Counts of a failed deletion's failures, for its back-off and its end.

Revision ID: bf2a3b4c5d6a
Revises: ae1f2a3b4c59
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa

revision = 'bf2a3b4c5d6a'
down_revision = 'ae1f2a3b4c59'
branch_labels = None
depends_on = None


def upgrade():
    # 0 on the DELETE_FAILED backups of before: retried at the next pass,
    # then backed off (worker/delete_retries.py).
    with op.batch_alter_table('backups') as batch:
        batch.add_column(sa.Column('delete_failures', sa.Integer,
                                   nullable=False, server_default='0'))
        batch.add_column(sa.Column('delete_refusals', sa.Integer,
                                   nullable=False, server_default='0'))
