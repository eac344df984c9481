"""Backups end to end: api, worker and agent processes over real RabbitMQ."""

import hashlib
import os
import sqlite3
import uuid

import fixtures
from testtools import content

from trove_backup_ext import context as backup_context
from trove_backup_ext.db import lifecycle
from trove_backup_ext import states
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import mariadb_server
from trove_backup_ext.tests import pg_cluster
from trove_backup_ext.tests import process_fixtures as pf
from trove_backup_ext.tests import rabbitmq_fixtures as rf
from trove_backup_ext.tests import service_fixtures

PG_ROWS = 50000
MARIADB_ROWS = 50000


class _RoundTrip:
    """Full -> change -> incremental -> restore both -> delete, driven
    through the HTTP API of separate processes. Subclasses give the
    instance: its data, how to change it and how to read a restore."""

    control_backend = 'sqlite'
    datastore = None
    datastore_version = None

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(300, gentle=True))
        self.tmp = self.useFixture(fixtures.TempDir()).path
        vhost = self.useFixture(rf.Vhost())
        self.database = self.useFixture(
            service_fixtures.Database(self.control_backend))
        self.context = backup_context.get_admin_context()
        key_file = pf.write_private(os.path.join(self.tmp, 'backup.key'),
                                    os.urandom(32).hex() + '\n')
        agent_sections = pf.merged(
            {'agent': {'datastore': self.datastore, 'progress_interval': 1},
             'backup_encryption': {'key_file': key_file}},
            self.prepare_instance())
        self.deploy = pf.Deployment(self, vhost.transport_url,
                                    self.database.url,
                                    agent_sections=agent_sections)
        self.client = self.deploy.client
        self.instance_id = self.deploy.start_all(self.datastore,
                                                 self.datastore_version)

    def completed(self, **fields):
        backup = self.client.create(self.instance_id, **fields)
        backup = self.client.wait_status(backup['id'], states.COMPLETED,
                                         states.FAILED)
        self.assertEqual(states.COMPLETED, backup['status'], lifecycle.get(
            self.context, backup['id']).fail_reason)
        return backup

    def restore(self, backup_id):
        target = os.path.join(self.restore_root(), 'restored-' + backup_id)
        self.deploy.restore(backup_id, target, lifecycle.get(
            self.context, backup_id).checksum)
        return target

    def test_full_incremental_restore_and_delete(self):
        before = self.digest()
        full = self.completed()
        self.assertTrue(full['locationRef'].endswith('/manifest'))
        self.change()
        after = self.digest()
        self.assertNotEqual(before, after)
        inc = self.completed(incremental=1)
        self.assertEqual(full['id'], inc['parent_id'])
        self.addDetail('sizes', content.text_content(
            'full %s GB, incremental %s GB' % (full['size'], inc['size'])))
        self.assertLess(inc['size'], full['size'])

        self.assertEqual(before, self.restored_digest(self.restore(
            full['id'])))
        self.assertEqual(after, self.restored_digest(self.restore(
            inc['id'])))

        self.client.delete(full['id'])
        self.deploy.wait_deleted([full['id'], inc['id']])
        self.assertEqual([], self.deploy.objects_of(full['id']) +
                         self.deploy.objects_of(inc['id']))
        # The agent has no [database]: had it opened one, oslo.db's
        # default would have made this file in its working directory.
        self.assertFalse(os.path.exists(os.path.join(
            self.deploy.dir, 'trove_backup_ext.sqlite')))


