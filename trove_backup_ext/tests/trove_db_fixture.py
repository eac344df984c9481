"""Fixture: a real Trove database, made by db_sync, seeded by Trove."""

import atexit
import json
import os
import shutil
import subprocess
import tempfile
import uuid

import fixtures
import sqlalchemy as sa

from trove_backup_ext.tests import base
from trove_backup_ext.tests import service_fixtures

BACKENDS = ('sqlite', 'mysql')
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
TOOL = os.path.join(ROOT, 'tools', 'trove-schema.sh')
SEED = os.path.join(os.path.dirname(__file__), 'trove_seed.py')

# The datastores Trove's operator registers (trove-manage datastore_update).
DATASTORES = [
    {'name': 'mysql', 'version': '8.0', 'manager': 'mysql'},
    {'name': 'mariadb', 'version': '10.11', 'manager': 'mariadb'},
]
# Instance scenarios: Trove's task and datastore (service) status names as
# in trove/instance/tasks.py and service_status.py.
_HEALTHY = {'task': 'NONE', 'service': 'HEALTHY'}
SCENARIOS = {
    'active': _HEALTHY,
    'active_running': {'task': 'NONE', 'service': 'RUNNING'},
    'active_mariadb': dict(_HEALTHY, datastore='mariadb'),
    'build': {'task': 'BUILDING', 'service': 'NEW', 'compute': False},
    'build_ready': {'task': 'BUILDING', 'service': 'INSTANCE_READY'},
    'error': {'task': 'BUILDING_ERROR_SERVER', 'service': 'FAILED'},
    'error_timeout': {'task': 'BUILDING_ERROR_TIMEOUT_GA',
                      'service': 'FAILED_TIMEOUT_GUESTAGENT'},
    'deleted': dict(_HEALTHY, deleted=True),
    'other_project': dict(_HEALTHY, tenant_id=base.OTHER_PROJECT),
    'backup': dict(_HEALTHY, trove_backup='BUILDING'),
    'backup_done': dict(_HEALTHY, trove_backup='COMPLETED'),
    'deleting': {'task': 'DELETING', 'service': 'HEALTHY'},
    'resizing': {'task': 'RESIZING', 'service': 'HEALTHY'},
    'rebooting': {'task': 'REBOOTING', 'service': 'SHUTDOWN'},
    'updating': {'task': 'UPDATING', 'service': 'HEALTHY'},
    'restart_required': {'task': 'RESTART_REQUIRED',
                         'service': 'RESTART_REQUIRED'},
    'paused': {'task': 'NONE', 'service': 'PAUSED'},
    'crashed': {'task': 'NONE', 'service': 'CRASHED'},
    'silent_guest': dict(_HEALTHY, heartbeat_age=600),
    'server_error': dict(_HEALTHY, server_status='ERROR'),
    # Nova's names, as Trove saved them from Nova.
    'server_shutoff': dict(_HEALTHY, server_status='SHUTOFF'),
    'server_verify_resize': dict(_HEALTHY, server_status='VERIFY_RESIZE'),
    'server_active': dict(_HEALTHY, server_status='ACTIVE'),
    # A member of a Trove cluster: Trove refuses to back it up alone.
    'cluster_member': dict(_HEALTHY, cluster=True),
}

_SEEDED = {}    # backend -> Seeded, for this process
# Taken before any test runs: oslotest points TMPDIR at a directory of the
# test's own, removed when the test ends.
_TMP = tempfile.gettempdir()


class Seeded:
    """One seeded Trove database: its URL, ids and Trove's verdicts."""

    def __init__(self, url, ids, datastores, verdicts):
        self.url = url
        self.ids = ids                  # scenario -> instance id
        self.datastores = datastores    # name -> {'id', 'versions'}
        self.verdicts = verdicts        # instance id -> Trove's verdict


def trove_python():
    """The python of Trove's venv, installed on first use."""
    return _run([TOOL, 'python']).strip()


def sync(url):
    """Runs the real trove-manage db_sync on the database at url."""
    _run([TOOL, 'sync', url])


