"""What every datastore driver shares."""

import fcntl
import io
import os

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
