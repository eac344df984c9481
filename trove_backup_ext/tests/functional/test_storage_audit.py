"""trove-backup-manage storage audit, on the local store."""

import json
import os
import subprocess
import sys

import fixtures
from oslo_utils import timeutils
from oslo_utils import uuidutils
import requests
import sqlalchemy as sa

from trove_backup_ext import context as backup_context
from trove_backup_ext.db import instances as instances_db
from trove_backup_ext.db import models
from trove_backup_ext.services import storage_audit
from trove_backup_ext import states
from trove_backup_ext import storage
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import service_fixtures
from trove_backup_ext.tests import swift_fixture
from trove_backup_ext.tests.functional import test_manage_reset_status

MANAGE = os.path.join(os.path.dirname(sys.executable), 'trove-backup-manage')
CONTAINER = 'database_backups'
Backup = models.Backup.__table__


class AuditOfRealBackupsTest(base.TestCase):
    """Backups taken by the worker and the agent; then storage and rows
    are damaged as faults would, and the audit must say so."""

    def setUp(self):
        super().setUp()
        tmp = self.useFixture(fixtures.TempDir()).path
        self.store = os.path.join(tmp, 'store')
        live = ef.sample_sqlite_database(os.path.join(tmp, 'live.sqlite'),
                                         rows=20000)
        self.conf = self.useFixture(service_fixtures.Conf(**{
            'local_storage.storage_dir': self.store,
            'sqlite.database_path': live,
            'agent.datastore': 'sqlite',
            'agent.chunk_size': 64 * 1024,
            'agent.object_size': 64 * 1024,
        })).conf
        self.database = self.useFixture(service_fixtures.Database('sqlite'))
        self.context = backup_context.get_admin_context()
        instance = instances_db.add(self.context, {
            'id': '0e3c4f9a-6d2b-4c71-9a8e-5b1d2f3a4c5e', 'name': 'demo',
            'project_id': base.PROJECT, 'datastore': 'sqlite',
            'datastore_version': '3', 'status': 'ACTIVE'})
        self.useFixture(ef.Worker(self.conf))
        self.useFixture(ef.Agent(self.conf, instance.id))
        self.api = self.useFixture(service_fixtures.APIServer(self.conf))
        self.url = '%s/v1.0/%s/backups' % (self.api.endpoint, base.PROJECT)
        self.backups = []
        for incremental in (0, 1):
            response = requests.post(self.url, json={'backup': {
                'name': 'b', 'instance': instance.id,
                'incremental': incremental}})
            self.assertEqual(202, response.status_code, response.text)
            backup_id = response.json()['backup']['id']
            ef.wait_for(lambda: requests.get(
                '%s/%s' % (self.url, backup_id)).json()['backup'][
                    'status'] == states.COMPLETED)
            self.backups.append(backup_id)

    def audit(self, **kwargs):
        audit = storage_audit.StorageAudit(self.conf, self.context,
                                           **kwargs)
        return audit.run(), audit.found()

    def objects(self, backup_id):
        return storage.load(self.conf, 'local').list_objects(
            CONTAINER, backup_id + '/')

    def test_whole_backups_give_nothing(self):
        report, found = self.audit()
        self.assertFalse(found, report)
        self.assertEqual([{'driver': 'local', 'container': CONTAINER,
                           'objects': sum(len(self.objects(b))
                                          for b in self.backups),
                           'other_objects': 0}], report['walked'])

    def test_a_lost_data_object_and_a_lost_manifest(self):
        full, inc = self.backups
        data = [n for n in self.objects(full) if '/objects/' in n]
        # Not the last: a cut-off tail needs the manifest (verify).
        self.assertGreater(len(data), 1)
        os.unlink(os.path.join(self.store, CONTAINER, data[0]))
        os.unlink(os.path.join(self.store, CONTAINER, inc + '/manifest'))
        report, found = self.audit()
        self.assertTrue(found)
        self.assertEqual([], report['orphans'])
        missing = {m['backup_id']: m['missing'] for m in report['missing']}
        self.assertEqual({full: [data[0]], inc: [inc + '/manifest']},
                         missing)

    def test_objects_whose_row_is_gone_are_orphans(self):
        full, inc = self.backups
        stored = len(self.objects(inc))
        with self.database.engine.begin() as connection:
            connection.execute(sa.delete(Backup).where(Backup.c.id == inc))
        report, found = self.audit()
        self.assertTrue(found)
        self.assertEqual([{'driver': 'local', 'container': CONTAINER,
                           'prefix': inc + '/', 'backup_id': inc,
                           'objects': stored, 'reason': 'no backup row'}],
                         report['orphans'])
        self.assertEqual([], report['missing'])

    def test_backups_not_completed_are_not_judged(self):
        full, inc = self.backups
        os.unlink(os.path.join(self.store, CONTAINER, inc + '/manifest'))
        for status in (states.FAILED, states.DELETE_FAILED,
                       states.BUILDING):
            with self.database.engine.begin() as connection:
                connection.execute(sa.update(Backup).where(
                    Backup.c.id == inc).values(status=status))
            report, found = self.audit()
            self.assertFalse(found, (status, report))


