"""Add backups.trust_id: the Keystone trust a swift backup is stored under.

Revision ID: 2c3d4e5f6a71
Revises: 1b2c3d4e5f60
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa

revision = '2c3d4e5f6a71'
down_revision = '1b2c3d4e5f60'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('backups') as batch:
        batch.add_column(sa.Column('trust_id', sa.String(64)))
