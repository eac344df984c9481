"""Reserved for the per-instance agent keys of issue 15 (filled in by its work).

Revision ID: 8c9d0e1f2a37
Revises: 7b8c9d0e1f26
Create Date: 2026-12-06
"""

revision = '8c9d0e1f2a37'
down_revision = '7b8c9d0e1f26'
branch_labels = None
depends_on = None


def upgrade():
    pass
