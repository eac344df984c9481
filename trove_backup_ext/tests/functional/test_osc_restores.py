"""The real `openstack` command with our plugin against trove-backup-aio:
restore (and --wait), restore list|show, verify, their errors and help."""

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
OPENSTACK = os.path.join(BIN, 'openstack')
CLI_TIMEOUT = 120
MISSING_ID = '3f0c4b57-86a1-4c0b-a1f3-1d1c2e6a9b10'
FULL_BAR = 'COMPLETED [%s] 100%%' % ('#' * 30)


class AllInOne(fixtures.Fixture):
    """trove-backup-aio in a subprocess on a free port, its state in a
    temporary directory; .ids maps demo and demo-restore to their ids."""

    def _setUp(self):
        self.root = self.useFixture(fixtures.TempDir()).path
        self.state = os.path.join(self.root, 'state')
        self.port = service_fixtures.free_port()
        log = open(os.path.join(self.root, 'aio.log'), 'a')
        self.addCleanup(log.close)
        process = subprocess.Popen(
            [os.path.join(BIN, 'trove-backup-aio'), '--port', str(self.port),
             '--state-dir', self.state],
            stdout=subprocess.PIPE, stderr=log, text=True)
        self.addCleanup(self._stop, process)
        self.ids = {}
        for line in process.stdout:
            name, _, value = line.partition(' instance: ')
            if name in ('demo', 'demo-restore'):
                self.ids[name] = value.strip()
            if len(self.ids) == 2:
                break
        else:
            raise AssertionError('trove-backup-aio exited before it was '
                                 'ready; see %s' % log.name)
        self.endpoint = 'http://127.0.0.1:%d/v1.0/demo' % self.port

    @staticmethod
    def _stop(process):
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()

    def database(self, name):
        return os.path.join(self.state, {'demo': 'demo.sqlite',
                                         'demo-restore':
                                         'demo-restore.sqlite'}[name])

    def count(self, name):
        with sqlite3.connect(self.database(name)) as connection:
            return connection.execute(
                'SELECT count(*) FROM customers').fetchone()[0]

    def backup(self, name='nightly'):
        """A COMPLETED backup of demo, made over HTTP."""
        response = requests.post(self.endpoint + '/backups', json={
            'backup': {'name': name, 'instance': self.ids['demo']}})
        assert response.status_code == 202, response.text
        url = '%s/backups/%s' % (self.endpoint,
                                 response.json()['backup']['id'])
        backup = ef.wait_for(lambda: (lambda b: b if b['status'] in (
            'COMPLETED', 'FAILED') else None)(requests.get(url).json()[
                'backup']))
        assert backup['status'] == 'COMPLETED', backup
        return backup


class OSCTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.home = self.useFixture(fixtures.TempDir()).path
        self.endpoint = 'http://127.0.0.1:1/v1.0/demo'

    def openstack(self, *args, expect=0):
        # Nothing of the caller's cloud (OS_*, clouds.yaml, proxies) leaks in.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_') and 'proxy' not in k.lower()}
        env.update(HOME=self.home, OS_AUTH_TYPE='none',
                   OS_ENDPOINT=self.endpoint)
        result = subprocess.run([OPENSTACK, 'database', *args], env=env,
                                capture_output=True, text=True,
                                timeout=CLI_TIMEOUT, check=False)
        self.assertEqual(expect, result.returncode,
                         'stdout: %s\nstderr: %s' % (result.stdout,
                                                     result.stderr))
        return result

    def openstack_json(self, *args):
        return json.loads(self.openstack(*args, '-f', 'json').stdout)


class AllInOneTestCase(OSCTestCase):

    def setUp(self):
        super().setUp()
        self.aio = self.useFixture(AllInOne())
        self.endpoint = self.aio.endpoint
        self.demo = self.aio.ids['demo']
        self.target = self.aio.ids['demo-restore']

    def api(self, path):
        response = requests.get(self.endpoint + path)
        self.assertEqual(200, response.status_code, response.text)
        return response.json()


