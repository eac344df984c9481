"""Verification: restore a backup into a scratch place and check it there."""

import datetime
import hashlib
import os
import threading
import time

import fixtures
from oslo_messaging.notify import _impl_test as test_notifier
from oslo_utils import timeutils
import requests

from trove_backup_ext import context as backup_context
from trove_backup_ext.datastores import base as datastore_base
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import lifecycle
from trove_backup_ext import states
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import service_fixtures

PROJECT = base.PROJECT
INSTANCE = '5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9'


def digest(path):
    with open(path, 'rb') as data:
        return hashlib.sha256(data.read()).hexdigest()


class _Verify:

    backend = 'sqlite'
    overrides = {}

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.store = os.path.join(self.tmp, 'store')
        self.scratch = os.path.join(self.tmp, 'scratch')
        self.live = ef.sample_sqlite_database(
            os.path.join(self.tmp, 'live.sqlite'), rows=20000)
        self.conf = self.useFixture(service_fixtures.Conf(**dict({
            'local_storage.storage_dir': self.store,
            'sqlite.database_path': self.live,
            'agent.datastore': 'sqlite',
            'agent.progress_interval': 1,
            'agent.chunk_size': 64 * 1024,
            'agent.scratch_dir': self.scratch,
            'oslo_messaging_notifications.driver': ['test'],
        }, **self.overrides))).conf
        test_notifier.reset()
        self.useFixture(service_fixtures.Database(self.backend))
        self.context = backup_context.get_admin_context()
        instances_db.add(self.context, {
            'id': INSTANCE, 'name': 'demo', 'project_id': PROJECT,
            'datastore': 'sqlite', 'datastore_version': '3',
            'status': 'ACTIVE'})
        self.worker = self.useFixture(ef.Worker(self.conf)).service
        self.agent = self.useFixture(ef.Agent(self.conf, INSTANCE)).service
        self.api = self.useFixture(service_fixtures.APIServer(self.conf))
        self.url = '%s/v1.0/%s/backups' % (self.api.endpoint, PROJECT)

    def backup(self):
        response = requests.post(self.url, json={'backup': {
            'name': 'b', 'instance': INSTANCE}})
        self.assertEqual(202, response.status_code, response.text)
        return self.wait(response.json()['backup']['id'],
                         lambda b: b['status'] in ('COMPLETED', 'FAILED'))

    def show(self, backup_id):
        return requests.get('%s/%s' % (self.url, backup_id)).json()['backup']

    def wait(self, backup_id, done):
        return ef.wait_for(lambda: (lambda b: b if done(b) else None)(
            self.show(backup_id)), timeout=90)

    def verify(self, backup_id, expect=202, **kwargs):
        response = requests.post('%s/%s/verify' % (self.url, backup_id),
                                 **kwargs)
        self.assertEqual(expect, response.status_code, response.text)
        return response

    def verified(self, backup_id):
        return self.wait(backup_id, lambda b: b['verification'] and
                         b['verification']['status'] != 'RUNNING'
                         )['verification']

    def events(self, backup_id):
        return [message['event_type']
                for _, message, _, _ in test_notifier.NOTIFICATIONS
                if message['payload'].get('backup_id') == backup_id and
                'verify' in message['event_type']]

    def objects(self, backup_id):
        return [f for f in ef.storage_files(self.store)
                if '/%s/objects/' % backup_id in f]


