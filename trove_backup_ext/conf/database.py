"""The plugin's own [database] options (oslo.db)."""

from oslo_db import options as db_options

# The stand-alone default; production points this at MySQL/MariaDB or
# PostgreSQL.
DEFAULT_CONNECTION = 'sqlite:///trove_backup_ext.sqlite'


def register_opts(conf):
    db_options.set_defaults(conf, connection=DEFAULT_CONNECTION)
