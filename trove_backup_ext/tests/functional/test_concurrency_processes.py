"""Races through the deployed services, on MariaDB and on PostgreSQL.

trove-backup-api with two worker processes, two trove-backup-worker
processes and the agent of a SQLite instance, over a RabbitMQ vhost of
the test's own. Many HTTP clients at once, released by one barrier:

- 50 creates on one instance: exactly one accepted, and it completes;
- backups racing restores on one instance: exactly one accepted;
- creates across a project's instances: never more than the quota;
- incrementals racing the delete of their parent: no child outlives it,
  no deletion stays half done, no object is left without its row;
- keyset pages walked while rows are added, changed and deleted: no row
  twice, none missing of those present throughout.

test_concurrency.py makes the same races on one in-process API server
with a recording worker; here the rows' rules hold across processes.
"""

import collections
import datetime
import os
import signal
import threading
import time

import fixtures
from oslo_utils import timeutils
from oslo_utils import uuidutils
import requests
import sqlalchemy as sa
from testtools import content

from trove_backup_ext import context as backup_context
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import models
from trove_backup_ext import states
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests.functional import test_concurrency
from trove_backup_ext.tests import outcomes
from trove_backup_ext.tests import process_fixtures as pf
from trove_backup_ext.tests import rabbitmq_fixtures as rf
from trove_backup_ext.tests import service_fixtures

Backup = models.Backup
API_PROCESSES = 2
WORKERS = 2
QUOTA = 5


class _Races:

    backend = None
    quota = QUOTA

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(240, gentle=True))
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.database = self.useFixture(
            service_fixtures.Database(self.backend))
        self.context = backup_context.get_admin_context()
        live = ef.sample_sqlite_database(
            os.path.join(self.tmp, 'live.sqlite'), rows=2000)
        self.deploy = pf.Deployment(
            self, self.useFixture(rf.Vhost()).transport_url,
            self.database.url,
            sections={'DEFAULT': {'max_backups_per_tenant': self.quota},
                      'api': {'workers': API_PROCESSES, 'threads': 8}},
            agent_sections={'agent': {'datastore': 'sqlite',
                                      'progress_interval': 1},
                            'sqlite': {'database_path': live}})
        self.client = self.deploy.client
        self.endpoint = 'http://127.0.0.1:%d' % self.deploy.api_port
        self.restores = outcomes.RestoresClient(self.endpoint)
        self.instance_id = self.deploy.start_all('sqlite', '3')
        for _ in range(WORKERS - 1):
            self.deploy.start_worker()
        ef.wait_for(lambda: self.deploy.api.log_text().count(
            'API worker process') >= API_PROCESSES, timeout=pf.START_TIMEOUT,
            interval=0.1)

    # Helpers.

    # The same barrier-released threads as the in-process races.
    run_together = test_concurrency._ParallelRequests.run_together
    REQUEST_THREAD_TIMEOUT = 120

    def url(self, path, project=base.PROJECT):
        return '%s/v1.0/%s%s' % (self.endpoint, project, path)

    def post_backup(self, instance_id, project=base.PROJECT, **fields):
        body = {'backup': dict({'name': 'race', 'instance': instance_id},
                               **fields)}
        return lambda session: session.post(self.url('/backups', project),
                                            json=body, timeout=60)

    def post_restore(self, backup_id, instance_id):
        body = {'restore': {'backup_id': backup_id,
                            'instance_id': instance_id}}
        return lambda session: session.post(self.url('/restores'),
                                            json=body, timeout=60)

    def delete_backup(self, backup_id, delay=0):
        def call(session):
            time.sleep(delay)     # Lets either side of a race win.
            return session.delete(self.url('/backups/' + backup_id),
                                  timeout=60)
        return call

    def counted(self, results):
        return dict(collections.Counter(status for status, _ in results))

    def accepted(self, results, kind='backup'):
        return [body[kind] for status, body in results if status == 202]

    def rows(self, *where):
        with self.database.engine.connect() as connection:
            return list(connection.execute(sa.select(Backup).where(*where)))

    def add_instances(self, project, count):
        return [instances_db.add(self.context, {
            'id': uuidutils.generate_uuid(), 'name': 'db%d' % n,
            'project_id': project, 'datastore': 'sqlite',
            'datastore_version': '3', 'status': 'ACTIVE'}).id
            for n in range(count)]

    def completed(self, **fields):
        backup = self.client.create(self.instance_id, **fields)
        backup = self.client.wait_status(backup['id'], states.COMPLETED,
                                         states.FAILED)
        self.assertEqual(states.COMPLETED, backup['status'])
        return backup

    def paused_agent(self):
        """The agent stopped (SIGSTOP) until the returned function
        resumes it: what the race lets in stays running meanwhile, as a
        long backup would, whatever the speed of the machine."""
        process = self.deploy.agent.process

        def resume():
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
        os.kill(process.pid, signal.SIGSTOP)
        self.addCleanup(resume)
        return resume

    def assert_honest_ends(self):
        outcomes.assert_honest_ends(self, self.database.engine,
                                    self.deploy)


