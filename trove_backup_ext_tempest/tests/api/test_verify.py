"""Verification: restore a backup into a scratch place and check it."""

import re
import time

from tempest import config
from tempest.lib.common.utils import data_utils
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from trove_backup_ext_tempest.tests.api import base

CONF = config.CONF

TIME = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$')
# How many times the test asks for a second verification while the first
# may still run, before it holds that it never saw one running.
ATTEMPTS = 5


class VerifyTest(base.BaseBackupsTest):
    """A member verifies a COMPLETED backup of its project; a second
    request while it runs is a 409."""

    @classmethod
    def resource_setup(cls):
        super().resource_setup()
        cls.backup = cls.create_completed_backup()

    def wait_for_verification(self, backup_id):
        """The backup once its verification is no longer RUNNING."""
        deadline = time.monotonic() + self.client.build_timeout
        while True:
            backup = self.client.show_backup(backup_id)['backup']
            if backup['verification']['status'] != 'RUNNING':
                return backup
            if time.monotonic() > deadline:
                raise lib_exc.TimeoutException(
                    'The verification of backup %s still runs after %s s.'
                    % (backup_id, self.client.build_timeout))
            time.sleep(self.client.build_interval)

    @decorators.idempotent_id('3b7d1f5a-9c2e-4a6b-8d0f-2e4a6c8b0d13')
    def test_verify_passes_one_at_a_time(self):
        self.assertIsNone(self.backup['verification'])
        started = self.client.verify_backup(self.backup['id'])['backup']
        self.assertEqual(self.backup['id'], started['id'])
        self.assertEqual(base.COMPLETED, started['status'])
        self.assertEqual({'status': 'RUNNING', 'checked': None,
                          'details': None}, started['verification'])
        # At once, a second one: the first still runs (409), unless it
        # was quicker than this request, which then started another one
        # (its checked is the end of the one before). One must be seen
        # running within a few tries.
        for _ in range(ATTEMPTS):
            try:
                again = self.client.verify_backup(self.backup['id'], '{}')
            except lib_exc.Conflict as conflict:
                self.assertIn('being verified', str(conflict.resp_body))
                break
            verification = again['backup']['verification']
            self.assertEqual('RUNNING', verification['status'])
            self.assertIsNotNone(
                verification['checked'],
                'A second verification started while the first ran.')
        else:
            self.fail('No verification was running when asked again %d '
                      'times at once.' % ATTEMPTS)

        backup = self.wait_for_verification(self.backup['id'])
        verification = backup['verification']
        self.assertEqual('PASSED', verification['status'], verification)
        self.assertRegex(verification['checked'], TIME)
        checks = verification['details']['checks']
        self.assertNotEqual([], checks)
        self.assertTrue(all(check['ok'] for check in checks), checks)
        if CONF.database_backup.datastore == 'sqlite':
            self.assertEqual({'integrity_check', 'row_counts'},
                             {check['check'] for check in checks})
        # It reports; the backup itself is as it was.
        self.assertEqual(base.COMPLETED, backup['status'])
        for field in ('size', 'locationRef', 'created', 'parent_id'):
            self.assertEqual(self.backup[field], backup[field], field)


class VerifyNegativeTest(base.BaseBackupsTest):

    @classmethod
    def resource_setup(cls):
        super().resource_setup()
        cls.backup = cls.create_completed_backup()

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('6e0a2c4b-8d1f-4b3e-9a5c-7f1b3d5e7a24')
    def test_verify_refusals_change_nothing(self):
        self.assertRaises(lib_exc.BadRequest, self.client.verify_backup,
                          self.backup['id'], '{"full": true}')
        self.assertRaises(lib_exc.NotFound, self.client.verify_backup,
                          data_utils.rand_uuid())
        self.assertIsNone(self.client.show_backup(
            self.backup['id'])['backup']['verification'])

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('9a3c5e7b-1d2f-4c4a-8b6e-0d2f4a6c8e35')
    def test_verify_a_backup_not_completed(self):
        instance_id = CONF.database_backup.stalled_instance_id
        if not instance_id:
            raise self.skipException('[database_backup] stalled_instance_id '
                                     'is not set.')
        running = self.client.create_backup(
            name='stalled', instance=instance_id)['backup']
        self.addCleanup(self.delete_and_wait, self.client, running['id'])
        error = self.assertRaises(lib_exc.UnprocessableEntity,
                                  self.client.verify_backup, running['id'])
        self.assertIn('its status is NEW', str(error.resp_body))
        # The reaper fails it (no agent serves the instance): still 422.
        self.wait_for_status(running['id'], base.FAILED)
        error = self.assertRaises(lib_exc.UnprocessableEntity,
                                  self.client.verify_backup, running['id'])
        self.assertIn('its status is FAILED', str(error.resp_body))
        self.assertIsNone(self.client.show_backup(
            running['id'])['backup']['verification'])

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('c5e7a9b1-3d4f-4e6a-9c8b-2f4a6c8e0a46')
    def test_verify_a_backup_being_deleted(self):
        backup = self.create_completed_backup()
        self.client.delete_backup(backup['id'])
        try:
            self.client.verify_backup(backup['id'])
        except lib_exc.UnprocessableEntity as error:
            self.assertIn('being deleted', str(error.resp_body))
        except lib_exc.NotFound:
            # The worker was quicker: the backup is gone already.
            self.assertTrue(self.client.is_resource_deleted(backup['id']))
        else:
            self.fail('A backup being deleted was verified.')
