"""The plugin's own oslo.db transaction context.

Private to the plugin, so that loaded into a host service (a Trove API) it
never shares or reconfigures the host's database engine.
"""

import functools
import inspect

from oslo_db import api as oslo_db_api
from oslo_db.sqlalchemy import enginefacade

# A connection the server dropped (restarted, failed over, killed) while
# a transaction used it: the transaction is run again, from its start, on
# a new connection. oslo.db tests a connection when it leaves the pool,
# but not one that dies afterwards, mid-query.
retry_on_disconnect = oslo_db_api.wrap_db_retry(
    max_retries=4, retry_on_disconnect=True, retry_interval=0.2,
    inc_retry_interval=True, max_retry_interval=2)


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


def _in_transaction(context):
    """Whether this thread runs a transaction of context already."""
    scopes = getattr(context, '_enginefacade_context', None)
    return getattr(scopes, 'current', None) is not None


class _TransactionContextManager(enginefacade._TransactionContextManager):

    def _create_root_factory(self):
        return _TransactionFactory()

    def __call__(self, fn):
        """oslo.db's reader/writer decorator, whose outermost transaction
        is run again when its connection is lost (retry_on_disconnect).
        A nested one is not: the transaction it joined is lost with the
        connection, and the outermost is run again instead. A writer run
        again can find its change made already, as when an agent's report
        is repeated: the callers are idempotent (doc/source/reference/
        rpc.rst)."""
        transactional = super().__call__(fn)
        retried = retry_on_disconnect(transactional)
        args = inspect.getfullargspec(fn).args
        index = 1 if args[0] in ('self', 'cls') else 0

        @functools.wraps(fn)
        def wrapper(*call_args, **kwargs):
            context = kwargs.get(args[index]) or call_args[index]
            if _in_transaction(context):
                return transactional(*call_args, **kwargs)
            return retried(*call_args, **kwargs)
        return wrapper


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