class _CreateRaces:

    def race_on_one_instance(self):
        """50 creates; then backups against restores."""
        resume = self.paused_agent()
        results = self.run_together(
            [self.post_backup(self.instance_id)] * 50)
        resume()
        self.assertEqual({202: 1, 422: 49}, self.counted(results), results)
        for status, body in results:
            if status == 422:
                self.assertIn(self.instance_id,
                              body['unprocessableEntity']['message'])
        [winner] = self.accepted(results)
        self.assertEqual([winner['id']], [row.id for row in self.rows(
            Backup.instance_id == self.instance_id)])
        done = self.client.wait_status(winner['id'], states.COMPLETED,
                                       states.FAILED)
        self.assertEqual(states.COMPLETED, done['status'])

        # Backups racing restores of that backup into the same instance.
        resume = self.paused_agent()
        results = self.run_together(
            [self.post_backup(self.instance_id)] * 10 +
            [self.post_restore(winner['id'], self.instance_id)] * 10)
        resume()
        self.assertEqual({202: 1, 422: 19}, self.counted(results), results)
        [(status, body)] = [r for r in results if r[0] == 202]
        if 'restore' in body:
            self.assertEqual(1, len(self.rows()))
            finished = self.restores.wait_status(
                body['restore']['id'], states.COMPLETED, states.FAILED)
        else:
            self.assertEqual(2, len(self.rows()))
            finished = self.client.wait_status(
                body['backup']['id'], states.COMPLETED, states.FAILED)
        self.assertEqual(states.COMPLETED, finished['status'], finished)
        # The instance is free again.
        self.completed()
        self.assert_honest_ends()

    def race_for_the_quota(self):
        for round_number in range(2):
            # A new project each round: its usage row is raced for too.
            project = 'quota-%d-%s' % (round_number, uuidutils.generate_uuid())
            instances = self.add_instances(project, 4 * QUOTA)
            results = self.run_together([
                self.post_backup(instance_id, project=project)
                for instance_id in instances])
            self.assertEqual({202: QUOTA, 413: 3 * QUOTA},
                             self.counted(results), results)
            for status, body in results:
                if status == 413:
                    self.assertEqual(['overLimit'], list(body))
            rows = self.rows(Backup.project_id == project)
            self.assertEqual(
                sorted(backup['id'] for backup in self.accepted(results)),
                sorted(row.id for row in rows))
            self.assertEqual(QUOTA, len({row.instance_id for row in rows}))
            # A full quota refuses each of many parallel creates.
            results = self.run_together([
                self.post_backup(instance_id, project=project)
                for instance_id in instances[:8]])
            self.assertEqual({413: 8}, self.counted(results), results)
            self.assertEqual(QUOTA, len(self.rows(
                Backup.project_id == project)))


class _DeleteRaces:
    """DELETE of a COMPLETED parent against POSTs of incrementals on it
    (half by parent_id, half by incremental=1); the workers really delete
    and the agent really backs up."""

    DELETE_DELAYS = (0, 0.01, 0.03)

    def race_a_parents_delete(self):
        outcomes_seen = set()
        for delay in self.DELETE_DELAYS:
            parent = self.completed()
            # What gets in stays NEW for the race's length.
            resume = self.paused_agent()
            results = self.run_together(
                [self.delete_backup(parent['id'], delay)] * 6 +
                [self.post_backup(self.instance_id,
                                  parent_id=parent['id'])] * 3 +
                [self.post_backup(self.instance_id, incremental=1)] * 3)
            resume()
            deletes, creates = results[:6], results[6:]
            children = self.accepted(creates)
            self.assertLessEqual(len(children), 1)
            deleted = 202 in self.counted(deletes)
            # 404: the workers deleted the parent before the request
            # found it; only after a delete was accepted.
            self.assertLessEqual(set(self.counted(results)),
                                 {202, 404, 422} if deleted else {202, 422},
                                 results)
            if deleted:
                # No child got in: what got in is a full backup.
                self.assertEqual([None] * len(children),
                                 [c['parent_id'] for c in children])
                self.deploy.wait_deleted([parent['id']])
            else:
                self.assertEqual([parent['id']],
                                 [c['parent_id'] for c in children])
            outcomes_seen.add(deleted)
            for child in children:
                self.client.wait_status(child['id'], states.COMPLETED,
                                        states.FAILED)
            self.assert_honest_ends()
            # Each child's parent is there and whole.
            for row in self.rows(Backup.parent_id.isnot(None)):
                [parent_row] = self.rows(Backup.id == row.parent_id)
                self.assertEqual(states.COMPLETED, parent_row.status)
            # The rest of the chain goes too, children first.
            left = [row.id for row in self.rows()]
            for row in self.rows(Backup.parent_id.is_(None)):
                self.client.delete(row.id)
            self.deploy.wait_deleted(left)
        self.addDetail('outcomes', content.text_content(
            'parent deleted first in rounds: %s' % sorted(outcomes_seen)))
        self.assert_honest_ends()
        self.assertEqual([], ef.storage_files(self.deploy.storage_dir))


