"""db/backup_schedules.py on SQLite, MariaDB and PostgreSQL: the
compare-and-sets and the unique slot the scheduler builds on."""

from concurrent import futures
import datetime
import threading

from oslo_utils import uuidutils
import sqlalchemy as sa

from trove_backup_ext import context as backup_context
from trove_backup_ext.db import backup_schedules as schedules_db
from trove_backup_ext.db import models
from trove_backup_ext import exception
from trove_backup_ext.tests import base
from trove_backup_ext.tests import service_fixtures

T0 = datetime.datetime(2026, 3, 1, 2, 0)
HOUR = datetime.timedelta(hours=1)


class _ScheduleDBTests:

    def setUp(self):
        super().setUp()
        self.database = self.useFixture(
            service_fixtures.Database(self.backend))
        self.context = backup_context.get_admin_context()

    def make(self, project_id=base.PROJECT, instance_id=None,
             next_run=T0, enabled=True, **values):
        return schedules_db.create(self.context, dict({
            'name': 'nightly', 'project_id': project_id,
            'instance_id': instance_id or uuidutils.generate_uuid(),
            'full_cron': '0 2 * * *', 'timezone': 'UTC',
            'enabled': enabled, 'next_run': next_run}, **values))

    def runs(self):
        with self.database.engine.connect() as connection:
            return connection.execute(sa.select(
                models.BackupScheduleRun.schedule_id,
                models.BackupScheduleRun.slot)).all()

    def row(self, schedule_id):
        return schedules_db.find(self.context, schedule_id)

    # The API's functions.

    def test_create_and_get_are_project_scoped(self):
        schedule = self.make(keep_daily=7)
        self.assertEqual(1, schedule.version)
        self.assertEqual(0, schedule.consecutive_failures)
        self.assertEqual(schedule.created, schedule.updated)
        found = schedules_db.get(self.context, schedule.id, base.PROJECT)
        self.assertEqual((7, T0), (found.keep_daily, found.next_run))
        self.assertIsNotNone(schedules_db.get(self.context, schedule.id))
        self.assertRaises(exception.BackupScheduleNotFound, schedules_db.get,
                          self.context, schedule.id, base.OTHER_PROJECT)

    def test_list_page_is_keyset_newest_first(self):
        instance_id = uuidutils.generate_uuid()
        made = [self.make(instance_id=instance_id).id for _ in range(5)]
        self.make(project_id=base.OTHER_PROJECT, instance_id=instance_id)
        self.make()
        page = schedules_db.list_page(self.context, 3, base.PROJECT,
                                      instance_id)
        self.assertEqual(3, len(page))
        rest = schedules_db.list_page(
            self.context, 10, base.PROJECT, instance_id,
            after=(page[-1].created, page[-1].id))
        listed = [s.id for s in page + rest]
        self.assertEqual(sorted(made), sorted(listed))
        created = [(s.created, s.id) for s in page + rest]
        self.assertEqual(sorted(created, reverse=True), created)
        self.assertEqual(7, len(schedules_db.list_page(self.context, 50)))

    def test_update_is_a_compare_and_set_on_version(self):
        schedule = self.make()
        updated = schedules_db.update(self.context, schedule.id, 1,
                                      {'name': 'hourly', 'keep_last': 3})
        self.assertEqual(('hourly', 3, 2),
                         (updated.name, updated.keep_last, updated.version))
        self.assertGreaterEqual(updated.updated, schedule.updated)
        # A second writer that read version 1 is refused, and changes
        # nothing.
        self.assertRaises(schedules_db.ScheduleChanged, schedules_db.update,
                          self.context, schedule.id, 1, {'name': 'lost'})
        self.assertEqual('hourly', self.row(schedule.id).name)
        self.assertRaises(exception.BackupScheduleNotFound,
                          schedules_db.update, self.context, schedule.id, 2,
                          {'name': 'x'}, project_id=base.OTHER_PROJECT)
        self.assertRaises(exception.BackupScheduleNotFound,
                          schedules_db.update, self.context,
                          uuidutils.generate_uuid(), 1, {'name': 'x'})
        self.assertRaises(ValueError, schedules_db.update, self.context,
                          schedule.id, 2, {'project_id': 'stolen'})

    def test_delete_takes_the_runs_and_only_the_project_s(self):
        schedule = self.make()
        other = self.make()
        self.assertIsNotNone(schedules_db.claim_slot(
            self.context, schedule.id, T0, schedules_db.FULL))
        self.assertIsNotNone(schedules_db.claim_slot(
            self.context, other.id, T0, schedules_db.FULL))
        self.assertRaises(exception.BackupScheduleNotFound,
                          schedules_db.delete, self.context, schedule.id,
                          base.OTHER_PROJECT)
        schedules_db.delete(self.context, schedule.id, base.PROJECT)
        self.assertIsNone(self.row(schedule.id))
        self.assertEqual([(other.id, T0)], self.runs())
        self.assertRaises(exception.BackupScheduleNotFound,
                          schedules_db.delete, self.context, schedule.id)

    # The scheduler's functions.

    def test_due_schedules_are_enabled_and_due_earliest_first(self):
        late = self.make(next_run=T0 + HOUR)
        early = self.make(next_run=T0 - HOUR)
        self.make(next_run=T0 + 2 * HOUR)               # not due
        self.make(next_run=None, enabled=False)         # disabled
        self.make(next_run=T0 - HOUR, enabled=False)    # disabled
        due = schedules_db.due_schedules(self.context, T0 + HOUR)
        self.assertEqual([early.id, late.id], [s.id for s in due])
        self.assertEqual([early.id], [s.id for s in schedules_db.due_schedules(
            self.context, T0 + HOUR, limit=1)])
        self.assertEqual([], schedules_db.due_schedules(
            self.context, T0 - 2 * HOUR))

    def test_claim_slot_once(self):
        schedule = self.make()
        run = schedules_db.claim_slot(self.context, schedule.id, T0,
                                      schedules_db.FULL)
        self.assertEqual((schedule.id, T0, 'full', 'FIRED', None),
                         (run.schedule_id, run.slot, run.kind, run.state,
                          run.backup_id))
        self.assertIsNone(schedules_db.claim_slot(
            self.context, schedule.id, T0, schedules_db.INCREMENTAL))
        # Another slot, and a slot only recorded as missed.
        self.assertIsNotNone(schedules_db.claim_slot(
            self.context, schedule.id, T0 + HOUR, schedules_db.INCREMENTAL))
        missed = schedules_db.claim_slot(
            self.context, schedule.id, T0 - HOUR, schedules_db.FULL,
            state=schedules_db.MISSED, reason='all workers were down')
        self.assertEqual(('MISSED', 'all workers were down'),
                         (missed.state, missed.reason))
        self.assertEqual(3, len(self.runs()))
        # A deleted (or never created) schedule has no slot to take.
        self.assertIsNone(schedules_db.claim_slot(
            self.context, uuidutils.generate_uuid(), T0, schedules_db.FULL))
        self.assertRaises(ValueError, schedules_db.claim_slot, self.context,
                          schedule.id, T0, 'differential')
        self.assertRaises(ValueError, schedules_db.claim_slot, self.context,
                          schedule.id, T0, 'full', state='DONE')

    def test_racing_claims_take_each_slot_exactly_once(self):
        schedule = self.make()
        slots = [T0 + n * HOUR for n in range(40)]
        start = threading.Barrier(6)
        won = []

        def claim_all():
            start.wait()
            context = backup_context.get_admin_context()
            return [slot for slot in slots if schedules_db.claim_slot(
                context, schedule.id, slot, schedules_db.FULL)]

        with futures.ThreadPoolExecutor(6) as pool:
            for result in [pool.submit(claim_all) for _ in range(6)]:
                won.extend(result.result())
        self.assertEqual(sorted(slots), sorted(won))
        self.assertEqual(40, len(self.runs()))

    def test_update_run_is_a_compare_and_set_on_state(self):
        schedule = self.make()
        run = schedules_db.claim_slot(self.context, schedule.id, T0,
                                      schedules_db.FULL,
                                      state=schedules_db.RETRYING)
        backup_id = uuidutils.generate_uuid()
        self.assertTrue(schedules_db.update_run(
            self.context, run.id, [schedules_db.RETRYING],
            schedules_db.FIRED, backup_id=backup_id))
        self.assertFalse(schedules_db.update_run(
            self.context, run.id, [schedules_db.RETRYING],
            schedules_db.SKIPPED, reason='late'))
        found = schedules_db.get_run(self.context, run.id)
        self.assertEqual(('FIRED', backup_id, None),
                         (found.state, found.backup_id, found.reason))
        self.assertEqual(run.id,
                         schedules_db.run_of_backup(self.context,
                                                    backup_id).id)
        self.assertEqual([backup_id],
                         schedules_db.backup_ids_of(self.context,
                                                    schedule.id))
        self.assertEqual([run.id], [r.id for r in schedules_db.list_runs(
            self.context, schedule.id, states=[schedules_db.FIRED])])
        self.assertEqual([], schedules_db.list_runs(
            self.context, schedule.id, slot_before=T0))
        self.assertRaises(ValueError, schedules_db.update_run, self.context,
                          run.id, [schedules_db.FIRED], schedules_db.FIRED,
                          slot=T0)

    def test_advance_next_run_is_a_compare_and_set(self):
        schedule = self.make()
        self.assertTrue(schedules_db.advance_next_run(
            self.context, schedule.id, T0, T0 + HOUR))
        # A second worker that read the old next_run: nothing moves.
        self.assertFalse(schedules_db.advance_next_run(
            self.context, schedule.id, T0, T0 + 2 * HOUR))
        self.assertEqual(T0 + HOUR, self.row(schedule.id).next_run)
        # Neither a caller's version nor updated moved.
        self.assertEqual((1, schedule.updated),
                         (self.row(schedule.id).version,
                          self.row(schedule.id).updated))
        # Disabled meanwhile: nothing moves either.
        schedules_db.update(self.context, schedule.id, 1,
                            {'enabled': False, 'next_run': None})
        self.assertFalse(schedules_db.advance_next_run(
            self.context, schedule.id, T0 + HOUR, T0 + 2 * HOUR))
        self.assertIsNone(self.row(schedule.id).next_run)

    def test_record_run_result_is_idempotent_and_order_tolerant(self):
        schedule = self.make()
        b1, b2 = uuidutils.generate_uuid(), uuidutils.generate_uuid()

        def record(slot, status, backup_id=None):
            return schedules_db.record_run_result(
                self.context, schedule.id, slot, status, backup_id)

        def state():
            row = self.row(schedule.id)
            return (row.last_run_time, row.last_run_status,
                    row.last_run_backup_id, row.last_success,
                    row.consecutive_failures)

        self.assertTrue(record(T0, 'NEW', b1))
        self.assertTrue(record(T0, 'FAILED', b1))
        self.assertFalse(record(T0, 'FAILED', b1))      # a duplicate cast
        self.assertFalse(record(T0, 'BUILDING', b1))    # a stale one
        self.assertEqual((T0, 'FAILED', b1, None, 1), state())
        self.assertTrue(record(T0 + HOUR, 'SKIPPED'))
        self.assertEqual((T0 + HOUR, 'SKIPPED', None, None, 2), state())
        self.assertFalse(record(T0, 'FAILED', b1))      # an older slot
        # An older slot's success is still the last success.
        self.assertTrue(record(T0, 'COMPLETED', b1))
        self.assertEqual((T0 + HOUR, 'SKIPPED', None, T0, 2), state())
        self.assertFalse(record(T0, 'COMPLETED', b1))
        self.assertTrue(record(T0 + 2 * HOUR, 'COMPLETED', b2))
        self.assertEqual((T0 + 2 * HOUR, 'COMPLETED', b2, T0 + 2 * HOUR, 0),
                         state())
        self.assertTrue(record(T0 + 3 * HOUR, 'MISSED'))
        self.assertFalse(record(T0 + 3 * HOUR, 'MISSED'))
        self.assertEqual((T0 + 3 * HOUR, 'MISSED', None, T0 + 2 * HOUR, 1),
                         state())
        self.assertFalse(schedules_db.record_run_result(
            self.context, uuidutils.generate_uuid(), T0, 'COMPLETED'))


def _classes():
    classes = []
    for backend in service_fixtures.BACKENDS:
        classes.append(type('TestScheduleDB_%s' % backend,
                            (_ScheduleDBTests, base.TestCase),
                            {'backend': backend, '__module__': __name__}))
    return classes


(TestScheduleDB_sqlite, TestScheduleDB_mysql,
 TestScheduleDB_postgresql) = _classes()