class AuditCommandTest(test_manage_reset_status._ManageTestCase):
    """The command: its output, JSON and exit status; what it cannot see
    of owners' accounts."""

    def setUp(self):
        super().setUp()
        self.store = os.path.join(self.dir, 'store')
        with open(self.config_file, 'a') as f:
            f.write('[local_storage]\nstorage_dir = %s\n' % self.store)

    def put(self, *names, container=CONTAINER):
        for name in names:
            path = os.path.join(self.store, container, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'wb') as f:
                f.write(b'x')

    def whole(self, backup_id, objects=2):
        self.put(backup_id + '/manifest', *[
            '%s/objects/%08d' % (backup_id, n) for n in range(1, objects + 1)])

    def run_audit(self, *extra):
        return subprocess.run(
            [MANAGE, '--config-file', self.config_file, 'storage', 'audit']
            + list(extra), capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL)

    def json_audit(self, *extra):
        result = self.run_audit('--format', 'json', *extra)
        return result.returncode, json.loads(result.stdout), result

    def test_nothing_found_exits_zero(self):
        self.whole(self.add_backup(states.COMPLETED))
        # Junk that is no backup's is counted, not judged.
        self.put('README')
        result = self.run_audit()
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('Walked local container database_backups: 4 objects.',
                      result.stdout)
        self.assertIn('Nothing found.', result.stdout)

    def test_findings_exit_two_in_json(self):
        self.whole(self.add_backup(states.COMPLETED))
        gap = self.add_backup(states.COMPLETED)
        self.put(gap + '/manifest', gap + '/objects/00000002')
        orphan = '6f1f2c1e-58a3-4a52-9c71-0d1e2f3a4b5c'
        self.whole(orphan)
        elsewhere = self.add_backup(states.COMPLETED)
        self.whole(elsewhere, objects=1)
        self.put(elsewhere + '/manifest', container='other')
        code, report, result = self.json_audit()
        self.assertEqual(2, code, result.stderr)
        self.assertEqual(
            [(orphan, CONTAINER, 'no backup row'),
             (elsewhere, 'other', 'its backup is in local container '
                                  'database_backups')],
            [(o['backup_id'], o['container'], o['reason'])
             for o in report['orphans']])
        self.assertEqual([{'backup_id': gap, 'project_id': base.PROJECT,
                           'status': states.COMPLETED, 'driver': 'local',
                           'container': CONTAINER, 'account': 'service',
                           'missing_count': 1,
                           'missing': [gap + '/objects/00000001']}],
                         report['missing'])
        self.assertEqual({CONTAINER, 'other'},
                         {w['container'] for w in report['walked']})
        result = self.run_audit('--container', 'other')
        self.assertEqual(2, result.returncode)
        self.assertIn('ORPHAN local other %s/ (1 objects)' % elsewhere,
                      result.stdout)
        self.assertNotIn(gap, result.stdout)

    def test_owner_account_backups_are_checked_with_their_credentials(self):
        # A backup in its owner's Swift account, under a trust: here no
        # Swift is configured, so its credential cannot be used.
        with_trust = self.add_backup(states.COMPLETED, trust_id='t' * 32,
                                     storage_driver='swift')
        code, report, result = self.json_audit('--driver', 'local')
        self.assertEqual(2, code, result.stderr)
        self.assertEqual([with_trust],
                         [u['backup_id'] for u in report['unchecked']])
        self.assertNotIn('t' * 32, result.stdout + result.stderr)
        code, report, result = self.json_audit('--driver', 'local',
                                               '--no-owner-accounts')
        self.assertEqual(0, code, result.stderr)
        self.assertEqual(1, report['owner_account_backups'])

    def test_a_place_not_walked_is_not_a_clean_report(self):
        self.whole(self.add_backup(states.COMPLETED))
        code, report, result = self.json_audit('--container', '..')
        self.assertEqual(2, code, result.stderr)
        self.assertEqual([('local', '..')],
                         [(p['driver'], p['container'])
                          for p in report['not_walked']])


