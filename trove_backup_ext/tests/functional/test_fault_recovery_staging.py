"""A full disk where an agent writes a backup back out, on processes over
RabbitMQ, and what is left once there is room again.

An agent stages nothing to back up (the datastore's stream goes through
the pipeline straight into storage), but it writes each restore into a
staging path beside the live data (agent/in_place.py), and each
verification into a directory under [agent] scratch_dir. Each of them is
a small tmpfs here, filled up: the restore or verification FAILED with
"No space left on device", nothing left behind, the target's data and
the backup untouched; with room again, they COMPLETED or PASSED, and
outcomes.py and the storage audit find nothing.
"""

import errno
import os

from trove_backup_ext import states
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests.functional import test_fault_recovery as tfr

NO_SPACE = 'No space left on device'


def fill(directory, leave=0):
    """A file filling directory's file system up to leave bytes free
    (about: tmpfs counts whole pages); its path."""
    path = os.path.join(directory, 'filler')
    block = os.urandom(64 * 1024)
    with open(path, 'wb') as out:
        try:
            while True:
                out.write(block)
                out.flush()
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    if leave:
        os.truncate(path, max(0, os.path.getsize(path) - leave))
    return path


def fill_inodes(directory):
    """Empty files in directory until its file system has no inode
    left; their paths."""
    paths = []
    while True:
        path = os.path.join(directory, 'inode-%d' % len(paths))
        try:
            open(path, 'wb').close()
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            return paths
        paths.append(path)


def left_in(directory, marker):
    return [name for name in os.listdir(directory) if marker in name]


class StagingFullTest(tfr._Recovery):

    def restored(self, backup_id, expect):
        return self.restore_ended(self.restores.create(
            backup_id, self.target_id)['id'], expect)

    def test_restore_into_a_full_file_system(self):
        # The target's data, and so its restores' staging, on 8 MB; a
        # restored copy of the source takes about 6.
        target_dir = self.mount_tmpfs('8m', 'target')
        self.deploy_sqlite()
        backup = self.completed()
        source = tfr.digest(self.live)
        before = tfr.digest(self.target_live)
        # Full, then with room for the restore's journal and part of its
        # staged copy.
        for leave in (0, 2 * 1024 * 1024):
            filler = fill(target_dir, leave)
            failed = self.restored(backup['id'], states.FAILED)
            self.assertIn(NO_SPACE, failed['fault']['message'])
            self.assertIn('The instance keeps its data.',
                          failed['fault']['message'])
            self.assertEqual([], left_in(target_dir, '.restore-'))
        os.unlink(filler)
        self.assertEqual(before, tfr.digest(self.target_live))
        self.restored(backup['id'], states.COMPLETED)
        self.assertEqual(source, tfr.digest(self.target_live))
        self.assert_honest_ends()

    def verification(self, backup_id):
        """Verify the backup; its verification once it ended."""
        url = '%s/%s' % (self.client.url, backup_id)
        response = self.client.http.post(url + '/verify', json={},
                                         timeout=30)
        self.assertEqual(202, response.status_code, response.text)

        def ended():
            verification = self.client.show(backup_id).json()['backup'][
                'verification']
            if verification['status'] != states.VERIFY_RUNNING:
                return verification
        return ef.wait_for(ended, timeout=120, interval=0.2)

    def test_verification_in_a_full_scratch_dir(self):
        scratch = self.mount_tmpfs('8m', 'scratch', inodes=64)
        self.deploy_sqlite(target=False,
                           agent_sections={'agent': {'scratch_dir': scratch}})
        backup = self.completed()
        # No room for all of the restored copy, then no inode for the
        # directory it goes in.
        for fill_up in (lambda: [fill(scratch, 2 * 1024 * 1024)],
                        lambda: fill_inodes(scratch)):
            filler = fill_up()
            failed = self.verification(backup['id'])
            self.assertEqual(states.VERIFY_FAILED, failed['status'], failed)
            self.assertIn(NO_SPACE, failed['details']['error'])
            self.assertEqual([], left_in(scratch, 'trove-verify-'))
            self.assertEqual(states.COMPLETED, self.client.show(
                backup['id']).json()['backup']['status'])
            for path in filler:
                os.unlink(path)
        passed = self.verification(backup['id'])
        self.assertEqual(states.VERIFY_PASSED, passed['status'], passed)
        self.assertEqual([], os.listdir(scratch))
        self.assert_honest_ends()