class _PagesWhileRowsChange:
    """Pages of 7 walked again and again while other threads add rows
    (some on the very microsecond of existing ones), change statuses
    and delete rows through the API."""

    ROWS = 60
    PAGE = 7

    def seed(self, project, count, start):
        rows = []
        for n in range(count):
            # Pairs of rows share their created time: ties are broken
            # by id, across pages too.
            created = start + datetime.timedelta(seconds=n // 2)
            rows.append({
                'id': uuidutils.generate_uuid(), 'name': 'r%d' % n,
                'project_id': project, 'instance_id': self.instance_id,
                'status': states.COMPLETED, 'backup_type': 'full',
                'datastore': 'sqlite', 'datastore_version': '3',
                'datastore_version_id': uuidutils.generate_uuid(),
                'storage_driver': 'local', 'container': 'database_backups',
                'created': created, 'updated': created})
        with self.database.engine.begin() as connection:
            connection.execute(sa.insert(Backup), rows)
            connection.execute(
                sa.update(models.ProjectUsage)
                .where(models.ProjectUsage.project_id == project)
                .values(backups=models.ProjectUsage.backups + count))
        return rows

    def walk(self):
        """One walk through the pages (each page a new connection: the
        API processes take turns); the ids in the order shown."""
        ids = []
        url = self.url('/backups?limit=%d' % self.PAGE)
        for _ in range(100):
            response = requests.get(url, timeout=30)
            self.assertEqual(200, response.status_code, response.text)
            body = response.json()
            ids.extend(backup['id'] for backup in body['backups'])
            links = [link['href'] for link in body.get('links', [])
                     if link['rel'] == 'next']
            if not links:
                return ids
            url = links[0]
        self.fail('more than 100 pages')

    def walk_pages_while_rows_change(self):
        start = timeutils.utcnow().replace(microsecond=0) - (
            datetime.timedelta(hours=1))
        # A usage row to add to: the project's first backup makes it.
        self.completed()
        seeded = self.seed(base.PROJECT, self.ROWS, start)
        doomed = {row['id'] for row in seeded[::5]}
        changing = [row['id'] for row in seeded[2::5]]
        stop = threading.Event()
        errors = []

        def add_rows():
            # New rows at the top of the list and on the time of rows
            # deep in it, while the walks go on.
            n = 0
            while not stop.is_set():
                n += 1
                self.seed(base.PROJECT, 2, start + datetime.timedelta(
                    seconds=n % (self.ROWS // 2)))
                self.seed(base.PROJECT, 1, timeutils.utcnow())
                time.sleep(0.02)

        def change_rows():
            statuses = (states.FAILED, states.COMPLETED)
            n = 0
            while not stop.is_set():
                n += 1
                with self.database.engine.begin() as connection:
                    connection.execute(
                        sa.update(Backup).where(Backup.id.in_(changing))
                        .values(status=statuses[n % 2],
                                fail_reason='flapping',
                                updated=timeutils.utcnow()))
                time.sleep(0.01)

        def delete_rows():
            with requests.Session() as session:
                for backup_id in sorted(doomed):
                    response = session.delete(
                        self.url('/backups/' + backup_id), timeout=30)
                    if response.status_code != 202:
                        errors.append(response.text)
                    time.sleep(0.05)

        def guarded(target):
            def run():
                try:
                    target()
                except Exception as exc:    # Reported below.
                    errors.append(repr(exc))
            return threading.Thread(target=run)

        threads = [guarded(target) for target in (add_rows, change_rows,
                                                  delete_rows)]
        for thread in threads:
            thread.start()
        try:
            walks = [self.walk() for _ in range(6)]
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
        self.assertEqual([], errors)
        throughout = {row['id'] for row in seeded} - doomed
        for ids in walks:
            self.assertEqual([], [backup_id for backup_id, count in
                                  collections.Counter(ids).items()
                                  if count > 1])
            self.assertEqual(set(), throughout - set(ids))
        self.deploy.wait_deleted(sorted(doomed))
        self.assertEqual(set(), throughout - set(self.walk()))


class _ProcessRaces(_CreateRaces, _DeleteRaces, _PagesWhileRowsChange,
                    _Races):
    """Two tests, each on a deployment of its own (starting one costs
    more than most races)."""

    def test_creates_restores_and_the_quota(self):
        self.race_on_one_instance()
        self.race_for_the_quota()

    def test_deletes_and_pages(self):
        self.race_a_parents_delete()
        self.walk_pages_while_rows_change()


class ProcessRaces_mysql(_ProcessRaces, base.TestCase):
    backend = 'mysql'


class ProcessRaces_postgresql(_ProcessRaces, base.TestCase):
    backend = 'postgresql'
