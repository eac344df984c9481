#!/usr/bin/env python3
"""Writes api-ref/source/samples/*.json from real responses of the API.

The API runs in this process on a fresh SQLite database with the test
fixtures (noauth; casts go over the in-memory transport to a worker that
only records them). Where a sample needs a COMPLETED backup, this script
sets status, size, checksum and location in the database as the worker does
when an agent reports a stored backup. Every response body is written
exactly as returned: ids and timestamps change from run to run.

Run from the top of the checkout:

    .venv/bin/python tools/capture-api-samples.py
"""

import json
import logging
import os
import sys

import oslo_messaging as messaging
from oslo_config import cfg
from oslo_utils import timeutils
import requests
import sqlalchemy as sa

from trove_backup_ext import conf as backup_conf
from trove_backup_ext import context as backup_context
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import models
from trove_backup_ext.tests import service_fixtures
from trove_backup_ext.worker import rpcapi as worker_rpcapi

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

    def __init__(self, conf, database, client):
        self.conf = conf
        self.engine = database.engine
        self.client = client

    def finish_backup(self, backup_id, size):
        """What the worker does when an agent reports a stored backup."""
        location = 'file://%s/%s/%s/manifest' % (
            LOCAL_STORAGE_DIR, self.conf.backup_swift_container, backup_id)
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(models.Backup)
                .where(models.Backup.id == backup_id)
                .values(status='COMPLETED', size=size, location=location,
                        checksum='5d41402abc4b2a76b9719d911017c592',
                        running_instance_id=None,
                        updated=timeutils.utcnow()))

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
        self.create('backup-create-parent', {'backup': {
            'name': 'hourly-2026-11-28T12',
            'instance': instance_id,
            'parent_id': incremental['id'],
            'description': 'Changes since hourly-2026-11-28T11'}})

        first_page = self.client.call('GET', '/backups?limit=2', 200)
        write('backup-list-response.json', first_page)
        next_href = first_page['links'][0]['href']
        write('backup-list-last-page-response.json', self.client.call(
            'GET', '/backups?' + next_href.split('?', 1)[1], 200))
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


def main():
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
        database = use(service_fixtures.Database('sqlite'))
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
        try:
            Samples(conf, database, client).run(instance.id, stopped.id)
            # A fresh instance, so only the failed cast can refuse it.
            spare = instances_db.add(admin, {
                'id': '5c7e9a1b-3d5f-4b7a-9c1e-2f4a6c8e0b3d',
                'name': 'audit-db', 'project_id': PROJECT,
                'datastore': 'mariadb', 'datastore_version': '10.11',
                'status': 'ACTIVE'})
            capture_unavailable(conf, spare.id)
        finally:
            client.close()
    finally:
        for fixture in reversed(fixtures_):
            fixture.cleanUp()
    return 0


if __name__ == '__main__':
    sys.exit(main())
