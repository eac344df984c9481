"""Parallel requests cannot break the rules the database enforces."""

import collections
import threading
import time

import requests
import sqlalchemy as sa

from trove_backup_ext.db import backups as backups_db
from trove_backup_ext.db import models
from trove_backup_ext.tests import base

Backup = models.Backup


class _ParallelRequests:
    """Helpers that fire many HTTP requests at the same moment."""

    # How long a request thread may take before the test gives up on it.
    REQUEST_THREAD_TIMEOUT = 300

    def run_together(self, calls):
        """Run each call(session) in its own thread, all released by one
        barrier; returns [(status, body or None)] in the order of calls."""
        barrier = threading.Barrier(len(calls))
        results = [None] * len(calls)
        errors = []

        def run(index, call):
            with requests.Session() as session:
                try:
                    barrier.wait(timeout=60)
                    response = call(session)
                    results[index] = (response.status_code,
                                      response.json() if response.content
                                      else None)
                except Exception as exc:  # reported below, with the rest
                    errors.append(repr(exc))

        threads = [threading.Thread(target=run, args=(index, call))
                   for index, call in enumerate(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self.REQUEST_THREAD_TIMEOUT)
        self.assertEqual([], errors)
        self.assertNotIn(None, results, 'a request thread did not finish')
        return results

    def backups_url(self, project, backup_id=None):
        url = '%s/v1.0/%s/backups' % (self.api.endpoint, project)
        return url if backup_id is None else '%s/%s' % (url, backup_id)

    def post_backup(self, project, **fields):
        body = {'backup': dict({'name': 'parallel'}, **fields)}
        return lambda session: session.post(self.backups_url(project),
                                            json=body)

    def delete_backup(self, project, backup_id, delay=0):
        def call(session):
            time.sleep(delay)
            return session.delete(self.backups_url(project, backup_id))
        return call

    def assertStatuses(self, expected, results):
        """The status codes counted, and each error a Trove fault."""
        self.assertEqual(expected,
                         dict(collections.Counter(s for s, _ in results)),
                         [r for r in results if r[0] not in expected])
        fault_names = {413: 'overLimit', 422: 'unprocessableEntity'}
        for status, body in results:
            if status in fault_names:
                self.assertEqual([fault_names[status]], list(body))

    def assertOnly(self, allowed, results):
        self.assertLessEqual({status for status, _ in results}, allowed,
                             results)

    def rows(self, *where):
        with self.database.engine.connect() as connection:
            return list(connection.execute(
                sa.select(Backup).where(*where).order_by(Backup.created)))

    def usage(self, project):
        return backups_db.usage(self.admin_context, project)

    def wait_for_casts(self, count):
        # The fake bus delivers in another thread; wait until it caught up.
        deadline = time.monotonic() + 30
        while len(self.worker.calls) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return sorted(self.worker.calls)


class _OneRunningBackupTests(_ParallelRequests):

    def test_parallel_creates_on_one_instance_start_one_backup(self):
        created = []
        for round_number in range(1, 4):
            instance = self.add_instance()
            results = self.run_together(
                [self.post_backup(base.PROJECT, instance=instance.id)] * 16)

            self.assertStatuses({202: 1, 422: 15}, results)
            for status, body in results:
                if status == 422:
                    self.assertIn(instance.id,
                                  body['unprocessableEntity']['message'])
            rows = self.rows(Backup.instance_id == instance.id)
            self.assertEqual(1, len(rows))
            winner = [body['backup'] for status, body in results
                      if status == 202][0]
            self.assertEqual(winner['id'], rows[0].id)
            self.assertEqual('NEW', rows[0].status)
            self.assertEqual(instance.id, rows[0].running_instance_id)
            # Refused creates gave their quota slot back.
            self.assertEqual(round_number, self.usage(base.PROJECT))
            created.append(('create_backup', winner['id']))
        self.assertEqual(sorted(created), self.wait_for_casts(len(created)))


class _QuotaTests(_ParallelRequests):

    conf_overrides = {'max_backups_per_tenant': 5}

    def test_parallel_creates_stop_at_the_quota(self):
        created = []
        # A new project each round, so that every round races on a quota
        # that starts empty (and on making the project's usage row).
        for round_number in range(3):
            project = 'quota-round-%d' % round_number
            instances = [self.add_instance(project_id=project)
                         for _ in range(20)]
            results = self.run_together(
                [self.post_backup(project, instance=instance.id)
                 for instance in instances])

            self.assertStatuses({202: 5, 413: 15}, results)
            accepted = sorted(body['backup']['id']
                              for status, body in results if status == 202)
            rows = self.rows(Backup.project_id == project)
            self.assertEqual(accepted, sorted(row.id for row in rows))
            self.assertEqual(5, len({row.instance_id for row in rows}))
            self.assertEqual(5, self.usage(project))
            created.extend(('create_backup', backup_id)
                           for backup_id in accepted)
        self.assertEqual(sorted(created), self.wait_for_casts(len(created)))

    def test_quota_full_refuses_every_parallel_create(self):
        instances = [self.add_instance() for _ in range(6)]
        for instance in instances[:5]:
            self.create_backup(instance.id)
        results = self.run_together(
            [self.post_backup(base.PROJECT, instance=instances[5].id)] * 10)

        self.assertStatuses({413: 10}, results)
        self.assertEqual(5, len(self.rows(Backup.project_id ==
                                          base.PROJECT)))
        self.assertEqual(5, self.usage(base.PROJECT))


class _DeleteRaceTests(_ParallelRequests):
    """DELETE of a parent against POSTs of incrementals on it.

    Half the creates name the parent; the other half ask for
    "incremental": 1, which picks the instance's newest COMPLETED backup
    that is not being deleted, or makes a full backup when there is none.
    """

    # A create does more work than a delete before it reaches the parent
    # row; holding the deletes back a little more each round lets either
    # side win some rounds. The assertions hold whichever wins.
    DELETE_DELAYS = (0, 0.005, 0.01, 0.02, 0.04)

    def race(self, deletes=8, creates=8):
        """Per round a new COMPLETED parent, deleted and extended at once;
        yields (parent row, its children rows, delete and create
        results)."""
        for delay in self.DELETE_DELAYS:
            instance = self.add_instance()
            parent = self.create_backup(instance.id)
            self.complete(parent['id'])
            calls = (
                [self.delete_backup(base.PROJECT, parent['id'],
                                    delay)] * deletes +
                [self.post_backup(base.PROJECT, instance=instance.id,
                                  parent_id=parent['id'])] * (creates // 2) +
                [self.post_backup(base.PROJECT, instance=instance.id,
                                  incremental=1)] * (creates - creates // 2))
            results = self.run_together(calls)
            delete_results = results[:deletes]
            create_results = results[deletes:]
            parent_row = self.rows(Backup.id == parent['id'])[0]
            children = self.rows(Backup.parent_id == parent['id'])
            accepted = [body['backup'] for status, body in create_results
                        if status == 202]
            # One running backup per instance, whatever its parent.
            self.assertLessEqual(len(accepted), 1)
            new_rows = self.rows(Backup.instance_id == instance.id,
                                 Backup.id != parent['id'])
            self.assertEqual([b['id'] for b in accepted],
                             [row.id for row in new_rows])
            for row in new_rows:
                # Only a parent being deleted turns incremental into full.
                if row.parent_id is None:
                    self.assertEqual('full', row.backup_type)
                    self.assertIsNotNone(parent_row.delete_requested_at)
                else:
                    self.assertEqual(parent['id'], row.parent_id)
                    self.assertEqual('incremental', row.backup_type)
            # Refused creates leave nothing behind in the quota.
            self.assertEqual(len(self.rows(Backup.project_id ==
                                           base.PROJECT)),
                             self.usage(base.PROJECT))
            yield parent_row, children, delete_results, create_results

    def test_delete_refused_while_a_new_incremental_runs(self):
        # Default running_backups_expires: a NEW child blocks the delete,
        # and a parent being deleted takes no new child. Whichever came
        # first, exactly one of the two happened.
        for parent, children, deletes, creates in self.race():
            self.assertOnly({202, 422}, deletes)
            self.assertOnly({202, 422}, creates)
            marked = parent.delete_requested_at is not None
            self.assertNotEqual(marked, bool(children),
                                (parent, children, deletes, creates))
            if marked:
                self.assertIn(202, [s for s, _ in deletes])
                self.assertEqual([], children)
            else:
                self.assertEqual({422}, {s for s, _ in deletes})
                self.assertEqual(1, len(children))
                self.assertIsNone(children[0].delete_requested_at)

    def test_delete_marks_every_incremental_that_got_in(self):
        # With running_backups_expires = 0 only a child created after the
        # delete request started counts as running: most deletes pass
        # while children race in, and any child that got in before the
        # mark must have been marked with its parent.
        self.conf.set_override('running_backups_expires', 0)
        for parent, children, deletes, creates in self.race():
            self.assertOnly({202, 422}, deletes)
            self.assertOnly({202, 422}, creates)
            for status, body in deletes:
                if status == 422:
                    self.assertIn('is running',
                                  body['unprocessableEntity']['message'])
            if 202 in [status for status, _ in deletes]:
                self.assertIsNotNone(parent.delete_requested_at)
            self.assertLessEqual(len(children), 1)
            if parent.delete_requested_at is not None:
                for child in children:
                    self.assertIsNotNone(child.delete_requested_at,
                                         (parent, children, deletes,
                                          creates))


(TestOneRunningBackup_sqlite, TestOneRunningBackup_mysql,
 TestOneRunningBackup_postgresql) = base.for_each_backend(
    _OneRunningBackupTests, __name__)
(TestQuota_sqlite, TestQuota_mysql,
 TestQuota_postgresql) = base.for_each_backend(_QuotaTests, __name__)
(TestDeleteRace_sqlite, TestDeleteRace_mysql,
 TestDeleteRace_postgresql) = base.for_each_backend(
    _DeleteRaceTests, __name__)
