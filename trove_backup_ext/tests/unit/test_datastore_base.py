"""What every datastore driver shares."""

import fcntl
import io
import os

import fixtures

from trove_backup_ext.datastores import base as datastore_base
from trove_backup_ext.tests import base


class WidenPipeTest(base.TestCase):

    def test_a_tools_pipe_holds_a_mebibyte(self):
        read_end, write_end = os.pipe()
        self.addCleanup(os.close, write_end)
        with os.fdopen(read_end, 'rb') as stream:
            datastore_base.widen_pipe(stream)
            self.assertEqual(1024 * 1024, fcntl.fcntl(
                stream.fileno(), fcntl.F_GETPIPE_SZ))

    def test_what_is_not_a_pipe_is_left_alone(self):
        # A file, or a stream without a descriptor: no error.
        with open(os.devnull, 'rb') as stream:
            datastore_base.widen_pipe(stream)
        self.assertRaises(io.UnsupportedOperation, io.BytesIO().fileno)
        datastore_base.widen_pipe(io.BytesIO())


class EstimatedSizeTest(base.TestCase):

    def test_size_of_the_live_data_or_none(self):
        root = self.useFixture(fixtures.TempDir()).path
        os.makedirs(os.path.join(root, 'data', 'base'))
        for name, size in (('data/PG_VERSION', 3), ('data/base/1', 8192)):
            with open(os.path.join(root, name), 'wb') as out:
                out.write(b'x' * size)
        os.symlink('/etc/passwd', os.path.join(root, 'data', 'link'))

        class Driver(datastore_base.Datastore):
            name = 'test'
            live = os.path.join(root, 'data')

            def backup(self, parent_metadata=None):
                pass

            def restore(self, chain, target):
                pass

            def live_data(self):
                if self.live is None:
                    return super().live_data()
                return self.live
        driver = Driver(None)
        self.assertEqual(8195, driver.estimated_size())
        driver.live = None      # A driver that does not know its data.
        self.assertIsNone(driver.estimated_size())
