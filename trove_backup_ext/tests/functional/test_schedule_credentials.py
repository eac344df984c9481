"""Scheduled backups in the owner's Swift account, for real.

The schedule's own application credentials (schedule_credentials.py),
made by the API from its creator's token, store, prune, restore and
delete its backups; the scheduler fires with an injected time. Real
Keystone and Swift, as test_storage_credentials.
"""

import logging
import sqlite3
import uuid

import fixtures
from oslo_upgradecheck import upgradecheck
import requests

from trove_backup_ext import app_credentials
from trove_backup_ext.db import backup_schedules as schedules_db
from trove_backup_ext.db import lifecycle
from trove_backup_ext.db import storage_credentials as credentials_db
from trove_backup_ext import exception
from trove_backup_ext import schedule_credentials
from trove_backup_ext import states
from trove_backup_ext import upgrade_checks
from trove_backup_ext.tests.functional import test_storage_credentials as sc
from trove_backup_ext.tests.functional import test_swift_trusts as real
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import keystone_fixture as ks


class ScheduleCredentialTest(sc.OwnerAccountFixture):

    def create_schedule(self, token, **fields):
        return self.api_call('POST', token.id, '/backup_schedules', json={
            'backup_schedule': dict({
                'name': 'hourly', 'instance_id': self.instance.id,
                'full_cron': '0 * * * *', 'retention': {'keep_last': 1}},
                **fields)})

    def fire(self, schedule_id):
        """One scheduler pass at the schedule's next slot; its backup."""
        schedule = schedules_db.find(self.context, schedule_id)
        counts = self.worker.scheduler.run_once(now=schedule.next_run)
        self.assertEqual(1, counts['fired'], counts)
        return schedules_db.find(self.context, schedule_id).last_run_backup_id

    def objects(self, backup_id):
        _, listing = self.owner.get_container(self.container,
                                              full_listing=True)
        return [e['name'] for e in listing
                if e['name'].startswith(backup_id + '/')]

    def test_schedule_stores_prunes_restores_and_deletes_in_owner_account(
            self):
        logs = [self.useFixture(fixtures.FakeLogger(
            name=name, level=logging.DEBUG))
            for name in ('trove_backup_ext', 'oslo_messaging')]
        token = self.users.add('member', ks.PROJECT_A)
        response = self.create_schedule(token)
        self.assertEqual(201, response.status_code, response.text)
        schedule_id = response.json()['backup_schedule']['id']
        rows = credentials_db.of_schedule(self.context, schedule_id)
        self.assertEqual({'write', 'read', 'delete'}, set(rows))
        for row in rows.values():
            self.assertNotIn(row.credential_id, response.text)
            shown = self.keystone_credential(row)
            self.assertEqual((False, {'member', 'reader'}, None),
                             (shown['unrestricted'],
                              {r['name'] for r in shown['roles']},
                              shown['expires_at']))
            self.assertEqual({'object-store'}, {
                rule['service'] for rule in shown['access_rules']})
        write, read, delete = (app_credentials.issue_token(
            self.conf, rows[phase])['token'] for phase in
            ('write', 'read', 'delete'))
        prefix = schedule_credentials.id_prefix(schedule_id)
        # A token of the schedule's credentials reaches nothing of
        # Keystone, nothing of this API, no other container, and no
        # backup the schedule did not make (a backup made by hand, or
        # another schedule's, in the same container).
        for restricted in (write, read, delete):
            for path in ('/projects', '/users/' + token.user_id,
                         '/auth/projects'):
                self.assert_refused(requests.get(
                    self.keystone + path, timeout=30,
                    headers={'X-Auth-Token': restricted}).status_code)
            self.assert_refused(requests.post(
                '%s/users/%s/application_credentials' % (
                    self.keystone, token.user_id), timeout=30,
                headers={'X-Auth-Token': restricted},
                json={'application_credential': {'name': 'x'}}).status_code)
            self.assertEqual(401, self.api_call('GET', restricted,
                                                '/backups').status_code)
            self.assertEqual(401, self.api_call(
                'GET', restricted, '/backup_schedules').status_code)
            self.assert_refused(self.swift('GET', restricted,
                                           '/%s/secret' % self.other))
            self.assert_refused(self.swift('PUT', restricted,
                                           '/%s/x' % self.other))
            self.assert_refused(self.swift('GET', restricted, ''))
        # The API made the container with the creator's token; none of
        # the schedule's tokens may touch it (its metadata would open
        # every backup in it).
        for restricted in (write, read, delete):
            self.assert_refused(self.swift(
                'PUT', restricted, '/' + self.container,
                **{'X-Container-Read': '.r:*'}))
            self.assert_refused(self.swift(
                'POST', restricted, '/' + self.container,
                **{'X-Container-Meta-Temp-URL-Key': 'k'}))
        mine = '/%s/%s0000-000000000000/probe' % (self.container, prefix)
        self.assertEqual(201, self.swift('PUT', write, mine))
        for other_backup in (str(uuid.uuid4()), schedule_credentials.
                             slot_backup_id(str(uuid.uuid4()), 'run')):
            self.assert_refused(self.swift(
                'PUT', write, '/%s/%s/probe' % (self.container,
                                                other_backup)))
        self.assertEqual(200, self.swift('GET', read, mine))
        self.assert_refused(self.swift('PUT', read, mine))
        self.assert_refused(self.swift('DELETE', write, mine))
        self.assertEqual(204, self.swift('DELETE', delete, mine))

        # The first slot fires: the backup lands in the owner's account.
        self.useFixture(ef.Agent(self.agent_conf, self.instance.id))
        first = self.fire(schedule_id)
        self.assertTrue(first.startswith(prefix), first)
        shown = self.wait_backup(token, first, states.COMPLETED,
                                 states.FAILED)
        self.assertEqual(states.COMPLETED, shown['status'],
                         lifecycle.get(self.context, first).fail_reason)
        self.assertEqual('%s/%s/%s/manifest' % (
            self.account, self.container, first), shown['locationRef'])
        self.assertTrue(self.objects(first))
        # The next one, and keep_last 1 prunes the first, whose objects
        # the worker deletes with the schedule's delete credential.
        second = self.fire(schedule_id)
        self.assertEqual(states.COMPLETED, self.wait_backup(
            token, second, states.COMPLETED, states.FAILED)['status'],
            lifecycle.get(self.context, second).fail_reason)
        ef.wait_for(lambda: self.api_call(
            'GET', token.id, '/backups/' + first).status_code == 404,
            timeout=90)
        self.assertEqual([], self.objects(first))
        self.assertTrue(self.objects(second))

        # The schedule goes: its write credential with it (nothing runs);
        # read and delete stay for its backup, which still restores.
        self.assertEqual(204, self.api_call(
            'DELETE', token.id, '/backup_schedules/' + schedule_id
        ).status_code)
        self.assertIsNone(self.keystone_credential(rows['write']))
        # (Swift's auth_token may take the write token used above until
        # its token_cache_time; Keystone makes no new one.)
        self.assertRaises(exception.ServiceUnavailable,
                          app_credentials.issue_token, self.conf,
                          rows['write'])
        self.assertEqual({'read', 'delete'}, set(
            credentials_db.of_schedule(self.context, schedule_id)))
        before = real.digest(self.live)
        with sqlite3.connect(self.live) as connection:
            connection.execute('DELETE FROM items WHERE id > 10')
        response = self.api_call('POST', token.id, '/restores', json={
            'restore': {'backup_id': second,
                        'instance_id': self.instance.id}})
        self.assertEqual(202, response.status_code, response.text)
        restore_id = response.json()['restore']['id']
        restore = ef.wait_for(lambda: (lambda shown: shown if shown[
            'status'] in (states.COMPLETED, states.FAILED) else None)(
            self.api_call('GET', token.id, '/restores/' + restore_id
                          ).json()['restore']), timeout=90)
        self.assertEqual(states.COMPLETED, restore['status'], restore)
        self.assertEqual(before, real.digest(self.live))

        # Its last backup goes: so do the credentials, for good.
        read = app_credentials.issue_token(self.conf, rows['read'])['token']
        self.assertEqual(202, self.api_call('DELETE', token.id,
                                            '/backups/' + second
                                            ).status_code)
        ef.wait_for(lambda: self.api_call(
            'GET', token.id, '/backups/' + second).status_code == 404,
            timeout=90)
        self.assertEqual([], self.objects(second))
        ef.wait_for(lambda: not credentials_db.of_schedule(self.context,
                                                           schedule_id),
                    timeout=30)
        for row in rows.values():
            self.assertIsNone(self.keystone_credential(row))
        self.assert_refused(self.swift('GET', read, '/%s/%s/manifest' % (
            self.container, second)))
        self.assertRaises(exception.ServiceUnavailable,
                          app_credentials.issue_token, self.conf,
                          rows['delete'])
        output = ''.join(log.output for log in logs)
        self.assertIn(schedule_id, output)
        for row in rows.values():
            for secret in (row.credential_id, app_credentials.secret(
                    self.conf.swift, row.id, row.key_id)):
                self.assertNotIn(secret, output)
        for issued in (write, read, delete):
            self.assertNotIn(issued, output)

    def test_no_credential_no_schedule(self):
        token = self.users.add('member', ks.PROJECT_A)
        # A token of a (restricted) application credential cannot make
        # the schedule's: 403, naming why, and nothing is written.
        made = requests.post(
            '%s/users/%s/application_credentials' % (self.keystone,
                                                     token.user_id),
            headers={'X-Auth-Token': token.id}, timeout=30,
            json={'application_credential': {
                'name': 'tbe-%s' % uuid.uuid4().hex[:8],
                'secret': 'sec-' + uuid.uuid4().hex}})
        self.assertEqual(201, made.status_code, made.text)
        credential = made.json()['application_credential']
        auth = requests.post(self.keystone + '/auth/tokens', timeout=30,
                             json={'auth': {'identity': {
                                 'methods': ['application_credential'],
                                 'application_credential': {
                                     'id': credential['id'],
                                     'secret': credential['secret']}}}})
        self.assertEqual(201, auth.status_code, auth.text)
        restricted = ks.Token(auth.headers['X-Subject-Token'],
                              token.user_id, token.project_id, ['member'])
        response = self.create_schedule(restricted)
        self.assertEqual(403, response.status_code, response.text)
        self.assertIn('application credential',
                      response.json()['forbidden']['message'])
        self.assertEqual([], self.api_call(
            'GET', token.id, '/backup_schedules').json()['backup_schedules'])
        self.assertEqual([], credentials_db.left_over(self.context))
        # A reader cannot delegate a role Swift lets write: 403 too.
        reader = self.users.add('reader', ks.PROJECT_A)
        self.assertEqual(403, self.create_schedule(reader).status_code)
        # Trusts cannot serve schedules: 422 naming the setting.
        self.conf.set_override('owner_account_credentials', 'trust',
                               group='swift')
        response = self.create_schedule(token)
        self.assertEqual(422, response.status_code, response.text)
        self.assertIn('owner_account_credentials', response.text)
        self.assertEqual([], self.api_call(
            'GET', token.id, '/backup_schedules').json()['backup_schedules'])

    def test_schedule_without_credential_skips_and_patch_gives_one(self):
        token = self.users.add('member', ks.PROJECT_A)
        response = self.create_schedule(token)
        schedule_id = response.json()['backup_schedule']['id']
        # As a schedule made before the upgrade: none.
        for row in credentials_db.of_schedule(self.context,
                                              schedule_id).values():
            app_credentials.revoke(self.conf, self.context, row)
        schedule = schedules_db.find(self.context, schedule_id)
        counts = self.worker.scheduler.run_once(now=schedule.next_run)
        self.assertEqual((0, 1), (counts['fired'], counts['skipped']))
        run, = schedules_db.list_runs(self.context, schedule_id)
        self.assertIn('no storage credential', run.reason)
        # trove-backup-status upgrade check names it.
        result = upgrade_checks.Checks(self.conf)._check_schedules()
        self.assertEqual(upgradecheck.Code.WARNING, result.code)
        self.assertIn(schedule_id, result.details)
        self.assertIn('--enable', result.details)
        self.assertEqual([], [b for b in self.api_call(
            'GET', token.id, '/backups').json()['backups']])
        response = self.api_call(
            'PATCH', token.id, '/backup_schedules/' + schedule_id,
            json={'backup_schedule': {'enabled': True}})
        self.assertEqual(200, response.status_code, response.text)
        self.assertEqual({'write', 'read', 'delete'}, set(
            credentials_db.of_schedule(self.context, schedule_id)))
        self.assertNotIn(schedule_id, upgrade_checks.Checks(
            self.conf)._check_schedules().details)
        backup_id = self.fire(schedule_id)
        self.assertTrue(backup_id.startswith(
            schedule_credentials.id_prefix(schedule_id)))

    def test_incremental_chains_to_the_schedule_and_restores(self):
        self.useFixture(fixtures.FakeLogger(name='trove_backup_ext',
                                            level=logging.DEBUG))
        token = self.users.add('member', ks.PROJECT_A)
        response = self.create_schedule(token, full_cron='0 0 1 1 *',
                                        incremental_cron='0 * * * *',
                                        retention={})
        self.assertEqual(201, response.status_code, response.text)
        schedule_id = response.json()['backup_schedule']['id']
        self.useFixture(ef.Agent(self.agent_conf, self.instance.id))
        full = self.fire(schedule_id)
        shown = self.wait_backup(token, full, states.COMPLETED,
                                 states.FAILED)
        self.assertEqual((states.COMPLETED, None),
                         (shown['status'], shown['parent_id']))
        # A backup by hand is now the instance's newest; the schedule's
        # credentials cannot read it, so its incremental's parent is the
        # schedule's own newest.
        by_hand, rows = self.create(token)
        self.assertEqual({'write', 'read', 'delete'}, set(rows))
        self.assertEqual(states.COMPLETED, self.wait_backup(
            token, by_hand, states.COMPLETED, states.FAILED)['status'])
        with sqlite3.connect(self.live) as connection:
            connection.execute("INSERT INTO items VALUES (-1, 'new')")
        after = real.digest(self.live)
        child = self.fire(schedule_id)
        shown = self.wait_backup(token, child, states.COMPLETED,
                                 states.FAILED)
        self.assertEqual((states.COMPLETED, full),
                         (shown['status'], shown['parent_id']),
                         lifecycle.get(self.context, child).fail_reason)
        with sqlite3.connect(self.live) as connection:
            connection.execute('DELETE FROM items')
        response = self.api_call('POST', token.id, '/restores', json={
            'restore': {'backup_id': child,
                        'instance_id': self.instance.id}})
        self.assertEqual(202, response.status_code, response.text)
        restore_id = response.json()['restore']['id']
        restore = ef.wait_for(lambda: (lambda shown: shown if shown[
            'status'] in (states.COMPLETED, states.FAILED) else None)(
            self.api_call('GET', token.id, '/restores/' + restore_id
                          ).json()['restore']), timeout=90)
        self.assertEqual(states.COMPLETED, restore['status'], restore)
        self.assertEqual(after, real.digest(self.live))
