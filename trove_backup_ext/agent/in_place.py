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
        try:
            with open(partial, 'w') as out:
                json.dump(self.state, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, self.paths.journal)
        except BaseException:
            # A full disk, say: the journal as it was, and nothing more.
            _remove(partial)
            raise
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
    """The restore passed its check but was refused: rolled back."""


class Unconfirmed(Exception):
    """The restore passed its check, but the worker could not be asked
    whether it recorded it: the restored data stays (it may be recorded),
    with its journal at CONFIRMING, until recover() gets an answer."""


class RollbackBlocked(datastore_base.DatastoreError):
    """A failed restore whose server could not be stopped to put the old
    data back: the old data stays aside, untouched, until it can."""


def restore_in_place(datastore, restore_id, write_restored, confirm=None,
                     before_swap=None, journal_extra=None,
                     recover_confirm=None):
    """Replace the live data of datastore with a restore.

    write_restored(staging) restores the backup into the path staging (a
    directory to create) and returns where the restored data is: a file
    in it or the directory itself. before_swap(), if given, is called
    before the server is stopped and may raise to give up. confirm(), if
    given, is called once the restored data passed its check: the old
    data is dropped if it returns True (the worker recorded the restore),
    put back if it returns False (NotConfirmed), and both kept if it
    returns None, no answer (Unconfirmed). journal_extra is kept in the
    journal, for recover()'s confirm; recover_confirm is the confirm of
    the recover() run first. Raises what failed, after putting the old
    data back and starting the server on it.
    """
    live = datastore.live_data()
    waiting = recover(datastore, recover_confirm)
    if waiting:
        raise datastore_base.DatastoreError(
            reason='Restore %s into this instance waits to hear whether the '
                   'worker recorded it; nothing was changed.' % waiting[0])
    paths = Paths(live, restore_id)
    journal = _Journal(paths, restore_id)
    journal.write(STAGING, extra=journal_extra or {})
    try:
        # A driver's restore() may return None: the data is the target.
        restored = write_restored(paths.staging) or paths.staging
        _keep_instance_files(datastore, live, restored)
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
        answer = True if confirm is None else confirm()
        if answer is None:
            raise Unconfirmed(restore_id)
        if not answer:
            raise NotConfirmed('the worker did not record it as '
                               'COMPLETED')
    except Unconfirmed:
        LOG.warning('Restore %s into %s passed its check, but the worker '
                    'could not be told; its data stays until it answers.',
                    restore_id, live)
        raise
    except BaseException as exc:
        LOG.warning('Restore %s into %s failed (%s); putting the old data '
                    'back.', restore_id, live, exc)
        _roll_back(datastore, journal)
        raise
    journal.write(DONE)
    journal.finish()


def _keep_instance_files(datastore, live, restored):
    """Put the live instance's configuration files (its port, its
    authentication) into the restored data in place of the backup's:
    a backup restored into another instance brings that instance the
    data, not the source's identity."""
    for name in datastore.instance_files():
        kept = os.path.join(live, name)
        if not os.path.isfile(kept):
            continue        # Kept outside the data directory (Debian).
        replaced = os.path.join(restored, name)
        if os.path.lexists(replaced):
            os.unlink(replaced)
        shutil.copy2(kept, replaced, follow_symlinks=False)
        if os.geteuid() == 0:
            info = os.lstat(kept)
            os.lchown(replaced, info.st_uid, info.st_gid)


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
    """Put the data recorded as moved aside back, and start on it.

    If the server cannot be stopped once data was moved, nothing more is
    moved: renaming directories under a running server would have it
    write into the old data (or serve deleted files), and the start that
    follows would fail on the server still holding the port. The
    journal stays, so the agent's next start (recover) tries again, and
    the error names where the old data is kept.
    """
    paths = journal.paths
    moved = journal.state['moved']
    try:
        datastore.stop()
    except Exception as exc:
        if moved:
            LOG.exception('Could not stop the server on the restored data '
                          'of %s; the old data stays in %s.', paths.live,
                          paths.aside)
            raise RollbackBlocked(
                reason='The restore failed and the server on the restored '
                       'data of %s could not be stopped (%s): the old data '
                       'is kept, untouched, in %s. Stop the server; the '
                       'agent puts the old data back when it starts next.'
                       % (paths.live, exc, paths.aside))
        # Nothing was moved (the restore's own stop failed): the server
        # runs on the data it always had.
        LOG.warning('Could not stop the server of %s (%s); its data was '
                    'never moved.', paths.live, exc)
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
    confirm(journal state): True completes it, False rolls it back, None
    (no answer, or no confirm) leaves it as it is. Returns the ids of the
    restores left waiting. Called when the agent starts, before each
    restore, and while a restore waits for its answer."""
    waiting = []
    try:
        live = datastore.live_data()
    except datastore_base.DatastoreError:
        return waiting      # This driver does not restore in place.
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
        if journal.step == CONFIRMING:
            answer = None if confirm is None else confirm(journal.state)
            if answer is None:
                waiting.append(journal.state['restore_id'])
            elif answer:
                journal.finish()
            else:
                _roll_back(datastore, journal)
        elif journal.step in (SWAPPING, SWAPPED):
            _roll_back(datastore, journal)
        else:
            journal.finish()
    return waiting
