"""The trove instance source on a Trove database made by Trove itself."""

from oslo_db import exception as db_exception
import sqlalchemy as sa

from trove_backup_ext import exception
from trove_backup_ext import instance_sources
from trove_backup_ext.instance_sources import base as source_base
from trove_backup_ext.instance_sources import trove
from trove_backup_ext.tests import base
from trove_backup_ext.tests import service_fixtures
from trove_backup_ext.tests import trove_db_fixture

READY = source_base.BACKUP_READY_STATUSES
NO_SUCH_INSTANCE = '0bd4bd9a-0f43-4b5e-9d1e-6e0f3d4f0c11'
# oslo.db passes most refusals through as SQLAlchemy's errors.
DB_ERRORS = (db_exception.DBError, sa.exc.DBAPIError)


def make_source(test, url, **options):
    """A TroveSource on url with test.conf, disposed after the test."""
    trove.register_opts(test.conf)
    test.conf.set_override('connection', url, group='trove_database')
    for name, value in options.items():
        test.conf.set_override(name, value, group='trove_database')
    source = trove.TroveSource(test.conf)
    test.addCleanup(source.engine.dispose)
    return source


def expected_status(verdict):
    """What the source must say of an instance Trove judged so, or None
    where only "not ready" is fixed: Trove shows ACTIVE yet refuses,
    because of a task its status does not show."""
    if verdict['refusal'] is None:
        return source_base.ACTIVE
    if verdict['status'] not in READY:
        return verdict['status']
    if verdict['datastore_status'] not in READY:
        return verdict['datastore_status']
    return None


