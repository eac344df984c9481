"""trove-backup-aio: API, worker and agent in one process, for trying it.

    trove-backup-aio [--port 8779] [--state-dir DIR] [--config-file F ...]

Everything lives in DIR (default ./.trove-backup-aio): the configuration
it writes on first start (DIR/trove-backup-ext.conf, which the other
commands can use too), the SQLite control-plane database, the backups
(local storage), their encryption key and a demo SQLite database
registered as instance "demo" of project "demo". The API runs in noauth
mode on 127.0.0.1 and the three roles talk over the in-memory bus.
"""

import argparse
import os
import secrets
import signal
import sqlite3
import sys
import threading

from oslo_log import log as logging
from oslo_utils import uuidutils

from trove_backup_ext.agent import service as agent_service
from trove_backup_ext.api import deploy
from trove_backup_ext.cmd import api as api_cmd
from trove_backup_ext import context as backup_context
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import migration
from trove_backup_ext import rpc
from trove_backup_ext import service
from trove_backup_ext.worker import service as worker_service

LOG = logging.getLogger(__name__)

CONFIG_NAME = 'trove-backup-ext.conf'
DEMO_PROJECT = 'demo'
DEMO_NAME = 'demo'

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
    key = os.path.join(state_dir, 'backup.key')
    if not os.path.exists(key):
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'w') as out:
            out.write(secrets.token_hex(32) + '\n')
    return config


def demo_instance(conf):
    """The demo instance, created with sample data on first start."""
    context = backup_context.get_admin_context()
    for row in instances_db.list_all(context):
        if row.project_id == DEMO_PROJECT and row.name == DEMO_NAME:
            return row
    path = conf.sqlite.database_path
    with sqlite3.connect(path) as connection:
        connection.execute('PRAGMA journal_mode=wal')
        connection.execute('CREATE TABLE IF NOT EXISTS customers ('
                           'id INTEGER PRIMARY KEY, name TEXT, city TEXT)')
        connection.executemany(
            'INSERT OR IGNORE INTO customers VALUES (?, ?, ?)',
            ((i, 'customer %d' % i, ('Oslo', 'Lima', 'Pune')[i % 3])
             for i in range(1, 1001)))
    return instances_db.add(context, {
        'id': uuidutils.generate_uuid(), 'name': DEMO_NAME,
        'project_id': DEMO_PROJECT, 'datastore': 'sqlite',
        'datastore_version': sqlite3.sqlite_version, 'status': 'ACTIVE'})


def main(argv=None):
    args, rest = _parse(sys.argv[1:] if argv is None else argv)
    config = prepare_state(args.state_dir, args.port or 8779)
    # Our file first: --config-file options given after it override it.
    conf = service.setup(service.parse_args(['--config-file', config] + rest,
                                            default_config_files=[]))
    migration.upgrade()
    instance = demo_instance(conf)
    transport = rpc.get_transport(conf)
    worker = worker_service.WorkerService(conf, transport)
    agent = agent_service.AgentService(conf, transport, instance.id)
    worker.start()
    agent.start()
    server = api_cmd.make_server(conf, deploy.deploy(conf),
                                 port=args.port or conf.api.port)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *a: stop.set())
    service.freeze_startup_objects()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    print('trove-backup-aio ready: http://%s:%d/v1.0/%s (noauth)\n'
          'demo instance: %s\nstate: %s\ntry:\n'
          '  export OS_AUTH_TYPE=none OS_ENDPOINT=http://%s:%d/v1.0/%s\n'
          '  openstack database backup create nightly --instance %s'
          % (host, port, DEMO_PROJECT, instance.id, args.state_dir,
             host, port, DEMO_PROJECT, instance.id), flush=True)
    stop.wait()
    server.shutdown()
    agent.stop()
    worker.stop()
    return 0
