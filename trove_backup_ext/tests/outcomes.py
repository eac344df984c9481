"""After a race or a fault: has every backup and restore an honest end?

Each backup is COMPLETED with its manifest, FAILED with a reason and
nothing stored, or gone with its objects; each restore COMPLETED or
FAILED with a reason; no deletion is left half done; and no stored object
belongs to no row (the checks of trove-backup-manage storage audit, made
here from the database and the local store's files).
"""

import json
import os
import subprocess

import requests
import sqlalchemy as sa

from trove_backup_ext.db import models
from trove_backup_ext.pipeline import manifest as backup_manifest
from trove_backup_ext import states
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import process_fixtures as pf

RUNNING_BACKUP = (states.NEW, states.BUILDING)
RUNNING_RESTORE = (states.NEW, states.RESTORING)


def _rows(engine, model):
    with engine.connect() as connection:
        return list(connection.execute(sa.select(model)))


def unsettled(engine):
    """Backups and restores still running or being deleted."""
    return ([('backup', row.id, row.status, row.delete_requested_at)
             for row in _rows(engine, models.Backup)
             if row.status in RUNNING_BACKUP or row.delete_requested_at] +
            [('restore', row.id, row.status, None)
             for row in _rows(engine, models.Restore)
             if row.status in RUNNING_RESTORE])


def wait_settled(engine, timeout=120):
    seen = []

    def settled():
        seen[:] = unsettled(engine)
        return not seen
    try:
        ef.wait_for(settled, timeout=timeout, interval=0.2)
    except AssertionError:
        raise AssertionError('Not settled within %d s: %s'
                             % (timeout, seen[:10]))


def stored_backups(storage_dir):
    """{backup id: [object paths]} of the local store (partial uploads
    included: a killed writer's leftovers count too)."""
    found = {}
    for path in ef.storage_files(storage_dir):
        parts = os.path.relpath(path, storage_dir).split(os.sep)
        if len(parts) >= 3:     # container/backup id/...
            found.setdefault(parts[1], []).append(path)
    return found


def problems(engine, storage_dir):
    """What breaks the rules above, as sentences (none: all is well)."""
    found = []
    backups = {row.id: row for row in _rows(engine, models.Backup)}
    stored = stored_backups(storage_dir)
    for row in backups.values():
        if row.status == states.COMPLETED:
            manifest = os.path.join(storage_dir, row.container or '',
                                    backup_manifest.manifest_name(row.id))
            if not os.path.exists(manifest):
                found.append('COMPLETED backup %s has no manifest' % row.id)
        elif row.status == states.FAILED:
            if not row.fail_reason:
                found.append('FAILED backup %s has no reason' % row.id)
            if row.id in stored:
                found.append('FAILED backup %s left objects: %s'
                             % (row.id, stored[row.id][:3]))
        else:
            found.append('backup %s is %s' % (row.id, row.status))
        if row.delete_requested_at is not None:
            found.append('backup %s is still being deleted' % row.id)
    for backup_id, paths in sorted(stored.items()):
        if backup_id not in backups:
            found.append('objects of no backup: %s' % paths[:3])
    for row in _rows(engine, models.Restore):
        if row.status == states.FAILED and not row.fail_reason:
            found.append('FAILED restore %s has no reason' % row.id)
        elif row.status not in (states.COMPLETED, states.FAILED):
            found.append('restore %s is %s' % (row.id, row.status))
    return found


def audit(deploy):
    """trove-backup-manage storage audit of deploy's local store: its
    exit status and its report."""
    result = subprocess.run(
        [pf.command('trove-backup-manage'), '--config-file',
         deploy.control_conf, 'storage', 'audit', '--driver', 'local',
         '--format', 'json'], capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=pf.START_TIMEOUT)
    try:
        return result.returncode, json.loads(result.stdout)
    except ValueError:
        raise AssertionError('storage audit exited %d: %s%s' % (
            result.returncode, result.stdout[-2000:], result.stderr[-2000:]))


def assert_honest_ends(test, engine, deploy, timeout=120):
    """Wait until nothing runs, then assert problems() and the storage
    audit find nothing."""
    wait_settled(engine, timeout)
    test.assertEqual([], problems(engine, deploy.storage_dir))
    code, report = audit(deploy)
    test.assertEqual((0, [], [], []), (
        code, report['orphans'], report['missing'], report['not_walked']),
        report)


class RestoresClient:
    """The restores API of one project, over HTTP, in noauth mode."""

    def __init__(self, endpoint, project=base.PROJECT):
        self.url = '%s/v1.0/%s/restores' % (endpoint, project)
        self.http = requests.Session()

    def create(self, backup_id, instance_id, expect=202):
        response = self.http.post(self.url, json={'restore': {
            'backup_id': backup_id, 'instance_id': instance_id}},
            timeout=30)
        if response.status_code != expect:
            raise AssertionError('POST gave %d, not %d: %s' % (
                response.status_code, expect, response.text))
        return response.json().get('restore')

    def show(self, restore_id):
        response = self.http.get('%s/%s' % (self.url, restore_id),
                                 timeout=30)
        response.raise_for_status()
        return response.json()['restore']

    def wait_status(self, restore_id, *wanted, timeout=120):
        seen = []

        def check():
            restore = self.show(restore_id)
            seen[:] = [restore]
            return restore if restore['status'] in wanted else None
        try:
            return ef.wait_for(check, timeout=timeout, interval=0.2)
        except AssertionError:
            raise AssertionError('Restore %s not %s within %d s; last '
                                 'seen: %s' % (restore_id, '/'.join(wanted),
                                               timeout, seen))
