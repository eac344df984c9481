"""RabbitMQ for process tests: a vhost of the shared broker, or a node."""

import os
import shutil
import subprocess
import tempfile
import uuid

import fixtures
from testtools import content

from trove_backup_ext.tests import process_fixtures as pf
from trove_backup_ext.tests import service_fixtures

RABBITMQCTL = os.environ.get('TBE_TEST_RABBITMQCTL', 'rabbitmqctl')
RABBIT_HOST = os.environ.get('TBE_TEST_RABBIT_HOST', '127.0.0.1:5672')
START_TIMEOUT = pf.START_TIMEOUT
STOP_TIMEOUT = pf.STOP_TIMEOUT
run = pf.run


class Vhost(fixtures.Fixture):
    """A vhost of the test's own on the machine's RabbitMQ: oslo.messaging
    names queues after the topic only, so workers of tests running at
    once would otherwise take each other's messages."""

    def _setUp(self):
        self.name = 'tbe-%s' % uuid.uuid4().hex[:12]
        run([RABBITMQCTL, 'add_vhost', self.name])
        self.addCleanup(run, [RABBITMQCTL, 'delete_vhost', self.name])
        run([RABBITMQCTL, 'set_permissions', '-p', self.name, 'guest',
             '.*', '.*', '.*'])
        self.transport_url = 'rabbit://guest:guest@%s/%s' % (RABBIT_HOST,
                                                             self.name)


class RabbitNode(fixtures.Fixture):
    """A private RabbitMQ node (own name, ports, data and cookie) that a
    test may stop and start without disturbing the machine's broker."""

    SERVER = os.environ.get('TBE_TEST_RABBITMQ_SERVER',
                            '/usr/lib/rabbitmq/bin/rabbitmq-server')
    CTL = os.environ.get('TBE_TEST_RABBITMQ_CTL',
                         '/usr/lib/rabbitmq/bin/rabbitmqctl')

    def _setUp(self):
        self.dir = tempfile.mkdtemp(prefix='tbe-rmq-', dir='/tmp')
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.node = 'tbe-%s@localhost' % uuid.uuid4().hex[:8]
        self.port = service_fixtures.free_port()
        files = {name: os.path.join(self.dir, name) for name in (
            'enabled_plugins', 'rabbitmq.conf', 'rabbitmq-env.conf', 'pid')}
        for name in ('enabled_plugins', 'rabbitmq-env.conf'):
            open(files[name], 'w').close()   # No plugins, no /etc env.
        with open(files['rabbitmq.conf'], 'w') as conf:
            # The machine's rabbitmq.conf would take its listener (5672).
            conf.write('listeners.tcp.local = 127.0.0.1:%d\n' % self.port)
        self.pid_file = files['pid']
        self.env = dict(
            os.environ, HOME=self.dir,      # HOME holds the Erlang cookie.
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(service_fixtures.free_port()),
            RABBITMQ_MNESIA_BASE=os.path.join(self.dir, 'mnesia'),
            RABBITMQ_LOG_BASE=os.path.join(self.dir, 'log'),
            RABBITMQ_ENABLED_PLUGINS_FILE=files['enabled_plugins'],
            RABBITMQ_CONFIG_FILE=files['rabbitmq.conf'],
            RABBITMQ_CONF_ENV_FILE=files['rabbitmq-env.conf'],
            RABBITMQ_PID_FILE=self.pid_file,
            ERL_EPMD_ADDRESS='127.0.0.1',
            ERL_FLAGS='-kernel inet_dist_use_interface {127,0,0,1}')
        self.transport_url = 'rabbit://guest:guest@127.0.0.1:%d/' % self.port
        self.process = None
        self.addCleanup(self.stop)
        self.addDetail('rabbitmq-' + self.node, content.Content(
            content.UTF8_TEXT, lambda: [self._log().encode()]))
        self.start()

    def ctl(self, *args, timeout=START_TIMEOUT + 10):
        return run([self.CTL, '-n', self.node] + list(args),
                   env=self.env, cwd=self.dir, timeout=timeout)

    def start(self):
        log = open(os.path.join(self.dir, 'server.log'), 'ab')
        with log:
            self.process = subprocess.Popen(
                [self.SERVER], env=self.env, cwd=self.dir,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)
        self.ctl('wait', '--timeout', str(START_TIMEOUT), self.pid_file)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.ctl('stop', self.pid_file, timeout=STOP_TIMEOUT * 2)
            self.process.wait(STOP_TIMEOUT)
        except (RuntimeError, subprocess.TimeoutExpired):
            pf.kill_group(self.process)
        pf.kill_group(self.process)   # Helpers beam may have left behind.

    def consumers(self):
        """{queue: consumer count} of the default vhost."""
        out = self.ctl('list_queues', '-q', '--no-table-headers', 'name',
                       'consumers')
        return {name: int(count) for name, count in
                (line.split() for line in out.splitlines() if line.strip())}

    def _log(self):
        try:
            with open(os.path.join(self.dir, 'server.log'),
                      errors='replace') as log:
                return log.read()[-5000:]
        except OSError:
            return ''
