"""Alembic environment: runs on the connection migration.py hands over."""

from alembic import context

from trove_backup_ext.db import models

config = context.config


def run_migrations_online():
    connection = config.attributes['connection']
    context.configure(
        connection=connection,
        target_metadata=models.Base.metadata,
        # SQLite cannot ALTER most things; batch mode copies the table.
        render_as_batch=True,
        compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
