"""Add restores, instance_operations (one backup or restore at a time per
instance) and backups.progress.

The running backups of the time take their instance's lock row, so a
restore can never start under a backup begun before the upgrade.

Revision ID: 4e5f6a7b8c93
Revises: 5f6a7b8c9d04
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '4e5f6a7b8c93'
down_revision = '5f6a7b8c9d04'
branch_labels = None
depends_on = None


def _timestamp():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6),
                                      'mysql', 'mariadb')


def upgrade():
    with op.batch_alter_table('backups') as batch:
        batch.add_column(sa.Column('progress', sa.String(255)))
    op.create_table(
        'instance_operations',
        sa.Column('instance_id', sa.String(36), primary_key=True),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('operation_id', sa.String(36), nullable=False),
        sa.Column('created', _timestamp(), nullable=False),
        sa.UniqueConstraint('operation_id',
                            name='uniq_instance_operations0operation_id'),
    )
    op.create_table(
        'restores',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('project_id', sa.String(255), nullable=False),
        sa.Column('user_id', sa.String(255)),
        sa.Column('backup_id', sa.String(36)),
        sa.Column('instance_id', sa.String(36), nullable=False),
        sa.Column('source_instance_id', sa.String(36)),
        sa.Column('restore_point', _timestamp()),
        sa.Column('status', sa.String(32), nullable=False),
        sa.Column('fail_reason', sa.String(1024)),
        sa.Column('attempt_id', sa.String(36)),
        sa.Column('progress', sa.String(255)),
        sa.Column('created', _timestamp(), nullable=False),
        sa.Column('updated', _timestamp(), nullable=False),
        sa.Column('started', _timestamp()),
        sa.Column('finished', _timestamp()),
    )
    for name, columns in (
            ('ix_restores_project_created', ['project_id', 'created', 'id']),
            ('ix_restores_instance_created',
             ['instance_id', 'created', 'id']),
            ('ix_restores_backup_created', ['backup_id', 'created', 'id']),
            ('ix_restores_created', ['created', 'id'])):
        op.create_index(name, 'restores', columns)
    op.execute(
        "INSERT INTO instance_operations "
        "(instance_id, kind, operation_id, created) "
        "SELECT running_instance_id, 'backup', id, created FROM backups "
        "WHERE running_instance_id IS NOT NULL")
