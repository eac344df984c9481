"""trove-backup-aio: API, worker and agent in one process, for trying it.

    trove-backup-aio [--port 8779] [--state-dir DIR] [--config-file F ...]

Everything lives in DIR (default ./.trove-backup-aio): the configuration
it writes on first start (DIR/trove-backup-ext.conf, which the other
commands can use too), the SQLite control-plane database, the backups
(local storage), their encryption key and two SQLite databases
registered as instances "demo" (with sample data) and "demo-restore" of
project "demo", each with its agent and that agent's own key
(DIR/agent-keys; the workers' copies are sealed in the database under
DIR/agent-master.key). The API runs in noauth mode on 127.0.0.1 and the
roles talk over the in-memory bus, so everything stays in this process:
the API is served by threads, never by [api] workers processes.
"""

import argparse
import os
import secrets
import signal
import sqlite3
import sys
import threading

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import uuidutils

from trove_backup_ext.agent import service as agent_service
from trove_backup_ext import agent_auth
from trove_backup_ext.api import deploy
from trove_backup_ext import conf as backup_conf
from trove_backup_ext import context as backup_context
from trove_backup_ext import datastores
from trove_backup_ext.datastores import sqlite as sqlite_datastore
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import migration
from trove_backup_ext import exception
from trove_backup_ext import rpc
from trove_backup_ext import service
from trove_backup_ext.worker import service as worker_service
from trove_backup_ext.wsgi import server as wsgi_server

LOG = logging.getLogger(__name__)

CONFIG_NAME = 'trove-backup-ext.conf'
MASTER_KEY_NAME = 'agent-master.key'
DEMO_PROJECT = 'demo'
DEMO_NAME = 'demo'
# A second instance to restore into; its database file is not in the
# config (one [sqlite] section per file): it is always this one.
RESTORE_NAME = 'demo-restore'
RESTORE_DATABASE = 'demo-restore.sqlite'

_CONFIG = """\
# Written by trove-backup-aio on its first start; edit freely.
[DEFAULT]
transport_url = fake://
storage_strategy = local
instance_source = registry

[api]
auth_strategy = noauth
host = 127.0.0.1
port = {port}

[database]
connection = sqlite:///{state}/trove-backup-ext.sqlite

[local_storage]
storage_dir = {state}/backups

[agent]
datastore = sqlite

[sqlite]
database_path = {state}/demo.sqlite

[backup_encryption]
key_file = {state}/backup.key

[worker]
reaper_interval = 10
agent_keys_master_key_file = {state}/agent-master.key
agent_key_dir = {state}/agent-keys
"""


def _parse(argv):
    parser = argparse.ArgumentParser(prog='trove-backup-aio')
    parser.add_argument('--port', type=int,
                        help='Default: [api] port of the state directory\'s '
                             'config (8779 when it is written).')
    parser.add_argument('--state-dir', default='./.trove-backup-aio')
    args, rest = parser.parse_known_args(argv)
    args.state_dir = os.path.abspath(args.state_dir)
    return args, rest