class TestRestore(AllInOneTestCase):

    def test_restore_wait_brings_the_data_back(self):
        backup = self.aio.backup()
        with sqlite3.connect(self.aio.database('demo')) as connection:
            connection.execute('DELETE FROM customers WHERE id > 10')
        self.assertEqual(10, self.aio.count('demo'))

        in_place = self.openstack('backup', 'restore', 'nightly',
                                  '--instance', self.demo, '--wait',
                                  '-f', 'json')
        restore = json.loads(in_place.stdout)

        self.assertEqual(1000, self.aio.count('demo'))
        self.assertEqual(('COMPLETED', backup['id'], self.demo, self.demo,
                          None, None),
                         (restore['status'], restore['backup_id'],
                          restore['instance_id'],
                          restore['source_instance_id'],
                          restore['progress'], restore['fault']))
        self.assertEqual(self.api('/restores/%s' % restore['id'])['restore'],
                         restore)
        self.assertIn(FULL_BAR, in_place.stderr)

    def test_restore_into_the_other_instance_then_list_and_show(self):
        backup = self.aio.backup()
        into_demo = self.openstack_json('backup', 'restore', backup['id'],
                                        '--instance', self.demo, '--wait')
        # Without --wait: the NEW restore at once.
        started = self.openstack_json('backup', 'restore', 'nightly',
                                      '--instance', self.target)
        self.assertEqual(('NEW', self.target),
                         (started['status'], started['instance_id']))
        ef.wait_for(lambda: self.api('/restores/%s' % started['id'])[
            'restore']['status'] == 'COMPLETED')
        self.assertEqual(1000, self.aio.count('demo-restore'))

        listed = self.openstack_json('restore', 'list')
        by_instance = self.openstack_json('restore', 'list', '--instance',
                                          self.target)
        by_backup = self.openstack_json('restore', 'list', '--backup',
                                        'nightly')
        first_page = self.openstack_json('restore', 'list', '--limit', '1')
        after = self.openstack_json('restore', 'list', '--marker',
                                    started['id'])
        shown = self.openstack_json('restore', 'show', started['id'])

        self.assertEqual([started['id'], into_demo['id']],
                         [row['ID'] for row in listed])
        self.assertEqual(['ID', 'Backup ID', 'Instance ID', 'Status',
                          'Created', 'Updated', 'Project ID'],
                         list(listed[0]))
        self.assertEqual({('COMPLETED', backup['id'], 'demo')},
                         {(row['Status'], row['Backup ID'],
                           row['Project ID']) for row in listed})
        self.assertEqual([started['id']], [r['ID'] for r in by_instance])
        self.assertEqual(listed, by_backup)
        self.assertEqual(listed[:1], first_page)
        self.assertEqual(listed[1:], after)
        self.assertEqual(self.api('/restores/%s' % started['id'])['restore'],
                         shown)
        self.assertEqual(self.demo, shown['source_instance_id'])

    def test_a_failed_restore_exits_non_zero_with_its_fault(self):
        backup = self.aio.backup()
        objects = [f for f in ef.storage_files(self.aio.state)
                   if '/%s/objects/' % backup['id'] in f]
        with open(objects[0], 'r+b') as stored:
            stored.seek(100)
            stored.write(b'\x00' * 16)

        failed = self.openstack('backup', 'restore', 'nightly', '--instance',
                                self.target, '--wait', expect=1)

        restores = self.api('/restores')['restores']
        self.assertEqual(['FAILED'], [r['status'] for r in restores])
        fault = restores[0]['fault']['message']
        self.assertIn('failed verification', fault)
        self.assertIn('Restore %s FAILED: %s' % (restores[0]['id'], fault),
                      failed.stderr)
        self.assertIn('FAILED    [', failed.stderr)
        self.assertEqual('', failed.stdout)
        # The target kept its data, and show tells why.
        self.assertEqual(0, self.aio.count('demo-restore'))
        shown = self.openstack_json('restore', 'show', restores[0]['id'])
        self.assertEqual(('FAILED', fault),
                         (shown['status'], shown['fault']['message']))

    def test_bad_ids_are_clear_errors(self):
        self.aio.backup()
        cases = [
            (('restore', 'show', MISSING_ID),
             'Restore %s cannot be found. (HTTP 404)' % MISSING_ID),
            (('restore', 'show', 'nope'),
             'Restore nope cannot be found. (HTTP 404)'),
            (('backup', 'restore', 'weekly', '--instance', self.demo),
             "No backup with a name or ID of 'weekly' exists. (HTTP 404)"),
            (('backup', 'restore', 'nightly', '--instance', MISSING_ID),
             'Resource %s cannot be found. (HTTP 404)' % MISSING_ID),
            (('backup', 'restore', 'nightly', '--instance', 'demo'),
             "restore['instance_id'] 'demo' is not a UUID (HTTP 400)"),
            (('restore', 'list', '--backup', 'weekly'),
             "No backup with a name or ID of 'weekly' exists. (HTTP 404)"),
            (('restore', 'list', '--limit', '0'),
             'limit 0 is not a positive integer (HTTP 400)'),
            (('backup', 'verify', 'weekly'),
             "No backup with a name or ID of 'weekly' exists. (HTTP 404)"),
        ]
        for args, message in cases:
            result = self.openstack(*args, expect=1)
            self.assertIn(message, result.stderr, args)
            self.assertNotIn('Traceback', result.stderr, args)
        usage = self.openstack('backup', 'restore', 'nightly', expect=2)
        self.assertIn('the following arguments are required: --instance',
                      usage.stderr)
        # Nothing was restored by any of them.
        self.assertEqual([], self.api('/restores')['restores'])


