"""Add storage_credentials: the Keystone credentials of owner-account backups.

Revision ID: 7b8c9d0e1f26
Revises: 6a7b8c9d0e15
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '7b8c9d0e1f26'
down_revision = '6a7b8c9d0e15'
branch_labels = None
depends_on = None


def _timestamp():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6),
                                      'mysql', 'mariadb')


def upgrade():
    # No foreign key to backups: a credential is revoked after its
    # backup's row is gone (a retried deletion needs it until then), and
    # a row left by a failed revocation is retried by the reaper.
    op.create_table(
        'storage_credentials',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('backup_id', sa.String(36), nullable=False),
        sa.Column('phase', sa.String(16), nullable=False),
        sa.Column('credential_id', sa.String(64), nullable=False),
        sa.Column('user_id', sa.String(64), nullable=False),
        sa.Column('project_id', sa.String(64), nullable=False),
        sa.Column('key_id', sa.String(16), nullable=False),
        sa.Column('expires_at', _timestamp()),
        sa.Column('created', _timestamp(), nullable=False),
        sa.UniqueConstraint('backup_id', 'phase',
                            name='uniq_storage_credentials0backup_id0phase'),
    )