def prepare_state(state_dir, port):
    """Create the state directory, its config and key on first start."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    config = os.path.join(state_dir, CONFIG_NAME)
    if not os.path.exists(config):
        with open(config, 'w') as out:
            out.write(_CONFIG.format(state=state_dir, port=port))
    for name in ('backup.key', MASTER_KEY_NAME):
        key = os.path.join(state_dir, name)
        if not os.path.exists(key):
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, 'w') as out:
                out.write(secrets.token_hex(32) + '\n')
    return config


def agent_key_file(conf, state_dir, instance_id):
    """The key file of instance_id's agent, (re)made when it is missing
    or is not the key the worker holds: the demo agents need no step."""
    if not conf.worker.agent_keys_master_key_file:
        # A state directory written before agent keys existed.
        conf.set_override('agent_keys_master_key_file',
                          os.path.join(state_dir, MASTER_KEY_NAME),
                          group='worker')
    path = os.path.join(conf.worker.agent_key_dir or os.path.join(
        state_dir, 'agent-keys'), instance_id + '.key')
    store = agent_auth.KeyStore(conf)
    context = backup_context.get_admin_context()
    current = store.current_key(context, instance_id)
    try:
        if current and current == agent_auth.read_key_file(path, 'key'):
            return path
    except (exception.ConfigurationError, ValueError):
        pass    # Missing, unreadable or damaged: a new key, as below.
    agent_auth.write_key_file(path, store.rotate(context, instance_id,
                                                 grace_period=0))
    return path


def _registered(context, name):
    for row in instances_db.list_all(context):
        if row.project_id == DEMO_PROJECT and row.name == name:
            return row
    return None


def _register(context, name, path, rows):
    """A SQLite database at path with `rows` sample customers, registered
    as instance `name` of the demo project."""
    with sqlite3.connect(path) as connection:
        connection.execute('PRAGMA journal_mode=wal')
        connection.execute('CREATE TABLE IF NOT EXISTS customers ('
                           'id INTEGER PRIMARY KEY, name TEXT, city TEXT)')
        connection.executemany(
            'INSERT OR IGNORE INTO customers VALUES (?, ?, ?)',
            ((i, 'customer %d' % i, ('Oslo', 'Lima', 'Pune')[i % 3])
             for i in range(1, rows + 1)))
    return instances_db.add(context, {
        'id': uuidutils.generate_uuid(), 'name': name,
        'project_id': DEMO_PROJECT, 'datastore': 'sqlite',
        'datastore_version': sqlite3.sqlite_version, 'status': 'ACTIVE'})


def demo_instance(conf):
    """The demo instance, created with sample data on first start."""
    context = backup_context.get_admin_context()
    return _registered(context, DEMO_NAME) or _register(
        context, DEMO_NAME, conf.sqlite.database_path, 1000)


def restore_instance(state_dir):
    """The demo-restore instance, an empty customers table at first: a
    place to restore the demo's backups into without touching it."""
    context = backup_context.get_admin_context()
    return _registered(context, RESTORE_NAME) or _register(
        context, RESTORE_NAME, os.path.join(state_dir, RESTORE_DATABASE), 0)


def restore_agent_conf(argv, state_dir):
    """The configuration of demo-restore's agent: the same files as the
    process's (so the same bus, storage and key), its own database."""
    conf = cfg.ConfigOpts()
    backup_conf.register_opts(conf)
    sqlite_datastore.register_opts(conf)
    conf(argv, project='trove-backup-ext', default_config_files=[])
    conf.set_override('database_path',
                      os.path.join(state_dir, RESTORE_DATABASE),
                      group='sqlite')
    return conf


def main(argv=None):
    args, rest = _parse(sys.argv[1:] if argv is None else argv)
    config = prepare_state(args.state_dir, args.port or 8779)
    # Our file first: --config-file options given after it override it.
    conf_argv = ['--config-file', config] + rest
    conf = service.setup(service.parse_args(conf_argv,
                                            default_config_files=[]))
    # First, so a port in use or a refused address stops it before
    # anything starts.
    try:
        sock = wsgi_server.listen(conf, port=args.port or conf.api.port)
    except wsgi_server.ListenError as exc:
        print('ERROR: %s' % exc, file=sys.stderr)
        return 2
    if conf.api.workers and conf.api.workers > 1:
        LOG.warning('[api] workers = %d is ignored: the all-in-one serves '
                    'in one process, where its in-memory bus is',
                    conf.api.workers)
    migration.upgrade()
    instance = demo_instance(conf)
    target = restore_instance(args.state_dir)
    key_files = [agent_key_file(conf, args.state_dir, row.id)
                 for row in (instance, target)]
    transport = rpc.get_transport(conf)
    worker = worker_service.WorkerService(conf, transport)
    restore_conf = restore_agent_conf(conf_argv, args.state_dir)
    agents = [
        agent_service.AgentService(conf, transport, instance.id,
                                   key_file=key_files[0]),
        agent_service.AgentService(
            restore_conf, transport, target.id,
            datastore=datastores.load(restore_conf, 'sqlite'),
            key_file=key_files[1])]
    worker.start()
    for agent in agents:
        agent.start()
    server = wsgi_server.Server(conf, deploy.deploy(conf), sock)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *a: stop.set())
    service.freeze_startup_objects()
    server.start_thread()
    host, port = server.address
    print('trove-backup-aio ready: http://%s:%d/v1.0/%s (noauth)\n'
          'demo instance: %s\ndemo-restore instance: %s\nstate: %s\n'
          'try:\n'
          '  export OS_AUTH_TYPE=none OS_ENDPOINT=http://%s:%d/v1.0/%s\n'
          '  openstack database backup create nightly --instance %s'
          % (host, port, DEMO_PROJECT, instance.id, target.id,
             args.state_dir, host, port, DEMO_PROJECT, instance.id),
          flush=True)
    stop.wait()
    # Requests in flight finish (they may cast to the roles) before the
    # roles stop.
    server.stop()
    for agent in agents:
        agent.stop()
    worker.stop()
    return 0
