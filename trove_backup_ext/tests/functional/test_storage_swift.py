"""The swift driver against a real Swift (tools/swift-aio.sh)."""

import hashlib
import os
import pickle
import socket
from unittest import mock
from urllib import parse

import requests

from trove_backup_ext import exception
from trove_backup_ext.pipeline import codec as chunk_codec
from trove_backup_ext.pipeline import writer as backup_writer
from trove_backup_ext.storage import base as storage_base
from trove_backup_ext.storage import swift
from trove_backup_ext.tests import base
from trove_backup_ext.tests.functional import test_storage_local
from trove_backup_ext.tests import swift_fault_proxy
from trove_backup_ext.tests import swift_fixture
from trove_backup_ext.tests.unit import test_pipeline

SECRET = 'not-the-key-s3cr3t'


def closed_port():
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def find_object_file(devices, path):
    """The object server's .data file of /account/container/object."""
    for directory, _, files in os.walk(os.path.join(devices)):
        for name in files:
            if not name.endswith('.data'):
                continue
            file_path = os.path.join(directory, name)
            # The test Swift's own metadata, written by its object server.
            metadata = pickle.loads(os.getxattr(file_path,
                                                'user.swift.metadata'))
            if metadata.get(b'name') == path.encode('utf-8'):
                return file_path
    return None


class SwiftStorageTest(test_storage_local.StorageContractTests,
                       base.TestCase):

    # Four requests a round; Swift has no directories to race on, but
    # its listings and deletes must stay within their prefix too.
    race_rounds = 50

    def setUp(self):
        super().setUp()
        self.conf = swift_fixture.swift_conf()
        self.storage = swift.SwiftStorage(self.conf)
        self.container = self.useFixture(swift_fixture.Container()).name
        self.other_container = self.useFixture(
            swift_fixture.Container()).name
        self.admin = swift_fixture.admin_connection()
        self.addCleanup(self.admin.close)
        self.account_url, self.token = self.admin.get_auth()

    def assertObjectURL(self, url, container, name):
        self.assertEqual('%s/%s/%s' % (self.account_url,
                                       parse.quote(container, safe=''),
                                       parse.quote(name)), url)
        # The URL is where the object really is.
        response = requests.get(url, headers={'X-Auth-Token': self.token},
                                timeout=30)
        self.assertEqual(200, response.status_code)
        self.assertEqual(self.storage.get_object(container, name),
                         response.content)

    def test_object_url_of_names_to_quote(self):
        container = self.useFixture(swift_fixture.Container('tbe é %')).name
        self.storage.ensure_container(container)
        self.storage.put_object(container, 'a b/ü?#x', b'quoted')
        url = self.storage.object_url(container, 'a b/ü?#x')
        self.assertNotIn(' ', url)
        self.assertObjectURL(url, container, 'a b/ü?#x')

    def test_container_name_rules(self):
        for container in ('a/b', 'x' * 257, 'é' * 129):
            self.assertRaises(ValueError, self.storage.ensure_container,
                              container)
        # 256 bytes of UTF-8 is the longest name Swift takes.
        longest = self.useFixture(swift_fixture.Container(
            'é' * 121 + 'x')).name
        self.assertEqual(256, len(longest.encode()))
        self.storage.ensure_container(longest)
        self.storage.put_object(longest, 'o', b'ok')
        self.assertEqual(['o'], self.storage.list_objects(longest))

    def test_container_is_created_in_the_account(self):
        self.storage.ensure_container(self.container)
        headers = self.admin.head_container(self.container)
        self.assertEqual('0', headers['x-container-object-count'])

    def test_upload_not_matching_its_etag_is_refused(self):
        self.storage.ensure_container(self.container)
        wrong = hashlib.md5(b'other bytes').hexdigest()
        # As if the body had been damaged after its MD5 was taken.
        with mock.patch.object(swift, '_etag', return_value=wrong):
            exc = self.assertRaises(storage_base.StorageError,
                                    self.storage.put_object, self.container,
                                    'chunk', b'the real bytes')
        self.assertIn('422', str(exc))
        self.assertIn('chunk', str(exc))
        self.assertEqual([], self.storage.list_objects(self.container))

    def test_object_damaged_in_storage_is_refused(self):
        devices = swift_fixture.aio_devices()
        if devices is None:
            self.skipTest('the Swift under test is not tools/swift-aio.sh\'s')
        self.storage.ensure_container(self.container)
        self.storage.put_object(self.container, 'chunk', b'A' * 4096)
        account = parse.unquote(parse.urlparse(self.account_url).path)
        path = find_object_file(devices, '%s/%s/chunk' % (
            account[len('/v1'):], self.container))
        self.assertIsNotNone(path)
        with open(path, 'r+b') as stored:
            stored.seek(100)
            stored.write(b'B')
        exc = self.assertRaises(storage_base.StorageError,
                                self.storage.get_object, self.container,
                                'chunk')
        self.assertNotIsInstance(exc, storage_base.ObjectNotFound)
        self.assertIn('does not match its ETag', str(exc))

    def test_expired_token_is_renewed_from_credentials(self):
        self.storage.ensure_container(self.container)
        connection = self.storage._idle.get_nowait()
        self.assertTrue(connection.token)
        # What a token that expired mid-backup looks like: Swift answers
        # 401, and the driver authenticates again with its own key.
        connection.token = 'AUTH_tk' + '0' * 32
        self.storage._idle.put(connection)
        self.storage.put_object(self.container, 'after-401', b'stored')
        self.assertEqual(b'stored', self.admin.get_object(
            self.container, 'after-401')[1])
        self.assertNotEqual('AUTH_tk' + '0' * 32, connection.token)

    def test_swift_url_overrides_the_storage_url(self):
        url = self.account_url.replace('127.0.0.1', 'localhost')
        storage = swift.SwiftStorage(swift_fixture.swift_conf(swift_url=url))
        storage.ensure_container(self.container)
        storage.put_object(self.container, 'o', b'via override')
        self.assertEqual('%s/%s/o' % (url, self.container),
                         storage.object_url(self.container, 'o'))
        self.assertEqual(b'via override',
                         self.storage.get_object(self.container, 'o'))


