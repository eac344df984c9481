"""The real clients on the compatibility routes: `openstack database backup
list instance` and `openstack database backup strategy create|list|delete`,
and python-troveclient's instances.backups and backup_strategies."""

import json
import re

import sqlalchemy as sa
from troveclient import exceptions as trove_exc

from trove_backup_ext.db import models
from trove_backup_ext.tests import base
from trove_backup_ext.tests.functional import test_openstackclient
from trove_backup_ext.tests.functional import test_troveclient

_INSTANCE_SHOW = re.compile(r'^/v1\.0/[^/]+/instances/([^/]+)$')


class TroveInstanceShow:
    """Stands in for Trove's GET /instances/{id}, which is not ours
    (DESIGN 2f; inside Trove's pipeline Trove answers it). OSC resolves
    the instance of `backup list instance` with it before asking us for
    /instances/{id}/backups."""

    def __init__(self, application, instances):
        self.application = application
        self.instances = {instance.id: instance for instance in instances}

    def __call__(self, environ, start_response):
        match = _INSTANCE_SHOW.match(environ['PATH_INFO'])
        if environ['REQUEST_METHOD'] != 'GET' or match is None:
            return self.application(environ, start_response)
        instance = self.instances.get(match.group(1))
        if instance is None:
            status, body = '404 Not Found', {'itemNotFound': {
                'code': 404, 'message': 'Trove stand-in: not found'}}
        else:
            status, body = '200 OK', {'instance': {
                'id': instance.id, 'name': instance.name,
                'status': instance.status,
                'datastore': {'type': instance.datastore,
                              'version': instance.datastore_version}}}
        start_response(status, [('Content-Type', 'application/json')])
        return [json.dumps(body).encode()]


class TestOpenStackClient(test_openstackclient.OpenStackClientTestCase):

    def test_backup_list_instance_follows_next_links(self):
        other = self.add_instance(name='other')
        self.api.server.application = TroveInstanceShow(
            self.log, [self.instance, other])
        ids = [self.completed_backup('b%d' % n) for n in range(4)]
        self.completed_backup('theirs', instance=other)

        listed = self.openstack_json('list', 'instance', self.instance.id)
        limited = self.openstack_json('list', 'instance', self.instance.id,
                                      '--limit', '2')

        self.assertEqual(ids[::-1], [row['ID'] for row in listed])
        self.assertEqual(['ID', 'Instance ID', 'Name', 'Status',
                          'Parent ID', 'Updated'], list(listed[0]))
        self.assertEqual({self.instance.id},
                         {row['Instance ID'] for row in listed})
        self.assertEqual(ids[:-3:-1], [row['ID'] for row in limited])
        # Page size 3: a page, then one more with only the marker.
        queries = self.gets_of('/instances/%s/backups' % self.instance.id)
        self.assertEqual([{}, ['marker'], {'limit': ['2']}],
                         [queries[0], sorted(queries[1]), queries[2]])

    def test_backup_strategy_create_list_delete(self):
        created = self.openstack_json('strategy', 'create',
                                      '--instance-id', self.instance.id,
                                      '--swift-container', 'db1-backups')
        self.openstack('strategy', 'create',
                       '--swift-container', 'team-backups')
        listed = self.openstack_json('strategy', 'list')
        by_instance = self.openstack_json('strategy', 'list',
                                          '--instance-id', self.instance.id)
        self.openstack('strategy', 'delete')
        after_delete = self.openstack_json('strategy', 'list')

        self.assertEqual({'backend': 'swift',
                          'instance_id': self.instance.id,
                          'project_id': base.PROJECT,
                          'swift_container': 'db1-backups'}, created)
        self.assertEqual(
            [{'Project ID': base.PROJECT, 'Instance ID': '',
              'Swift Container': 'team-backups'},
             {'Project ID': base.PROJECT, 'Instance ID': self.instance.id,
              'Swift Container': 'db1-backups'}], listed)
        self.assertEqual([listed[1]], by_instance)
        self.assertEqual([listed[1]], after_delete)
        # A new backup of the instance goes to its strategy's container.
        backup_id = self.completed_backup('nightly')
        self.assertEqual('db1-backups', self._container_of(backup_id))

    def test_backup_strategy_create_without_container_fails(self):
        result = self.openstack('strategy', 'create', expect=1)
        self.assertIn("'swift_container' is a required property",
                      result.stderr)
        self.assertIn('HTTP 400', result.stderr)

    def _container_of(self, backup_id):
        with self.database.engine.connect() as connection:
            return connection.execute(
                sa.select(models.Backup.container)
                .where(models.Backup.id == backup_id)).scalar_one()


class TestTroveClient(test_troveclient.TroveClientTestCase):

    conf_overrides = {'backups_page_size': 2}

    def test_instance_backups_pages(self):
        client = self.client()
        ids = []
        for number in range(3):
            backup = client.backups.create('b%d' % number, self.instance.id)
            self.complete(backup.id)
            ids.append(backup.id)

        first = client.instances.backups(self.instance.id)
        second = client.instances.backups(self.instance.id,
                                          marker=first.next)

        self.assertEqual(ids[:0:-1], [b.id for b in first])
        self.assertEqual(ids[:1], [b.id for b in second])
        self.assertIsNone(second.next)
        self.assertEqual(test_troveclient.BACKUP_KEYS, set(first[0]._info))
        self.assertRaises(trove_exc.NotFound, client.instances.backups,
                          self.add_instance(project_id=base.OTHER_PROJECT))

    def test_backup_strategies(self):
        client = self.client()

        created = client.backup_strategies.create(
            instance_id=self.instance.id, swift_container='db1')
        listed = client.backup_strategies.list()
        client.backup_strategies.delete(instance_id=self.instance.id)

        self.assertEqual('db1', created.swift_container)
        self.assertEqual([created._info], [s._info for s in listed])
        self.assertEqual([], client.backup_strategies.list())
        error = self.assertRaises(
            trove_exc.Forbidden, client.backup_strategies.list,
            project_id=base.OTHER_PROJECT)
        self.assertIn(base.OTHER_PROJECT, error.message)
