"""Runs and reports the alembic migrations of the plugin's schema."""

import os

from alembic import command as alembic_command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script

from trove_backup_ext.db import api as db_api

_MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), 'migrations')


def _alembic_config(connection):
    config = alembic_config.Config()
    config.set_main_option('script_location', _MIGRATIONS_DIR)
    config.attributes['connection'] = connection
    return config


def upgrade(revision='head', engine=None):
    """Migrate the schema up to revision (the latest by default)."""
    engine = engine or db_api.get_engine()
    with engine.begin() as connection:
        alembic_command.upgrade(_alembic_config(connection), revision)


def version(engine=None):
    """The schema's current revision, or None before the first sync."""
    engine = engine or db_api.get_engine()
    with engine.connect() as connection:
        return alembic_migration.MigrationContext.configure(
            connection).get_current_revision()


def head():
    """The newest revision this code knows."""
    script = alembic_script.ScriptDirectory.from_config(
        _alembic_config(None))
    return script.get_current_head()
