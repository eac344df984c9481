#!/usr/bin/env python3
"""Writes api-ref/source/samples/*.json from real responses of the API.

The API runs in this process on a fresh SQLite database with the test
fixtures (noauth; casts go over the in-memory transport to a worker that
only records them). Where a sample needs a COMPLETED backup, this script
moves it to COMPLETED with its size, checksum and location (the worker's
transition, as when an agent reports a stored backup). A running
backup's progress and the states of restores are made by the worker's
own code (its managers and reaper) from the reports an agent would
send; so are the results of
verifications (the worker's verification endpoint records the report an
agent sends, with the checks the drivers make). Every response body is
written exactly as returned: ids and timestamps change from run to run.

Run from the top of the checkout:

    .venv/bin/python tools/capture-api-samples.py

or, to write only the samples of one resource (so that the others keep
their ids and times), name it: ``backup-schedules`` or ``instances``.
"""

import datetime
import json
import logging
import os
import sys
import tempfile

import oslo_messaging as messaging
from oslo_config import cfg
from oslo_utils import timeutils
from oslo_utils import uuidutils
import requests

from trove_backup_ext.agent import progress as agent_progress
from trove_backup_ext.agent import runner as agent_runner
from trove_backup_ext.agent import verify_runner
from trove_backup_ext import conf as backup_conf
from trove_backup_ext import context as backup_context
from trove_backup_ext.db import backup_schedules as schedules_db
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import lifecycle
from trove_backup_ext.datastores import row_counts
from trove_backup_ext.db import restores as restores_db
from trove_backup_ext.db import verifications
from trove_backup_ext import notifications
from trove_backup_ext.pipeline import codec
from trove_backup_ext import policy
from trove_backup_ext import states
from trove_backup_ext.tests import service_fixtures
from trove_backup_ext.worker import manager as worker_manager
from trove_backup_ext.worker import reaper as worker_reaper
from trove_backup_ext.worker import restore_manager
from trove_backup_ext.worker import rpcapi as worker_rpcapi
from trove_backup_ext.worker import verify_manager

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       '..', 'api-ref', 'source', 'samples')
# A Keystone-style project id, and the host and port a deployment's clients
# would call; the API builds its next links from the Host header it gets.
PROJECT = 'e4a1c0f5d2b84f8c9a7f3b6d1e0c2a55'
HOST = '127.0.0.1:8779'
LOCAL_STORAGE_DIR = '/var/lib/trove-backup-ext/backups'


def write(name, body):
    path = os.path.join(SAMPLES, name)
    with open(path, 'w') as out:
        json.dump(body, out, indent=4, sort_keys=True)
        out.write('\n')
    print('wrote', os.path.relpath(path))


