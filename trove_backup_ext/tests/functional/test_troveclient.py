"""python-troveclient, as users run it, drives the backups API end to end."""

import time
from urllib import parse

from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
import sqlalchemy as sa
from troveclient import exceptions as trove_exc
from troveclient.v1 import backups as trove_backups
from troveclient.v1 import client as trove_client

from trove_backup_ext.db import models
from trove_backup_ext.tests import base

# Every key of a backup, so the client never needs a lazy-loading GET.
BACKUP_KEYS = {'id', 'name', 'description', 'locationRef', 'instance_id',
               'created', 'updated', 'size', 'status', 'parent_id',
               'project_id', 'storage_driver', 'datastore', 'progress',
               'verification', 'fault'}


def wait_for_cast(worker, call, timeout=5):
    """Whether the recording worker got call; casts arrive on a thread."""
    deadline = time.monotonic() + timeout
    while call not in worker.calls and time.monotonic() < deadline:
        time.sleep(0.02)
    return call in worker.calls


class RequestLog:
    """WSGI middleware recording what each request asked for."""

    def __init__(self, application):
        self.application = application
        self.requests = []

    def __call__(self, environ, start_response):
        self.requests.append((environ['REQUEST_METHOD'],
                              environ['PATH_INFO'],
                              parse.parse_qs(environ.get('QUERY_STRING', '')),
                              environ.get('HTTP_X_AUTH_TOKEN')))
        return self.application(environ, start_response)

    def calls(self):
        return [(method, path) for method, path, _, _ in self.requests]


class TroveClientTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        # Wrapping the served app shows every request the client made.
        self.log = RequestLog(self.api.server.application)
        self.api.server.application = self.log
        self.instance = self.add_instance()

    def client(self, project=base.PROJECT, admin=False, token=None):
        """A troveclient on a keystoneauth session without Keystone: the
        noauth plugin (as OSC's auth_type none), or a fixed token."""
        endpoint = '%s/v1.0/%s' % (self.api.endpoint, project)
        if token is None:
            auth = noauth.NoAuth(endpoint=endpoint)
        else:
            auth = token_endpoint.Token(endpoint=endpoint, token=token)
        session = ks_session.Session(
            auth=auth,
            additional_headers={'X-Roles': 'admin'} if admin else None)
        return trove_client.Client(session=session)

    def complete(self, backup_id):
        super().complete(backup_id, size=0.5)

    def db_backup(self, backup_id):
        with self.database.engine.connect() as connection:
            return connection.execute(
                sa.select(models.Backup)
                .where(models.Backup.id == backup_id)).one()

    def backups_path(self, project=base.PROJECT):
        return '/v1.0/%s/backups' % project


class TestCreateAndGet(TroveClientTestCase):

    def test_create_returns_whole_backup_without_a_lazy_get(self):
        backup = self.client().backups.create(
            'nightly', self.instance.id, description='before upgrade')

        self.assertIsInstance(backup, trove_backups.Backup)
        self.assertEqual(BACKUP_KEYS, set(backup._info))
        # Reading every attribute must not trigger troveclient's lazy load.
        self.assertEqual('NEW', backup.status)
        self.assertEqual('nightly', backup.name)
        self.assertEqual('before upgrade', backup.description)
        self.assertEqual(self.instance.id, backup.instance_id)
        self.assertEqual(base.PROJECT, backup.project_id)
        self.assertIsNone(backup.parent_id)
        self.assertIsNone(backup.size)
        self.assertEqual('local', backup.storage_driver)
        self.assertEqual({'type': 'mysql', 'version': '10.11',
                          'version_id': self.db_backup(backup.id)
                          .datastore_version_id},
                         backup.datastore)
        self.assertFalse(backup.is_loaded)
        self.assertEqual([('POST', self.backups_path())], self.log.calls())
        self.assertEqual('notused', self.log.requests[0][3])
        self.assertTrue(wait_for_cast(self.worker,
                                      ('create_backup', backup.id)))
        self.assertEqual([('create_backup', backup.id)], self.worker.calls)

    def test_get_with_a_fixed_token(self):
        client = self.client(token='test-token')
        created = client.backups.create('nightly', self.instance.id)

        shown = client.backups.get(created.id)

        self.assertEqual(created._info, shown._info)
        self.assertTrue(shown.is_loaded)
        self.assertEqual(
            [('POST', self.backups_path()),
             ('GET', '%s/%s' % (self.backups_path(), created.id))],
            self.log.calls())
        self.assertEqual(['test-token', 'test-token'],
                         [token for _, _, _, token in self.log.requests])

    def test_incremental_takes_the_newest_completed_backup_as_parent(self):
        client = self.client()
        full = client.backups.create('full', self.instance.id)
        self.complete(full.id)

        incremental = client.backups.create('inc', self.instance.id,
                                            incremental=True)

        self.assertEqual(full.id, incremental.parent_id)
        self.assertEqual('NEW', incremental.status)
        self.assertEqual('incremental', self.db_backup(incremental.id)
                         .backup_type)
        self.assertEqual(full.id, client.backups.get(incremental.id)
                         .parent_id)

    def test_create_with_parent_id(self):
        client = self.client()
        full = client.backups.create('full', self.instance.id)
        self.complete(full.id)
        first = client.backups.create('inc1', self.instance.id,
                                      incremental=True)
        self.complete(first.id)

        # An explicit parent is taken as is (the client sends
        # incremental: 0 with it), not the newest completed backup.
        second = client.backups.create('inc2', self.instance.id,
                                       parent_id=full.id)

        self.assertEqual(full.id, second.parent_id)
        self.assertEqual(full.id, self.db_backup(second.id).parent_id)