class SwiftFailureTest(base.TestCase):
    """Swift down or refusing: a StorageError that says so, soon."""

    def storage(self, **overrides):
        options = {'key': SECRET, 'retries': 1, 'starting_backoff': 0.01,
                   'timeout': 5}
        options.update(overrides)
        return swift.SwiftStorage(swift_fixture.swift_conf(**options))

    def test_auth_endpoint_down(self):
        port = closed_port()
        storage = self.storage(
            auth_url='http://127.0.0.1:%d/auth/v1.0' % port)
        exc = self.assertRaises(storage_base.StorageError,
                                storage.ensure_container, 'backups')
        message = str(exc)
        self.assertIn('Cannot reach the auth service at '
                      'http://127.0.0.1:%d' % port, message)
        self.assertIn('Connection refused', message)
        self.assertIn('2 attempts', message)
        self.assertNotIn(SECRET, message)

    def test_storage_down_fails_the_backup(self):
        # Authentication works, the storage URL does not answer.
        url = 'http://127.0.0.1:%d/v1/AUTH_test' % closed_port()
        storage = self.storage(key=swift_fixture.swift_auth()['ST_KEY'],
                               swift_url=url)
        writer = backup_writer.BackupWriter(
            storage, 'backups', 'b1', chunk_codec.ChunkCodec(),
            chunk_size=64 * 1024)
        exc = self.assertRaises(
            storage_base.StorageError, writer.write,
            test_pipeline.FakeSession([('db', os.urandom(256 * 1024))]), {})
        self.assertIn('Cannot reach Swift at %s' % url, str(exc))
        self.assertIn('container backups', str(exc))

    def test_wrong_key(self):
        exc = self.assertRaises(storage_base.StorageError,
                                self.storage().ensure_container, 'backups')
        self.assertIn('401 Unauthorized', str(exc))
        self.assertNotIn(SECRET, str(exc))

    def test_incomplete_configuration(self):
        exc = self.assertRaises(exception.ConfigurationError, self.storage,
                                auth_url=None, key=None)
        self.assertIn('[swift] auth_url, key', str(exc))
        # An application credential stands in for user and key.
        self.storage(auth_version='3', user=None, key=None,
                     application_credential_id='id',
                     application_credential_secret=SECRET)
        exc = self.assertRaises(
            exception.ConfigurationError, swift.SwiftStorage,
            swift_fixture.swift_conf(auth_version='3',
                                     application_credential_id='id',
                                     application_credential_secret=SECRET),
            trust_id='trust')
        self.assertIn('trust', str(exc))

    def test_keystone_down(self):
        port = closed_port()
        storage = self.storage(auth_version='3', user='backup',
                               project_name='service',
                               auth_url='http://127.0.0.1:%d/v3' % port)
        exc = self.assertRaises(storage_base.StorageError,
                                storage.put_object, 'backups', 'o', b'x')
        self.assertIn('Cannot reach the auth service at '
                      'http://127.0.0.1:%d/v3' % port, str(exc))
        self.assertNotIn(SECRET, str(exc))

    def test_connection_dropped_halfway_through_a_body(self):
        # A read cut off mid-body is raised by urllib3 from swiftclient's
        # read of the raw response, past requests' own wrapping.
        auth = swift_fixture.swift_auth()
        proxy = self.useFixture(
            swift_fault_proxy.SwiftFaultProxy(auth['ST_AUTH']))
        storage = self.storage(auth_url=proxy.auth_url, key=auth['ST_KEY'])
        container = self.useFixture(swift_fixture.Container()).name
        storage.ensure_container(container)
        storage.put_object(container, 'o', os.urandom(64 * 1024))
        where = 'Cannot reach Swift at http://%s/' % proxy.netloc
        proxy.fail('GET', mode=swift_fault_proxy.DROP)
        for read in (lambda: storage.get_object(container, 'o'),
                     lambda: storage.get_object_range(container, 'o', 0,
                                                      32 * 1024)):
            exc = self.assertRaises(storage_base.StorageError, read)
            self.assertIn(where, str(exc))
            self.assertIn('to read object %s/o' % container, str(exc))
            self.assertIn('Connection broken', str(exc))
        proxy.fail('PUT', mode=swift_fault_proxy.DROP)
        exc = self.assertRaises(storage_base.StorageError, storage.put_object,
                                container, 'p', os.urandom(64 * 1024))
        self.assertIn(where, str(exc))
        self.assertIn('to store object %s/p (2 attempts): Connection '
                      'aborted (' % container, str(exc))
        proxy.clear()
        self.assertEqual(['o'], storage.list_objects(container))
