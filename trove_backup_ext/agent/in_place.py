"""Restores a backup into a live instance, and puts its data back if
anything fails.

The backup is restored first into a staging path beside the live data,
while the server still runs (its downtime is the swap, not the download).
Then the server is stopped, the live data (and its companion files) moved
aside, the restored data renamed into its place, the server started and
checked. Only then is the old data dropped. If any step fails, the old
data goes back and the server is started on it: the instance is as it
was.

Every step is recorded in a journal beside the data before it is taken,
so an agent killed halfway finishes the job on its next start
(recover()): a restore cut off before its check passed is rolled back, one
cut off after is completed. Renames within one directory are atomic, and
the directory is synced after each.
"""

import json
import os
import shutil

from oslo_log import log as logging

from trove_backup_ext.datastores import base as datastore_base

LOG = logging.getLogger(__name__)

STAGING = 'staging'     # restoring beside the live data; server running
SWAPPING = 'swapping'   # server stopped; data being exchanged
SWAPPED = 'swapped'     # restored data in place; being started, checked
CONFIRMING = 'confirming'   # checked; the worker is being told
DONE = 'done'           # confirmed; the old data may go


class Paths:
    """Where one restore keeps its files, all beside the live data."""

    def __init__(self, live, restore_id):
        self.live = os.path.abspath(live)
        self.parent, name = os.path.split(self.live)
        hidden = os.path.join(self.parent, '.%s.restore-%s' % (name,
                                                               restore_id))
        self.staging = hidden + '.staging'
        self.aside = hidden + '.aside'
        self.journal = hidden + '.json'

    @classmethod
    def journals(cls, live):
        """The journals of restores into live left by earlier runs."""
        parent, name = os.path.split(os.path.abspath(live))
        prefix = '.%s.restore-' % name
        try:
            entries = os.listdir(parent)
        except FileNotFoundError:
            return []
        return sorted(os.path.join(parent, entry) for entry in entries
                      if entry.startswith(prefix) and entry.endswith('.json'))


def _sync_directory(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


class _Journal:

    def __init__(self, paths, restore_id):
        self.paths = paths
        self.state = {'restore_id': restore_id, 'live': paths.live,
                      'step': None, 'restored': None, 'moved': []}

    @classmethod
    def load(cls, path):
        with open(path) as source:
            state = json.load(source)
        journal = cls(Paths(state['live'], state['restore_id']),
                      state['restore_id'])
        journal.state = state
        return journal

    def write(self, step, **values):
        self.state.update(values, step=step)
        partial = self.paths.journal + '.partial'
        with open(partial, 'w') as out:
            json.dump(self.state, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, self.paths.journal)
        _sync_directory(self.paths.parent)

    @property
    def step(self):
        return self.state['step']

    def finish(self):
        """Drop what the restore left: staging, old data, journal."""
        _remove(self.paths.staging)
        _remove(self.paths.aside)
        _remove(self.paths.journal)
        _sync_directory(self.paths.parent)


class NotConfirmed(Exception):
    """The restore passed its check but was not confirmed: rolled back."""


def restore_in_place(datastore, restore_id, write_restored, confirm=None,
                     before_swap=None, journal_extra=None):
    """Replace the live data of datastore with a restore.

    write_restored(staging) restores the backup into the path staging (a
    directory to create) and returns where the restored data is: a file
    in it or the directory itself. before_swap(), if given, is called
    before the server is stopped and may raise to give up. confirm(), if
    given, is called once the restored data passed its check: the old
    data is dropped only if it returns true (the worker recorded the
    restore), and put back otherwise (NotConfirmed). journal_extra is
    kept in the journal, for recover()'s confirm. Raises what failed,
    after putting the old data back and starting the server on it.
    """
    live = datastore.live_data()
    recover(datastore)
    paths = Paths(live, restore_id)
    journal = _Journal(paths, restore_id)
    journal.write(STAGING, extra=journal_extra or {})
    try:
        # A driver's restore() may return None: the data is the target.
        restored = write_restored(paths.staging) or paths.staging
        if before_swap is not None:
            before_swap()
    except BaseException:
        # The live instance was not touched.
        journal.finish()
        raise
    try:
        datastore.stop()
        journal.write(SWAPPING, restored=os.path.abspath(restored))
        _swap(datastore, journal)
        journal.write(SWAPPED)
        datastore.start()
        datastore.health_check()
        # Killed while the worker is told, the agent asks it again when
        # it starts (recover's confirm): the answer decides.
        journal.write(CONFIRMING)
        if confirm is not None and not confirm():
            raise NotConfirmed('the worker did not record it as '
                               'COMPLETED')
    except BaseException as exc:
        LOG.warning('Restore %s into %s failed (%s); putting the old data '
                    'back.', restore_id, live, exc)
        _roll_back(datastore, journal)
        raise
    journal.write(DONE)
    journal.finish()


def _swap(datastore, journal):
    paths = journal.paths
    os.makedirs(paths.aside, exist_ok=True)
    for path in [paths.live] + datastore.companions(paths.live):
        if os.path.lexists(path):
            # Recorded before the move: a journal never forgets data.
            journal.write(SWAPPING, moved=journal.state['moved'] + [path])
            os.rename(path, os.path.join(paths.aside,
                                         os.path.basename(path)))
    _sync_directory(paths.parent)
    os.rename(journal.state['restored'], paths.live)
    _sync_directory(paths.parent)


def _roll_back(datastore, journal):
    """Put the data recorded as moved aside back, and start on it."""
    paths = journal.paths
    try:
        datastore.stop()
    except Exception:
        LOG.exception('Could not stop the server on the restored data of '
                      '%s; putting the old data back anyway.', paths.live)
    moved = journal.state['moved']
    if moved:
        aside_live = os.path.join(paths.aside, os.path.basename(paths.live))
        if os.path.lexists(aside_live):
            # The restored data is in the live place (or nothing is).
            _remove(paths.live)
        for path in moved:
            kept = os.path.join(paths.aside, os.path.basename(path))
            if os.path.lexists(kept):
                os.rename(kept, path)
        _sync_directory(paths.parent)
    datastore.start()
    journal.finish()


def recover(datastore, confirm=None):
    """Finish the restores an earlier run of the agent left halfway:
    roll back those that had not passed their check, complete those
    confirmed, and for one cut off while the worker was being told, ask
    confirm(journal state) (no confirm: roll back). Called when the agent
    starts and before each restore."""
    try:
        live = datastore.live_data()
    except datastore_base.DatastoreError:
        return      # This driver does not restore in place.
    for path in Paths.journals(live):
        try:
            journal = _Journal.load(path)
        except (OSError, ValueError) as exc:
            raise datastore_base.DatastoreError(
                reason='Cannot read the restore journal %s: %s. Check the '
                       'data of %s by hand, then remove the journal.'
                       % (path, exc, live))
        LOG.warning('Restore %s into %s was cut off at step %s.',
                    journal.state['restore_id'], live, journal.step)
        if journal.step == CONFIRMING and confirm is not None and confirm(
                journal.state):
            journal.finish()
        elif journal.step in (SWAPPING, SWAPPED, CONFIRMING):
            _roll_back(datastore, journal)
        else:
            journal.finish()
