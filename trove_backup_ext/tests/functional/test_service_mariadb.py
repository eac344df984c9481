"""MariaDB restored and verified through the service, end to end.

POST /restores and /backups/{id}/verify -> worker -> the agent of a real
throw-away mariadbd, running the real driver: in place, into a second
server, a damaged backup that leaves the target as it was.
"""

import hashlib
import os
import shutil
import tempfile
from unittest import mock

from trove_backup_ext.datastores import mariadb
from trove_backup_ext import states
from trove_backup_ext.storage import local
from trove_backup_ext.tests import execution_fixtures as ef
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

    def backup_ending(self, **fields):
        """POST a backup of the source; the backup once it ended."""
        backup_id = self.post('/backups', {'backup': dict(
            name='b', instance=SOURCE, **fields)})['backup']['id']
        return self.wait('backup', backup_id, lambda b: b['status'] in (
            states.COMPLETED, states.FAILED))

    def test_backups_of_a_data_directory_table_fail_naming_it(self):
        # No restore takes such a table (its link file would send its
        # tablespace outside the restored data directory): a backup of it
        # would only look good. Its link file in the stream fails it, the
        # server names the table. The filler's rows do not compress to
        # nothing: its data files stream before the link file, into
        # objects, which are removed.
        self.servers[SOURCE].execute(
            'CREATE TABLE app.filler SELECT seq, sha2(seq, 512) AS v '
            'FROM app.seq_1_to_5000')
        full = self.backup()
        remote = tempfile.mkdtemp(prefix='tbe-mdb-far-', dir='/tmp')
        self.addCleanup(shutil.rmtree, remote, ignore_errors=True)
        shutil.chown(remote, SERVER_USER, SERVER_USER)
        self.servers[SOURCE].execute(
            "CREATE TABLE app.far (id INT PRIMARY KEY) DATA DIRECTORY='%s'"
            % remote)
        stored = ef.storage_files(self.store)
        for fields in ({}, {'parent_id': full['id']}):
            backup = self.backup_ending(**fields)
            self.assertEqual(states.FAILED, backup['status'], backup)
            self.assertEqual(fields.get('parent_id'), backup['parent_id'])
            self.assertTrue(backup['fault']['message'].startswith(
                'Tables created with DATA DIRECTORY cannot be restored by '
                'this service: app.far. Recreate each in the data '
                'directory'), backup['fault'])
            self.assertEqual(stored, ef.storage_files(self.store))
        # Without the query (as when the server cannot answer it), the
        # link file is named: what was stored before it is removed.
        self.confs[SOURCE].set_override('object_size', 64 * 1024, 'agent')
        with mock.patch.object(mariadb.MariaDBDatastore, 'link_files_query',
                               None), \
                mock.patch.object(local.LocalStorage, 'put_object',
                                  autospec=True,
                                  side_effect=local.LocalStorage.put_object
                                  ) as put:
            backup = self.backup_ending()
            puts = [call.args[2] for call in put.call_args_list]
        self.assertTrue([name for name in puts
                         if name.startswith(backup['id'] + '/')], puts)
        self.assertEqual(states.FAILED, backup['status'], backup)
        self.assertIn('this service: app.far, link file app/far.isl. '
                      'Recreate', backup['fault']['message'])
        self.assertEqual(stored, ef.storage_files(self.store))
        self.servers[SOURCE].execute('DROP TABLE app.far')
        backup = self.backup_ending(parent_id=full['id'])
        self.assertEqual(states.COMPLETED, backup['status'], backup)
        self.assertIsNone(backup['fault'])
