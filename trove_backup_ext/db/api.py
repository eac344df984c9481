"""The plugin's own oslo.db transaction context.

Private to the plugin, so that loaded into a host service (a Trove API) it
never shares or reconfigures the host's database engine.
"""

from oslo_db import api as oslo_db_api
from oslo_db.sqlalchemy import enginefacade

context_manager = enginefacade.transaction_context()

# Writers that can meet a deadlock (MySQL/MariaDB under parallel creates)
# are retried from the start of their transaction.
retry_on_deadlock = oslo_db_api.wrap_db_retry(
    max_retries=5, retry_on_deadlock=True, inc_retry_interval=True)


def configure(conf):
    """Point the context at conf's [database]; once, before first use."""
    context_manager.configure(sqlite_fk=True,
                              **_engine_options(conf.database))


def _engine_options(group):
    # enginefacade takes these keys by the oslo.db option names; options it
    # does not know (backend, use_db_reconnect, ...) are left out.
    keys = ('connection', 'slave_connection', 'sqlite_synchronous',
            'connection_recycle_time', 'max_pool_size', 'max_overflow',
            'pool_timeout', 'mysql_sql_mode', 'connection_debug',
            'connection_trace', 'max_retries', 'retry_interval')
    return {key: getattr(group, key) for key in keys if key in group}


def get_engine():
    return context_manager.writer.get_engine()
