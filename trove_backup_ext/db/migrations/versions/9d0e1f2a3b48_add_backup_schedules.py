"""Add backup_schedules and backup_schedule_runs (issue 11).

Revision ID: 9d0e1f2a3b48
Revises: 8c9d0e1f2a37
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '9d0e1f2a3b48'
down_revision = '8c9d0e1f2a37'
branch_labels = None
depends_on = None


def _timestamp():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6),
                                      'mysql', 'mariadb')


def upgrade():
    op.create_table(
        'backup_schedules',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('description', sa.String(512)),
        sa.Column('project_id', sa.String(255), nullable=False),
        sa.Column('user_id', sa.String(255)),
        sa.Column('instance_id', sa.String(36), nullable=False),
        sa.Column('full_cron', sa.String(255), nullable=False),
        sa.Column('incremental_cron', sa.String(255)),
        sa.Column('timezone', sa.String(64), nullable=False),
        sa.Column('keep_last', sa.Integer),
        sa.Column('keep_daily', sa.Integer),
        sa.Column('keep_weekly', sa.Integer),
        sa.Column('keep_monthly', sa.Integer),
        sa.Column('keep_yearly', sa.Integer),
        sa.Column('max_age_days', sa.Integer),
        sa.Column('enabled', sa.Boolean, nullable=False),
        sa.Column('next_run', _timestamp()),
        sa.Column('last_run_time', _timestamp()),
        sa.Column('last_run_backup_id', sa.String(36)),
        sa.Column('last_run_status', sa.String(32)),
        sa.Column('last_success', _timestamp()),
        sa.Column('consecutive_failures', sa.Integer, nullable=False),
        sa.Column('version', sa.Integer, nullable=False),
        sa.Column('created', _timestamp(), nullable=False),
        sa.Column('updated', _timestamp(), nullable=False),
    )
    for name, columns in (
            ('ix_backup_schedules_enabled_next_run', ['enabled', 'next_run']),
            ('ix_backup_schedules_project_created',
             ['project_id', 'created', 'id']),
            ('ix_backup_schedules_instance_created',
             ['instance_id', 'created', 'id']),
            ('ix_backup_schedules_created', ['created', 'id'])):
        op.create_index(name, 'backup_schedules', columns)
    op.create_table(
        'backup_schedule_runs',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('schedule_id', sa.String(36),
                  sa.ForeignKey('backup_schedules.id', ondelete='CASCADE',
                                name='backup_schedule_runs_schedule_id_fkey'),
                  nullable=False),
        sa.Column('slot', _timestamp(), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('backup_id', sa.String(36)),
        sa.Column('reason', sa.String(1024)),
        sa.Column('created', _timestamp(), nullable=False),
        sa.Column('updated', _timestamp(), nullable=False),
        sa.UniqueConstraint('schedule_id', 'slot',
                            name='uniq_backup_schedule_runs0schedule_id0slot'),
    )
    op.create_index('ix_backup_schedule_runs_backup_id',
                    'backup_schedule_runs', ['backup_id'])
    op.create_index('ix_backup_schedule_runs_state_slot',
                    'backup_schedule_runs', ['state', 'slot'])
