"""A storage token handed to an agent reaches its backup's objects only,
also through Swift's middlewares that act on other paths (server-side
copy, container metadata, large objects, symlinks): the Keystone proxy of
tools/swift-aio.sh runs our access_rules filter (trove_backup_ext_swift)."""

import json
import uuid

import requests

from trove_backup_ext import app_credentials
from trove_backup_ext.db import storage_credentials as credentials_db
from trove_backup_ext.tests.functional import test_storage_credentials as sc
from trove_backup_ext.tests import keystone_fixture as ks


class StorageTokenEscapeTest(sc.OwnerAccountFixture):

    def setUp(self):
        super().setUp()
        token = self.users.add('member', ks.PROJECT_A)
        self.backup_id, rows = self.create(token)
        self.write = app_credentials.issue_token(self.conf,
                                                 rows['write'])['token']
        self.own = '/%s/%s/' % (self.container, self.backup_id)
        # Another backup's object in the same container.
        self.owner.put_container(self.container)
        self.victim = '%s/manifest' % uuid.uuid4()
        self.owner.put_object(self.container, self.victim, b'theirs')

    def _copied(self, name):
        try:
            return self.owner.get_object(self.container, name)[1]
        except Exception:
            return None

    def test_write_token_cannot_copy_another_container_in(self):
        self.swift('PUT', self.write, self.own + 'a',
                   **{'X-Copy-From': '/%s/secret' % self.other})
        self.assertIsNone(self._copied('%s/a' % self.backup_id))

    def test_write_token_cannot_copy_another_backup_in(self):
        source = '/%s/%s' % (self.container, self.victim)
        self.swift('PUT', self.write, self.own + 'b',
                   **{'X-Copy-From': source})
        self.assertIsNone(self._copied('%s/b' % self.backup_id))

    def test_write_token_cannot_open_the_container(self):
        self.swift('PUT', self.write, '/' + self.container,
                   **{'X-Container-Read': '.r:*,.rlistings'})
        url = '%s/%s/%s' % (self.account, self.container, self.victim)
        anonymous = requests.get(url, timeout=30)
        self.assertNotEqual(200, anonymous.status_code)
        headers = self.owner.head_container(self.container)
        self.assertNotIn('x-container-read', headers)

    def test_write_token_cannot_set_container_metadata(self):
        self.swift('PUT', self.write, '/' + self.container,
                   **{'X-Container-Meta-Temp-URL-Key': 'chosen',
                      'X-Versions-Location': self.other})
        headers = self.owner.head_container(self.container)
        self.assertNotIn('x-container-meta-temp-url-key', headers)
        self.assertNotIn('x-versions-location', headers)

    def _large_object_read(self, make):
        """What a GET with the backup's read token returns of the
        object make (a PUT with the write token) creates in the backup."""
        read = app_credentials.issue_token(
            self.conf, credentials_db.get(self.context, self.backup_id,
                                          'read'))['token']
        make()
        return requests.get(self.account + self.own + 'large', timeout=30,
                            headers={'X-Auth-Token': read}).content

    def test_dlo_manifest_cannot_read_another_container(self):
        # Swift's dlo middleware lists and reads the segments in
        # sub-requests that auth_token never sees; the filter holds them
        # to the token's rules.
        got = self._large_object_read(lambda: self.swift(
            'PUT', self.write, self.own + 'large',
            **{'X-Object-Manifest': '%s/secret' % self.other}))
        self.assertNotIn(b'not yours', got)

    def test_dlo_manifest_cannot_read_another_backup(self):
        got = self._large_object_read(lambda: self.swift(
            'PUT', self.write, self.own + 'large',
            **{'X-Object-Manifest': '%s/%s' % (self.container,
                                               self.victim)}))
        self.assertNotIn(b'theirs', got)

    def test_slo_manifest_cannot_read_another_container(self):
        segments = json.dumps([{'path': '/%s/secret' % self.other}])
        put = []
        got = self._large_object_read(lambda: put.append(requests.put(
            self.account + self.own + 'large?multipart-manifest=put',
            headers={'X-Auth-Token': self.write}, data=segments,
            timeout=30)))
        self.assertNotIn(b'not yours', got)
        # slo checks each segment with a HEAD, which the filter refuses.
        self.assertEqual(400, put[0].status_code)

    def test_symlink_cannot_read_another_container(self):
        # A symlink has no body of its own.
        put = []
        got = self._large_object_read(lambda: put.append(requests.put(
            self.account + self.own + 'large', data=b'', timeout=30,
            headers={'X-Auth-Token': self.write,
                     'X-Symlink-Target': '%s/secret' % self.other})))
        self.assertEqual(201, put[0].status_code)
        self.assertNotIn(b'not yours', got)

    def test_the_backups_own_objects_still_work(self):
        # The filter refuses what the rules do not name, nothing more:
        # the write token writes the backup's objects, the read token
        # reads them back, through the same proxy.
        self.assertEqual(201, self.swift('PUT', self.write,
                                         self.own + 'segment'))
        read = app_credentials.issue_token(
            self.conf, credentials_db.get(self.context, self.backup_id,
                                          'read'))['token']
        response = requests.get(self.account + self.own + 'segment',
                                timeout=30, headers={'X-Auth-Token': read})
        self.assertEqual((200, b'x'), (response.status_code,
                                       response.content))

    def test_a_bogus_service_token_does_not_lift_the_rules(self):
        # auth_token skips the access rules of any request that carries an
        # X-Service-Token header, valid or not.
        status = self.swift('GET', self.write, '/%s/secret' % self.other,
                            **{'X-Service-Token': 'not-a-token'})
        self.assertIn(status, (401, 403))
