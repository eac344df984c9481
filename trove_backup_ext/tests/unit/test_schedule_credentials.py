"""The ids of a schedule's backups and the access rules that name them."""

import uuid

from keystonemiddleware import auth_token
from oslo_utils import uuidutils
import testtools

from trove_backup_ext import schedule_credentials as sc

ACCOUNT = '/v1/AUTH_0123456789abcdef0123456789abcdef'


def allowed(rules, method, path):
    """What Swift's auth_token decides (keystonemiddleware's own match)."""
    return any(rule['method'] == method and
               auth_token._path_matches(path, rule['path'])
               for rule in rules)


class ScheduleBackupIdTest(testtools.TestCase):

    def test_ids_are_uuids_under_the_schedule_prefix_and_stable(self):
        schedule, run = str(uuid.uuid4()), str(uuid.uuid4())
        backup_id = sc.slot_backup_id(schedule, run)
        self.assertTrue(uuidutils.is_uuid_like(backup_id))
        self.assertEqual(backup_id, str(uuid.UUID(backup_id)))
        self.assertEqual(5, uuid.UUID(backup_id).version)
        self.assertTrue(backup_id.startswith(sc.id_prefix(schedule)))
        self.assertEqual(backup_id, sc.slot_backup_id(schedule, run))
        self.assertNotEqual(backup_id, sc.slot_backup_id(schedule,
                                                         str(uuid.uuid4())))
        self.assertNotEqual(sc.id_prefix(schedule),
                            sc.id_prefix(str(uuid.uuid4())))

    def test_rules_reach_the_schedules_backups_only(self):
        schedule = str(uuid.uuid4())
        mine = sc.slot_backup_id(schedule, 'run-1')
        others = [str(uuid.uuid4()) for _ in range(200)] + [
            sc.slot_backup_id(str(uuid.uuid4()), 'run-1')]
        root = ACCOUNT + '/backups'
        write, read, delete = (sc.access_rules(ACCOUNT, phase, 'backups',
                                               schedule)
                               for phase in sc.PHASES)
        for rules in (write, read, delete):
            self.assertEqual({'object-store'},
                             {rule['service'] for rule in rules})
        obj = '%s/%s/00000001' % (root, mine)
        self.assertTrue(allowed(write, 'PUT', obj))
        # Never the container: its metadata would open every backup in it.
        for rules in (write, read, delete):
            self.assertFalse(allowed(rules, 'PUT', root))
            self.assertFalse(allowed(rules, 'POST', root))
        self.assertTrue(allowed(write, 'GET', obj))
        self.assertFalse(allowed(write, 'DELETE', obj))
        self.assertTrue(allowed(read, 'GET', obj))
        self.assertFalse(allowed(read, 'PUT', obj))
        self.assertFalse(allowed(read, 'GET', root))
        self.assertTrue(allowed(delete, 'DELETE', obj))
        self.assertTrue(allowed(delete, 'GET', root))
        self.assertFalse(allowed(delete, 'PUT', obj))
        for other in others:
            path = '%s/%s/00000001' % (root, other)
            for rules in (write, read, delete):
                for method in ('GET', 'PUT', 'DELETE', 'HEAD'):
                    self.assertFalse(allowed(rules, method, path))
        for rules in (write, read, delete):
            for method in ('GET', 'PUT'):
                self.assertFalse(allowed(rules, method, '%s/other/%s/x' % (
                    ACCOUNT, mine)))
