"""Swift failing in the middle of a backup and of a restore, on processes
over RabbitMQ, and what is left once it works again.

The agents reach the real Swift of tools/swift-aio.sh through a proxy
(tests/swift_fault_proxy.py) that forwards everything until it is armed;
then it answers 503 to the object PUTs after the first few, or drops
them halfway through their body, so that a backup fails with objects of
it already stored; or it does the same to a restore's object GETs. The
worker and trove-backup-manage reach Swift directly. The rules of
test_fault_recovery.py hold: the backup FAILED with a reason naming the
storage and nothing of it left in Swift; the restore FAILED with a
reason, its target as it was; once Swift answers again a backup and a
restore from it COMPLETED; outcomes.py and the storage audit find
nothing.
"""

import os

from trove_backup_ext import states
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests.functional import test_fault_recovery as tfr
from trove_backup_ext.tests import outcomes
from trove_backup_ext.tests import swift_fault_proxy as sfp
from trove_backup_ext.tests import swift_fixture

# Object requests let through before the fault: a backup has some dozens
# of objects, so it fails halfway.
GOOD_FIRST = 8


class SwiftFaultsMidFlowTest(tfr._Recovery):

    def setUp(self):
        super().setUp()
        auth = swift_fixture.swift_auth()
        # Set up before the services: removed after they stopped.
        self.container = self.useFixture(
            swift_fixture.Container('tbe-faults')).name
        self.proxy = self.useFixture(sfp.SwiftFaultProxy(auth['ST_AUTH']))
        self.deploy_sqlite(
            sections={
                'DEFAULT': {'storage_strategy': 'swift',
                            'backup_swift_container': self.container},
                'swift': {'auth_version': '1', 'auth_url': auth['ST_AUTH'],
                          'user': auth['ST_USER'], 'key': auth['ST_KEY'],
                          'retries': 1, 'starting_backoff': 0.1,
                          'timeout': 10}},
            agent_sections={'swift': {'auth_url': self.proxy.auth_url}})

    def swift_objects(self, backup_id):
        return outcomes.swift_backups(self.container).get(backup_id, [])

    def assert_failed_on_storage(self, backup, *fragments):
        """backup FAILED by the fault, after it stored objects, and none
        of them is left."""
        message = backup['fault']['message']
        for fragment in ('Storage failed: ',) + fragments:
            self.assertIn(fragment, message)
        self.assertIsNone(backup['locationRef'])
        stored = self.proxy.objects('PUT', backup['id'] + '/')
        self.assertGreaterEqual(len(stored), GOOD_FIRST)
        try:
            ef.wait_for(lambda: not self.swift_objects(backup['id']),
                        timeout=10, interval=0.2)
        except AssertionError:
            raise AssertionError('Objects of backup %s left in Swift: %s'
                                 % (backup['id'],
                                    self.swift_objects(backup['id'])[:5]))

    def failed_backup(self, mode):
        self.proxy.fail('PUT', after=GOOD_FIRST, mode=mode)
        return self.ended(self.client.create(self.instance_id)['id'],
                          states.FAILED)

    def restored(self, backup_id, expect=states.COMPLETED):
        return self.restore_ended(self.restores.create(
            backup_id, self.target_id)['id'], expect)

    def backup_and_restore_complete(self):
        """Through the proxy, forwarding again."""
        self.proxy.clear()
        backup = self.completed()
        self.assertTrue(self.proxy.objects('PUT', backup['id'] + '/'))
        source = tfr.digest(self.live)
        self.restored(backup['id'])
        self.assertEqual(source, tfr.digest(self.target_live))

    def assert_honest_ends(self):
        outcomes.assert_honest_ends(self, self.database.engine, self.deploy,
                                    swift_container=self.container)

    def test_puts_answered_503_midway(self):
        failed = self.failed_backup(sfp.UNAVAILABLE)
        self.assert_failed_on_storage(
            failed, 'Swift refused to store object %s/%s/'
            % (self.container, failed['id']), '503 Service Unavailable')
        self.backup_and_restore_complete()
        self.assert_honest_ends()

    def test_puts_dropped_midway(self):
        failed = self.failed_backup(sfp.DROP)
        self.assert_failed_on_storage(
            failed, 'Cannot reach Swift at http://%s/' % self.proxy.netloc,
            'to store object %s/%s/' % (self.container, failed['id']),
            'Connection aborted')
        self.backup_and_restore_complete()
        self.assert_honest_ends()

    def test_restore_whose_reads_fail_midway(self):
        backup = self.completed()
        source = tfr.digest(self.live)
        before = tfr.digest(self.target_live)
        target_dir = os.path.dirname(self.target_live)
        for mode, fragment in ((sfp.UNAVAILABLE, '503 Service Unavailable'),
                               (sfp.DROP, 'Connection broken')):
            self.proxy.requests.clear()
            self.proxy.fail('GET', after=GOOD_FIRST, mode=mode)
            failed = self.restored(backup['id'], states.FAILED)
            message = failed['fault']['message']
            for expected in ('Storage failed: ', fragment,
                             'read object %s/%s/' % (self.container,
                                                     backup['id']),
                             'The instance keeps its data.'):
                self.assertIn(expected, message)
            self.assertGreaterEqual(
                len(self.proxy.objects('GET', backup['id'] + '/')),
                GOOD_FIRST)
            self.assertEqual(before, tfr.digest(self.target_live))
            self.assertEqual([], [name for name in os.listdir(target_dir)
                                  if '.restore-' in name])
        self.proxy.clear()
        self.restored(backup['id'])
        self.assertEqual(source, tfr.digest(self.target_live))
        self.assert_honest_ends()
