"""Restoring into a live instance: the swap, its failures, and kills."""

import errno
import os
import sqlite3
from unittest import mock

import fixtures
from oslo_config import cfg

from trove_backup_ext.agent import in_place
from trove_backup_ext.datastores import base as datastore_base
from trove_backup_ext.datastores import sqlite
from trove_backup_ext.tests import base


def make_database(path, value):
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.execute('PRAGMA journal_mode=wal')
            connection.execute('CREATE TABLE t (v TEXT)')
            connection.execute('INSERT INTO t VALUES (?)', (value,))
    finally:
        connection.close()
    return path


def values_of(path):
    connection = sqlite3.connect(path)
    try:
        return [row[0] for row in connection.execute('SELECT v FROM t')]
    finally:
        connection.close()


def value_of(path):
    return values_of(path)[0]


class _Datastore(sqlite.SQLiteDatastore):
    """The sqlite driver, with a start() tests can make fail or die in."""

    def __init__(self, conf, on_start=None):
        super().__init__(conf)
        self.on_start = on_start
        self.calls = []

    def stop(self):
        self.calls.append('stop')

    def start(self):
        self.calls.append('start')
        if self.on_start is not None:
            on_start, self.on_start = self.on_start, None
            on_start()


class InPlaceTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.live = make_database(os.path.join(self.dir, 'live.db'), 'old')
        # A WAL that belongs to the old file: it must travel with it.
        self.keep_wal = sqlite3.connect(self.live)
        self.keep_wal.execute('INSERT INTO t VALUES (?)', ('in wal',))
        self.keep_wal.commit()
        self.addCleanup(self.keep_wal.close)
        self.conf = cfg.ConfigOpts()
        sqlite.register_opts(self.conf)
        self.conf([], default_config_files=[])
        self.conf.set_override('database_path', self.live, group='sqlite')

    def writer(self, value):
        def write_restored(staging):
            os.makedirs(staging)
            return make_database(os.path.join(staging, 'r.db'), value)
        return write_restored

    def leftovers(self):
        return sorted(n for n in os.listdir(self.dir) if n.startswith('.'))

    def test_restore_replaces_the_data_and_leaves_nothing_else(self):
        datastore = _Datastore(self.conf)
        in_place.restore_in_place(datastore, 'r1', self.writer('new'))
        self.assertEqual('new', value_of(self.live))
        self.assertEqual(['stop', 'start'], datastore.calls)
        self.assertEqual([], self.leftovers())
        self.assertFalse(os.path.exists(self.live + '-wal'))

    def test_failed_check_puts_the_old_data_back(self):
        datastore = _Datastore(self.conf)

        def damaged(staging):
            os.makedirs(staging)
            path = os.path.join(staging, 'r.db')
            with open(path, 'wb') as out:
                out.write(b'SQLite format 3\x00' + b'\xff' * 4000)
            return path
        self.assertRaises(datastore_base.DatastoreError,
                          in_place.restore_in_place, datastore, 'r1',
                          damaged)
        self.assertEqual(['old', 'in wal'], values_of(self.live))
        self.assertEqual(['stop', 'start', 'stop', 'start'],
                         datastore.calls)
        self.assertEqual([], self.leftovers())

    def test_rollback_never_moves_data_under_a_server_it_cannot_stop(self):
        datastore = _Datastore(self.conf)
        stops = []

        def stop():
            stops.append('stop')
            if len(stops) == 2:     # The rollback's stop.
                raise OSError('the server did not stop')
        datastore.stop = stop

        def damaged(staging):
            os.makedirs(staging)
            path = os.path.join(staging, 'r.db')
            with open(path, 'wb') as out:
                out.write(b'SQLite format 3\x00' + b'\xff' * 4000)
            return path
        error = self.assertRaises(in_place.RollbackBlocked,
                                  in_place.restore_in_place, datastore,
                                  'r1', damaged)
        self.assertIn('could not be stopped', str(error))
        # Nothing moved: the restored file is where the server has it,
        # the old data aside and the journal kept for the next start.
        with open(self.live, 'rb') as restored:
            self.assertEqual(b'\xff' * 16, restored.read(32)[16:])
        aside = in_place.Paths(self.live, 'r1').aside
        self.assertEqual(['old', 'in wal'],
                         values_of(os.path.join(aside, 'live.db')))
        self.assertTrue(in_place.Paths.journals(self.live))
        # Once the server stops, the agent's start puts the old data back.
        self.assertEqual([], in_place.recover(_Datastore(self.conf)))
        self.assertEqual(['old', 'in wal'], values_of(self.live))
        self.assertEqual([], self.leftovers())

    def test_failed_download_never_touches_the_instance(self):
        datastore = _Datastore(self.conf)

        def broken(staging):
            os.makedirs(staging)
            raise datastore_base.DatastoreError(reason='storage went away')
        self.assertRaises(datastore_base.DatastoreError,
                          in_place.restore_in_place, datastore, 'r1', broken)
        self.assertEqual([], datastore.calls)
        self.assertEqual('old', value_of(self.live))
        self.assertEqual([], self.leftovers())

    def test_journal_that_cannot_be_written_leaves_nothing(self):
        # A full disk beside the data: the journal's first write fails.
        datastore = _Datastore(self.conf)
        full = OSError(errno.ENOSPC, 'No space left on device')
        with mock.patch.object(in_place.os, 'fsync', side_effect=full):
            self.assertRaises(OSError, in_place.restore_in_place, datastore,
                              'r1', self.writer('new'))
        self.assertEqual([], datastore.calls)
        self.assertEqual('old', value_of(self.live))
        self.assertEqual([], self.leftovers())

    def _killed_at_start(self, step_value):
        """Run a restore in a child process that dies in start()."""
        pid = os.fork()
        if pid == 0:
            try:
                in_place.restore_in_place(
                    _Datastore(self.conf, on_start=lambda: os._exit(9)),
                    'r1', self.writer(step_value))
            finally:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(9, os.waitstatus_to_exitcode(status))

    def test_agent_killed_after_the_swap_is_rolled_back_on_start(self):
        self._killed_at_start('new')
        # The restored file is live, unchecked; the old one aside.
        self.assertEqual('new', value_of(self.live))
        datastore = _Datastore(self.conf)
        in_place.recover(datastore)
        self.assertEqual(['old', 'in wal'], values_of(self.live))
        self.assertEqual(['stop', 'start'], datastore.calls)
        self.assertEqual([], self.leftovers())

    def _killed_while_confirming(self):
        pid = os.fork()
        if pid == 0:
            try:
                in_place.restore_in_place(
                    _Datastore(self.conf), 'r1', self.writer('new'),
                    confirm=lambda: os._exit(9),
                    journal_extra={'attempt_id': 'a1'})
            finally:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(9, os.waitstatus_to_exitcode(status))

    def test_killed_while_confirming_keeps_a_restore_the_worker_has(self):
        self._killed_while_confirming()
        asked = []

        def worker_has_it(state):
            asked.append(state['extra'])
            return True
        in_place.recover(_Datastore(self.conf), confirm=worker_has_it)
        self.assertEqual([{'attempt_id': 'a1'}], asked)
        self.assertEqual(['new'], values_of(self.live))
        self.assertEqual([], self.leftovers())

    def test_killed_while_confirming_rolls_back_what_it_has_not(self):
        self._killed_while_confirming()
        in_place.recover(_Datastore(self.conf), confirm=lambda state: False)
        self.assertEqual(['old', 'in wal'], values_of(self.live))
        self.assertEqual([], self.leftovers())

    def test_no_answer_keeps_both_until_one_comes(self):
        datastore = _Datastore(self.conf)
        self.assertRaises(in_place.Unconfirmed, in_place.restore_in_place,
                          datastore, 'r1', self.writer('new'),
                          confirm=lambda: None)
        self.assertEqual(['new'], values_of(self.live))
        self.assertEqual(['r1'], in_place.recover(datastore,
                                                  lambda state: None))
        # A new restore waits for the answer too, changing nothing.
        self.assertRaises(datastore_base.DatastoreError,
                          in_place.restore_in_place, datastore, 'r2',
                          self.writer('newer'))
        self.assertEqual(['new'], values_of(self.live))
        self.assertEqual([], in_place.recover(datastore,
                                              lambda state: False))
        self.assertEqual(['old', 'in wal'], values_of(self.live))
        self.assertEqual([], self.leftovers())

    def test_journal_of_a_checked_restore_is_completed(self):
        paths = in_place.Paths(self.live, 'r9')
        journal = in_place._Journal(paths, 'r9')
        os.makedirs(paths.aside)
        journal.write(in_place.DONE, moved=[self.live])
        in_place.recover(_Datastore(self.conf))
        self.assertEqual([], self.leftovers())
        self.assertEqual('old', value_of(self.live))

    def test_next_restore_recovers_first(self):
        self._killed_at_start('new')
        datastore = _Datastore(self.conf)
        in_place.restore_in_place(datastore, 'r2', self.writer('newer'))
        self.assertEqual('newer', value_of(self.live))
        self.assertEqual([], self.leftovers())

    def test_unreadable_journal_stops_with_a_clear_error(self):
        with open(in_place.Paths(self.live, 'r3').journal, 'w') as out:
            out.write('{not json')
        error = self.assertRaises(datastore_base.DatastoreError,
                                  in_place.recover, _Datastore(self.conf))
        self.assertIn('Check the data of %s by hand' % self.live, str(error))