class TestHelp(OSCTestCase):

    def test_help_of_each_command(self):
        for args, options in (
                (('backup', 'restore'), ['<backup>', '--instance <instance>',
                                         '--wait']),
                (('backup', 'verify'), ['<backup>', '--wait']),
                (('restore', 'list'), ['--instance <instance>',
                                       '--backup <backup>',
                                       '--limit <limit>',
                                       '--marker <marker>',
                                       '--all-projects',
                                       '--project-id <project-id>']),
                (('restore', 'show'), ['<restore>'])):
            result = self.openstack(*args, '--help')
            self.assertIn('usage: openstack database %s' % ' '.join(args),
                          result.stdout)
            for option in options:
                self.assertIn(option, result.stdout, args)

    def test_listed_in_the_database_commands(self):
        result = subprocess.run(
            [OPENSTACK, 'command', 'list', '--group', 'database', '-f',
             'json'], env=dict(os.environ, HOME=self.home),
            capture_output=True, text=True, timeout=CLI_TIMEOUT, check=True)
        names = {name for group in json.loads(result.stdout)
                 for name in group['Commands']}
        self.assertLessEqual({'database backup restore',
                              'database backup verify',
                              'database restore list',
                              'database restore show',
                              'database backup create'}, names)


class TestVerify(AllInOneTestCase):

    def test_verify_wait_passes_and_shows_the_checks(self):
        backup = self.aio.backup()

        started = self.openstack_json('backup', 'verify', backup['id'])
        verified = self.openstack('backup', 'verify', 'nightly', '--wait',
                                  '-f', 'json')
        table = self.openstack('backup', 'verify', 'nightly', '--wait',
                               '-c', 'verification', '-f', 'table')

        self.assertEqual('RUNNING', started['verification']['status'])
        verification = json.loads(verified.stdout)['verification']
        self.assertEqual('PASSED', verification['status'])
        self.assertEqual([True, True], [check['ok'] for check in
                                        verification['details']['checks']])
        self.assertIn('PASSED    [%s] 100%%' % ('#' * 30), verified.stderr)
        self.assertIn('PASSED at ', table.stdout)
        self.assertIn('1000 rows', table.stdout)
        self.assertEqual(self.api('/backups/%s' % backup['id'])['backup'][
            'verification']['status'], 'PASSED')

    def test_a_damaged_backup_fails_verification_non_zero(self):
        backup = self.aio.backup()
        objects = [f for f in ef.storage_files(self.aio.state)
                   if '/%s/objects/' % backup['id'] in f]
        with open(objects[0], 'r+b') as stored:
            stored.seek(100)
            stored.write(b'\x00' * 16)

        failed = self.openstack('backup', 'verify', 'nightly', '--wait',
                                expect=1)

        verification = self.api('/backups/%s' % backup['id'])['backup'][
            'verification']
        self.assertEqual('FAILED', verification['status'])
        self.assertIn('Verification of backup %s FAILED: %s' % (
            backup['id'], verification['details']['error']), failed.stderr)
        # The damaged object is named.
        self.assertIn('failed verification: chunk %s/objects/' % backup['id'],
                      failed.stderr)
        self.assertEqual('', failed.stdout)
        # The live instances were not touched.
        self.assertEqual((1000, 0), (self.aio.count('demo'),
                                     self.aio.count('demo-restore')))
