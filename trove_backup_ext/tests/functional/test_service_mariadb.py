"""MariaDB restored and verified through the service, end to end.

POST /restores and /backups/{id}/verify -> worker -> the agent of a real
throw-away mariadbd, running the real driver: in place, into a second
server, a damaged backup that leaves the target as it was.
"""

import hashlib
import os
import shutil
import tempfile

from trove_backup_ext.tests import mariadb_server
from trove_backup_ext.tests import service_flow

SOURCE, TARGET = service_flow.SOURCE, service_flow.TARGET
ROWS = 300
# As in production, the server runs as mysql: the restored files must be
# given to it.
SERVER_USER = 'mysql' if os.geteuid() == 0 else 'root'


class MariaDBServiceTest(service_flow.ServiceFlow):

    datastore = 'mariadb'
    version = '10.11'

    def start_servers(self):
        self.servers = {}
        # One password: the users are data, and a restore brings the
        # source's into the target, its agent's user too.
        password = os.urandom(8).hex()
        for instance_id, seed in ((SOURCE, 'source'), (TARGET, 'target')):
            server = self.useFixture(
                mariadb_server.MariaDBServer(user=SERVER_USER))
            server.execute("CREATE USER 'tbe_backup'@'localhost' "
                           "IDENTIFIED BY %s", (password,))
            # SELECT: the row counts; SHUTDOWN: the default stop command.
            server.execute(
                "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SUPER, "
                "SELECT, SHUTDOWN ON *.* TO 'tbe_backup'@'localhost'")
            for sql in ('CREATE DATABASE app',
                        'CREATE TABLE app.items (id INT PRIMARY KEY, '
                        'v VARCHAR(64))',
                        "INSERT INTO app.items SELECT seq, concat('%s ', seq)"
                        " FROM app.seq_1_to_%d" % (seed, ROWS)):
                server.execute(sql)
            self.servers[instance_id] = server
            self.agent_options[instance_id] = {
                'mariadb.socket': server.socket,
                'mariadb.user': 'tbe_backup',
                'mariadb.password': password,
                'mariadb.datadir': server.datadir,
                'mariadb.tmp_dir': self._directory(),
                'mariadb.start_command': server.command(),
                'mariadb.log_file': server.log,
                'mariadb.start_timeout': 60,
                'mariadb.stop_timeout': 60,
                'mariadb.verify_timeout': 120,
                'mariadb.verify_buffer_pool': '32M',
                'agent.scratch_dir': self._directory(),
            }

    def _directory(self):
        # In /tmp, enterable: the verification's server runs as the
        # data's owner (see [agent] scratch_dir).
        path = tempfile.mkdtemp(prefix='tbe-mdb-svc-', dir='/tmp')
        self.addCleanup(shutil.rmtree, path, ignore_errors=True)
        os.chmod(path, 0o711)
        return path

    def state(self, instance_id):
        """The databases and tables of the instance and a digest of its
        rows; raises if the server does not answer."""
        server = self.servers[instance_id]
        tables = server.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('mysql', 'information_schema', "
            "'performance_schema', 'sys') ORDER BY 1, 2")
        rows = server.execute('SELECT id, v FROM app.items ORDER BY id')
        return tables, hashlib.sha256(repr(rows).encode()).hexdigest()

    def write_after_backup(self, instance_id):
        server = self.servers[instance_id]
        for sql in ("INSERT INTO app.items VALUES (100001, 'after')",
                    'DELETE FROM app.items WHERE id <= 10',
                    'CREATE TABLE app.later (i INT)'):
            server.execute(sql)

    def rows_after_backup(self, instance_id):
        return self.servers[instance_id].execute(
            'SELECT count(*) FROM app.items WHERE id = 100001 OR id <= 10'
        )[0][0]

    def test_restore_into_the_source_itself(self):
        before = self.state(SOURCE)
        backup = self.backup()
        self.write_after_backup(SOURCE)
        self.assertNotEqual(before, self.state(SOURCE))
        self.assertCompleted(self.restore(backup['id'], SOURCE))
        self.assertEqual(before, self.state(SOURCE))
        # The rows deleted after the backup are back, the one added gone.
        self.assertEqual(10, self.rows_after_backup(SOURCE))
        self.servers[SOURCE].execute(
            "INSERT INTO app.items VALUES (0, 'written after the restore')")

    def test_restore_into_another_instance(self):
        backed_up = self.state(SOURCE)
        backup = self.backup()
        self.write_after_backup(SOURCE)
        source_now = self.state(SOURCE)
        self.assertNotEqual(backed_up, self.state(TARGET))
        self.assertCompleted(self.restore(backup['id'], TARGET))
        self.assertEqual(backed_up, self.state(TARGET))
        self.assertEqual(source_now, self.state(SOURCE))
        # The target's agent can back up what it now holds.
        self.backup(TARGET)

    def test_damaged_backup_leaves_the_target_as_it_was(self):
        backup = self.backup()
        before = self.state(TARGET)
        damaged = self.damage_first_object(backup['id'])
        restore = self.restore(backup['id'], TARGET)
        self.assertFailedKeepingData(restore, 'failed verification')
        self.assertIn(damaged, restore['fault']['message'])
        self.assertEqual(before, self.state(TARGET))
        self.assertEqual([], [name for name in os.listdir(
            self.servers[TARGET].base) if '.restore-' in name])

    def test_data_refusing_the_agents_user_is_rolled_back(self):
        # The target's agent logs in with another password than the one
        # the backup's user table holds: the restored server starts but
        # refuses it, and the target gets its own data back.
        backup = self.backup()
        self.servers[TARGET].execute(
            "ALTER USER 'tbe_backup'@'localhost' IDENTIFIED BY 'other'")
        self.confs[TARGET].set_override('password', 'other', 'mariadb')
        before = self.state(TARGET)
        restore = self.restore(backup['id'], TARGET)
        self.assertFailedKeepingData(restore, 'failed its health check')
        # Named at once, not after start_timeout of waiting for a login.
        self.assertIn('Access denied', restore['fault']['message'])
        self.assertNotIn('did not accept connections',
                         restore['fault']['message'])
        self.assertEqual(before, self.state(TARGET))

    def test_verification_passes_then_fails_naming_the_damaged_object(self):
        backup = self.backup()
        live = self.state(SOURCE)
        verification = self.verify(backup['id'])
        self.assertEqual('PASSED', verification['status'], verification)
        checks = {c['check']: c for c in verification['details']['checks']}
        self.assertEqual({'check_table', 'row_counts'}, set(checks))
        self.assertIn('%d rows, as recorded' % ROWS,
                      checks['row_counts']['detail'])
        self.assertEqual(live, self.state(SOURCE))
        damaged = self.damage_first_object(backup['id'])
        verification = self.verify(backup['id'])
        self.assertEqual('FAILED', verification['status'], verification)
        self.assertIn(damaged, verification['details']['error'])
        self.assertEqual(live, self.state(SOURCE))
