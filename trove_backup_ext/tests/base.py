"""Base test cases."""

from oslo_config import cfg
from oslo_utils import uuidutils
from oslotest import base as oslotest_base
import requests
import sqlalchemy as sa

from trove_backup_ext import context as backup_context
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import models
from trove_backup_ext.storage import local
from trove_backup_ext.tests import service_fixtures

PROJECT = 'project-a'
OTHER_PROJECT = 'project-b'
ADMIN_PROJECT = 'admin-project'


def local_storage(root):
    """A LocalStorage keeping its containers under root."""
    conf = cfg.ConfigOpts()
    local.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override('storage_dir', root, group='local_storage')
    return local.LocalStorage(conf)


class TestCase(oslotest_base.BaseTestCase):
    """Unit tests: no database, no network."""

    def assertFault(self, response, code, name, fragment=None):
        """Assert a Trove fault body of the given code and name."""
        self.assertEqual(code, response.status_code, response.text)
        self.assertTrue(response.headers['Content-Type'].startswith(
            'application/json'))
        body = response.json()
        self.assertEqual([name], list(body))
        self.assertEqual(code, body[name]['code'])
        if fragment is not None:
            self.assertIn(fragment, body[name]['message'])
        return body[name]['message']


class FunctionalTestCase(TestCase):
    """A real database on self.backend and the API over HTTP.

    Casts go to the in-memory oslo.messaging transport, where self.worker
    (a RecordingWorker on the worker topic) receives them.
    """

    backend = 'sqlite'
    conf_overrides = {}

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(
            service_fixtures.Conf(**self.conf_overrides)).conf
        self.database = self.useFixture(
            service_fixtures.Database(self.backend))
        self.worker = self.useFixture(
            service_fixtures.WorkerServer(self.conf)).endpoint
        self.api = self.useFixture(service_fixtures.APIServer(self.conf))
        self.http = requests.Session()
        self.addCleanup(self.http.close)
        self.admin_context = backup_context.get_admin_context()

    def add_instance(self, project_id=PROJECT, datastore='mysql',
                     version='10.11', status='ACTIVE', name='db'):
        return instances_db.add(self.admin_context, {
            'id': uuidutils.generate_uuid(), 'name': name,
            'project_id': project_id, 'datastore': datastore,
            'datastore_version': version, 'status': status})

    def set_backup(self, backup_id, **values):
        """Change a backup row directly, as the worker would."""
        with self.database.engine.begin() as connection:
            connection.execute(sa.update(models.Backup)
                               .where(models.Backup.id == backup_id)
                               .values(**values))
            if 'running_instance_id' in values and (
                    values['running_instance_id'] is None):
                # No longer running: its instance's lock goes with it,
                # as in db/lifecycle.py.
                connection.execute(sa.delete(models.InstanceOperation).where(
                    models.InstanceOperation.operation_id == backup_id))

    def complete(self, backup_id, **values):
        """Mark a backup COMPLETED, as the worker does when it finishes."""
        self.set_backup(backup_id, status='COMPLETED',
                        running_instance_id=None, **values)

    def request(self, method, path, project=PROJECT, roles=None,
                url_project=None, **kwargs):
        """Call /v1.0/<url_project or project><path> as a member (or with
        roles) of project; noauth mode takes the project from the URL."""
        headers = kwargs.pop('headers', {})
        if roles:
            headers['X-Roles'] = roles
        url = '%s/v1.0/%s%s' % (self.api.endpoint, url_project or project,
                                path)
        return self.http.request(method, url, headers=headers, **kwargs)

    def create_backup(self, instance_id, project=PROJECT, expect=202,
                      **fields):
        body = {'backup': dict({'name': 'backup', 'instance': instance_id},
                               **fields)}
        response = self.request('POST', '/backups', project=project,
                                json=body)
        self.assertEqual(expect, response.status_code, response.text)
        return response.json().get('backup')


def for_each_backend(tests, module_name):
    """One FunctionalTestCase class per database backend for the mixin."""
    classes = []
    for backend in service_fixtures.BACKENDS:
        name = '%s_%s' % (tests.__name__.lstrip('_'), backend)
        cls = type(name, (tests, FunctionalTestCase),
                   {'backend': backend, '__module__': module_name})
        classes.append(cls)
    return classes
