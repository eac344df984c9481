"""Faults of issue 3, on processes over RabbitMQ: killed agents and
workers, storage down or refusing deletes. A broker restarted in the
middle of a backup and a restore: test_fault_recovery.py."""

import os
import sqlite3
import subprocess
import uuid

import fixtures

from trove_backup_ext import context as backup_context
from trove_backup_ext.db import lifecycle
from trove_backup_ext.pipeline import manifest as backup_manifest
from trove_backup_ext import states
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import pg_cluster
from trove_backup_ext.tests import process_fixtures as pf
from trove_backup_ext.tests import rabbitmq_fixtures as rf
from trove_backup_ext.tests import service_fixtures


class _FaultTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(300, gentle=True))
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.database = self.useFixture(service_fixtures.Database('sqlite'))
        self.context = backup_context.get_admin_context()

    def deploy_sqlite(self, transport_url=None, rows=60000, sections=None):
        """A deployment backing up a SQLite instance, all started."""
        self.live = ef.sample_sqlite_database(
            os.path.join(self.tmp, 'live.sqlite'), rows=rows)
        if transport_url is None:
            transport_url = self.useFixture(rf.Vhost()).transport_url
        self.deploy = pf.Deployment(
            self, transport_url, self.database.url, sections=sections,
            agent_sections={'agent': {'datastore': 'sqlite',
                                      'chunk_size': 65536,
                                      'object_size': 65536},
                            'sqlite': {'database_path': self.live}})
        self.client = self.deploy.client
        self.instance_id = self.deploy.start_all('sqlite', '3')

    def row(self, backup_id):
        return lifecycle.get(self.context, backup_id)

    def finished(self, expect=states.COMPLETED, **fields):
        backup = self.client.create(self.instance_id, **fields)
        backup = self.client.wait_status(backup['id'], states.COMPLETED,
                                         states.FAILED)
        self.assertEqual(expect, backup['status'],
                         self.row(backup['id']).fail_reason)
        return backup


class AgentKilledTest(_FaultTest):

    def test_reaper_fails_the_backup_and_removes_its_objects(self):
        password = 'pw-' + uuid.uuid4().hex
        cluster = self.useFixture(pg_cluster.Cluster(password))
        self.deploy = pf.Deployment(
            self, self.useFixture(rf.Vhost()).transport_url,
            self.database.url,
            sections={'worker': {'backup_timeout': 10,
                                 'reaper_interval': 1}},
            agent_sections={
                'agent': {'datastore': 'postgresql', 'chunk_size': 65536,
                          'object_size': 65536, 'progress_interval': 1},
                'postgresql': {'host': '127.0.0.1', 'port': cluster.port,
                               'user': pg_cluster.BACKUP_ROLE,
                               'password': password}})
        self.client = self.deploy.client
        # pg_basebackup throttled: the ~30 MB cluster takes half a minute,
        # so the agent is surely killed while it streams.
        self.instance_id = self.deploy.start_all(
            'postgresql', '15', agent_extra={'postgresql': {
                'max_rate': '1M'}})
        backup_id = self.client.create(self.instance_id)['id']
        ef.wait_for(lambda: (self.client.show(backup_id).json()['backup'][
            'status'] == states.BUILDING and
            len(self.deploy.objects_of(backup_id)) >= 2), timeout=60)
        self.deploy.agent.kill()
        self.assertEqual(states.BUILDING, self.row(backup_id).status)
        # Still running as far as the API knows: no second backup yet.
        self.client.create(self.instance_id, expect=422)

        failed = self.client.wait_status(backup_id, states.FAILED,
                                         states.COMPLETED, timeout=90)
        self.assertEqual(states.FAILED, failed['status'])
        self.assertIn('No progress for 10 seconds: the agent of instance '
                      '%s stopped' % self.instance_id,
                      self.row(backup_id).fail_reason)
        # Nothing is left, not even the uploads the kill cut off.
        self.deploy.wait_no_objects(backup_id)

        # A new agent, unthrottled: the instance takes backups again.
        self.deploy.start_agent(self.instance_id)
        backup = self.finished()
        self.assertEqual([], self.deploy.objects_of(backup_id))
        self.assertTrue(os.path.exists(os.path.join(
            self.deploy.storage_dir, 'database_backups',
            backup_manifest.manifest_name(backup['id']))))


