"""Reserved for the storage credentials of issue 15 (filled in by its work).

Revision ID: 7b8c9d0e1f26
Revises: 6a7b8c9d0e15
Create Date: 2026-12-06
"""

revision = '7b8c9d0e1f26'
down_revision = '6a7b8c9d0e15'
branch_labels = None
depends_on = None


def upgrade():
    pass