class Client:
    """Calls /v1.0/PROJECT/... of one API server, as a noauth caller."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.http = requests.Session()

    def call(self, method, path, expect, roles=None, **kwargs):
        headers = {'Host': HOST, 'Accept': 'application/json'}
        if roles:
            headers['X-Roles'] = roles
        response = self.http.request(
            method, '%s/v1.0/%s%s' % (self.endpoint, PROJECT, path),
            headers=headers, **kwargs)
        if response.status_code != expect:
            sys.exit('%s %s: expected %d, got %d: %s' % (
                method, path, expect, response.status_code, response.text))
        return response.json() if response.content else None

    def close(self):
        self.http.close()


class Samples:

    def __init__(self, conf, client, context):
        self.conf = conf
        self.client = client
        self.context = context

    def finish_backup(self, backup_id, size):
        """What the worker does when an agent reports a stored backup:
        one transition, which also frees the instance for its next
        operation."""
        location = 'file://%s/%s/%s/manifest' % (
            LOCAL_STORAGE_DIR, self.conf.backup_swift_container, backup_id)
        assert lifecycle.transition(
            self.context, backup_id, states.RUNNING, states.COMPLETED,
            size=size, location=location,
            checksum='5d41402abc4b2a76b9719d911017c592')

    def create(self, name, body, expect=202):
        write(name + '-request.json', body)
        response = self.client.call('POST', '/backups', expect, json=body)
        write(name + '-response.json', response)
        return response

    def run(self, instance_id, stopped_instance_id):
        full = self.create('backup-create', {'backup': {
            'name': 'nightly-2026-11-28',
            'instance': instance_id,
            'description': 'Nightly full backup of orders-db'}})['backup']
        self.finish_backup(full['id'], 0.14)
        write('backup-show-response.json',
              self.client.call('GET', '/backups/%s' % full['id'], 200))

        incremental = self.create('backup-create-incremental', {'backup': {
            'name': 'hourly-2026-11-28T11',
            'instance': instance_id,
            'incremental': 1}})['backup']
        write('backup-create-running-error.json', self.client.call(
            'POST', '/backups', 422, json={'backup': {
                'name': 'one-more', 'instance': instance_id}}))
        self.finish_backup(incremental['id'], 0.01)
        self.running_id = self.create('backup-create-parent', {'backup': {
            'name': 'hourly-2026-11-28T12',
            'instance': instance_id,
            'parent_id': incremental['id'],
            'description': 'Changes since hourly-2026-11-28T11'}}
        )['backup']['id']

        self.backup_ids = (full['id'], incremental['id'])
        first_page = self.client.call('GET', '/backups?limit=2', 200)
        write('backup-list-response.json', first_page)
        next_href = first_page['links'][0]['href']
        write('backup-list-last-page-response.json', self.client.call(
            'GET', '/backups?' + next_href.split('?', 1)[1], 200))
        self.conf.set_override('backups_page_size', 2)
        write('instance-backup-list-response.json', self.client.call(
            'GET', '/instances/%s/backups' % instance_id, 200))
        self.conf.clear_override('backups_page_size')
        write('instance-backup-list-not-found-error.json', self.client.call(
            'GET', '/instances/0c4e8a2f-6b1d-4f3a-9e5c-7d2b4f6a8c1e/backups',
            404))
        self.errors(instance_id, stopped_instance_id, full['id'])

    def errors(self, instance_id, stopped_instance_id, full_id):
        write('backup-create-unknown-field-error.json', self.client.call(
            'POST', '/backups', 400, json={'backup': {
                'name': 'nightly', 'instance': instance_id,
                'incremental': True, 'compression': 'zstd'}}))
        write('backup-create-restore-from-error.json', self.client.call(
            'POST', '/backups', 400, json={'backup': {
                'name': 'imported', 'restore_from': {
                    'remote_location': 'http://swift.example.com/v1/'
                                       'AUTH_x/database_backups/x.enc',
                    'local_datastore_version_id':
                        '0f3a5e2c-4b6d-4e8f-9a1b-2c3d4e5f6a7b',
                    'size': 0.2}}}))
        write('backup-create-instance-not-active-error.json',
              self.client.call('POST', '/backups', 422, json={'backup': {
                  'name': 'nightly', 'instance': stopped_instance_id}}))
        write('backup-list-bad-marker-error.json', self.client.call(
            'GET', '/backups?marker=20', 400))
        write('backup-list-all-projects-forbidden-error.json',
              self.client.call('GET', '/backups?all_projects=true', 403))
        write('backup-show-not-found-error.json', self.client.call(
            'GET', '/backups/8a0c1e0e-6f57-4d38-9d1c-1f1b5f9b1a11', 404))
        self.conf.set_override('max_backups_per_tenant', 3)
        write('backup-create-quota-error.json', self.client.call(
            'POST', '/backups', 413, json={'backup': {
                'name': 'weekly', 'instance': instance_id}}))
        self.conf.clear_override('max_backups_per_tenant')
        write('backup-delete-running-error.json', self.client.call(
            'DELETE', '/backups/%s' % full_id, 422))


class RestoreSamples:
    """Restores, and a running backup's progress. The API's casts go to
    the recording worker; what the real worker does next (claim a run,
    apply an agent's reports, reap) is done here by the worker's own
    code."""

    def __init__(self, conf, client, context):
        self.conf = conf
        self.client = client
        self.context = context
        notifier = notifications.Notifier(conf, 'trove-backup-worker')
        self.backups = worker_manager.WorkerManager(conf, None, None,
                                                    notifier)
        self.restores = restore_manager.RestoreManager(conf, None, None,
                                                       notifier)

    @staticmethod
    def progress(done, total, seconds):
        """What an agent's heartbeat reports after seconds."""
        clock = iter([0.0, float(seconds)]).__next__
        progress = agent_progress.Progress(total, clock=clock)
        progress.add(done)
        return progress.snapshot()

    def show(self, name, kind, item_id):
        write(name, self.client.call('GET', '/%ss/%s' % (kind, item_id),
                                     200))

    def backup_progress(self, backup_id, instance_id):
        """A running backup with its progress; returns the agent's final
        report, to send once the samples of a running backup are taken."""
        attempt = uuidutils.generate_uuid()
        assert lifecycle.claim(self.context, backup_id, attempt)
        assert self.backups.update_backup(
            self.context, instance_id, backup_id, states.BUILDING,
            attempt_id=attempt,
            progress=self.progress(1436549120, 3758096384, 20))
        self.show('backup-show-building-response.json', 'backup', backup_id)
        return lambda: self.backups.update_backup(
            self.context, instance_id, backup_id, states.COMPLETED,
            attempt_id=attempt, stored_size=16777216,
            checksum=('9f86d081884c7d659a2feaa0c55ad015'
                      'a3bf4f1b2b0b822cd15d6c15b0f00a08'),
            location='file://%s/%s/%s/manifest' % (
                LOCAL_STORAGE_DIR, self.conf.backup_swift_container,
                backup_id))

    def restore(self, name, path, body, expect=202):
        write(name + '-request.json', body)
        response = self.client.call('POST', path, expect, json=body)
        write(name + '-response.json', response)
        return response['restore']

    def report(self, restore, status, **fields):
        """The agent of the target reports on the worker's run."""
        return self.restores.update_restore(
            self.context, restore['instance_id'], restore['id'], status,
            restores_db.find(self.context, restore['id']).attempt_id,
            **fields)

    def claim(self, restore):
        assert restores_db.claim(self.context, restore['id'],
                                 uuidutils.generate_uuid())

    def run(self, full_id, incremental_id, running_id, source, target):
        call = self.client.call
        complete = self.backup_progress(running_id, source)
        write('restore-create-not-completed-error.json', call(
            'POST', '/restores', 422, json={'restore': {
                'backup_id': running_id, 'instance_id': target}}))
        assert complete()
        first = self.restore('restore-create', '/restores', {'restore': {
            'backup_id': full_id, 'instance_id': target}})
        write('backup-delete-restoring-error.json',
              call('DELETE', '/backups/%s' % full_id, 422))
        write('restore-create-busy-error.json', call(
            'POST', '/restores', 422, json={'restore': {
                'backup_id': incremental_id, 'instance_id': target}}))
        self.claim(first)
        assert self.report(first, states.RESTORING, progress=self.progress(
            96468992, 150323855, 4))
        self.show('restore-show-restoring-response.json', 'restore',
                  first['id'])
        assert self.report(first, states.COMPLETED)
        self.show('restore-show-response.json', 'restore', first['id'])

        second = self.restore(
            'backup-restore', '/backups/%s/restore' % incremental_id,
            {'restore': {'instance_id': target}})
        self.claim(second)
        page = call('GET', '/restores?limit=1', 200)
        write('restore-list-response.json', page)
        write('restore-list-last-page-response.json', call(
            'GET', '/restores?' + page['links'][0]['href'].split('?', 1)[1],
            200))
        # Nothing reports on the second run: the reaper fails it.
        reaper = worker_reaper.Reaper(self.conf, self.backups,
                                      lambda: self.context,
                                      restores=self.restores)
        reaper.run_once(now=timeutils.utcnow() + datetime.timedelta(
            seconds=self.conf.worker.backup_timeout + 1))
        self.show('restore-show-failed-response.json', 'restore',
                  second['id'])

    def errors(self, full_id, source, other_line, stopped):
        call = self.client.call
        restore = {'backup_id': full_id, 'instance_id': other_line}
        write('restore-create-release-line-error.json', call(
            'POST', '/restores', 422, json={'restore': restore}))
        write('restore-create-instance-not-active-error.json', call(
            'POST', '/restores', 422, json={'restore': dict(
                restore, instance_id=stopped)}))
        write('restore-create-not-found-error.json', call(
            'POST', '/restores', 404, json={'restore': dict(
                restore, backup_id='8a0c1e0e-6f57-4d38-9d1c-1f1b5f9b1a11')}))
        write('restore-create-bad-body-error.json', call(
            'POST', '/backups/%s/restore' % full_id, 400, json={
                'restore': {'instance': source, 'target': '/srv/db'}}))
        write('restore-list-all-projects-forbidden-error.json',
              call('GET', '/restores?all_projects=true', 403))
        write('restore-show-not-found-error.json', call(
            'GET', '/restores/4b1d7c2e-9a3f-4e6b-8c5d-2f7a9e1b3c6d', 404))


class VerifySamples:
    """Verifications. The API's cast goes to the recording worker; what
    the real worker does next (claim the run, record the agent's report
    and notify) is done here by the worker's own verification endpoint,
    with the checks the MariaDB driver reports."""

    def __init__(self, conf, client, context):
        self.conf = conf
        self.client = client
        self.context = context
        self.verifier = verify_manager.VerifyManager(
            conf, None, notifications.Notifier(conf, 'trove-backup-worker'))

    def verify(self, backup_id, expect=202, **kwargs):
        return self.client.call('POST', '/backups/%s/verify' % backup_id,
                                expect, **kwargs)

    def report(self, backup_id, status, details):
        """The agent of the backup's instance reports on the run the
        worker claimed."""
        attempt = uuidutils.generate_uuid()
        assert verifications.claim(self.context, backup_id, attempt)
        backup = lifecycle.get(self.context, backup_id)
        assert self.verifier.update_verification(
            self.context, backup.instance_id, backup_id, status, attempt,
            details=details)

    def run(self, full_id, incremental_id, running_id):
        call = self.client.call
        write('backup-verify-request.json', {})
        started = self.verify(full_id, json={})
        write('backup-verify-response.json', started)
        write('backup-verify-running-error.json',
              self.verify(full_id, 409))
        # What the MariaDB driver checks on the throw-away server: CHECK
        # TABLE of every table, then the row counts recorded at backup
        # time (exact: nothing was written while it ran).
        counts = {'shop.customers': 1204, 'shop.order_lines': 48311,
                  'shop.orders': 15782}
        self.report(full_id, states.VERIFY_PASSED, verify_runner.details_json(
            [{'check': 'check_table', 'ok': True,
              'detail': 'CHECK TABLE: %d tables OK' % len(counts)},
             row_counts.check({'row_counts': counts,
                               'row_counts_exact': True}, counts)]))
        write('backup-show-verified-response.json',
              call('GET', '/backups/%s' % full_id, 200))
        # A damaged object: the restore into the scratch place stops at
        # the first chunk that does not read back whole.
        self.verify(incremental_id)
        damaged = codec.IntegrityError(
            reason='object %s/objects/00000001 in container %s ends '
                   'before its chunk at offset 3170304' % (
                       incremental_id, self.conf.backup_swift_container))
        self.report(incremental_id, states.VERIFY_FAILED,
                    verify_runner.details_json(
                        error=agent_runner.describe_failure(damaged)))
        write('backup-show-verification-failed-response.json',
              call('GET', '/backups/%s' % incremental_id, 200))

    def errors(self, full_id, running_id):
        """Refusals, while running_id is still NEW."""
        write('backup-verify-bad-body-error.json', self.verify(
            full_id, 400, json={'verify': {'tables': ['shop.orders']}}))
        write('backup-verify-not-found-error.json', self.verify(
            '8a0c1e0e-6f57-4d38-9d1c-1f1b5f9b1a11', 404))
        write('backup-verify-not-completed-error.json',
              self.verify(running_id, 422))

    def last(self, full_id):
        """Refusals that change the backups for good: run after every
        other sample is taken."""
        # A deployer who lets only administrators verify (verifications
        # cost I/O and scratch space on the database host).
        with tempfile.NamedTemporaryFile('w', suffix='.yaml') as rules:
            rules.write('"backup:verify": "rule:admin"\n')
            rules.flush()
            self.conf.set_override('policy_file', rules.name,
                                   group='oslo_policy')
            policy.reset()
            policy.init(self.conf)
            try:
                write('backup-verify-forbidden-error.json',
                      self.verify(full_id, 403))
            finally:
                self.conf.clear_override('policy_file', group='oslo_policy')
                policy.reset()
                policy.init(self.conf)
        self.client.call('DELETE', '/backups/%s' % full_id, 202)
        write('backup-verify-deleting-error.json',
              self.verify(full_id, 422))


class ScheduleSamples:
    """Backup schedules. A schedule's runs and their results are written
    with the data functions the worker's scheduler uses (claim_slot,
    record_run_result); its backups are made over the API and finished
    as in Samples."""

    def __init__(self, conf, client, context):
        self.conf = conf
        self.client = client
        self.context = context
        self.backups = Samples(conf, client, context)

    def create(self, name, body, expect=201):
        write(name + '-request.json', body)
        response = self.client.call('POST', '/backup_schedules', expect,
                                    json=body)
        write(name + '-response.json', response)
        return response['backup_schedule']

    def scheduled_backup(self, schedule, instance_id, slot):
        """A COMPLETED full backup made by the schedule's run of slot."""
        backup = self.client.call('POST', '/backups', 202, json={
            'backup': {'name': '%s-%s' % (schedule['name'],
                                          slot.strftime('%Y%m%dT%H%M')),
                       'instance': instance_id}})['backup']
        self.backups.finish_backup(backup['id'], 0.14)
        assert schedules_db.claim_slot(self.context, schedule['id'], slot,
                                       schedules_db.FULL,
                                       backup_id=backup['id'])
        assert schedules_db.record_run_result(
            self.context, schedule['id'], slot, states.COMPLETED,
            backup['id'])
        return backup

    def run(self, instance_id, other_instance_id):
        call = self.client.call
        nightly = self.create('backup-schedule-create', {'backup_schedule': {
            'name': 'orders-nightly',
            'description': 'Full at 02:00, incremental every hour',
            'instance_id': instance_id,
            'full_cron': '0 2 * * *',
            'incremental_cron': '0 * * * *',
            'timezone': 'Europe/Berlin',
            'retention': {'keep_last': 2, 'keep_daily': 7,
                          'keep_weekly': 4, 'keep_monthly': 12}}})
        # Two slots on 2 December (Berlin time): keep_daily keeps the
        # later, keep_last the two newest, so the preview deletes the
        # earlier one.
        day = datetime.datetime(2026, 12, 1, 1, 0)
        for hours in (0, 24, 36, 48):
            self.scheduled_backup(nightly, instance_id,
                                  day + datetime.timedelta(hours=hours))
        write('backup-schedule-show-response.json', call(
            'GET', '/backup_schedules/%s' % nightly['id'], 200))
        write('backup-schedule-retention-preview-response.json', call(
            'GET', '/backup_schedules/%s/retention_preview' % nightly['id'],
            200))
        self.create('backup-schedule-create-minimal', {'backup_schedule': {
            'name': 'reports-weekly', 'instance_id': other_instance_id,
            'full_cron': '30 3 * * sun'}})
        page = call('GET', '/backup_schedules?limit=1', 200)
        write('backup-schedule-list-response.json', page)
        write('backup-schedule-list-last-page-response.json', call(
            'GET', '/backup_schedules?' +
            page['links'][0]['href'].split('?', 1)[1], 200))
        # The nightly schedule's last success is days old by now (its
        # period is an hour: the incremental cron); the weekly one is new.
        write('backup-schedule-health-response.json', call(
            'GET', '/backup_schedules/health?limit=20', 200, roles='admin'))
        write('backup-schedule-health-forbidden-error.json', call(
            'GET', '/backup_schedules/health', 403))
        patch = {'backup_schedule': {
            'incremental_cron': '0 */4 * * *',
            'retention': {'keep_last': None, 'keep_yearly': 3}}}
        write('backup-schedule-update-request.json', patch)
        write('backup-schedule-update-response.json', call(
            'PATCH', '/backup_schedules/%s' % nightly['id'], 200,
            json=patch))
        write('backup-schedule-disable-request.json',
              {'backup_schedule': {'enabled': False}})
        write('backup-schedule-disable-response.json', call(
            'PATCH', '/backup_schedules/%s' % nightly['id'], 200,
            json={'backup_schedule': {'enabled': False}}))
        self.errors(instance_id, nightly['id'])
        assert call('DELETE', '/backup_schedules/%s' % nightly['id'],
                    204) is None

    def errors(self, instance_id, schedule_id):
        call = self.client.call

        def create_error(name, expect, **fields):
            write(name, call('POST', '/backup_schedules', expect, json={
                'backup_schedule': dict({
                    'name': 'nightly', 'instance_id': instance_id,
                    'full_cron': '0 2 * * *'}, **fields)}))

        create_error('backup-schedule-create-bad-cron-error.json', 400,
                     full_cron='0 2 * *')
        create_error('backup-schedule-create-bad-timezone-error.json', 400,
                     timezone='Europe/Paris ')
        create_error('backup-schedule-create-bad-retention-error.json', 400,
                     retention={'keep_daily': -1, 'keep_hourly': 24})
        create_error('backup-schedule-create-instance-not-found-error.json',
                     404, instance_id='0c4e8a2f-6b1d-4f3a-9e5c-7d2b4f6a8c1e')
        write('backup-schedule-update-immutable-error.json', call(
            'PATCH', '/backup_schedules/%s' % schedule_id, 400, json={
                'backup_schedule': {
                    'instance_id': '0c4e8a2f-6b1d-4f3a-9e5c-7d2b4f6a8c1e'}}))
        write('backup-schedule-list-all-projects-forbidden-error.json',
              call('GET', '/backup_schedules?all_projects=true', 403))
        write('backup-schedule-show-not-found-error.json', call(
            'GET', '/backup_schedules/7e1c3a5b-9d2f-4e6a-8b0c-1d3f5a7c9e2b',
            404))


def capture_schedules(conf, client, admin):
    orders = instances_db.add(admin, {
        'id': '1e3a5c7e-9b2d-4f6a-8c0e-2b4d6f8a0c3e',
        'name': 'orders-db-eu', 'project_id': PROJECT,
        'datastore': 'mariadb', 'datastore_version': '10.11',
        'status': 'ACTIVE'})
    reports = instances_db.add(admin, {
        'id': '8f0b2d4e-6a8c-4e0a-9b2d-4f6a8c0e2b5d',
        'name': 'reports-db-eu', 'project_id': PROJECT,
        'datastore': 'postgresql', 'datastore_version': '16',
        'status': 'ACTIVE'})
    ScheduleSamples(conf, client, admin).run(orders.id, reports.id)


def capture_instances(client, admin):
    """The instances list and show, of the registry's instances."""
    instances_db.add(admin, {
        'id': '7a9c1e3f-5b7d-4f9a-8c2e-4d6f8a0c2e6f',
        'name': 'billing-db', 'project_id': PROJECT,
        'datastore': 'postgresql', 'datastore_version': '16',
        'status': 'ACTIVE'})
    first_page = client.call('GET', '/instances?limit=2', 200)
    write('instance-list-response.json', first_page)
    write('instance-show-response.json', client.call(
        'GET', '/instances/%s' % first_page['instances'][0]['id'], 200))
    write('instance-show-not-found-error.json', client.call(
        'GET', '/instances/0c4e8a2f-6b1d-4f3a-9e5c-7d2b4f6a8c1e', 404))
    write('instance-list-all-projects-forbidden-error.json', client.call(
        'GET', '/instances?all_projects=true', 403))


def unreachable_worker_api():
    """A worker client on a RabbitMQ address where nothing listens, without
    retries: its casts fail the way they do when the bus is down."""
    conf = cfg.ConfigOpts()
    backup_conf.register_opts(conf)
    conf([], project='trove-backup-ext', default_config_files=[])
    conf.set_override('transport_url', 'rabbit://guest:guest@127.0.0.1:9/')
    conf.set_override('rpc_cast_retry', 0, group='api')
    return worker_rpcapi.WorkerAPI(conf, messaging.get_rpc_transport(conf))


def capture_unavailable(conf, instance_id):
    api = service_fixtures.APIServer(conf, worker_api=unreachable_worker_api())
    api.setUp()
    client = Client(api.endpoint)
    try:
        write('backup-create-unavailable-error.json', client.call(
            'POST', '/backups', 503, json={'backup': {
                'name': 'nightly', 'instance': instance_id}}))
    finally:
        client.close()
        api.cleanUp()


def main(only=None):
    # The 503 sample makes a cast fail on purpose; its traceback in the log
    # is expected, not news.
    logging.getLogger('trove_backup_ext').setLevel(logging.CRITICAL)
    logging.getLogger('oslo.messaging').setLevel(logging.CRITICAL)
    os.makedirs(SAMPLES, exist_ok=True)
    fixtures_ = []

    def use(fixture):
        fixture.setUp()
        fixtures_.append(fixture)
        return fixture

    try:
        conf = use(service_fixtures.Conf()).conf
        use(service_fixtures.Database('sqlite'))
        use(service_fixtures.WorkerServer(conf))
        api = use(service_fixtures.APIServer(conf))
        admin = backup_context.get_admin_context()
        instance = instances_db.add(admin, {
            'id': '3f9c1b2e-7a4d-4c1e-8b5f-6d2a9e0c4b17',
            'name': 'orders-db', 'project_id': PROJECT,
            'datastore': 'mariadb', 'datastore_version': '10.11',
            'status': 'ACTIVE'})
        stopped = instances_db.add(admin, {
            'id': '9b2d4f6a-1c3e-4a5b-8d7f-0e2c4a6b8d9f',
            'name': 'reports-db', 'project_id': PROJECT,
            'datastore': 'postgresql', 'datastore_version': '16',
            'status': 'SHUTDOWN'})
        client = Client(api.endpoint)
        if only == 'backup-schedules':
            try:
                capture_schedules(conf, client, admin)
            finally:
                client.close()
            return 0
        if only == 'instances':
            try:
                capture_instances(client, admin)
            finally:
                client.close()
            return 0
        try:
            samples = Samples(conf, client, admin)
            samples.run(instance.id, stopped.id)
            verify = VerifySamples(conf, client, admin)
            verify.errors(samples.backup_ids[0], samples.running_id)
            verify.run(*samples.backup_ids, samples.running_id)
            restores = RestoreSamples(conf, client, admin)
            copy = instances_db.add(admin, {
                'id': '6d8f0b2c-4e6a-4c8e-9f1b-3a5c7e9d1f4b',
                'name': 'orders-db-copy', 'project_id': PROJECT,
                'datastore': 'mariadb', 'datastore_version': '10.11.6',
                'status': 'ACTIVE'})
            newer = instances_db.add(admin, {
                'id': '2a4c6e8f-0b1d-4f3a-8c5e-7b9d1f3a5c7e',
                'name': 'orders-db-11', 'project_id': PROJECT,
                'datastore': 'mariadb', 'datastore_version': '11.4',
                'status': 'ACTIVE'})
            restores.errors(samples.backup_ids[0], instance.id, newer.id,
                            stopped.id)
            restores.run(*samples.backup_ids, samples.running_id,
                         instance.id, copy.id)
            # A fresh instance, so only the failed cast can refuse it.
            spare = instances_db.add(admin, {
                'id': '5c7e9a1b-3d5f-4b7a-9c1e-2f4a6c8e0b3d',
                'name': 'audit-db', 'project_id': PROJECT,
                'datastore': 'mariadb', 'datastore_version': '10.11',
                'status': 'ACTIVE'})
            capture_unavailable(conf, spare.id)
            verify.last(samples.backup_ids[0])
            # Last: its backups would show in the backup lists above.
            capture_schedules(conf, client, admin)
            capture_instances(client, admin)
        finally:
            client.close()
    finally:
        for fixture in reversed(fixtures_):
            fixture.cleanUp()
    return 0


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:]))