class SwiftAuditTest(base.TestCase):
    """The same walk on the real Swift of tools/swift-aio.sh, in the
    service's own account."""

    def setUp(self):
        super().setUp()
        auth = swift_fixture.swift_auth()
        self.conf = self.useFixture(service_fixtures.Conf(**{
            'swift.auth_version': '1', 'swift.auth_url': auth['ST_AUTH'],
            'swift.user': auth['ST_USER'], 'swift.key': auth['ST_KEY'],
            'swift.retries': 1, 'storage_strategy': 'swift'})).conf
        self.database = self.useFixture(service_fixtures.Database('sqlite'))
        self.context = backup_context.get_admin_context()
        self.container = self.useFixture(swift_fixture.Container()).name
        self.store = storage.load(self.conf, 'swift')
        self.store.ensure_container(self.container)

    def add(self, backup_id, *names):
        with self.database.engine.begin() as connection:
            connection.execute(sa.insert(Backup).values(
                id=backup_id, name='b', project_id=base.PROJECT,
                instance_id=uuidutils.generate_uuid(),
                status=states.COMPLETED, backup_type=states.FULL,
                datastore='mysql', datastore_version='10.11',
                datastore_version_id=uuidutils.generate_uuid(),
                storage_driver='swift', container=self.container,
                created=timeutils.utcnow(), updated=timeutils.utcnow()))
        self.put(backup_id, *names)

    def put(self, backup_id, *names):
        for name in names:
            self.store.put_object(self.container, '%s/%s' % (backup_id, name),
                                  b'x')

    def test_orphans_and_missing_objects_in_swift(self):
        whole, gap = (uuidutils.generate_uuid() for _ in range(2))
        orphan = uuidutils.generate_uuid()
        self.add(whole, 'manifest', 'objects/00000001')
        self.add(gap, 'manifest', 'objects/00000001', 'objects/00000003',
                 'manifest-parts/00000002')
        self.put(orphan, 'objects/00000001')
        self.assertIn(self.container, self.store.list_containers())
        audit = storage_audit.StorageAudit(self.conf, self.context,
                                           drivers=['swift'],
                                           containers=[self.container])
        report = audit.run()
        self.assertTrue(audit.found())
        self.assertEqual([(orphan, 1, 'no backup row')],
                         [(o['backup_id'], o['objects'], o['reason'])
                          for o in report['orphans']])
        self.assertEqual(
            [(gap, ['%s/objects/00000002' % gap,
                    '%s/manifest-parts/00000001' % gap])],
            [(m['backup_id'], m['missing']) for m in report['missing']])
        self.assertEqual([{'driver': 'swift', 'container': self.container,
                           'objects': 7, 'other_objects': 0}],
                         report['walked'])
