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
from swiftclient import exceptions as swift_exceptions

from trove_backup_ext.db import models
from trove_backup_ext.pipeline import manifest as backup_manifest
from trove_backup_ext import states
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import process_fixtures as pf
from trove_backup_ext.tests import swift_fixture

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
    """{backup id: [container/object names]} of the local store (partial
    uploads included: a killed writer's leftovers count too)."""
    found = {}
    for path in ef.storage_files(storage_dir):
        name = os.path.relpath(path, storage_dir)
        parts = name.split(os.sep)
        if len(parts) >= 3:     # container/backup id/...
            found.setdefault(parts[1], []).append(name)
    return found


def swift_backups(container):
    """{backup id: [container/object names]} of a container of the test
    Swift, listed behind the back of the services."""
    connection = swift_fixture.admin_connection()
    try:
        _, listing = connection.get_container(container, full_listing=True)
    except swift_exceptions.ClientException as exc:
        if exc.http_status == 404:
            return {}
        raise
    finally:
        connection.close()
    found = {}
    for entry in listing:
        found.setdefault(entry['name'].split('/', 1)[0], []).append(
            '%s/%s' % (container, entry['name']))
    return found


def problems(engine, storage_dir, swift_container=None):
    """What breaks the rules above, as sentences (none: all is well);
    with swift_container, the Swift backups are judged by that container
    of the test Swift (where the test keeps them all)."""
    found = []
    backups = {row.id: row for row in _rows(engine, models.Backup)}
    stores = {'local': stored_backups(storage_dir)}
    if swift_container:
        stores['swift'] = swift_backups(swift_container)
    for row in backups.values():
        stored = stores.get(row.storage_driver, {})
        if row.status == states.COMPLETED:
            manifest = '%s/%s' % (row.container,
                                  backup_manifest.manifest_name(row.id))
            if manifest not in stored.get(row.id, []):
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
    for driver, stored in sorted(stores.items()):
        for backup_id, names in sorted(stored.items()):
            if backup_id not in backups:
                found.append('objects of no backup in %s: %s'
                             % (driver, names[:3]))
    for row in _rows(engine, models.Restore):
        if row.status == states.FAILED and not row.fail_reason:
            found.append('FAILED restore %s has no reason' % row.id)
        elif row.status not in (states.COMPLETED, states.FAILED):
            found.append('restore %s is %s' % (row.id, row.status))
    return found


def audit(deploy, swift_container=None):
    """trove-backup-manage storage audit of deploy's local store (and,
    with swift_container, of that container of both stores): its exit
    status and its report."""
    where = ['--driver', 'local']
    if swift_container:
        where += ['--driver', 'swift', '--container', swift_container]
    result = subprocess.run(
        [pf.command('trove-backup-manage'), '--config-file',
         deploy.control_conf, 'storage', 'audit'] + where +
        ['--format', 'json'], capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=pf.START_TIMEOUT)
    try:
        return result.returncode, json.loads(result.stdout)
    except ValueError:
        raise AssertionError('storage audit exited %d: %s%s' % (
            result.returncode, result.stdout[-2000:], result.stderr[-2000:]))


def assert_honest_ends(test, engine, deploy, timeout=120,
                       swift_container=None):
    """Wait until nothing runs, then assert problems() and the storage
    audit find nothing."""
    wait_settled(engine, timeout)
    test.assertEqual([], problems(engine, deploy.storage_dir,
                                  swift_container))
    code, report = audit(deploy, swift_container)
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