class TestList(TroveClientTestCase):

    conf_overrides = {'backups_page_size': 3}

    def make_backups(self, count, instance=None, project=base.PROJECT):
        """count COMPLETED backups of instance, oldest first."""
        instance = instance or self.instance
        client = self.client(project=project)
        ids = []
        for number in range(count):
            backup = client.backups.create('b%d' % number, instance.id)
            self.complete(backup.id)
            ids.append(backup.id)
        return ids

    def test_list_filters_on_instance_and_datastore(self):
        postgres = self.add_instance(datastore='postgresql', version='16')
        mysql_ids = self.make_backups(2)
        postgres_ids = self.make_backups(1, instance=postgres)
        client = self.client()

        by_instance = client.backups.list(instance_id=self.instance.id)
        by_datastore = client.backups.list(datastore='postgresql')

        self.assertEqual(mysql_ids[::-1], [b.id for b in by_instance])
        self.assertEqual(postgres_ids, [b.id for b in by_datastore])
        self.assertIsNone(by_instance.next)
        self.assertEqual([], by_datastore.links)
        self.assertEqual(BACKUP_KEYS, set(by_instance[0]._info))
        _, _, query, _ = self.log.requests[-1]
        self.assertEqual({'datastore': ['postgresql']}, query)
        # A datastore nobody knows is "not found", as Trove says.
        error = self.assertRaises(trove_exc.NotFound, client.backups.list,
                                  datastore='NOT_FOUND')
        self.assertEqual("Datastore 'NOT_FOUND' cannot be found.",
                         error.message)

    def test_all_projects_needs_an_admin(self):
        own = self.make_backups(1)
        other_instance = self.add_instance(project_id=base.OTHER_PROJECT)
        other = self.make_backups(1, instance=other_instance,
                                  project=base.OTHER_PROJECT)
        admin = self.client(project=base.ADMIN_PROJECT, admin=True)

        everything = admin.backups.list(all_projects=True)
        one_project = admin.backups.list(project_id=base.OTHER_PROJECT)

        # The client sends the literal "True".
        self.assertEqual({'all_projects': ['True']}, self.log.requests[-2][2])
        self.assertEqual(set(own + other), {b.id for b in everything})
        self.assertEqual(other, [b.id for b in one_project])
        self.assertEqual([], admin.backups.list())
        error = self.assertRaises(trove_exc.Forbidden,
                                  self.client().backups.list,
                                  all_projects=True)
        self.assertIn('backup:index:all_projects', error.message)

    def test_limit_and_next_marker_walk_every_page(self):
        ids = self.make_backups(5)
        client = self.client()
        seen, pages = [], 0
        page = client.backups.list(limit=2)
        while True:
            pages += 1
            self.assertLessEqual(len(page), 2)
            seen.extend(b.id for b in page)
            if page.next is None:
                break
            page = client.backups.list(limit=2, marker=page.next)

        self.assertEqual(3, pages)
        self.assertEqual(ids[::-1], seen)

    def test_next_marker_without_limit_uses_the_page_size(self):
        # OSC and the trove CLI resend only the marker after page one.
        ids = self.make_backups(7)
        client = self.client()
        page = client.backups.list()
        seen = [b.id for b in page]
        while page.next is not None:
            page = client.backups.list(marker=page.next)
            self.assertLessEqual(len(page), 3)
            seen.extend(b.id for b in page)

        self.assertEqual(ids[::-1], seen)
        lists = [r for r in self.log.requests if r[0] == 'GET']
        self.assertEqual(3, len(lists))
        self.assertEqual(['marker'], list(lists[-1][2]))

    def test_a_backup_id_is_a_marker_too(self):
        ids = self.make_backups(4)

        page = self.client().backups.list(limit=2, marker=ids[2])

        self.assertEqual([ids[1], ids[0]], [b.id for b in page])
        self.assertIsNone(page.next)


