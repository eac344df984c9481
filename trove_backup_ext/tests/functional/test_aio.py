"""trove-backup-aio as a new user runs it: a real process, real commands."""

import json
import os
import signal
import sqlite3
import subprocess
import sys

import fixtures
import requests

from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import service_fixtures

BIN = os.path.dirname(sys.executable)


class AllInOneTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.state = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                  'state')
        self.port = service_fixtures.free_port()

    def start(self, *extra):
        log = open(os.path.join(os.path.dirname(self.state), 'aio.log'), 'a')
        self.addCleanup(log.close)
        process = subprocess.Popen(
            [os.path.join(BIN, 'trove-backup-aio'), '--port', str(self.port),
             '--state-dir', self.state] + list(extra),
            stdout=subprocess.PIPE, stderr=log, text=True)
        self.addCleanup(self.stop, process)
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith('demo instance:'):
                return process, line.split(':', 1)[1].strip()
        self.fail('trove-backup-aio exited before it was ready: %s'
                  % ''.join(lines))

    @staticmethod
    def stop(process):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def test_backup_restore_and_restart(self):
        process, instance_id = self.start()
        url = 'http://127.0.0.1:%d/v1.0/demo/backups' % self.port
        response = requests.post(url, json={'backup': {
            'name': 'first', 'instance': instance_id}})
        self.assertEqual(202, response.status_code, response.text)
        backup_id = response.json()['backup']['id']
        backup = ef.wait_for(lambda: (lambda b: b if b['status'] in (
            'COMPLETED', 'FAILED') else None)(
            requests.get('%s/%s' % (url, backup_id)).json()['backup']))
        self.assertEqual('COMPLETED', backup['status'])

        target = os.path.join(os.path.dirname(self.state), 'restored')
        restored = subprocess.run(
            [os.path.join(BIN, 'trove-backup-agent'), '--config-file',
             os.path.join(self.state, 'trove-backup-ext.conf'), 'restore',
             backup_id, '--target', target],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(0, restored.returncode, restored.stderr)
        path = json.loads(restored.stdout.strip().splitlines()[-1])[
            'restored']
        with sqlite3.connect(path) as connection:
            self.assertEqual((1000,), connection.execute(
                'SELECT count(*) FROM customers').fetchone())

        listed = subprocess.run(
            [os.path.join(BIN, 'trove-backup-manage'), '--config-file',
             os.path.join(self.state, 'trove-backup-ext.conf'), 'instance',
             'list', '--format', 'json'],
            capture_output=True, text=True, timeout=60)
        self.assertEqual([instance_id],
                         [i['id'] for i in json.loads(listed.stdout)])

        self.stop(process)
        # Restarted with a file of the operator's, read after the state
        # directory's own: both apply.
        extra = os.path.join(os.path.dirname(self.state), 'extra.conf')
        with open(extra, 'w') as out:
            out.write('[DEFAULT]\nmax_backups_per_tenant = 1\n')
        _, again = self.start('--config-file', extra)
        self.assertEqual(instance_id, again)
        self.assertEqual('COMPLETED', requests.get(
            '%s/%s' % (url, backup_id)).json()['backup']['status'])
        over = requests.post(url, json={'backup': {
            'name': 'second', 'instance': instance_id}})
        self.assertEqual(413, over.status_code, over.text)
