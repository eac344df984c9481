"""Fixtures: a configuration, a real database, an API server, a fake bus.

Functional tests run against SQLite and against the real MariaDB and
PostgreSQL servers of the machine. Each Database fixture creates a database
of its own with a unique name, migrates it with alembic and drops it after.
Server addresses come from the environment (see DATABASE_URLS); a server
that does not answer fails the test: tools/run-tests.sh starts them first.
"""

import os
import shutil
import socket
import tempfile
import threading
import uuid

import fixtures
from oslo_config import cfg
from oslo_db.sqlalchemy import enginefacade
import oslo_messaging as messaging
import sqlalchemy as sa

from trove_backup_ext.api import deploy
from trove_backup_ext.api import app as backup_app
from trove_backup_ext import conf as backup_conf
from trove_backup_ext.db import api as db_api
from trove_backup_ext.db import migration
from trove_backup_ext import policy
from trove_backup_ext import rpc
from trove_backup_ext.wsgi import server as wsgi_server

# Server URLs without a database name; the fixture adds one.
DATABASE_URLS = {
    'mysql': os.environ.get('TBE_TEST_MYSQL_URL',
                            'mysql+pymysql://root@127.0.0.1:3306'),
    'postgresql': os.environ.get(
        'TBE_TEST_POSTGRESQL_URL',
        'postgresql+psycopg2://postgres@127.0.0.1:5432'),
}
BACKENDS = ('sqlite', 'mysql', 'postgresql')


class Conf(fixtures.Fixture):
    """A fresh ConfigOpts with every option of the plugin registered."""

    def __init__(self, **overrides):
        super().__init__()
        self.overrides = overrides

    def _setUp(self):
        conf = cfg.ConfigOpts()
        backup_conf.register_opts(conf)
        conf([], project='trove-backup-ext', default_config_files=[])
        conf.set_override('transport_url', 'fake:///')
        # The in-memory bus is one per process: an exchange of its own
        # keeps a message an earlier test left travelling from reaching
        # this test's servers.
        conf.set_override('control_exchange',
                          'tbe-test-%s' % uuid.uuid4().hex)
        conf.set_override('auth_strategy', 'noauth', group='api')
        # The enforcer registers [oslo_policy]; make it before overrides.
        policy.reset()
        policy.init(conf)
        self.addCleanup(policy.reset)
        for key, value in self.overrides.items():
            group, _, name = key.rpartition('.')
            conf.set_override(name, value, group=group or None)
        self.addCleanup(conf.reset)
        self.conf = conf


class Database(fixtures.Fixture):
    """A new, migrated database on backend, used by the plugin's
    transaction context for the fixture's lifetime."""

    def __init__(self, backend='sqlite'):
        super().__init__()
        self.backend = backend

    def _setUp(self):
        self.url = self._create()
        factory = enginefacade._TransactionFactory()
        factory.configure(connection=self.url, sqlite_fk=True,
                          max_pool_size=10, max_overflow=20)
        self.addCleanup(db_api.context_manager.patch_factory(factory))
        self.addCleanup(factory.dispose_pool)
        self.engine = factory.get_writer_engine()
        migration.upgrade(engine=self.engine)

    def _create(self):
        if self.backend == 'sqlite':
            path = tempfile.mkdtemp(prefix='tbe-db-')
            self.addCleanup(shutil.rmtree, path, True)
            return 'sqlite:///%s/test.sqlite' % path
        name = 'tbe_test_%s' % uuid.uuid4().hex[:12]
        server = DATABASE_URLS[self.backend]
        admin = sa.create_engine(server + ('/postgres' if self.backend ==
                                           'postgresql' else '/'),
                                 isolation_level='AUTOCOMMIT')
        with admin.connect() as connection:
            connection.execute(sa.text('CREATE DATABASE %s' % name))
        self.addCleanup(self._drop, admin, name)
        url = '%s/%s' % (server, name)
        if self.backend == 'mysql':
            url += '?charset=utf8mb4'
        return url

    def _drop(self, admin, name):
        with admin.connect() as connection:
            if self.backend == 'postgresql':
                connection.execute(sa.text(
                    'DROP DATABASE IF EXISTS %s WITH (FORCE)' % name))
            else:
                connection.execute(sa.text('DROP DATABASE IF EXISTS %s'
                                           % name))
        admin.dispose()


class RecordingWorker:
    """Endpoint standing in for the worker: records the casts it gets."""

    target = messaging.Target(version='1.2')

    def __init__(self):
        self.calls = []
        self.contexts = []      # The callers' contexts, as dicts.
        self.received = threading.Event()

    def _record(self, context, method, backup_id):
        self.contexts.append(context.to_dict())
        self.calls.append((method, backup_id))
        self.received.set()

    def create_backup(self, context, backup_id):
        self._record(context, 'create_backup', backup_id)

    def delete_backup(self, context, backup_id):
        self._record(context, 'delete_backup', backup_id)

    def restore_backup(self, context, restore_id):
        self._record(context, 'restore_backup', restore_id)

    def verify_backup(self, context, backup_id):
        self._record(context, 'verify_backup', backup_id)


class WorkerServer(fixtures.Fixture):
    """An RPC server on the worker topic with a RecordingWorker."""

    def __init__(self, conf):
        super().__init__()
        self.conf = conf

    def _setUp(self):
        self.endpoint = RecordingWorker()
        transport = rpc.get_transport(self.conf)
        target = messaging.Target(topic=rpc.WORKER_TOPIC, server='test')
        server = messaging.get_rpc_server(
            transport, target, [self.endpoint], executor='threading',
            serializer=rpc.RequestContextSerializer())
        server.start()
        self.addCleanup(server.wait)
        self.addCleanup(server.stop)


class APIServer(fixtures.Fixture):
    """The whole API (middleware included) served over HTTP on a free
    loopback port by trove-backup-api's server, in threads."""

    def __init__(self, conf, worker_api=None, instance_source=None):
        super().__init__()
        self.conf = conf
        self.worker_api = worker_api
        self.instance_source = instance_source

    def _setUp(self):
        application = deploy.deploy(self.conf, backup_app.setup_app(
            self.conf, instance_source=self.instance_source,
            worker_api=self.worker_api))
        self.server = wsgi_server.Server(
            self.conf, application,
            wsgi_server.listen(self.conf, host='127.0.0.1', port=0))
        self.server.start_thread()
        self.addCleanup(self.server.stop)
        host, port = self.server.address
        self.endpoint = 'http://%s:%d' % (host, port)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]
