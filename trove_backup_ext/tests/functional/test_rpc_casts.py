"""The API's casts: a bus that is down, real RabbitMQ, version caps."""

import time
import uuid

import fixtures
import oslo_messaging as messaging
import sqlalchemy as sa

from trove_backup_ext.api import app
from trove_backup_ext.db import backups as backups_db
from trove_backup_ext.db import models
from trove_backup_ext import exception
from trove_backup_ext import rpc
from trove_backup_ext.tests import base
from trove_backup_ext.tests import service_fixtures
from trove_backup_ext.worker import rpcapi as worker_rpcapi

Backup = models.Backup
RABBIT_URL = 'rabbit://guest:guest@127.0.0.1:5672/'


class _CastTestCase(base.FunctionalTestCase):

    def api_with(self, transport):
        """An API server (same conf and database) casting on transport."""
        return self.useFixture(service_fixtures.APIServer(
            self.conf,
            worker_api=worker_rpcapi.WorkerAPI(self.conf, transport)))

    def row(self, backup_id):
        with self.database.engine.connect() as connection:
            return connection.execute(
                sa.select(Backup).where(Backup.id == backup_id)).one()

    def rows(self, *where):
        with self.database.engine.connect() as connection:
            return list(connection.execute(sa.select(Backup).where(*where)))

    def usage(self, project=base.PROJECT):
        return backups_db.usage(self.admin_context, project)

    def wait_for_calls(self, worker, count):
        # Delivery happens in the RPC server's thread.
        deadline = time.monotonic() + 30
        while len(worker.calls) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(worker.calls)


class UnreachableWorkerTest(_CastTestCase):
    """down_api casts to a RabbitMQ port nobody listens on; bus_api is the
    same API (same database) on the working in-memory bus."""

    conf_overrides = {'api.rpc_cast_retry': 0}

    def setUp(self):
        super().setUp()
        self.bus_api = self.api
        # With retry 0 the refused connection fails the cast at once: no
        # [oslo_messaging_rabbit] option is needed to make it fast.
        closed = 'rabbit://guest:guest@127.0.0.1:%d/' % (
            service_fixtures.free_port())
        transport = messaging.get_rpc_transport(self.conf, url=closed)
        self.addCleanup(transport.cleanup)
        self.down_api = self.api = self.api_with(transport)

    def assertUnavailable(self, response):
        self.assertFault(response, 503, 'serviceUnavailable',
                         'could not be sent to the backup worker')

    def post(self, **fields):
        return self.request('POST', '/backups', json={
            'backup': dict({'name': 'backup'}, **fields)})

    def test_create_gives_back_the_row_and_the_quota(self):
        self.conf.set_override('max_backups_per_tenant', 1)
        instance = self.add_instance()
        for _ in range(3):
            self.assertUnavailable(self.post(instance=instance.id))
            self.assertEqual([], self.rows())
            self.assertEqual(0, self.usage())

        # Neither the quota slot nor the instance's running slot leaked.
        self.api = self.bus_api
        created = self.create_backup(instance.id)
        self.assertEqual(1, self.usage())
        self.assertEqual([('create_backup', created['id'])],
                         self.wait_for_calls(self.worker, 1))

    def test_incremental_create_leaves_the_parent_usable(self):
        instance = self.add_instance()
        self.api = self.bus_api
        parent = self.create_backup(instance.id)
        self.complete(parent['id'])

        self.api = self.down_api
        for fields in ({'parent_id': parent['id']}, {'incremental': 1}):
            self.assertUnavailable(self.post(instance=instance.id,
                                             **fields))
            self.assertEqual([parent['id']],
                             [row.id for row in self.rows()])
            self.assertEqual(1, self.usage())

        self.api = self.bus_api
        child = self.create_backup(instance.id, incremental=1)
        self.assertEqual(parent['id'], child['parent_id'])
        self.assertEqual(2, self.usage())

    def test_delete_clears_only_its_own_marks(self):
        instance = self.add_instance()
        self.api = self.bus_api
        tree = {'parent': self.create_backup(instance.id)['id']}
        self.complete(tree['parent'])
        for name, parent in (('child', 'parent'), ('grandchild', 'child'),
                             ('sibling', 'parent')):
            tree[name] = self.create_backup(
                instance.id, name=name, parent_id=tree[parent])['id']
            self.complete(tree[name])
        # An earlier delete request, which did reach the worker.
        response = self.request('DELETE', '/backups/%s' % tree['sibling'])
        self.assertEqual(202, response.status_code, response.text)
        sibling_mark = self.row(tree['sibling']).delete_requested_at
        self.assertIsNotNone(sibling_mark)

        self.api = self.down_api
        self.assertUnavailable(
            self.request('DELETE', '/backups/%s' % tree['parent']))
        for name in ('parent', 'child', 'grandchild'):
            self.assertIsNone(self.row(tree[name]).delete_requested_at,
                              name)
        self.assertEqual(sibling_mark,
                         self.row(tree['sibling']).delete_requested_at)
        self.assertEqual(4, self.usage())

        self.api = self.bus_api
        response = self.request('DELETE', '/backups/%s' % tree['parent'])
        self.assertEqual(202, response.status_code, response.text)
        for name in ('parent', 'child', 'grandchild'):
            self.assertIsNotNone(self.row(tree[name]).delete_requested_at,
                                 name)
        casts = self.wait_for_calls(self.worker, 6)
        self.assertEqual([('delete_backup', tree['sibling']),
                          ('delete_backup', tree['parent'])],
                         [call for call in casts
                          if call[0] == 'delete_backup'])


