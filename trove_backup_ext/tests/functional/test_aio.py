"""trove-backup-aio as a new user runs it: a real process, real commands."""

import json
import os
import re
import shutil
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
README = os.path.join(os.path.dirname(__file__), '..', '..', '..',
                      'README.md')


class AllInOneTest(base.TestCase):

    def setUp(self):
        super().setUp()
        # The README's default name, so its commands run as written.
        self.state = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                  '.trove-backup-aio')
        self.port = service_fixtures.free_port()

    def start(self, *extra):
        log = open(os.path.join(os.path.dirname(self.state), 'aio.log'), 'a')
        self.addCleanup(log.close)
        process = subprocess.Popen(
            [os.path.join(BIN, 'trove-backup-aio'), '--port', str(self.port),
             '--state-dir', self.state] + list(extra),
            stdout=subprocess.PIPE, stderr=log, text=True)
        self.addCleanup(self.stop, process)
        lines, ids = [], {}
        for line in process.stdout:
            lines.append(line)
            name, _, value = line.partition(' instance: ')
            if name in ('demo', 'demo-restore'):
                ids[name] = value.strip()
            if len(ids) == 2:
                return process, ids
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
        process, ids = self.start()
        instance_id = ids['demo']
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
        self.assertEqual(
            [('demo', ids['demo'], 'demo', 'sqlite', 'ACTIVE'),
             ('demo-restore', ids['demo-restore'], 'demo', 'sqlite',
              'ACTIVE')],
            sorted((i['name'], i['id'], i['project_id'], i['datastore'],
                    i['status']) for i in json.loads(listed.stdout)))

        self.stop(process)
        # Restarted with a file of the operator's, read after the state
        # directory's own: both apply.
        extra = os.path.join(os.path.dirname(self.state), 'extra.conf')
        with open(extra, 'w') as out:
            out.write('[DEFAULT]\nmax_backups_per_tenant = 1\n')
        _, again = self.start('--config-file', extra)
        self.assertEqual(ids, again)
        self.assertEqual('COMPLETED', requests.get(
            '%s/%s' % (url, backup_id)).json()['backup']['status'])
        over = requests.post(url, json={'backup': {
            'name': 'second', 'instance': instance_id}})
        self.assertEqual(413, over.status_code, over.text)

    def test_readme_story(self):
        """The README's four commands: back up, damage, restore, check."""
        if not shutil.which('sqlite3'):
            self.skipTest('the README\'s story needs the sqlite3 command')
        with open(README) as readme:
            story = re.search(r'<!-- story[^>]*-->\n```\n(.*?)```',
                              readme.read(), re.S).group(1).splitlines()
        self.assertEqual(4, len(story), story)
        _, ids = self.start()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_') and 'proxy' not in k.lower()}
        env.update(OS_AUTH_TYPE='none', DEMO=ids['demo'],
                   OS_ENDPOINT='http://127.0.0.1:%d/v1.0/demo' % self.port,
                   HOME=os.path.dirname(self.state),
                   PATH=BIN + os.pathsep + os.environ['PATH'])
        demo = os.path.join(self.state, 'demo.sqlite')

        def run(command):
            result = subprocess.run(
                ['bash', '-c', command], cwd=os.path.dirname(self.state),
                env=env, capture_output=True, text=True, timeout=120)
            self.assertEqual(0, result.returncode, '%s\n%s\n%s' % (
                command, result.stdout, result.stderr))
            return result

        def count():
            with sqlite3.connect(demo) as connection:
                return connection.execute(
                    'SELECT count(*) FROM customers').fetchone()[0]

        run(story[0])
        # "COMPLETED within a second or two", as the README says: the
        # damage must come after the backup.
        url = 'http://127.0.0.1:%d/v1.0/demo/backups' % self.port
        backup = ef.wait_for(lambda: [
            b for b in requests.get(url).json()['backups']
            if b['status'] in ('COMPLETED', 'FAILED')])[0]
        self.assertEqual('COMPLETED', backup['status'])
        run(story[1])
        self.assertEqual(10, count())
        restored = run(story[2])
        self.assertIn('COMPLETED [%s] 100%%' % ('#' * 30), restored.stderr)
        self.assertEqual('1000', run(story[3]).stdout.strip())
        self.assertEqual(1000, count())
