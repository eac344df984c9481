"""Project ids compare as they are spelled, on MySQL and MariaDB too.

Their default collations are case-insensitive: a project whose id differs
from another's only in case would have seen (and shared the quota of) the
other's rows. SQLite and PostgreSQL compare strings as spelled already.

Revision ID: c03b4c5d6e7b
Revises: bf2a3b4c5d6a
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = 'c03b4c5d6e7b'
down_revision = 'bf2a3b4c5d6a'
branch_labels = None
depends_on = None

# (table, length of its project_id)
_COLUMNS = (('backups', 255), ('project_usages', 255),
            ('registry_instances', 255), ('backup_strategies', 255),
            ('restores', 255), ('storage_credentials', 64),
            ('backup_schedules', 255))


def upgrade():
    if op.get_bind().dialect.name not in ('mysql', 'mariadb'):
        return
    for table, length in _COLUMNS:
        op.alter_column(
            table, 'project_id', existing_type=sa.String(length),
            existing_nullable=False,
            type_=mysql.VARCHAR(length, charset='utf8mb4',
                                collation='utf8mb4_bin'))
