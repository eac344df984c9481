"""Add the backups.verification_* columns: the last verification's state.

Revision ID: 6a7b8c9d0e15
Revises: 4e5f6a7b8c93
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '6a7b8c9d0e15'
down_revision = '4e5f6a7b8c93'
branch_labels = None
depends_on = None


def _timestamp():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6),
                                      'mysql', 'mariadb')


def upgrade():
    with op.batch_alter_table('backups') as batch:
        batch.add_column(sa.Column('verification_status', sa.String(16)))
        batch.add_column(sa.Column('verification_attempt_id',
                                   sa.String(36)))
        batch.add_column(sa.Column('verification_updated', _timestamp()))
        batch.add_column(sa.Column('verification_checked', _timestamp()))
        batch.add_column(sa.Column('verification_details', sa.String(2048)))
