"""The back-off of failed deletions, and when the worker stops."""

import datetime
from unittest import mock

from keystoneauth1 import exceptions as ks_exceptions
from swiftclient import exceptions as swift_exceptions

from trove_backup_ext import exception
from trove_backup_ext.storage import base as storage_base
from trove_backup_ext.storage import swift
from trove_backup_ext import storage_access
from trove_backup_ext.tests import base
from trove_backup_ext.tests import service_fixtures
from trove_backup_ext.worker import delete_retries

NOW = datetime.datetime(2026, 12, 6, 12, 0, 0)


class DeleteRetriesTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(service_fixtures.Conf(**{
            'worker.delete_retry_interval': 300,
            'worker.delete_retry_max_interval': 3600,
            'worker.delete_refused_attempts': 3})).conf

    def test_delay_doubles_up_to_the_maximum(self):
        self.assertEqual([300, 600, 1200, 2400, 3600, 3600],
                         [delete_retries.delay(self.conf, n)
                          for n in range(1, 7)])
        # No overflow, however long it has been failing.
        self.assertEqual(3600, delete_retries.delay(self.conf, 10 ** 6))

    def test_backoff_steps_for_the_reaper(self):
        self.assertEqual([(1, 300), (2, 600), (3, 1200), (4, 2400),
                          (5, 3600)], delete_retries.backoff(self.conf))
        self.conf.set_override('delete_retry_max_interval', 300, 'worker')
        self.assertEqual([(1, 300)], delete_retries.backoff(self.conf))

    def test_maximum_below_the_interval_keeps_the_interval(self):
        self.conf.set_override('delete_retry_max_interval', 60, 'worker')
        self.assertEqual(300, delete_retries.delay(self.conf, 4))

    def test_storage_failures_are_retried_for_ever(self):
        for failures in (1, 5, 1000):
            retry_at, reason = delete_retries.decide(
                self.conf, failures, 0, 'Swift is down', now=NOW)
            self.assertEqual(NOW + datetime.timedelta(
                seconds=delete_retries.delay(self.conf, failures)), retry_at)
            self.assertEqual('Swift is down', reason)

    def test_refusals_back_off_then_stop_with_a_reason(self):
        retry_at, _ = delete_retries.decide(self.conf, 2, 2, 'HTTP 401',
                                            now=NOW)
        self.assertEqual(NOW + datetime.timedelta(seconds=600), retry_at)
        retry_at, reason = delete_retries.decide(self.conf, 3, 3,
                                                 'HTTP 401', now=NOW)
        self.assertIsNone(retry_at)
        self.assertTrue(reason.startswith('Stopped retrying'), reason)
        self.assertIn('refused 3 times in a row', reason)
        self.assertIn('reset-status', reason)
        self.assertTrue(reason.endswith('Last error: HTTP 401'), reason)

    def test_zero_never_stops(self):
        self.conf.set_override('delete_refused_attempts', 0, 'worker')
        retry_at, _ = delete_retries.decide(self.conf, 50, 50, 'HTTP 403',
                                            now=NOW)
        self.assertIsNotNone(retry_at)


class _RefusingSession:
    """A keystoneauth session whose Keystone answers status."""

    def __init__(self, status):
        self.status = status

    def get_endpoint(self, **kwargs):
        return 'http://127.0.0.1:1/v1/AUTH_owner'

    def get_token(self, **kwargs):
        raise ks_exceptions.from_response(
            _Response(self.status), 'POST', 'http://keystone/v3/auth/tokens')

    def invalidate(self, *args):
        return True


class _Response:
    headers = {'Content-Type': 'application/json'}

    def __init__(self, status):
        self.status_code = status
        self.text = '{"error": {"message": "refused"}}'

    def json(self):
        return {'error': {'message': 'refused', 'code': self.status_code}}


class RefusalTest(base.TestCase):
    """Which errors say the backup's credential is refused for good."""

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(service_fixtures.Conf(**{
            'swift.auth_url': 'http://keystone/v3', 'swift.retries': 0,
            'swift.timeout': 2, 'swift.user': 'backup',
            'swift.key': 'service-secret',
            'swift.project_name': 'service'})).conf

    def owner_storage(self, status):
        return swift.SwiftStorage(self.conf, session=_RefusingSession(status))

    def test_keystone_refusing_an_owner_credential(self):
        for status in (401, 403, 404):
            exc = self.assertRaises(
                storage_base.CredentialRefused,
                self.owner_storage(status).delete_object, 'c', 'o')
            self.assertIn('Keystone refused the credential', str(exc))
            self.assertIn('HTTP %d' % status, str(exc))
            self.assertTrue(storage_access.refused(exc))

    def test_keystone_failing_is_not_a_refusal(self):
        exc = self.assertRaises(storage_base.StorageError,
                                self.owner_storage(503).delete_object,
                                'c', 'o')
        self.assertNotIsInstance(exc, storage_base.CredentialRefused)
        self.assertFalse(storage_access.refused(exc))

    def test_swift_refusing_a_credential(self):
        for make, owner in ((lambda: self.owner_storage(401), True),
                            (lambda: swift.SwiftStorage(self.conf), False)):
            for status in (401, 403, 500):
                storage = make()    # No pooled connection of the last.
                connection = mock.Mock()
                connection.delete_object.side_effect = (
                    swift_exceptions.ClientException('no',
                                                     http_status=status))
                with mock.patch.object(storage, '_new_connection',
                                       return_value=connection):
                    exc = self.assertRaises(storage_base.StorageError,
                                            storage.delete_object, 'c', 'o')
                # Only the owner's credential: the service's own is the
                # operator's to fix, for every backup at once.
                self.assertEqual(owner and status != 500,
                                 storage_access.refused(exc), status)

    def test_a_revoked_credential_row_is_a_refusal(self):
        self.assertTrue(storage_access.refused(
            exception.StorageCredentialGone(reason='revoked.')))
        self.assertFalse(storage_access.refused(
            exception.ServiceUnavailable(reason='Keystone is down.')))
