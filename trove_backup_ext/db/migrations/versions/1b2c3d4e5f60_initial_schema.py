"""Initial schema: backups, project_usages, registry_instances.

Revision ID: 1b2c3d4e5f60
Revises:
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '1b2c3d4e5f60'
down_revision = None
branch_labels = None
depends_on = None


def _timestamp():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6),
                                      'mysql', 'mariadb')


def upgrade():
    op.create_table(
        'backups',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('description', sa.String(512)),
        sa.Column('project_id', sa.String(255), nullable=False),
        sa.Column('user_id', sa.String(255)),
        sa.Column('instance_id', sa.String(36), nullable=False),
        sa.Column('parent_id', sa.String(36),
                  sa.ForeignKey('backups.id',
                                name='backups_parent_id_fkey')),
        sa.Column('status', sa.String(32), nullable=False),
        sa.Column('backup_type', sa.String(32), nullable=False),
        sa.Column('datastore', sa.String(64), nullable=False),
        sa.Column('datastore_version', sa.String(255), nullable=False),
        sa.Column('datastore_version_id', sa.String(36), nullable=False),
        sa.Column('storage_driver', sa.String(255), nullable=False),
        sa.Column('container', sa.String(256)),
        sa.Column('location', sa.String(1024)),
        sa.Column('checksum', sa.String(128)),
        sa.Column('size', sa.Float),
        sa.Column('fail_reason', sa.String(1024)),
        sa.Column('running_instance_id', sa.String(36)),
        sa.Column('delete_requested_at', _timestamp()),
        sa.Column('created', _timestamp(), nullable=False),
        sa.Column('updated', _timestamp(), nullable=False),
        sa.UniqueConstraint('running_instance_id',
                            name='uniq_backups0running_instance_id'),
        mysql_engine='InnoDB',
        mysql_charset='utf8mb4',
    )
    op.create_index('ix_backups_project_created', 'backups',
                    ['project_id', 'created', 'id'])
    op.create_index('ix_backups_project_datastore_created', 'backups',
                    ['project_id', 'datastore', 'created', 'id'])
    op.create_index('ix_backups_instance_created', 'backups',
                    ['instance_id', 'created', 'id'])
    op.create_index('ix_backups_datastore_created', 'backups',
                    ['datastore', 'created', 'id'])
    op.create_index('ix_backups_created', 'backups', ['created', 'id'])
    op.create_index('ix_backups_parent_id', 'backups', ['parent_id'])

    op.create_table(
        'project_usages',
        sa.Column('project_id', sa.String(255), primary_key=True),
        sa.Column('backups', sa.Integer, nullable=False),
        mysql_engine='InnoDB',
        mysql_charset='utf8mb4',
    )

    op.create_table(
        'registry_instances',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('project_id', sa.String(255), nullable=False),
        sa.Column('datastore', sa.String(64), nullable=False),
        sa.Column('datastore_version', sa.String(255), nullable=False),
        sa.Column('status', sa.String(32), nullable=False),
        sa.Column('created', _timestamp(), nullable=False),
        mysql_engine='InnoDB',
        mysql_charset='utf8mb4',
    )
    op.create_index('ix_registry_instances_project_id', 'registry_instances',
                    ['project_id'])
