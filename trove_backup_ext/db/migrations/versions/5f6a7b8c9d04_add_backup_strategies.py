"""Add backup_strategies: a project's or an instance's default container.

Revision ID: 5f6a7b8c9d04
Revises: 3d4e5f6a7b82
Create Date: 2026-12-10
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '5f6a7b8c9d04'
down_revision = '3d4e5f6a7b82'
branch_labels = None
depends_on = None


def _timestamp():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6),
                                      'mysql', 'mariadb')


def upgrade():
    op.create_table(
        'backup_strategies',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('project_id', sa.String(255), nullable=False),
        # '' is the project-wide strategy, as in Trove.
        sa.Column('instance_id', sa.String(36), nullable=False),
        sa.Column('backend', sa.String(255), nullable=False),
        sa.Column('swift_container', sa.String(256), nullable=False),
        sa.Column('created', _timestamp(), nullable=False),
        sa.Column('updated', _timestamp(), nullable=False),
        sa.UniqueConstraint(
            'project_id', 'instance_id',
            name='uniq_backup_strategies0project_id0instance_id'),
        mysql_engine='InnoDB',
        mysql_charset='utf8mb4',
    )
