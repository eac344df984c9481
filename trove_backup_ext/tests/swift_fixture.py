"""Fixtures for a real Swift: the all-in-one of tools/swift-aio.sh."""

import os
import threading
import uuid

import fixtures
from oslo_config import cfg
import swiftclient
from swiftclient import exceptions as swift_exceptions

from trove_backup_ext.storage import swift
from trove_backup_ext.tests import aio_tools

REPO = aio_tools.REPO

_lock = threading.Lock()
_auth = {}


def swift_auth():
    """ST_AUTH, ST_USER and ST_KEY of a running Swift.

    Taken from the environment when tools/run-tests.sh exported them;
    otherwise tools/swift-aio.sh starts its Swift (idempotent, and locked
    against other test processes doing the same) and prints them. A Swift
    that cannot be started fails the test: it is never skipped.
    """
    with _lock:
        if not _auth:
            _auth.update(aio_tools.started(
                'swift-aio.sh', 'ST_AUTH', ('ST_AUTH', 'ST_USER', 'ST_KEY'),
                timeout=300))
        return dict(_auth)


def aio_devices():
    """The device directory of tools/swift-aio.sh's Swift, if it runs here."""
    root = os.environ.get('SWIFT_AIO_DIR', os.path.join(REPO, '.swift-aio'))
    path = os.path.join(root, 'devices')
    return path if os.path.isdir(path) else None


def swift_conf(**overrides):
    """A ConfigOpts whose [swift] group points at the test Swift."""
    auth = swift_auth()
    conf = cfg.ConfigOpts()
    swift.register_opts(conf)
    conf([], default_config_files=[])
    options = {'auth_version': '1', 'auth_url': auth['ST_AUTH'],
               'user': auth['ST_USER'], 'key': auth['ST_KEY'],
               'retries': 2, 'starting_backoff': 0.1, 'timeout': 30}
    options.update(overrides)
    for name, value in options.items():
        conf.set_override(name, value, group='swift')
    return conf


def admin_connection():
    """A swiftclient Connection of the test account, apart from the
    driver under test, for setting up and checking behind its back."""
    auth = swift_auth()
    return swiftclient.Connection(auth['ST_AUTH'], auth['ST_USER'],
                                  auth['ST_KEY'], retries=2,
                                  starting_backoff=0.1)


class Container(fixtures.Fixture):
    """A container name of the test's own, emptied and deleted after."""

    def __init__(self, label='tbe-test'):
        super().__init__()
        self.label = label

    def _setUp(self):
        self.name = '%s-%s' % (self.label, uuid.uuid4().hex[:12])
        self.addCleanup(self._remove)

    def _remove(self):
        connection = admin_connection()
        try:
            try:
                _, listing = connection.get_container(self.name,
                                                      full_listing=True)
            except swift_exceptions.ClientException as exc:
                if exc.http_status == 404:
                    return
                raise
            for entry in listing:
                try:
                    connection.delete_object(self.name, entry['name'])
                except swift_exceptions.ClientException as exc:
                    if exc.http_status != 404:
                        raise
            connection.delete_container(self.name)
        finally:
            connection.close()
