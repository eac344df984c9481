"""The real `openstack database backup` commands work against the API."""

import json
import os
import subprocess
import sys

import fixtures
import sqlalchemy as sa

from trove_backup_ext.db import models
from trove_backup_ext.tests import base
from trove_backup_ext.tests.functional import test_troveclient

OPENSTACK = os.path.join(sys.prefix, 'bin', 'openstack')
# OSC takes 1-2 s to start; a hung call must not hang the suite.
CLI_TIMEOUT = 60
MISSING_ID = '3f0c4b57-86a1-4c0b-a1f3-1d1c2e6a9b10'


class OpenStackClientTestCase(base.FunctionalTestCase):

    # Small pages, so that a default list has to follow next links.
    conf_overrides = {'backups_page_size': 3}

    def setUp(self):
        super().setUp()
        self.log = test_troveclient.RequestLog(self.api.server.application)
        self.api.server.application = self.log
        self.home = self.useFixture(fixtures.TempDir()).path
        self.instance = self.add_instance()

    def openstack(self, *args, expect=0):
        """Run `openstack database backup ARGS` with auth_type none."""
        # Nothing of the caller's cloud (OS_*, clouds.yaml, proxies) leaks in.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_') and 'proxy' not in k.lower()}
        env.update(HOME=self.home, OS_AUTH_TYPE='none',
                   OS_ENDPOINT='%s/v1.0/%s' % (self.api.endpoint,
                                               base.PROJECT))
        result = subprocess.run([OPENSTACK, 'database', 'backup', *args],
                                env=env, capture_output=True, text=True,
                                timeout=CLI_TIMEOUT, check=False)
        self.assertEqual(expect, result.returncode,
                         'stdout: %s\nstderr: %s' % (result.stdout,
                                                     result.stderr))
        return result

    def openstack_json(self, *args):
        return json.loads(self.openstack(*args, '-f', 'json').stdout)

    def completed_backup(self, name, instance=None):
        """A backup made over HTTP and finished as the worker would."""
        backup = self.create_backup((instance or self.instance).id,
                                    name=name)
        self.complete(backup['id'])
        return backup['id']

    def gets_of(self, path):
        """The query of each GET the CLI sent to path."""
        full_path = '/v1.0/%s%s' % (base.PROJECT, path)
        return [query for method, p, query, _ in self.log.requests
                if method == 'GET' and p == full_path]


class TestCreateAndShow(OpenStackClientTestCase):

    def test_create_then_show_by_id_and_by_name(self):
        created = self.openstack_json(
            'create', 'nightly', '--instance', self.instance.id,
            '--description', 'before upgrade')

        # OSC flattens the datastore into three columns.
        self.assertEqual('mysql', created['datastore'])
        self.assertEqual('10.11', created['datastore_version'])
        self.assertTrue(created['datastore_version_id'])
        self.assertEqual('NEW', created['status'])
        self.assertEqual('nightly', created['name'])
        self.assertEqual('before upgrade', created['description'])
        self.assertEqual(self.instance.id, created['instance_id'])
        self.assertEqual(base.PROJECT, created['project_id'])
        self.assertIsNone(created['parent_id'])
        self.assertEqual(
            {'id', 'name', 'description', 'locationRef', 'instance_id',
             'created', 'updated', 'size', 'status', 'parent_id',
             'project_id', 'storage_driver', 'datastore',
             'datastore_version', 'datastore_version_id', 'progress',
             'verification', 'fault'},
            set(created))
        # One POST, no lazy-loading GET.
        self.assertEqual([('POST', '/v1.0/%s/backups' % base.PROJECT)],
                         self.log.calls())

        by_id = self.openstack_json('show', created['id'])
        by_name = self.openstack_json('show', 'nightly')

        self.assertEqual(created, by_id)
        self.assertEqual(created, by_name)
        # The name is resolved through the first page of the list.
        self.assertEqual([{}], self.gets_of('/backups'))

    def test_create_incremental_and_on_unknown_instance(self):
        full_id = self.completed_backup('full')

        incremental = self.openstack_json(
            'create', 'inc', '--instance', self.instance.id, '--incremental')
        failed = self.openstack('create', 'lost', '--instance', MISSING_ID,
                                expect=1)

        self.assertEqual(full_id, incremental['parent_id'])
        self.assertIn('Resource %s cannot be found.' % MISSING_ID,
                      failed.stderr)
        self.assertIn('HTTP 404', failed.stderr)

    def test_show_unknown_fails(self):
        result = self.openstack('show', MISSING_ID, expect=1)
        self.assertIn("No backup with a name or ID of '%s' exists."
                      % MISSING_ID, result.stderr)


class TestList(OpenStackClientTestCase):

    def test_list_follows_next_links_and_honours_limit(self):
        ids = [self.completed_backup('b%d' % n) for n in range(7)]

        listed = self.openstack_json('list')
        limited = self.openstack_json('list', '--limit', '2')

        self.assertEqual(ids[::-1], [row['ID'] for row in listed])
        self.assertEqual(
            ['ID', 'Instance ID', 'Name', 'Status', 'Parent ID', 'Updated',
             'Project ID'], list(listed[0]))
        self.assertEqual({base.PROJECT}, {r['Project ID'] for r in listed})
        self.assertEqual({'COMPLETED'}, {r['Status'] for r in listed})
        self.assertEqual(ids[:-3:-1], [row['ID'] for row in limited])
        # 3 + 3 + 1: two follow-up requests carrying only the marker, then
        # --limit 2 stops after its first page.
        queries = self.gets_of('/backups')
        self.assertEqual(4, len(queries), queries)
        self.assertEqual({}, queries[0])
        self.assertEqual([['marker'], ['marker']],
                         [sorted(q) for q in queries[1:3]])
        self.assertEqual({'limit': ['2']}, queries[3])

    def test_list_by_instance_keeps_the_filter_on_every_page(self):
        other = self.add_instance(name='other')
        mine = []
        for n in range(4):
            mine.append(self.completed_backup('mine%d' % n))
            self.completed_backup('other%d' % n, instance=other)

        listed = self.openstack_json('list', '--instance-id',
                                     self.instance.id)

        self.assertEqual(mine[::-1], [row['ID'] for row in listed])
        self.assertEqual({self.instance.id},
                         {row['Instance ID'] for row in listed})
        self.assertEqual(2, len(self.gets_of('/backups')))


class TestDelete(OpenStackClientTestCase):

    def test_delete_is_accepted(self):
        backup_id = self.completed_backup('nightly')

        result = self.openstack('delete', backup_id)

        self.assertEqual('Request to delete database backup %s has been '
                         'accepted.\n' % backup_id, result.stdout)
        self.assertTrue(test_troveclient.wait_for_cast(
            self.worker, ('delete_backup', backup_id)))
        with self.database.engine.connect() as connection:
            row = connection.execute(
                sa.select(models.Backup)
                .where(models.Backup.id == backup_id)).one()
        self.assertIsNotNone(row.delete_requested_at)

    def test_delete_unknown_fails_with_the_server_message(self):
        result = self.openstack('delete', MISSING_ID, expect=1)

        # OSC prints each item's error on stdout, then fails on stderr.
        self.assertIn('Resource %s cannot be found. (HTTP 404)' % MISSING_ID,
                      result.stdout)
        self.assertIn('Unable to delete the specified database backup(s).',
                      result.stderr)