class _SourceTests:

    def setUp(self):
        super().setUp()
        self.trove = self.useFixture(
            trove_db_fixture.TroveDatabase(self.backend))
        self.conf = self.useFixture(service_fixtures.Conf()).conf
        self.source = make_source(self, self.trove.url)

    def get(self, scenario, source=None):
        return (source or self.source).get_instance(
            None, self.trove.ids[scenario])

    def version_id(self, datastore, version):
        return self.trove.datastores[datastore]['versions'][version]

    def assertStatus(self, status, scenario):
        instance = self.get(scenario)
        self.assertEqual(status, instance.status, scenario)
        self.assertEqual(status in READY, instance.can_back_up)

    def test_active_instance(self):
        instance = self.get('active')
        self.assertEqual(source_base.Instance(
            id=self.trove.ids['active'], name='active',
            project_id=base.PROJECT, datastore='mysql',
            datastore_version='8.0',
            datastore_version_id=self.version_id('mysql', '8.0'),
            status='ACTIVE', created=instance.created,
            shown_status='ACTIVE'), instance)
        self.assertIsNotNone(instance.created)
        self.assertTrue(instance.can_back_up)

    def test_datastore_and_version_come_from_trove(self):
        instance = self.get('active_mariadb')
        self.assertEqual(('mariadb', '10.11',
                          self.version_id('mariadb', '10.11')),
                         (instance.datastore, instance.datastore_version,
                          instance.datastore_version_id))

    def test_older_guest_reporting_running_is_active(self):
        self.assertStatus('ACTIVE', 'active_running')

    def test_building(self):
        self.assertStatus('BUILD', 'build')
        self.assertStatus('BUILD', 'build_ready')

    def test_build_errors(self):
        self.assertStatus('ERROR', 'error')
        self.assertStatus('ERROR', 'error_timeout')

    def test_running_trove_backup(self):
        self.assertStatus('BACKUP', 'backup')
        self.assertStatus('ACTIVE', 'backup_done')

    def test_tasks(self):
        self.assertStatus('SHUTDOWN', 'deleting')
        self.assertStatus('RESIZE', 'resizing')
        self.assertStatus('REBOOT', 'rebooting')
        self.assertStatus('UPDATING', 'updating')

    def test_restart_required_still_backs_up_as_in_trove(self):
        self.assertStatus('ACTIVE', 'restart_required')

    def test_datastore_status(self):
        self.assertStatus('SHUTDOWN', 'paused')
        # Trove lets a backup of a crashed datastore start.
        self.assertStatus('ACTIVE', 'crashed')

    def test_silent_guest_agent(self):
        self.assertStatus('ERROR', 'silent_guest')

    def test_heartbeat_check_can_be_turned_off(self):
        source = make_source(self, self.trove.url, agent_heartbeat_expiry=0)
        self.assertEqual('ACTIVE', self.get('silent_guest', source).status)

    def test_server_status_saved_by_trove(self):
        self.assertStatus('ERROR', 'server_error')
        self.assertStatus('UNKNOWN', 'server_shutoff')
        self.assertStatus('RESIZE', 'server_verify_resize')
        self.assertStatus('ACTIVE', 'server_active')

    def test_every_scenario_as_trove_judges_it(self):
        disagreements = {}
        for scenario, instance_id in self.trove.ids.items():
            verdict = self.trove.verdicts.get(instance_id)
            if verdict is None:     # Deleted: Trove's API cannot load it.
                continue
            instance = self.get(scenario)
            expected = expected_status(verdict)
            # Trove's Backup.create refuses a cluster member after
            # validate_can_perform_action.
            can = verdict['refusal'] is None and not verdict['cluster_id']
            agrees = (instance.can_back_up == can and
                      instance.cluster_id == verdict['cluster_id'] and
                      (instance.status == expected if expected else
                       instance.status not in READY))
            if not agrees:
                disagreements[scenario] = (instance.status, verdict)
        self.assertEqual({}, disagreements)
        self.assertEqual(len(trove_db_fixture.SCENARIOS) - 1,
                         len(self.trove.verdicts))

    def test_list_shows_every_instance_with_troves_own_status(self):
        listed, more = self.source.list_instances(None, None, 1000)
        self.assertFalse(more)
        self.assertEqual(set(self.trove.verdicts),
                         {instance.id for instance in listed})
        self.assertEqual(
            {i: v['status'] for i, v in self.trove.verdicts.items()},
            {instance.id: instance.shown_status for instance in listed})
        # Each as get_instance gives it, newest first.
        self.assertEqual([self.source.get_instance(None, i.id)
                          for i in listed], listed)
        self.assertEqual(sorted(listed, key=lambda i: (i.created, i.id),
                                reverse=True), listed)

    def test_list_pages_and_projects(self):
        everything, _ = self.source.list_instances(None, None, 1000)
        pages, after, more = [], None, True
        while more:
            page, more = self.source.list_instances(None, None, 3, after)
            self.assertTrue(page)
            pages.extend(page)
            after = (page[-1].created, page[-1].id)
        self.assertEqual(everything, pages)
        mine, _ = self.source.list_instances(None, base.OTHER_PROJECT, 1000)
        self.assertEqual([self.trove.ids['other_project']],
                         [i.id for i in mine])

    def test_other_projects_instance_is_found_with_its_project(self):
        # The API, not the source, hides it from other projects.
        self.assertEqual(base.OTHER_PROJECT,
                         self.get('other_project').project_id)

    def test_deleted_instance_is_not_found(self):
        self.assertRaises(exception.InstanceNotFound, self.get, 'deleted')

    def test_unknown_instance_is_not_found(self):
        self.assertRaises(exception.InstanceNotFound,
                          self.source.get_instance, None, NO_SUCH_INSTANCE)

    def test_datastore_exists_by_name_or_id(self):
        self.assertTrue(self.source.datastore_exists(None, 'mysql'))
        self.assertTrue(self.source.datastore_exists(None, 'mariadb'))
        self.assertTrue(self.source.datastore_exists(
            None, self.trove.datastores['mariadb']['id']))

    def test_unknown_datastore(self):
        for name in ('postgresql', '8.0', self.version_id('mysql', '8.0')):
            self.assertFalse(self.source.datastore_exists(None, name), name)
            self.assertIsNone(self.source.datastore_name(None, name), name)

    def test_datastore_name_of_a_name_or_an_id(self):
        for name in ('mysql', 'mariadb'):
            self.assertEqual(name, self.source.datastore_name(None, name))
            self.assertEqual(name, self.source.datastore_name(
                None, self.trove.datastores[name]['id']))

    def test_cluster_member_is_active_but_cannot_be_backed_up(self):
        instance = self.get('cluster_member')
        cluster_id = self.trove.verdicts[instance.id]['cluster_id']
        self.assertIsNotNone(cluster_id)
        self.assertEqual(cluster_id, instance.cluster_id)
        # Trove shows it ACTIVE; only its membership refuses a backup.
        self.assertEqual('ACTIVE', instance.status)
        self.assertFalse(instance.can_back_up)
        self.assertIsNone(self.get('active').cluster_id)

    def test_writes_through_its_engine_fail(self):
        instance_id = self.trove.ids['active']
        with self.source.engine.connect() as connection:
            error = self.assertRaises(
                DB_ERRORS, connection.execute,
                sa.update(trove.INSTANCES)
                .where(trove.INSTANCES.c.id == instance_id)
                .values(name='renamed'))
        # SQLite: "readonly database"; MariaDB: "READ ONLY transaction".
        self.assertRegex(str(error), '(?i)read ?only')
        self.assertEqual('active', self.get('active').name)

    def test_loaded_by_its_entry_point_name(self):
        self.conf.set_override('instance_source', 'trove')
        source = instance_sources.load(self.conf)
        self.addCleanup(source.engine.dispose)
        self.assertIsInstance(source, trove.TroveSource)
        self.assertEqual('ACTIVE', self.get('active', source).status)

    def test_connection_is_required(self):
        trove.register_opts(self.conf)
        self.conf.set_override('connection', None, group='trove_database')
        self.assertRaises(exception.ConfigurationError, trove.TroveSource,
                          self.conf)


