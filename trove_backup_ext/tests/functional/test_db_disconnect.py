"""A connection the database server drops mid-transaction: the outermost
transaction runs again on a new connection (db/api.py)."""

from oslo_db import exception as db_exc
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from trove_backup_ext import context as backup_context
from trove_backup_ext.db import api as db_api
from trove_backup_ext.db import models
from trove_backup_ext.tests import base
from trove_backup_ext.tests import service_fixtures

_OWN_ID = {'mysql': 'SELECT CONNECTION_ID()',
           'postgresql': 'SELECT pg_backend_pid()'}
_KILL = {'mysql': 'KILL %d',
         'postgresql': 'SELECT pg_terminate_backend(%d)'}


class _Disconnects:

    backend = None

    def setUp(self):
        super().setUp()
        self.database = self.useFixture(
            service_fixtures.Database(self.backend))
        self.context = backup_context.get_admin_context()
        self.admin = sa.create_engine(
            service_fixtures.DATABASE_URLS[self.backend] + (
                '/postgres' if self.backend == 'postgresql' else '/'),
            isolation_level='AUTOCOMMIT')
        self.addCleanup(self.admin.dispose)

    def own_id(self, session):
        return session.execute(sa.text(_OWN_ID[self.backend])).scalar()

    def drop(self, session):
        """The server drops the connection of session (from another
        connection, as a restart or an operator would); its id."""
        connection_id = self.own_id(session)
        with self.admin.connect() as admin:
            admin.execute(sa.text(_KILL[self.backend] % connection_id))
        return connection_id

    def test_reader_runs_again_on_a_new_connection(self):
        used = []

        @db_api.context_manager.reader
        def count(context):
            used.append(self.own_id(context.session) if used else
                        self.drop(context.session))
            return context.session.execute(
                sa.select(sa.func.count()).select_from(models.Backup)
            ).scalar()

        self.assertEqual(0, count(self.context))
        self.assertEqual(2, len(used))
        self.assertNotEqual(used[0], used[1])

    def test_writer_runs_again_and_writes_once(self):
        instance_id = uuidutils.generate_uuid()
        tries = []

        @db_api.context_manager.writer
        def add(context):
            tries.append(1)
            context.session.add(models.RegistryInstance(
                id=instance_id, name='db', project_id=base.PROJECT,
                datastore='sqlite', datastore_version='3', status='ACTIVE',
                created=timeutils.utcnow()))
            if len(tries) == 1:
                self.drop(context.session)
            context.session.flush()

        add(self.context)
        self.assertEqual(2, len(tries))
        with self.database.engine.connect() as connection:
            self.assertEqual([instance_id], list(connection.execute(
                sa.select(models.RegistryInstance.id)).scalars()))

    def test_the_outermost_transaction_runs_again(self):
        calls = []

        @db_api.context_manager.reader
        def inner(context):
            calls.append('inner')
            if calls.count('inner') == 1:
                self.drop(context.session)
            return self.own_id(context.session)

        @db_api.context_manager.reader
        def outer(context):
            calls.append('outer')
            return inner(context)

        outer(self.context)
        # The inner function joined the outer's transaction: running it
        # alone again would use the lost connection.
        self.assertEqual(['outer', 'inner', 'outer', 'inner'], calls)

    def test_a_server_that_keeps_dropping_is_an_error(self):
        tries = []

        @db_api.context_manager.reader
        def doomed(context):
            tries.append(self.drop(context.session))
            return self.own_id(context.session)

        self.assertRaises(db_exc.DBConnectionError, doomed, self.context)
        self.assertEqual(5, len(tries))


class TestDisconnects_mysql(_Disconnects, base.TestCase):
    backend = 'mysql'


class TestDisconnects_postgresql(_Disconnects, base.TestCase):
    backend = 'postgresql'
