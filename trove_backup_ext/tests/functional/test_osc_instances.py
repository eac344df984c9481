"""The real `openstack database instance list|show` and `backup list
instance` against a real trove-backup-aio."""

import json
import os
import subprocess

import requests

from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests.functional import test_aio
from trove_backup_ext.tests.functional import test_openstackclient

OPENSTACK = test_openstackclient.OPENSTACK


class OpenStackInstancesTest(test_aio.AllInOneTest):
    """trove-backup-aio's two demo instances, seen through OSC."""

    def setUp(self):
        super().setUp()
        self.home = os.path.dirname(self.state)
        _, self.ids = self.start()

    # AllInOneTest's own tests are test_aio's to run.
    test_backup_restore_and_restart = test_readme_story = None

    def openstack(self, *args, expect=0):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_') and 'proxy' not in k.lower()}
        env.update(HOME=self.home, OS_AUTH_TYPE='none',
                   OS_ENDPOINT='http://127.0.0.1:%d/v1.0/demo' % self.port)
        result = subprocess.run(
            [OPENSTACK, 'database', *args, '-f', 'json'], env=env,
            capture_output=True, text=True,
            timeout=test_openstackclient.CLI_TIMEOUT, check=False)
        self.assertEqual(expect, result.returncode,
                         'stdout: %s\nstderr: %s' % (result.stdout,
                                                     result.stderr))
        return json.loads(result.stdout) if expect == 0 else result

    def test_instance_list_and_show(self):
        listed = self.openstack('instance', 'list')
        self.assertEqual(
            sorted([(self.ids['demo'], 'demo', 'sqlite', 'ACTIVE'),
                    (self.ids['demo-restore'], 'demo-restore', 'sqlite',
                     'ACTIVE')]),
            sorted((i['ID'], i['Name'], i['Datastore'], i['Status'])
                   for i in listed))
        by_id = self.openstack('instance', 'show', self.ids['demo'])
        by_name = self.openstack('instance', 'show', 'demo')
        self.assertEqual(by_id, by_name)
        self.assertEqual((self.ids['demo'], 'demo', 'sqlite', 'ACTIVE'),
                         (by_id['id'], by_id['name'], by_id['datastore'],
                          by_id['status']))
        missing = self.openstack('instance', 'show', 'nothing-so-named',
                                 expect=1)
        self.assertIn('nothing-so-named', missing.stderr)

    def test_backup_create_and_list_instance_by_name(self):
        # Both look the instance up: by id, else in the instances list.
        created = self.openstack('backup', 'create', 'nightly',
                                 '--instance', 'demo')
        self.assertEqual(self.ids['demo'], created['instance_id'])
        backup_id = created['id']
        url = 'http://127.0.0.1:%d/v1.0/demo/backups' % self.port
        ef.wait_for(lambda: requests.get('%s/%s' % (url, backup_id)).json()[
            'backup']['status'] == 'COMPLETED')
        for instance in (self.ids['demo'], 'demo'):
            listed = self.openstack('backup', 'list', 'instance', instance)
            self.assertEqual([(backup_id, 'nightly', 'COMPLETED')],
                             [(b['ID'], b['Name'], b['Status'])
                              for b in listed])
        self.assertEqual([], self.openstack('backup', 'list', 'instance',
                                            'demo-restore'))