class TroveSourceSQLiteTest(_SourceTests, base.TestCase):
    backend = 'sqlite'


class TroveSourceMariaDBTest(_SourceTests, base.TestCase):
    backend = 'mysql'

    def test_read_only_account(self):
        account = self.useFixture(trove_db_fixture.ReadOnlyUser(
            self.trove.url))
        source = make_source(self, account.url)
        self.assertEqual('ACTIVE', self.get('active', source).status)
        self.assertTrue(source.datastore_exists(None, 'mysql'))
        # Even a session made read-write again may not write.
        with source.engine.connect() as connection:
            connection.execute(sa.text('SET SESSION TRANSACTION READ WRITE'))
            error = self.assertRaises(
                DB_ERRORS, connection.execute,
                sa.update(trove.INSTANCES).values(name='renamed'))
        self.assertIn('UPDATE command denied', str(error))

    def test_read_only_session(self):
        with self.source.engine.connect() as connection:
            error = self.assertRaises(
                DB_ERRORS, connection.execute,
                sa.delete(trove.SERVICE_STATUSES))
        self.assertIn('READ ONLY transaction', str(error))

    def test_unreachable_database(self):
        source = make_source(
            self, 'mysql+pymysql://root@127.0.0.1:%d/trove'
            % service_fixtures.free_port())
        self.assertRaises(exception.ServiceUnavailable,
                          self.get, 'active', source)


class TroveSourcePostgreSQLSessionTest(base.TestCase):
    """Trove's db_sync fails on PostgreSQL, but a deployment could still
    point the source at one: its sessions are read-only there too."""

    def test_read_only_session(self):
        self.conf = self.useFixture(service_fixtures.Conf()).conf
        database = self.useFixture(service_fixtures.Database('postgresql'))
        source = make_source(self, database.url)
        with source.engine.connect() as connection:
            self.assertEqual(1, connection.execute(
                sa.text('SELECT count(*) FROM alembic_version')).scalar())
            error = self.assertRaises(
                DB_ERRORS, connection.execute,
                sa.text('DELETE FROM alembic_version'))
        self.assertIn('read-only transaction', str(error))