class StorageDownTest(_FaultTest):

    def test_backups_fail_with_a_message_naming_the_storage(self):
        # Local storage under a regular file: root may write anywhere,
        # but no directory can be made there.
        blocker = os.path.join(self.tmp, 'not-a-directory')
        open(blocker, 'w').close()
        swift_port = service_fixtures.free_port()   # Nobody listens.
        self.deploy_sqlite(sections={
            'local_storage': {'storage_dir': os.path.join(blocker,
                                                          'store')},
            'swift': {'auth_version': '1', 'user': 'test:tester',
                      'key': 'testing', 'retries': 1,
                      'starting_backoff': 0.1, 'timeout': 5,
                      'auth_url': 'http://127.0.0.1:%d/auth/v1.0'
                                  % swift_port}})

        local = self.finished(expect=states.FAILED)
        reason = self.row(local['id']).fail_reason
        self.assertIn('Storage failed: Cannot create container '
                      'database_backups', reason)
        self.assertIn('Not a directory', reason)
        self.assertIsNone(local['locationRef'])
        self.assertIsNone(self.row(local['id']).checksum)

        swift = self.finished(expect=states.FAILED, storage_driver='swift')
        reason = self.row(swift['id']).fail_reason
        self.assertIn('Storage failed', reason)
        self.assertIn('127.0.0.1:%d' % swift_port, reason)
        self.assertIsNone(swift['locationRef'])
        self.assertIsNone(self.row(swift['id']).checksum)

        # Storage back: the next backup completes.
        os.unlink(blocker)
        self.finished()
        self.assertEqual([], self.deploy.objects_of(local['id']))


class WorkerKilledDuringDeleteTest(_FaultTest):

    def setUp(self):
        super().setUp()
        # ~6 MB in 64 KiB chunks packed into 64 KiB objects: a few dozen
        # objects per backup, for a deletion to stop halfway through.
        self.deploy_sqlite(rows=300000)
        self.full = self.finished()
        with sqlite3.connect(self.live) as connection:
            connection.execute("UPDATE items SET name = 'changed' "
                               "WHERE id % 1000 = 0")
        self.inc = self.finished(incremental=1)
        self.ids = [self.full['id'], self.inc['id']]
        self.assertGreater(len(self.deploy.objects_of(self.full['id'])),
                           20)

    def test_delete_sent_while_no_worker_runs_completes(self):
        self.deploy.worker.kill()
        stored = self.deploy.objects_of(self.full['id'])
        self.client.delete(self.full['id'])
        for backup_id in self.ids:
            self.assertEqual(200, self.client.show(backup_id).status_code)
        self.assertEqual(stored, self.deploy.objects_of(self.full['id']))

        self.deploy.start_worker({'worker': {'delete_retry_interval': 2}})
        self.deploy.wait_deleted(self.ids)
        self.assertEqual([], ef.storage_files(self.deploy.storage_dir))

    def immutable(self, path):
        """Make path undeletable (even by root) until cleanup or undo."""
        subprocess.run(['chattr', '+i', path], check=True)

        def undo():
            if os.path.exists(path):
                subprocess.run(['chattr', '-i', path], check=True)
        self.addCleanup(undo)
        return undo

    def test_refused_delete_is_delete_failed_then_finished(self):
        chunks = sorted(path for path in
                        self.deploy.objects_of(self.full['id'])
                        if '/objects/' in path)
        fix_storage = self.immutable(chunks[-1])
        self.client.delete(self.full['id'])

        failed = self.client.wait_status(self.full['id'],
                                         states.DELETE_FAILED)
        self.assertIn('Operation not permitted',
                      self.row(self.full['id']).fail_reason)
        listed = {b['id']: b['status'] for b in self.client.list()}
        self.assertEqual({self.full['id']: states.DELETE_FAILED}, listed)
        self.assertEqual(failed['id'], self.full['id'])
        # The child went first, objects then row; of the parent, what
        # storage refused is left, and never its manifest alone.
        self.assertEqual([], self.deploy.objects_of(self.inc['id']))
        left = self.deploy.objects_of(self.full['id'])
        self.assertIn(chunks[-1], left)
        self.assertNotIn(os.path.join(
            self.deploy.storage_dir, 'database_backups',
            backup_manifest.manifest_name(self.full['id'])), left)

        # The worker dies with the deletion half done; storage is fixed;
        # a new worker finishes it.
        self.deploy.worker.kill()
        fix_storage()
        self.deploy.start_worker({'worker': {'delete_retry_interval': 1,
                                             'reaper_interval': 1}})
        self.deploy.wait_deleted(self.ids)
        self.assertEqual([], ef.storage_files(self.deploy.storage_dir))
