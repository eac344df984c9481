"""Reserved for the backup schedules of issue 11 (filled in by its work).

Revision ID: 9d0e1f2a3b48
Revises: 8c9d0e1f2a37
Create Date: 2026-12-06
"""

revision = '9d0e1f2a3b48'
down_revision = '8c9d0e1f2a37'
branch_labels = None
depends_on = None


def upgrade():
    pass