class RabbitMQCastTest(_CastTestCase):
    """HTTP requests to casts over the machine's real RabbitMQ."""

    def setUp(self):
        super().setUp()
        # A topic's queue is named after the topic alone, in any exchange:
        # a unique control_exchange keeps exchanges apart, but two test
        # processes would still share (and steal from) one worker queue.
        # So the topic is unique too, and queues go when the test ends.
        unique = 'tbe-test-%s' % uuid.uuid4().hex[:12]
        self.conf.set_override('transport_url', RABBIT_URL)
        self.conf.set_override('control_exchange', unique)
        self.conf.set_override('amqp_auto_delete', True,
                               group='oslo_messaging_rabbit')
        self.useFixture(fixtures.MonkeyPatch(
            'trove_backup_ext.rpc.WORKER_TOPIC', unique))
        transport = rpc.get_transport(self.conf)
        self.addCleanup(transport.cleanup)
        self.rabbit_worker = service_fixtures.RecordingWorker()
        server = messaging.get_rpc_server(
            transport, messaging.Target(topic=unique, server='test'),
            [self.rabbit_worker], executor='threading',
            serializer=rpc.RequestContextSerializer())
        server.start()
        self.addCleanup(server.wait)
        self.addCleanup(server.stop)
        self.api = self.api_with(transport)

    def test_create_and_delete_arrive_with_the_callers_context(self):
        instance = self.add_instance()
        response = self.request('POST', '/backups', json={
            'backup': {'name': 'over-rabbit', 'instance': instance.id}},
            headers={'X-User-Id': 'user-7'})
        self.assertEqual(202, response.status_code, response.text)
        backup_id = response.json()['backup']['id']
        self.assertEqual([('create_backup', backup_id)],
                         self.wait_for_calls(self.rabbit_worker, 1))
        self.assertContext(self.rabbit_worker.contexts[0], response,
                           base.PROJECT, 'user-7', ['member'])

        self.complete(backup_id)
        response = self.request('DELETE', '/backups/%s' % backup_id)
        self.assertEqual(202, response.status_code, response.text)
        self.assertEqual([('create_backup', backup_id),
                          ('delete_backup', backup_id)],
                         self.wait_for_calls(self.rabbit_worker, 2))
        self.assertContext(self.rabbit_worker.contexts[1], response,
                           base.PROJECT, 'noauth', ['member'])
        # Nothing went to the in-memory bus.
        self.assertEqual([], self.worker.calls)

    def test_admin_delete_carries_the_admins_project(self):
        instance = self.add_instance()
        backup = self.create_backup(instance.id)
        self.complete(backup['id'])
        response = self.request('DELETE', '/backups/%s' % backup['id'],
                                project=base.ADMIN_PROJECT, roles='admin')
        self.assertEqual(202, response.status_code, response.text)
        self.assertEqual([('create_backup', backup['id']),
                          ('delete_backup', backup['id'])],
                         self.wait_for_calls(self.rabbit_worker, 2))
        self.assertContext(self.rabbit_worker.contexts[1], response,
                           base.ADMIN_PROJECT, 'noauth', ['admin'],
                           is_admin=True)

    def assertContext(self, context, response, project_id, user_id, roles,
                      is_admin=False):
        """context: the dict RecordingWorker made of the one it got."""
        self.assertEqual(
            (project_id, user_id, roles, is_admin,
             response.headers['x-openstack-request-id']),
            (context['project_id'], context['user'], context['roles'],
             context['is_admin'], context['request_id']))


class UpgradeLevelTest(_CastTestCase):
    """[upgrade_levels] worker caps what the API sends."""

    def api_capped_at(self, level):
        self.conf.set_override('worker', level, group='upgrade_levels')
        transport = rpc.get_transport(self.conf)
        self.addCleanup(transport.cleanup)
        worker_api = worker_rpcapi.WorkerAPI(self.conf, transport)
        self.api = self.useFixture(service_fixtures.APIServer(
            self.conf, worker_api=worker_api))
        return worker_api

    def test_release_alias_and_1_0_still_cast(self):
        instance = self.add_instance()
        sent = []
        for level in ('2027.1', '1.0'):
            worker_api = self.api_capped_at(level)
            self.assertTrue(worker_api.can_send_version('1.0'))
            backup = self.create_backup(instance.id)
            self.complete(backup['id'])
            response = self.request('DELETE', '/backups/%s' % backup['id'])
            self.assertEqual(202, response.status_code, response.text)
            sent += [('create_backup', backup['id']),
                     ('delete_backup', backup['id'])]
        self.assertEqual(sent, self.wait_for_calls(self.worker, 4))

    def test_cap_below_1_0_sends_nothing_and_changes_nothing(self):
        instance = self.add_instance()
        worker_api = self.api_capped_at('0.9')
        self.assertFalse(worker_api.can_send_version('1.0'))
        response = self.request('POST', '/backups', json={
            'backup': {'name': 'capped', 'instance': instance.id}})
        self.assertFault(response, 503, 'serviceUnavailable')
        self.assertEqual([], self.rows())
        self.assertEqual(0, self.usage())
        self.assertEqual([], self.worker.calls)

    def test_unknown_release_name_stops_the_api_at_start_up(self):
        self.conf.set_override('worker', '2026.2', group='upgrade_levels')
        self.assertRaises(exception.ConfigurationError,
                          app.setup_app, self.conf)
