"""The worker's RPC client: version caps, targets and the casts it sends."""

from unittest import mock

import fixtures
import oslo_messaging as messaging

from trove_backup_ext import context as backup_context
from trove_backup_ext import exception
from trove_backup_ext import rpc
from trove_backup_ext.tests import base
from trove_backup_ext.tests import service_fixtures
from trove_backup_ext.worker import rpcapi

BACKUP_ID = '5a1e6b1c-5b0e-4a8c-9a5e-3c3b7f0f2d11'


class VersionCapTest(base.TestCase):

    ALIASES = {'2027.1': '1.0', '2027.2': '1.3'}

    def cap(self, configured):
        return rpc.version_cap(configured, self.ALIASES, '1.4')

    def test_latest_and_unset_mean_the_newest_version(self):
        self.assertEqual('1.4', self.cap('latest'))
        self.assertEqual('1.4', self.cap(None))
        self.assertEqual('1.4', self.cap(''))

    def test_release_name_maps_to_its_version(self):
        self.assertEqual('1.0', self.cap('2027.1'))
        self.assertEqual('1.3', self.cap('2027.2'))

    def test_version_number_is_taken_as_is(self):
        self.assertEqual('1.2', self.cap('1.2'))
        self.assertEqual('0.9', self.cap('0.9'))
        self.assertEqual('1.10', self.cap('1.10'))

    def test_unknown_release_or_garbage_is_a_configuration_error(self):
        # A major above the latest is never sendable: 2026.2 is a release
        # name this code does not know, not a version.
        for configured in ('2026.2', '2.0', 'dalmatian', '1', '1.0.1',
                           'v1.0', ' 1.0', 'LATEST'):
            error = self.assertRaises(exception.ConfigurationError,
                                      self.cap, configured)
            self.assertIn(repr(configured), str(error))
            self.assertIn('2027.1, 2027.2', str(error))