class _APITests:
    """The backups API with the trove source on the Trove database."""

    def setUp(self):
        super().setUp()
        self.trove = self.useFixture(
            trove_db_fixture.TroveDatabase(self.backend))
        source = make_source(self, self.trove.url)
        self.api = self.useFixture(service_fixtures.APIServer(
            self.conf, instance_source=source))

    def test_create_takes_the_datastore_from_trove(self):
        instance_id = self.trove.ids['active']
        backup = self.create_backup(instance_id)
        self.assertEqual(instance_id, backup['instance_id'])
        self.assertEqual(base.PROJECT, backup['project_id'])
        self.assertEqual(
            {'type': 'mysql', 'version': '8.0',
             'version_id': self.trove.datastores['mysql']['versions']['8.0']},
            backup['datastore'])
        self.assertTrue(self.worker.received.wait(5))
        self.assertEqual([('create_backup', backup['id'])],
                         self.worker.calls)

    def test_create_on_mariadb_instance(self):
        backup = self.create_backup(self.trove.ids['active_mariadb'])
        self.assertEqual('mariadb', backup['datastore']['type'])

    def assertRefused(self, scenario, code, name, fragment):
        response = self.request('POST', '/backups', json={'backup': {
            'name': 'b', 'instance': self.trove.ids[scenario]}})
        self.assertFault(response, code, name, fragment)
        self.assertEqual([], self.worker.calls)

    def test_create_while_building(self):
        self.assertRefused('build', 422, 'unprocessableEntity',
                           'instance status was BUILD')

    def test_create_on_error(self):
        self.assertRefused('error', 422, 'unprocessableEntity',
                           'instance status was ERROR')

    def test_create_while_trove_backs_it_up(self):
        self.assertRefused('backup', 422, 'unprocessableEntity',
                           'instance status was BACKUP')

    def test_create_on_deleted_instance(self):
        self.assertRefused('deleted', 404, 'itemNotFound',
                           self.trove.ids['deleted'])

    def test_create_on_other_projects_instance(self):
        self.assertRefused('other_project', 404, 'itemNotFound',
                           self.trove.ids['other_project'])

    def test_instances_list_and_show_as_trove_shows_them(self):
        body = self.request('GET', '/instances?limit=1000').json()
        listed = {i['id']: i for i in body['instances']}
        self.assertNotIn(self.trove.ids['other_project'], listed)
        self.assertNotIn(self.trove.ids['deleted'], listed)
        self.assertEqual(
            {i: self.trove.verdicts[i]['status'] for i in listed},
            {i: shown['status'] for i, shown in listed.items()})
        active = self.trove.ids['active']
        self.assertEqual({'instance': listed[active]},
                         self.request('GET', '/instances/' + active).json())
        self.assertEqual(('mysql', '8.0'),
                         (listed[active]['datastore']['type'],
                          listed[active]['datastore']['version']))
        response = self.request(
            'GET', '/instances/' + self.trove.ids['other_project'])
        self.assertFault(response, 404, 'itemNotFound')

    def test_list_by_trove_datastore(self):
        backup = self.create_backup(self.trove.ids['active'])
        response = self.request('GET', '/backups?datastore=mysql')
        self.assertEqual(200, response.status_code, response.text)
        self.assertEqual([backup['id']],
                         [b['id'] for b in response.json()['backups']])
        response = self.request('GET', '/backups?datastore=mariadb')
        self.assertEqual(200, response.status_code, response.text)
        self.assertEqual([], response.json()['backups'])

    def test_list_by_trove_datastore_id(self):
        # Trove's datastore filter takes an id as well as a name.
        mysql = self.create_backup(self.trove.ids['active'])
        mariadb = self.create_backup(self.trove.ids['active_mariadb'])
        for name, backup in (('mysql', mysql), ('mariadb', mariadb)):
            response = self.request('GET', '/backups?datastore=' +
                                    self.trove.datastores[name]['id'])
            self.assertEqual(200, response.status_code, response.text)
            self.assertEqual([backup['id']],
                             [b['id'] for b in response.json()['backups']])

    def test_create_on_cluster_member(self):
        self.assertRefused('cluster_member', 422, 'unprocessableEntity',
                           'part of a cluster')

    def test_restore_into_cluster_member(self):
        backup = self.create_backup(self.trove.ids['active'])
        self.complete(backup['id'])
        response = self.request('POST', '/restores', json={'restore': {
            'backup_id': backup['id'],
            'instance_id': self.trove.ids['cluster_member']}})
        self.assertFault(response, 422, 'unprocessableEntity',
                         'part of a cluster')

    def test_list_by_unknown_datastore(self):
        response = self.request('GET', '/backups?datastore=cassandra')
        self.assertFault(response, 404, 'itemNotFound', 'cassandra')


class TroveSourceAPISQLiteTest(_APITests, base.FunctionalTestCase):
    backend = 'sqlite'


class TroveSourceAPIMariaDBTest(_APITests, base.FunctionalTestCase):
    backend = 'mysql'