def _run(command, stdin=None):
    result = subprocess.run(command, input=stdin, capture_output=True,
                            text=True, cwd=ROOT)
    if result.returncode:
        raise RuntimeError('%s failed (%d):\n%s' % (
            ' '.join(command[:2]), result.returncode, result.stderr[-4000:]))
    return result.stdout


def create_database(backend):
    """A new empty database on backend; its URL and a function that drops
    it."""
    if backend == 'sqlite':
        path = tempfile.mkdtemp(prefix='tbe-trove-', dir=_TMP)
        return ('sqlite:///%s/trove.sqlite' % path,
                lambda: shutil.rmtree(path, True))
    name = 'tbe_trove_%s' % uuid.uuid4().hex[:12]
    server = service_fixtures.DATABASE_URLS[backend]
    admin = sa.create_engine(server + '/', isolation_level='AUTOCOMMIT')
    with admin.connect() as connection:
        connection.execute(sa.text('CREATE DATABASE %s' % name))

    def drop():
        with admin.connect() as connection:
            connection.execute(sa.text('DROP DATABASE IF EXISTS %s' % name))
        admin.dispose()
    return '%s/%s?charset=utf8mb4' % (server, name), drop


def _seed(backend):
    url, drop = create_database(backend)
    atexit.register(drop)
    sync(url)
    instances, ids = [], {}
    for scenario, spec in SCENARIOS.items():
        instance = dict({'id': str(uuid.uuid4()), 'name': scenario,
                         'tenant_id': base.PROJECT, 'datastore': 'mysql'},
                        **spec)
        instance['version'] = next(d['version'] for d in DATASTORES
                                   if d['name'] == instance['datastore'])
        instances.append(instance)
        ids[scenario] = instance['id']
    spec = json.dumps({'datastores': DATASTORES, 'instances': instances})
    result = json.loads(_run([trove_python(), SEED, url], stdin=spec))
    return Seeded(url, ids, result['datastores'], result['verdicts'])


class TroveDatabase(fixtures.Fixture):
    """A Trove database on backend with one instance per scenario.

    tools/trove-schema.sh installs Trove 26.0.0 in its own venv and runs
    the real `trove-manage db_sync`; trove_seed.py then writes the
    instances of SCENARIOS with Trove's own code and returns Trove's own
    verdict on each (self.verdicts). The trove instance source only reads,
    so one database per backend serves every test of a process: it is
    made on first use and dropped when the process exits. Tests must not
    change it. Trove's migrations fail on PostgreSQL, so the backends are
    SQLite and MariaDB.
    """

    def __init__(self, backend='sqlite'):
        super().__init__()
        self.backend = backend

    def _setUp(self):
        if self.backend not in _SEEDED:
            _SEEDED[self.backend] = _seed(self.backend)
        seeded = _SEEDED[self.backend]
        self.url = seeded.url
        self.ids = seeded.ids
        self.datastores = seeded.datastores
        self.verdicts = seeded.verdicts


class ReadOnlyUser(fixtures.Fixture):
    """A MariaDB account that may only SELECT in the database of url; its
    URL is self.url. Dropped after the test."""

    def __init__(self, url):
        super().__init__()
        self.admin_url = sa.engine.make_url(url)

    def _setUp(self):
        name = 'tbe_ro_%s' % uuid.uuid4().hex[:10]
        password = uuid.uuid4().hex
        database = self.admin_url.database
        admin = sa.create_engine(self.admin_url.set(database=''),
                                 isolation_level='AUTOCOMMIT')
        self.addCleanup(admin.dispose)
        with admin.connect() as connection:
            connection.execute(sa.text(
                "CREATE USER '%s'@'%%' IDENTIFIED BY '%s'"
                % (name, password)))
            self.addCleanup(self._drop, admin, name)
            connection.execute(sa.text("GRANT SELECT ON %s.* TO '%s'@'%%'"
                                       % (database, name)))
        self.url = self.admin_url.set(
            username=name, password=password).render_as_string(
                hide_password=False)

    @staticmethod
    def _drop(admin, name):
        with admin.connect() as connection:
            connection.execute(sa.text("DROP USER IF EXISTS '%s'@'%%'"
                                       % name))