class WorkerAPIClientTest(base.TestCase):
    """What WorkerAPI hands to oslo.messaging (the client is mocked)."""

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(service_fixtures.Conf(
            **{'api.rpc_cast_retry': 2})).conf
        self.get_client = self.useFixture(fixtures.MockPatch(
            'oslo_messaging.get_rpc_client')).mock
        self.client = self.get_client.return_value
        self.transport = mock.sentinel.transport
        self.context = backup_context.RequestContext(
            project_id='project-a', user_id='user-1')

    def test_client_targets_the_worker_topic_at_the_latest_version(self):
        rpcapi.WorkerAPI(self.conf, self.transport)
        args, kwargs = self.get_client.call_args
        self.assertEqual(self.transport, args[0])
        target = args[1]
        self.assertEqual('trove-backup-worker', target.topic)
        self.assertEqual(rpcapi.WorkerAPI.RPC_API_VERSION, target.version)
        self.assertIsNone(target.server)
        self.assertEqual('1.3', kwargs['version_cap'])
        self.assertIsInstance(kwargs['serializer'],
                              rpc.RequestContextSerializer)

    def test_upgrade_level_caps_the_client(self):
        for configured, cap in (('2027.1', '1.0'), ('1.0', '1.0'),
                                ('0.9', '0.9'), ('latest', '1.3')):
            self.conf.set_override('worker', configured,
                                   group='upgrade_levels')
            rpcapi.WorkerAPI(self.conf, self.transport)
            self.assertEqual(cap,
                             self.get_client.call_args[1]['version_cap'])

    def test_unknown_upgrade_level_fails_at_start_up(self):
        self.conf.set_override('worker', '2099.1', group='upgrade_levels')
        self.assertRaises(exception.ConfigurationError, rpcapi.WorkerAPI,
                          self.conf, self.transport)
        self.get_client.assert_not_called()

    def test_create_backup_casts_the_id_at_1_0(self):
        worker = rpcapi.WorkerAPI(self.conf, self.transport)
        worker.create_backup(self.context, BACKUP_ID)
        self.client.prepare.assert_called_once_with(version='1.0', retry=2)
        self.client.prepare.return_value.cast.assert_called_once_with(
            self.context, 'create_backup', backup_id=BACKUP_ID)
        self.client.prepare.return_value.call.assert_not_called()

    def test_delete_backup_casts_the_id_at_1_0(self):
        self.conf.set_override('rpc_cast_retry', 0, group='api')
        worker = rpcapi.WorkerAPI(self.conf, self.transport)
        worker.delete_backup(self.context, BACKUP_ID)
        self.client.prepare.assert_called_once_with(version='1.0', retry=0)
        self.client.prepare.return_value.cast.assert_called_once_with(
            self.context, 'delete_backup', backup_id=BACKUP_ID)
        self.client.prepare.return_value.call.assert_not_called()

    def test_update_backup_names_the_attempt_and_progress_at_1_3(self):
        self.client.can_send_version.return_value = True
        worker = rpcapi.WorkerAPI(self.conf, self.transport)
        worker.update_backup(self.context, 'i1', BACKUP_ID, 'BUILDING',
                             attempt_id='a1', progress={'bytes_done': 1})
        self.client.prepare.assert_called_once_with(
            version='1.3', retry=2, timeout=None)
        self.client.prepare.return_value.cast.assert_called_once_with(
            self.context, 'update_backup', instance_id='i1',
            backup_id=BACKUP_ID, status='BUILDING', attempt_id='a1',
            progress={'bytes_done': 1})

    def test_update_backup_to_a_1_1_worker_leaves_progress_out(self):
        self.client.can_send_version.side_effect = (
            lambda version: version in ('1.0', '1.1'))
        worker = rpcapi.WorkerAPI(self.conf, self.transport)
        worker.update_backup(self.context, 'i1', BACKUP_ID, 'BUILDING',
                             attempt_id='a1', progress={'bytes_done': 1})
        self.client.prepare.assert_called_once_with(
            version='1.1', retry=2, timeout=None)
        self.client.prepare.return_value.cast.assert_called_once_with(
            self.context, 'update_backup', instance_id='i1',
            backup_id=BACKUP_ID, status='BUILDING', attempt_id='a1')

    def test_reports_are_signed_at_1_3_only(self):
        signer = mock.Mock(return_value={'v': 1, 'hmac': 'h'})
        worker = rpcapi.WorkerAPI(self.conf, self.transport, signer=signer)
        self.client.can_send_version.return_value = True
        worker.update_restore(self.context, 'i1', 'r1', 'RESTORING', 'a1')
        signer.assert_called_once_with('update_restore', {
            'instance_id': 'i1', 'restore_id': 'r1', 'status': 'RESTORING',
            'attempt_id': 'a1'})
        self.client.prepare.assert_called_once_with(
            version='1.3', retry=2, timeout=None)
        self.client.prepare.return_value.cast.assert_called_once_with(
            self.context, 'update_restore', instance_id='i1',
            restore_id='r1', status='RESTORING', attempt_id='a1',
            signature={'v': 1, 'hmac': 'h'})
        # A 1.2 worker takes no signature: none is made or sent.
        signer.reset_mock()
        self.client.reset_mock()
        self.client.can_send_version.side_effect = (
            lambda version: version != '1.3')
        worker.update_verification(self.context, 'i1', BACKUP_ID,
                                   'RUNNING', 'a1')
        signer.assert_not_called()
        self.client.prepare.assert_called_once_with(
            version='1.2', retry=2, timeout=None)
        self.client.prepare.return_value.cast.assert_called_once_with(
            self.context, 'update_verification', instance_id='i1',
            backup_id=BACKUP_ID, status='RUNNING', attempt_id='a1')

    def test_verify_backup_casts_the_id_at_1_2(self):
        worker = rpcapi.WorkerAPI(self.conf, self.transport)
        worker.verify_backup(self.context, BACKUP_ID)
        self.client.prepare.assert_called_once_with(version='1.2', retry=2)
        self.client.prepare.return_value.cast.assert_called_once_with(
            self.context, 'verify_backup', backup_id=BACKUP_ID)

    def test_restore_backup_casts_the_id_at_1_2(self):
        worker = rpcapi.WorkerAPI(self.conf, self.transport)
        worker.restore_backup(self.context, BACKUP_ID)
        self.client.prepare.assert_called_once_with(version='1.2', retry=2)
        self.client.prepare.return_value.cast.assert_called_once_with(
            self.context, 'restore_backup', restore_id=BACKUP_ID)

    def test_update_backup_to_a_1_0_worker_leaves_the_attempt_out(self):
        # A 1.0 worker's update_backup takes no attempt_id argument.
        self.client.can_send_version.return_value = False
        worker = rpcapi.WorkerAPI(self.conf, self.transport)
        worker.update_backup(self.context, 'i1', BACKUP_ID, 'FAILED',
                             wait=True, attempt_id='a1', fail_reason='x')
        self.client.prepare.assert_called_once_with(
            version='1.0', retry=2, timeout=None)
        self.client.prepare.return_value.call.assert_called_once_with(
            self.context, 'update_backup', instance_id='i1',
            backup_id=BACKUP_ID, status='FAILED', fail_reason='x')

    def test_cast_failure_reaches_the_caller(self):
        # BackupService undoes its writes only if the failure gets to it.
        self.client.prepare.return_value.cast.side_effect = (
            messaging.MessageDeliveryFailure('bus down'))
        worker = rpcapi.WorkerAPI(self.conf, self.transport)
        self.assertRaises(messaging.MessageDeliveryFailure,
                          worker.create_backup, self.context, BACKUP_ID)
        self.assertRaises(messaging.MessageDeliveryFailure,
                          worker.delete_backup, self.context, BACKUP_ID)

    def test_can_send_version_asks_the_client(self):
        self.client.can_send_version.return_value = False
        worker = rpcapi.WorkerAPI(self.conf, self.transport)
        self.assertFalse(worker.can_send_version('1.0'))
        self.client.can_send_version.assert_called_once_with('1.0')


