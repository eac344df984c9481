"""The storage audit: stored objects no backup row points at, and rows
whose objects are missing (trove-backup-manage storage audit).

Every object of a backup is named "<backup id>/...", in the container its
row names, in the store of its storage_driver, so the walk needs no
manifest: it lists each container of the service's own account, groups
the names by backup id and compares them with the rows.

- An *orphan* is a backup id with objects but no row that puts them
  there (no row, or a row of another store or container, or one kept in
  its owner's account): what a deletion that lost its row left, or a
  writer killed after its row was removed.
- A backup is *missing* objects when it is COMPLETED, not being deleted,
  and its listing lacks its manifest, or an object or manifest part
  numbered below the highest one present (the writer numbers them from
  1 without gaps). A tail cut off after the last object present is seen
  only by reading the manifest: POST /backups/{id}/verify does that.
- Rows of other statuses are not judged: a running backup is still
  writing, a FAILED one had its objects removed (or a delete will), a
  DELETE_FAILED one lost part of them on purpose.

Backups kept in their owners' Swift accounts are reached only with their
own credentials (storage_access.py), which open their own objects, not
the account: the audit checks each COMPLETED one through its delete
credential (a listing of its own prefix, which that credential exists
for), and reports it *unchecked* when Keystone or Swift refuses. Orphans
in owners' accounts are out of its sight: the objects of a deleted
backup are there without any credential that could list them.

A finding is checked again before it is reported (listing and rows are
read at different times while backups come and go): an orphan whose
objects are gone or whose row appeared, a missing object of a backup
that is now being deleted, are dropped.
"""

import collections

from oslo_log import log as logging
from oslo_utils import uuidutils

from trove_backup_ext.db import lifecycle
from trove_backup_ext.db import storage_audit as audit_db
from trove_backup_ext import exception
from trove_backup_ext.pipeline import manifest as backup_manifest
from trove_backup_ext import states
from trove_backup_ext import storage
from trove_backup_ext.storage import base as storage_base
from trove_backup_ext import storage_access

LOG = logging.getLogger(__name__)

# Names of an object of a backup and of a manifest part, by kind.
_NUMBERED = (('objects', backup_manifest.object_name),
             ('manifest-parts', backup_manifest.part_name))
# Missing names listed per backup; the count is always complete.
_MAX_NAMES = 20


def missing_objects(backup_id, names):
    """What the listing names (all of backup_id's objects) lacks of a
    whole backup."""
    present = set(names)
    lacking = []
    if backup_manifest.manifest_name(backup_id) not in present:
        lacking.append(backup_manifest.manifest_name(backup_id))
    for kind, name_of in _NUMBERED:
        head = '%s/%s/' % (backup_id, kind)
        numbers = {int(name[len(head):]) for name in names
                   if name.startswith(head) and name[len(head):].isdigit()}
        lacking += [name_of(backup_id, number) for number in
                    range(1, max(numbers, default=0) + 1)
                    if number not in numbers]
    return lacking


def _by_backup(names):
    """{backup id: its object names}, and how many names are no
    backup's."""
    grouped, others = collections.defaultdict(list), 0
    for name in names:
        head = name.split('/', 1)[0]
        if '/' in name and uuidutils.is_uuid_like(head):
            grouped[head].append(name)
        else:
            others += 1
    return grouped, others


