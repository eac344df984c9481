"""The plugin's own oslo.db transaction context.

Private to the plugin, so that loaded into a host service (a Trove API) it
never shares or reconfigures the host's database engine.
"""

from oslo_db import api as oslo_db_api
from oslo_db.sqlalchemy import enginefacade


class _TransactionFactory(enginefacade._TransactionFactory):
    """oslo.db's factory, minus its use of the global cfg.CONF.

    Started with conf=False (always, here), oslo.db registers its
    [database] options on the global cfg.CONF and takes from it every
    engine setting configure() did not name: inside a Trove API, Trove's
    database settings (or a DuplicateOptError, Trove's options being
    other objects). configure() gets ours; nothing else is read.
    """

    def _start(self, conf=False, connection=None, slave_connection=None):
        super()._start(conf=None if conf is False else conf,
                       connection=connection,
                       slave_connection=slave_connection)


class _TransactionContextManager(enginefacade._TransactionContextManager):

    def _create_root_factory(self):
        return _TransactionFactory()


context_manager = _TransactionContextManager()

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