class WorkerAPICapTest(base.TestCase):
    """can_send_version through a real client on the in-memory bus."""

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(service_fixtures.Conf()).conf
        self.transport = rpc.get_transport(self.conf)
        self.addCleanup(self.transport.cleanup)

    def worker(self, level):
        self.conf.set_override('worker', level, group='upgrade_levels')
        return rpcapi.WorkerAPI(self.conf, self.transport)

    def test_caps_at_or_above_1_0_allow_1_0(self):
        for level in ('latest', '2027.1', '1.0', '1.5'):
            self.assertTrue(self.worker(level).can_send_version('1.0'),
                            level)

    def test_cap_below_1_0_refuses_1_0(self):
        worker = self.worker('0.9')
        self.assertFalse(worker.can_send_version('1.0'))
        self.assertTrue(worker.can_send_version('0.9'))

    def test_cast_above_the_cap_is_refused_before_sending(self):
        self.assertRaises(messaging.RPCVersionCapError,
                          self.worker('0.9').create_backup,
                          backup_context.get_admin_context(), BACKUP_ID)


class ContextSerializerTest(base.TestCase):

    def test_context_travels_as_a_dict_and_comes_back(self):
        serializer = rpc.RequestContextSerializer()
        context = backup_context.RequestContext(
            project_id='project-a', user_id='user-1', roles=['member'],
            request_id='req-8d0e5f36-1c7a-4a55-9bf5-6c2a0c2a5d3e')
        wire = serializer.serialize_context(context)
        self.assertIsInstance(wire, dict)
        back = serializer.deserialize_context(wire)
        self.assertIsInstance(back, backup_context.RequestContext)
        self.assertEqual(('project-a', 'user-1', ['member'],
                          context.request_id, False),
                         (back.project_id, back.user_id, back.roles,
                          back.request_id, back.is_admin))

    def test_topics(self):
        self.assertEqual('trove-backup-worker', rpc.WORKER_TOPIC)
        self.assertEqual('trove-backup-agent.5a1e',
                         rpc.agent_topic('5a1e'))