class SQLiteInstanceTest(_RoundTrip, base.TestCase):
    """A SQLite instance; the control plane on MariaDB."""

    control_backend = 'mysql'
    datastore = 'sqlite'
    datastore_version = sqlite3.sqlite_version

    def prepare_instance(self):
        self.live = ef.sample_sqlite_database(
            os.path.join(self.tmp, 'live.sqlite'), rows=60000)
        return {'sqlite': {'database_path': self.live},
                'agent': {'chunk_size': 64 * 1024}}

    def restore_root(self):
        return self.tmp

    @staticmethod
    def _rows(path):
        with sqlite3.connect(path) as connection:
            rows = connection.execute('SELECT * FROM items ORDER BY id'
                                      ).fetchall()
        return hashlib.sha256(repr(rows).encode()).hexdigest()

    def digest(self):
        return self._rows(self.live)

    def change(self):
        with sqlite3.connect(self.live) as connection:
            connection.execute("UPDATE items SET name = 'changed' "
                               "WHERE id < 50")

    def restored_digest(self, target):
        return self._rows(os.path.join(target, 'database.sqlite'))


class PostgreSQLInstanceTest(_RoundTrip, base.TestCase):
    """A throwaway PostgreSQL cluster; the control plane on PostgreSQL."""

    control_backend = 'postgresql'
    datastore = 'postgresql'
    datastore_version = '15'

    def prepare_instance(self):
        password = 'pw-' + uuid.uuid4().hex
        self.cluster = self.useFixture(pg_cluster.Cluster(password))
        self.workdir = self.useFixture(pg_cluster.WorkDir()).path
        pg_cluster.load_items(self.cluster, PG_ROWS)
        return {'agent': {'chunk_size': 65536},
                'postgresql': {'host': '127.0.0.1',
                               'port': self.cluster.port,
                               'user': pg_cluster.BACKUP_ROLE,
                               'password': password,
                               'connect_timeout': 10}}

    def restore_root(self):
        return self.workdir

    def digest(self):
        return self.cluster.psql(pg_cluster.ITEMS_DIGEST)

    def change(self):
        pg_cluster.change_items(self.cluster, PG_ROWS)

    def restored_digest(self, target):
        server = self.useFixture(pg_cluster.Server(target, self.workdir))
        return server.psql(pg_cluster.ITEMS_DIGEST)


class MariaDBInstanceTest(_RoundTrip, base.TestCase):
    """A throwaway mariadbd (native incrementals); control plane on
    SQLite."""

    control_backend = 'sqlite'
    datastore = 'mariadb'
    datastore_version = '10.11'

    def prepare_instance(self):
        self.server = self.useFixture(mariadb_server.MariaDBServer())
        password = os.urandom(12).hex()
        self.server.execute("CREATE USER 'tbe_backup'@'localhost' "
                            "IDENTIFIED BY %s", (password,))
        self.server.execute(
            "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SUPER "
            "ON *.* TO 'tbe_backup'@'localhost'")
        for sql in (
                'CREATE DATABASE tbe',
                'CREATE TABLE tbe.r (id INT PRIMARY KEY, v VARCHAR(100), '
                'n INT)',
                'INSERT INTO tbe.r SELECT seq, concat(md5(seq), sha1(seq)), '
                'seq FROM tbe.seq_1_to_%d' % MARIADB_ROWS):
            self.server.execute(sql)
        tmp_dir = os.path.join(self.tmp, 'mariabackup-tmp')
        os.mkdir(tmp_dir)
        return {'mariadb': {'socket': self.server.socket,
                            'user': 'tbe_backup', 'password': password,
                            'datadir': self.server.datadir,
                            'tmp_dir': tmp_dir}}

    def restore_root(self):
        return self.tmp

    def _rows(self, server):
        rows = server.execute('SELECT id, v, n FROM tbe.r ORDER BY id')
        return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()

    def digest(self):
        return self._rows(self.server)

    def change(self):
        self.server.execute(
            "UPDATE tbe.r SET v = md5(concat('one', id)), n = n + 1 "
            "WHERE id BETWEEN 20001 AND 20500")
        self.server.execute(
            "INSERT INTO tbe.r SELECT seq, 'added', 0 FROM tbe.seq_%d_to_%d"
            % (MARIADB_ROWS + 1, MARIADB_ROWS + 300))

    def restored_digest(self, target):
        return self._rows(self.useFixture(
            mariadb_server.MariaDBServer(target)))