class TestDelete(TroveClientTestCase):

    def test_delete_marks_the_backup_and_keeps_its_row(self):
        client = self.client()
        backup = client.backups.create('nightly', self.instance.id)
        self.complete(backup.id)

        self.assertIsNone(client.backups.delete(backup.id))

        self.assertIsNotNone(self.db_backup(backup.id).delete_requested_at)
        self.assertEqual(backup.id, client.backups.get(backup.id).id)
        self.assertEqual(('DELETE', '%s/%s' % (self.backups_path(),
                                               backup.id)),
                         self.log.calls()[1])
        self.assertTrue(wait_for_cast(self.worker,
                                      ('delete_backup', backup.id)))

    def test_delete_of_a_running_backup_is_refused(self):
        client = self.client()
        backup = client.backups.create('nightly', self.instance.id)

        error = self.assertRaises(trove_exc.UnprocessableEntity,
                                  client.backups.delete, backup.id)

        self.assertEqual(422, error.http_status)
        self.assertIn('because it is running', error.message)
        self.assertIsNone(self.db_backup(backup.id).delete_requested_at)

    def test_delete_unknown_is_not_found(self):
        error = self.assertRaises(trove_exc.NotFound,
                                  self.client().backups.delete,
                                  'nonexistent_backup')
        self.assertEqual('Resource nonexistent_backup cannot be found.',
                         error.message)


class TestErrors(TroveClientTestCase):

    def test_get_unknown_is_not_found(self):
        missing = '8d4d6c3c-1d5a-4a4e-9a43-6a8f3f0e2b11'
        client = self.client()
        error = self.assertRaises(trove_exc.NotFound, client.backups.get,
                                  missing)
        self.assertEqual('Resource %s cannot be found.' % missing,
                         error.message)
        self.assertRaises(trove_exc.NotFound, client.backups.get,
                          'nonexistent_backup')

    def test_another_projects_backup_is_not_found(self):
        backup = self.client().backups.create('nightly', self.instance.id)
        other = self.client(project=base.OTHER_PROJECT)
        self.assertRaises(trove_exc.NotFound, other.backups.get, backup.id)

    def test_create_on_unknown_instance_is_not_found(self):
        missing = 'e0b6e2c4-5d7b-4f0e-8d8a-2b7c3a1f9e01'
        error = self.assertRaises(trove_exc.NotFound,
                                  self.client().backups.create,
                                  'nightly', missing)
        self.assertIn(missing, error.message)
        self.assertEqual(404, error.http_status)

    def test_second_create_while_one_runs_is_unprocessable(self):
        client = self.client()
        client.backups.create('first', self.instance.id)

        error = self.assertRaises(trove_exc.UnprocessableEntity,
                                  client.backups.create,
                                  'second', self.instance.id)

        self.assertIn('is not currently available', error.message)
        self.assertEqual(1, len(client.backups.list()))

    def test_over_quota_is_request_entity_too_large(self):
        self.conf.set_override('max_backups_per_tenant', 1)
        client = self.client()
        backup = client.backups.create('first', self.instance.id)
        self.complete(backup.id)

        error = self.assertRaises(trove_exc.RequestEntityTooLarge,
                                  client.backups.create,
                                  'second', self.instance.id)

        self.assertEqual(413, error.http_status)
        self.assertIn("Quota exceeded for resources: ['backups']",
                      error.message)
        self.assertEqual([backup.id], [b.id for b in client.backups.list()])

    def test_bad_input_is_bad_request_with_the_reason(self):
        client = self.client()
        bad_name = self.assertRaises(trove_exc.BadRequest,
                                     client.backups.create,
                                     '!!!', self.instance.id)
        bad_instance = self.assertRaises(trove_exc.BadRequest,
                                         client.backups.create,
                                         'nightly', 'invalid-inst-id')
        bad_driver = self.assertRaises(trove_exc.BadRequest,
                                       client.backups.create, 'nightly',
                                       self.instance.id,
                                       storage_driver='cinder')

        self.assertIn('name', bad_name.message)
        self.assertIn('letter or digit', bad_name.message)
        self.assertIn('is not a UUID', bad_instance.message)
        self.assertIn("storage_driver 'cinder' is not installed",
                      bad_driver.message)
        self.assertEqual([], client.backups.list())