class _VerifyFlow(_Verify):

    def test_a_good_backup_passes_and_the_live_data_is_untouched(self):
        backup = self.backup()
        self.assertIsNone(backup['verification'])
        live_before = digest(self.live)
        started = self.verify(backup['id']).json()['backup']
        self.assertEqual('RUNNING', started['verification']['status'])
        verification = self.verified(backup['id'])
        self.assertEqual('PASSED', verification['status'], verification)
        checks = {c['check']: c for c in verification['details']['checks']}
        self.assertEqual({'integrity_check', 'row_counts'}, set(checks))
        self.assertTrue(all(c['ok'] for c in checks.values()))
        self.assertIn('20000 rows', checks['row_counts']['detail'])
        self.assertIsNotNone(verification['checked'])
        self.assertEqual(live_before, digest(self.live))
        self.assertEqual([], os.listdir(self.scratch))
        # Sent just after the row changes: waited for, not raced.
        self.assertEqual(['dbaas.backup_verify.end'], ef.wait_for(
            lambda: self.events(backup['id'])))

    def test_damaged_or_truncated_object_fails_naming_it(self):
        for damage in ('flip', 'truncate'):
            backup = self.backup()
            stored = sorted(self.objects(backup['id']))[0]
            if damage == 'flip':
                with open(stored, 'r+b') as data:
                    data.seek(64)
                    data.write(b'\xff' * 8)
            else:
                os.truncate(stored, os.path.getsize(stored) // 2)
            self.verify(backup['id'])
            verification = self.verified(backup['id'])
            self.assertEqual('FAILED', verification['status'], damage)
            self.assertIn(os.path.basename(stored),
                          verification['details']['error'])
            self.assertEqual(['dbaas.backup_verify.error'], ef.wait_for(
                lambda: self.events(backup['id'])))
            # A failed verification leaves the backup COMPLETED: it says
            # what was found, it does not decide for the user.
            self.assertEqual('COMPLETED', self.show(backup['id'])['status'])

    def test_refusals_change_nothing(self):
        backup = self.backup()
        self.verify(backup['id'], expect=400, json={'extra': 1})
        self.verify('4ad27d71-8e69-4e0c-9d5f-2b6a4dc0f111', expect=404)
        lifecycle.transition(self.context, backup['id'],
                             (states.COMPLETED,), states.FAILED)
        self.verify(backup['id'], expect=422)
        self.assertIsNone(self.show(backup['id'])['verification'])
        other = requests.post('%s/%s/verify' % (
            self.url.replace(PROJECT, base.OTHER_PROJECT), backup['id']))
        self.assertEqual(404, other.status_code)

    def test_one_verification_at_a_time(self):
        backup = self.backup()
        self.agent.stop()
        self.verify(backup['id'], json={})
        response = self.verify(backup['id'], expect=409)
        self.assertIn('being verified', response.json()['conflict'][
            'message'])
        # The agent is gone: the reaper ends it.
        later = timeutils.utcnow() + timeutils.datetime.timedelta(
            seconds=self.conf.worker.backup_timeout + 1)
        ef.wait_for(lambda: lifecycle.get(
            self.context, backup['id']).verification_attempt_id)
        self.assertEqual((1, 0), self.worker.reaper.run_once(now=later))
        verification = self.show(backup['id'])['verification']
        self.assertEqual('FAILED', verification['status'])
        self.assertIn('No sign of life', verification['details']['error'])

    def test_verifications_of_one_instance_wait_their_turn(self):
        first, second = self.backup(), self.backup()
        # The first verification's checks are held until released; the
        # worker sends every verify_backup to the agent twice (a repeated
        # delivery).
        datastore = self.agent.manager.verifier.datastore
        checks = datastore.verify
        held, release = threading.Event(), threading.Event()
        self.addCleanup(release.set)

        def held_checks(restored, metadata):
            held.set()
            release.wait(60)
            return checks(restored, metadata)

        agents = self.worker.verifier.agents
        cast = agents.verify_backup
        verify_checks = self.useFixture(fixtures.MockPatchObject(
            datastore, 'verify', side_effect=held_checks)).mock
        self.useFixture(fixtures.MockPatchObject(
            agents, 'verify_backup',
            side_effect=lambda *args: [cast(*args), cast(*args)][-1]))
        self.verify(first['id'])
        self.assertTrue(held.wait(60))
        self.verify(second['id'])
        ef.wait_for(lambda: lifecycle.get(
            self.context, second['id']).verification_attempt_id)
        # Longer than the reaper's window of silence below: the waiting
        # one lives by its own reports, not by its claim.
        window = 3
        for _ in range(3):
            time.sleep(window - 1)
            self.assertEqual((0, 0), self.worker.reaper.run_once(
                now=timeutils.utcnow() + datetime.timedelta(
                    seconds=self.conf.worker.backup_timeout - window)))
        self.assertEqual('RUNNING',
                         self.show(second['id'])['verification']['status'])
        self.assertEqual(1, verify_checks.call_count)
        release.set()
        for backup in (first, second):
            verification = self.verified(backup['id'])
            self.assertEqual('PASSED', verification['status'], verification)
            self.assertEqual(['dbaas.backup_verify.end'], ef.wait_for(
                lambda: self.events(backup['id'])))
        # Each checked once: the repeated messages were dropped.
        self.assertEqual(2, verify_checks.call_count)

    def test_a_stopped_agent_leaves_the_waiting_one_to_the_reaper(self):
        first, second = self.backup(), self.backup()
        datastore = self.agent.manager.verifier.datastore
        held, release = threading.Event(), threading.Event()
        self.addCleanup(release.set)

        def held_checks(restored, metadata):
            held.set()
            release.wait(60)
            return []

        self.useFixture(fixtures.MockPatchObject(
            datastore, 'verify', side_effect=held_checks))
        self.verify(first['id'])
        self.assertTrue(held.wait(60))
        self.verify(second['id'])
        # Queued on the agent: its thread waits for the first to end.
        [waiting] = ef.wait_for(lambda: [
            thread for thread in self.agent.manager.threads
            if thread.name == 'verify-%s' % second['id']])
        self.agent.stop()
        waiting.join(10)
        self.assertFalse(waiting.is_alive())
        # The running one still reports; the waiting one has gone silent,
        # and nothing of its own ends it.
        time.sleep(3)
        self.assertEqual((1, 0), self.worker.reaper.run_once(
            now=timeutils.utcnow() + datetime.timedelta(
                seconds=self.conf.worker.backup_timeout - 2)))
        verification = self.show(second['id'])['verification']
        self.assertEqual('FAILED', verification['status'])
        self.assertIn('No sign of life', verification['details']['error'])
        self.assertEqual('RUNNING',
                         self.show(first['id'])['verification']['status'])


class _VerifyAfterCreate(_Verify):

    overrides = {'backup.verify_after_create': True}

    def test_every_backup_is_verified(self):
        backup = self.backup()
        self.assertEqual('PASSED', self.verified(backup['id'])['status'])


class _VerifyOnTheWorker(_Verify):

    overrides = {'backup.verify_on': 'worker'}

    def test_the_worker_verifies_without_the_agent(self):
        backup = self.backup()
        self.agent.stop()
        self.verify(backup['id'])
        self.assertEqual('PASSED', self.verified(backup['id'])['status'])


class CompareCountsTest(base.TestCase):

    def test_counts_that_differ_are_named(self):
        check = datastore_base.compare_counts(
            {'a': 3, 'b': 2, 'gone': 1}, {'a': 3, 'b': 1, 'new': 4})
        self.assertFalse(check['ok'])
        self.assertEqual('b: 2 rows recorded, 1 restored; gone: 1 rows '
                         'recorded, no table restored; new: no table rows '
                         'recorded, 4 restored', check['detail'])
        self.assertTrue(datastore_base.compare_counts(
            {'a': 3}, {'a': 3})['ok'])


def _classes(mixin, backends):
    return [type('%s_%s' % (mixin.__name__.lstrip('_'), backend),
                 (mixin, base.TestCase),
                 {'backend': backend, '__module__': __name__})
            for backend in backends]


VerifyFlow_sqlite, VerifyFlow_postgresql = _classes(
    _VerifyFlow, ('sqlite', 'postgresql'))
(VerifyAfterCreate_sqlite,) = _classes(_VerifyAfterCreate, ('sqlite',))
(VerifyOnTheWorker_mysql,) = _classes(_VerifyOnTheWorker, ('mysql',))
