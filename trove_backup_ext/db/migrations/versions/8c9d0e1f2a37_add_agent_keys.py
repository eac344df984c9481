"""Add agent_keys: each instance's agent key, sealed with a master key.

Revision ID: 8c9d0e1f2a37
Revises: 7b8c9d0e1f26
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '8c9d0e1f2a37'
down_revision = '7b8c9d0e1f26'
branch_labels = None
depends_on = None


def _timestamp():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6),
                                      'mysql', 'mariadb')


def upgrade():
    op.create_table(
        'agent_keys',
        sa.Column('instance_id', sa.String(36), primary_key=True),
        sa.Column('generation', sa.Integer, nullable=False),
        sa.Column('key_id', sa.String(16), nullable=False),
        sa.Column('sealed_key', sa.String(255), nullable=False),
        sa.Column('previous_key_id', sa.String(16)),
        sa.Column('previous_sealed_key', sa.String(255)),
        sa.Column('previous_expires', _timestamp()),
        sa.Column('master_key_id', sa.String(16), nullable=False),
        sa.Column('created', _timestamp(), nullable=False),
        sa.Column('updated', _timestamp(), nullable=False),
    )
