"""PostgreSQL restored and verified through the service, end to end.

POST /restores and /backups/{id}/verify -> worker -> the agent of a real
throw-away cluster, running the real driver: in place, into a second
cluster, a damaged backup that leaves the target as it was.
"""

import os
import uuid

from trove_backup_ext.tests import pg_cluster
from trove_backup_ext.tests import service_flow

SOURCE, TARGET = service_flow.SOURCE, service_flow.TARGET
ROWS = 300
# The tables of the instance, and its rows of items.
STATE = ("SELECT (SELECT string_agg(table_name, ',' ORDER BY table_name) "
         "FROM information_schema.tables WHERE table_schema = 'public') "
         "|| ' ' || count(*) || ':' || md5(string_agg(t::text, ',' "
         "ORDER BY id)) FROM items t")


class PostgreSQLServiceTest(service_flow.ServiceFlow):

    datastore = 'postgresql'
    version = '15'

    def start_servers(self):
        self.clusters = {}
        # One password: the roles are data, and a restore brings the
        # source's into the target, its agent's role too.
        password = 'pw-' + uuid.uuid4().hex
        for instance_id, seed in ((SOURCE, 'source'), (TARGET, 'target')):
            cluster = self.useFixture(pg_cluster.Cluster(password))
            # The driver stops and starts it with a plain pg_ctl -D.
            cluster.server.persist_settings()
            with open(os.path.join(cluster.datadir, 'pg_hba.conf'),
                      'a') as hba:
                # The health check and the row counts read every database.
                hba.write('host all %s 127.0.0.1/32 scram-sha-256\n'
                          % pg_cluster.BACKUP_ROLE)
            cluster.psql('SELECT pg_reload_conf(); GRANT pg_read_all_data '
                         'TO %s' % pg_cluster.BACKUP_ROLE)
            cluster.psql("CREATE TABLE items (id int PRIMARY KEY, v text); "
                         "INSERT INTO items SELECT i, '%s ' || i "
                         "FROM generate_series(1, %d) i" % (seed, ROWS))
            self.clusters[instance_id] = cluster
            self.agent_options[instance_id] = {
                'postgresql.host': '127.0.0.1',
                'postgresql.port': cluster.port,
                'postgresql.user': pg_cluster.BACKUP_ROLE,
                'postgresql.password': password,
                'postgresql.connect_timeout': 10,
                'postgresql.data_directory': cluster.datadir,
                'postgresql.start_timeout': 60,
                'postgresql.stop_timeout': 60,
                'postgresql.verify_timeout': 120,
                # The throw-away server of a verification runs as
                # postgres: a directory it can enter.
                'agent.scratch_dir': self.useFixture(
                    pg_cluster.WorkDir()).path,
            }

    def state(self, instance_id):
        """Every table of the instance and a digest of its rows; raises
        if the server does not answer."""
        return self.clusters[instance_id].psql(STATE)

    def write_after_backup(self, instance_id):
        self.clusters[instance_id].psql(
            "INSERT INTO items VALUES (100001, 'after the backup'); "
            "DELETE FROM items WHERE id <= 10; "
            "CREATE TABLE later (i int); INSERT INTO later VALUES (1)")

    def rows_after_backup(self, instance_id):
        return self.clusters[instance_id].psql(
            "SELECT count(*) FROM items WHERE id = 100001 OR id <= 10")

    def test_restore_into_the_source_itself(self):
        before = self.state(SOURCE)
        backup = self.backup()
        self.write_after_backup(SOURCE)
        self.assertNotEqual(before, self.state(SOURCE))
        self.assertCompleted(self.restore(backup['id'], SOURCE))
        self.assertEqual(before, self.state(SOURCE))
        # The rows deleted after the backup are back, the one added gone.
        self.assertEqual('10', self.rows_after_backup(SOURCE))
        # It is a writable primary again.
        self.clusters[SOURCE].psql('CREATE TABLE after_restore (i int)')

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
            self.clusters[TARGET].workdir) if '.restore-' in name])

    def test_data_refusing_the_agents_role_is_rolled_back(self):
        # The target's agent logs in with another password than the one
        # the backup's roles hold: the restored server starts but refuses
        # it, and the target gets its own data back.
        backup = self.backup()
        self.clusters[TARGET].psql("ALTER ROLE %s PASSWORD 'other'"
                                   % pg_cluster.BACKUP_ROLE)
        self.confs[TARGET].set_override('password', 'other', 'postgresql')
        before = self.state(TARGET)
        restore = self.restore(backup['id'], TARGET)
        self.assertFailedKeepingData(restore, 'failed its health check')
        # Named at once, not after start_timeout of waiting for a login.
        self.assertIn('password authentication failed',
                      restore['fault']['message'])
        self.assertNotIn('did not accept connections',
                         restore['fault']['message'])
        self.assertEqual(before, self.state(TARGET))

    def test_verification_passes_then_fails_naming_the_damaged_object(self):
        backup = self.backup()
        live = self.state(SOURCE)
        verification = self.verify(backup['id'])
        self.assertEqual('PASSED', verification['status'], verification)
        checks = {c['check']: c for c in verification['details']['checks']}
        self.assertEqual({'integrity_check', 'row_counts'}, set(checks))
        self.assertIn('%d rows, as recorded' % ROWS,
                      checks['row_counts']['detail'])
        self.assertEqual(live, self.state(SOURCE))
        damaged = self.damage_first_object(backup['id'])
        verification = self.verify(backup['id'])
        self.assertEqual('FAILED', verification['status'], verification)
        self.assertIn(damaged, verification['details']['error'])
        self.assertEqual(live, self.state(SOURCE))