class StorageAudit:

    def __init__(self, conf, context, drivers=None, containers=None,
                 owner_accounts=True):
        """drivers, containers: what to walk (default: every store and
        container the rows, the configuration and the store itself
        name); owner_accounts: check the backups kept in their owners'
        accounts through their own credentials."""
        self.conf = conf
        self.context = context
        self.drivers = drivers
        self.containers = containers
        self.owner_accounts = owner_accounts
        self.report = {'orphans': [], 'missing': [], 'unchecked': [],
                       'walked': [], 'not_walked': [],
                       'owner_account_backups': 0}

    def run(self):
        """The report: a dict of lists (see doc/source/admin/manage.rst)."""
        rows = audit_db.backups(self.context)
        by_id = {row.id: row for row in rows}
        installed = storage.installed_driver_names()
        drivers = self.drivers or sorted(
            ({row.storage_driver for row in rows} |
             {self.conf.storage_strategy}) & installed)
        for name in drivers:
            self._walk_driver(name, rows, by_id)
        for row in rows:
            if row.owner_account:
                self.report['owner_account_backups'] += 1
                if self.owner_accounts and self._judged(row):
                    self._check_owner_account(row)
        return self.report

    @staticmethod
    def _judged(row):
        return row.status == states.COMPLETED and not row.being_deleted

    def found(self):
        """Whether the report holds anything for an operator to act on
        (a place it could not walk included: that is no clean bill)."""
        return any(self.report[key] for key in
                   ('orphans', 'missing', 'unchecked', 'not_walked'))

    def _not_walked(self, driver, container, reason):
        LOG.warning('Storage audit: %s%s not walked: %s', driver,
                    ' container %s' % container if container else '', reason)
        self.report['not_walked'].append(
            {'driver': driver, 'container': container, 'reason': reason})

    def _walk_driver(self, name, rows, by_id):
        try:
            store = storage.load(self.conf, name)
        except exception.ConfigurationError as exc:
            return self._not_walked(name, None, str(exc))
        placed = collections.defaultdict(list)
        for row in rows:
            if self._owns(row, name, row.container) and self._judged(row):
                placed[row.container].append(row)
        for container in self._containers(store, name, rows):
            try:
                self._walk_container(store, name, container, by_id,
                                     placed[container])
            except (storage_base.StorageError, ValueError) as exc:
                self._not_walked(name, container, str(exc))

    def _walk_container(self, store, name, container, by_id, placed):
        names = store.list_objects(container)
        grouped, others = _by_backup(names)
        self.report['walked'].append(
            {'driver': name, 'container': container,
             'objects': len(names), 'other_objects': others})
        for backup_id in sorted(grouped):
            if not self._owns(by_id.get(backup_id), name, container):
                self._orphan(store, name, container, backup_id)
        for row in placed:
            if missing_objects(row.id, grouped.get(row.id, [])):
                self._missing(store, row)

    def _containers(self, store, name, rows):
        if self.containers:
            return sorted(self.containers)
        named = {row.container for row in rows if row.container and
                 row.storage_driver == name and not row.owner_account}
        named.add(self.conf.backup_swift_container)
        try:
            named.update(store.list_containers())
        except NotImplementedError:
            pass    # The rows and the configuration name them all.
        except storage_base.StorageError as exc:
            self._not_walked(name, None, 'Cannot list its containers (%s); '
                             'walked only those the rows name.' % exc)
        return sorted(named)

    @staticmethod
    def _owns(row, driver, container):
        """Whether row is of objects in this service-account place."""
        return (row is not None and not row.owner_account and
                row.storage_driver == driver and row.container == container)

    def _orphan(self, store, driver, container, backup_id):
        # Again, now: a backup being written or deleted meanwhile.
        objects = store.list_objects(
            container, backup_manifest.object_prefix(backup_id))
        row = audit_db.backup(self.context, backup_id)
        if not objects or self._owns(row, driver, container):
            return
        if row is None:
            reason = 'no backup row'
        elif row.owner_account:
            reason = ('its backup is kept in its owner\'s account, not '
                      'here')
        else:
            reason = 'its backup is in %s container %s' % (
                row.storage_driver, row.container)
        self.report['orphans'].append(
            {'driver': driver, 'container': container,
             'prefix': backup_manifest.object_prefix(backup_id),
             'backup_id': backup_id, 'objects': len(objects),
             'reason': reason})

    def _missing(self, store, row, account='service'):
        objects = store.list_objects(row.container,
                                     backup_manifest.object_prefix(row.id))
        now = lifecycle.get(self.context, row.id)
        if (now is None or now.status != states.COMPLETED or
                now.delete_requested_at is not None):
            return      # Deleted, or being deleted, meanwhile.
        lacking = missing_objects(row.id, objects)
        if lacking:
            self.report['missing'].append(
                {'backup_id': row.id, 'project_id': row.project_id,
                 'status': row.status, 'driver': row.storage_driver,
                 'container': row.container, 'account': account,
                 'missing_count': len(lacking),
                 'missing': lacking[:_MAX_NAMES]})

    def _check_owner_account(self, row):
        backup = lifecycle.get(self.context, row.id)
        if backup is None:
            return
        try:
            store = storage_access.driver(self.conf, self.context, backup,
                                          storage_access.DELETE)
            self._missing(store, row, account='owner')
        except (storage_base.StorageError, exception.ServiceUnavailable,
                exception.ConfigurationError, ValueError) as exc:
            self.report['unchecked'].append(
                {'backup_id': row.id, 'project_id': row.project_id,
                 'status': row.status, 'driver': row.storage_driver,
                 'container': row.container, 'account': 'owner',
                 'reason': str(exc)})
