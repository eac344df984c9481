"""The scheduler on a real database, with an injectable clock.

Backups are created through the API's service path; their create_backup
casts reach the test's RecordingWorker (so they stay NEW until the test
completes them, as a worker would on the agent's report).
"""

import collections
import datetime
import zoneinfo

from oslo_utils import timeutils
import sqlalchemy as sa

from trove_backup_ext.db import backup_schedules as schedules_db
from trove_backup_ext.db import lifecycle
from trove_backup_ext.db import models
from trove_backup_ext import instance_sources
from trove_backup_ext import rpc
from trove_backup_ext.services import backups as backup_service
from trove_backup_ext.services import retention
from trove_backup_ext.services import schedule_times
from trove_backup_ext import states
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.worker import manager as worker_manager
from trove_backup_ext.worker import reaper as worker_reaper
from trove_backup_ext.worker import rpcapi as worker_rpcapi
from trove_backup_ext.worker import scheduler as worker_scheduler

UTC = datetime.datetime
HOUR = datetime.timedelta(hours=1)
MINUTE = datetime.timedelta(minutes=1)


class RecordingNotifier:

    def __init__(self):
        self.sent = []

    def info(self, context, event_type, payload):
        self.sent.append((event_type, payload))

    error = info

    def events(self, event_type):
        return [payload for event, payload in self.sent
                if event == event_type]


class _SchedulerFixture:

    conf_overrides = {'max_backups_per_tenant': -1,
                      'scheduler.grace_period': 3600}

    def setUp(self):
        super().setUp()
        self.instance = self.add_instance()
        self.notifier = RecordingNotifier()
        self.service = backup_service.BackupService(
            self.conf, instance_sources.load(self.conf),
            worker_rpcapi.WorkerAPI(self.conf,
                                    rpc.get_transport(self.conf)))
        self.scheduler = self.new_scheduler()

    def new_scheduler(self):
        """Another worker's scheduler, on the same database."""
        return worker_scheduler.Scheduler(self.conf, self.service,
                                          self.notifier)

    def add_schedule(self, full_cron='0 0 * * *', incremental_cron=None,
                     timezone='UTC', start=UTC(2025, 1, 1), **values):
        next_run, _ = schedule_times.next_schedule_slot(
            full_cron, incremental_cron, timezone,
            start - datetime.timedelta(microseconds=1))
        return schedules_db.create(self.admin_context, dict({
            'name': 'nightly', 'project_id': base.PROJECT,
            'user_id': 'user-1', 'instance_id': self.instance.id,
            'full_cron': full_cron, 'incremental_cron': incremental_cron,
            'timezone': timezone, 'enabled': True, 'next_run': next_run},
            **values))

    def schedule(self, schedule_id):
        return schedules_db.find(self.admin_context, schedule_id)

    def runs(self, schedule_id):
        return schedules_db.list_runs(self.admin_context, schedule_id)

    def backups(self):
        with self.database.engine.connect() as connection:
            return list(connection.execute(
                sa.select(models.Backup).order_by(models.Backup.created,
                                                  models.Backup.id)))

    def finish(self, backup_id, status=states.COMPLETED):
        """The backup ends, as the worker's update_backup would end it."""
        if status == states.COMPLETED:
            self.complete(backup_id)
        else:
            self.set_backup(backup_id, status=status,
                            running_instance_id=None)
        self.scheduler.backup_ended(self.admin_context, backup_id, status)

    def casts(self, method, count):
        """The casts of method the worker got, once count arrived (the
        in-memory bus delivers in another thread)."""
        def arrived():
            calls = sorted(c for c in self.worker.calls if c[0] == method)
            return calls if len(calls) >= count else None
        return ef.wait_for(arrived, timeout=30, interval=0.05)


class _SchedulerTests(_SchedulerFixture):

    def test_each_slot_fires_once_full_then_incrementals_in_a_chain(self):
        schedule = self.add_schedule('0 0 * * *', '0 * * * *')
        other_worker = self.new_scheduler()
        for hour in range(4):
            now = UTC(2025, 1, 1) + hour * HOUR
            self.assertEqual(1, self.scheduler.run_once(now)['fired'])
            # The same pass again, and another worker's: nothing more.
            self.assertEqual(0, self.scheduler.run_once(now)['fired'])
            self.assertEqual(0, other_worker.run_once(now)['fired'])
            self.finish(self.backups()[-1].id)
        backups = self.backups()
        self.assertEqual(['full', 'incremental', 'incremental',
                          'incremental'],
                         [b.backup_type for b in backups])
        self.assertEqual([None] + [b.id for b in backups[:-1]],
                         [b.parent_id for b in backups])
        runs = self.runs(schedule.id)
        self.assertEqual([UTC(2025, 1, 1) + h * HOUR for h in range(4)],
                         [run.slot for run in runs])
        self.assertEqual({schedules_db.FIRED}, {run.state for run in runs})
        self.assertEqual([b.id for b in backups],
                         [run.backup_id for run in runs])
        self.assertEqual(
            [worker_scheduler.slot_backup_id(run.id) for run in runs],
            [b.id for b in backups])
        row = self.schedule(schedule.id)
        self.assertEqual(UTC(2025, 1, 1, 4), row.next_run)
        self.assertEqual(UTC(2025, 1, 1, 3), row.last_success)
        self.assertEqual(0, row.consecutive_failures)
        self.assertEqual(4, len(self.notifier.events(
            'dbaas.backup_schedule.fire')))
        self.assertEqual(sorted(('create_backup', b.id) for b in backups),
                         self.casts('create_backup', len(backups)))

    def test_nothing_fires_before_its_time_or_when_disabled(self):
        schedule = self.add_schedule('0 0 * * *', start=UTC(2025, 1, 2))
        self.assertEqual(0, self.scheduler.run_once(
            UTC(2025, 1, 1, 23, 59))['fired'])
        schedules_db.update(self.admin_context, schedule.id, 1,
                            {'enabled': False, 'next_run': None})
        self.assertEqual(0, self.scheduler.run_once(UTC(2025, 1, 2))['fired'])
        self.assertEqual([], self.backups())

    def test_failures_count_until_a_success(self):
        schedule = self.add_schedule('0 * * * *')
        for hour, status in enumerate((states.FAILED, states.FAILED,
                                       states.COMPLETED)):
            self.scheduler.run_once(UTC(2025, 1, 1) + hour * HOUR)
            self.finish(self.backups()[-1].id, status)
            if hour == 1:
                row = self.schedule(schedule.id)
                self.assertEqual(2, row.consecutive_failures)
                self.assertIsNone(row.last_success)
                self.assertEqual('FAILED', row.last_run_status)
        row = self.schedule(schedule.id)
        self.assertEqual(0, row.consecutive_failures)
        self.assertEqual(UTC(2025, 1, 1, 2), row.last_success)
        # A repeated report of an older backup changes nothing.
        self.scheduler.backup_ended(self.admin_context, self.backups()[0].id,
                                    states.FAILED)
        self.assertEqual(0, self.schedule(schedule.id).consecutive_failures)

    def test_the_worker_records_how_scheduled_backups_end(self):
        # Through the worker's own handlers: the agent's report, then the
        # reaper failing a backup that stopped moving.
        if 'require_signed_agent_messages' in self.conf.worker:
            self.conf.set_override('require_signed_agent_messages', False,
                                   group='worker')
        schedule = self.add_schedule('0 * * * *', keep_last=1)
        manager = worker_manager.WorkerManager(
            self.conf, instance_sources.load(self.conf), None, self.notifier)
        manager.end_listeners.append(self.scheduler.backup_ended)
        self.scheduler.run_once(UTC(2025, 1, 1))
        first = self.backups()[-1].id
        self.assertTrue(lifecycle.claim(self.admin_context, first, 'a1'))
        for _ in range(2):     # The same report, delivered twice.
            self.assertTrue(manager.update_backup(
                self.admin_context, self.instance.id, first,
                states.COMPLETED, stored_size=1024, checksum='c',
                location='l', attempt_id='a1'))
        row = self.schedule(schedule.id)
        self.assertEqual((UTC(2025, 1, 1), 'COMPLETED', 0),
                         (row.last_success, row.last_run_status,
                          row.consecutive_failures))

        self.scheduler.run_once(UTC(2025, 1, 1, 1))
        second = self.backups()[-1].id
        self.assertTrue(lifecycle.claim(self.admin_context, second, 'a2'))
        reaper = worker_reaper.Reaper(self.conf, manager,
                                      lambda: self.admin_context)
        reaper.run_once(now=timeutils.utcnow() + datetime.timedelta(
            days=1))
        row = self.schedule(schedule.id)
        self.assertEqual((UTC(2025, 1, 1), 'FAILED', 1),
                         (row.last_success, row.last_run_status,
                          row.consecutive_failures))
        # A failure prunes nothing: the first backup stays.
        self.assertIn(first, [b.id for b in self.backups()])

    # Outages: missed slots.

    def test_after_an_outage_the_latest_slot_within_grace_fires_once(self):
        schedule = self.add_schedule('0 * * * *')
        counts = self.scheduler.run_once(UTC(2025, 1, 1, 5, 30))
        self.assertEqual(1, counts['fired'])
        self.assertEqual(5, counts['missed'])
        runs = self.runs(schedule.id)
        self.assertEqual([schedules_db.MISSED] * 5 + [schedules_db.FIRED],
                         [run.state for run in runs])
        self.assertIn('2025-01-01T05:00:00Z', runs[0].reason)
        self.assertEqual(1, len(self.backups()))
        row = self.schedule(schedule.id)
        self.assertEqual(UTC(2025, 1, 1, 6), row.next_run)
        self.assertEqual(5, row.consecutive_failures)
        [missed] = self.notifier.events('dbaas.backup_schedule.missed')
        self.assertEqual(5, missed['count'])
        self.assertEqual(0, self.new_scheduler().run_once(
            UTC(2025, 1, 1, 5, 31))['fired'])

    def test_slots_older_than_the_grace_period_are_missed(self):
        self.conf.set_override('grace_period', 600, group='scheduler')
        schedule = self.add_schedule('0 * * * *')
        counts = self.scheduler.run_once(UTC(2025, 1, 1, 2, 30))
        self.assertEqual(0, counts['fired'])
        self.assertEqual(3, counts['missed'])
        runs = self.runs(schedule.id)
        self.assertEqual([schedules_db.MISSED] * 3,
                         [run.state for run in runs])
        self.assertIn('grace_period (600 s)', runs[-1].reason)
        self.assertEqual([], self.backups())
        row = self.schedule(schedule.id)
        self.assertEqual('MISSED', row.last_run_status)
        self.assertEqual(UTC(2025, 1, 1, 3), row.next_run)

    def test_a_long_outage_is_recorded_over_several_passes(self):
        self.conf.set_override('max_missed_slots', 10, group='scheduler')
        schedule = self.add_schedule('* * * * *')
        now = UTC(2025, 1, 1, 0, 25)
        passes = [self.scheduler.run_once(now) for _ in range(3)]
        self.assertEqual([11, 11, 3], [p['missed'] for p in passes])
        self.assertEqual(1, passes[-1]['fired'])
        self.assertEqual(26, len(self.runs(schedule.id)))
        self.assertEqual(1, len(self.backups()))

    # A busy instance: retried, then skipped.

    def test_busy_instance_is_retried_until_free(self):
        manual = self.create_backup(self.instance.id)
        schedule = self.add_schedule('0 * * * *')
        counts = self.scheduler.run_once(UTC(2025, 1, 1))
        self.assertEqual((0, 1), (counts['fired'], counts['waiting']))
        [run] = self.runs(schedule.id)
        self.assertEqual(schedules_db.RETRYING, run.state)
        self.assertIn(self.instance.id, run.reason)
        self.complete(manual['id'])
        # Another worker's pass takes the retry.
        counts = self.new_scheduler().run_once(UTC(2025, 1, 1, 0, 10))
        self.assertEqual(1, counts['fired'])
        [run] = self.runs(schedule.id)
        self.assertEqual(schedules_db.FIRED, run.state)
        self.assertEqual(2, len(self.backups()))
        scheduled = lifecycle.get(self.admin_context, run.backup_id)
        self.assertEqual(manual['id'], scheduled.parent_id or manual['id'])

    def test_busy_instance_is_skipped_at_the_end_of_the_grace_period(self):
        manual = self.create_backup(self.instance.id)
        schedule = self.add_schedule('0 0 * * *')
        self.scheduler.run_once(UTC(2025, 1, 1))
        self.scheduler.run_once(UTC(2025, 1, 1, 0, 59))
        [run] = self.runs(schedule.id)
        self.assertEqual(schedules_db.RETRYING, run.state)
        self.assertEqual(1, self.scheduler.run_once(
            UTC(2025, 1, 1, 1))['skipped'])
        [run] = self.runs(schedule.id)
        self.assertEqual(schedules_db.SKIPPED, run.state)
        self.assertIn('BACKUP', run.reason)
        [skipped] = self.notifier.events('dbaas.backup_schedule.skipped')
        self.assertEqual(run.reason, skipped['reason'])
        row = self.schedule(schedule.id)
        self.assertEqual(('SKIPPED', 1), (row.last_run_status,
                                          row.consecutive_failures))
        self.assertEqual([manual['id']], [b.id for b in self.backups()])
        # Freed later: the skipped slot stays skipped.
        self.complete(manual['id'])
        self.assertEqual(0, self.scheduler.run_once(
            UTC(2025, 1, 1, 1, 1))['fired'])

    def test_a_slot_skipped_while_its_backup_was_made_shows_its_outcome(self):
        # One worker creates the slot's backup at the very end of the
        # grace period while another records the slot SKIPPED: the run
        # becomes FIRED, and the schedule shows what its backup did,
        # not a skip counted as a failure.
        schedule = self.add_schedule('0 0 * * *')
        run = schedules_db.claim_slot(self.admin_context, schedule.id,
                                      UTC(2025, 1, 1), schedules_db.FULL,
                                      state=schedules_db.RETRYING)
        schedules_db.advance_next_run(self.admin_context, schedule.id,
                                      UTC(2025, 1, 1), UTC(2025, 1, 2))
        row = self.schedule(schedule.id)
        other = self.new_scheduler()
        other._skip(self.admin_context, row, run, 'busy',
                    collections.Counter())
        self.assertEqual(('SKIPPED', 1), (self.schedule(
            schedule.id).last_run_status, self.schedule(
            schedule.id).consecutive_failures))
        # The first worker, with the run as it claimed it.
        counts = collections.Counter()
        self.scheduler._fire(self.admin_context, row, run,
                             UTC(2025, 1, 1, 0, 59), counts)
        self.assertEqual(1, counts['fired'])
        [run] = self.runs(schedule.id)
        self.assertEqual(schedules_db.FIRED, run.state)
        row = self.schedule(schedule.id)
        self.assertEqual((states.NEW, run.backup_id, 0),
                         (row.last_run_status, row.last_run_backup_id,
                          row.consecutive_failures))
        self.finish(run.backup_id)
        row = self.schedule(schedule.id)
        self.assertEqual((states.COMPLETED, UTC(2025, 1, 1), 0),
                         (row.last_run_status, row.last_success,
                          row.consecutive_failures))

    def test_a_schedule_deleted_after_the_claim_makes_no_backup(self):
        # The API's DELETE (204: nothing left to do) lands between the
        # worker's claim and its firing: the run went with the schedule,
        # and no backup may appear after the 204.
        schedule = self.add_schedule('0 0 * * *')
        run = schedules_db.claim_slot(self.admin_context, schedule.id,
                                      UTC(2025, 1, 1), schedules_db.FULL,
                                      state=schedules_db.RETRYING)
        row = self.schedule(schedule.id)
        schedules_db.delete(self.admin_context, schedule.id)
        counts = collections.Counter()
        self.scheduler._fire(self.admin_context, row, run, UTC(2025, 1, 1),
                             counts)
        self.assertEqual([], self.backups())
        self.assertEqual(0, counts['fired'])

    def test_a_long_backup_that_outlives_the_next_slot_counts_as_success(self):
        # The 00:00 full runs past 02:00: the 01:00 incremental waits for
        # it and is skipped at the end of its grace period. When the full
        # completes, the schedule's last success is 00:00 all the same.
        schedule = self.add_schedule('0 0 * * *', '0 * * * *')
        self.assertEqual(1, self.scheduler.run_once(UTC(2025, 1, 1))['fired'])
        [full] = self.backups()
        self.scheduler.run_once(UTC(2025, 1, 1, 1))
        self.assertEqual(1, self.scheduler.run_once(
            UTC(2025, 1, 1, 2))['skipped'])
        self.finish(full.id)
        row = self.schedule(schedule.id)
        self.assertEqual(UTC(2025, 1, 1), row.last_success)
        # last_run stays the newest slot's.
        self.assertEqual((UTC(2025, 1, 1, 1), 'SKIPPED'),
                         (row.last_run_time, row.last_run_status))

    def test_a_deleted_instance_is_skipped_at_once(self):
        schedule = self.add_schedule('0 0 * * *')
        with self.database.engine.begin() as connection:
            connection.execute(sa.delete(models.RegistryInstance))
        self.assertEqual(1, self.scheduler.run_once(
            UTC(2025, 1, 1))['skipped'])
        [run] = self.runs(schedule.id)
        self.assertEqual(schedules_db.SKIPPED, run.state)

    # A worker that died between two lines.

    def test_a_slot_claimed_by_a_dead_worker_fires_on_the_next_pass(self):
        schedule = self.add_schedule('0 0 * * *')
        # The dead worker claimed the slot and moved next_run on.
        run = schedules_db.claim_slot(self.admin_context, schedule.id,
                                      UTC(2025, 1, 1), schedules_db.FULL,
                                      state=schedules_db.RETRYING)
        schedules_db.advance_next_run(self.admin_context, schedule.id,
                                      UTC(2025, 1, 1), UTC(2025, 1, 2))
        counts = self.new_scheduler().run_once(UTC(2025, 1, 1, 0, 1))
        self.assertEqual(1, counts['fired'])
        self.assertEqual([worker_scheduler.slot_backup_id(run.id)],
                         [b.id for b in self.backups()])
        self.assertEqual(0, self.scheduler.run_once(
            UTC(2025, 1, 1, 0, 2))['fired'])

    def test_a_backup_made_by_a_dead_worker_is_not_made_twice(self):
        schedule = self.add_schedule('0 0 * * *')
        run = schedules_db.claim_slot(self.admin_context, schedule.id,
                                      UTC(2025, 1, 1), schedules_db.FULL,
                                      state=schedules_db.RETRYING)
        # It died after creating the backup, before marking the run.
        self.service.create(self.admin_context, base.PROJECT,
                            {'name': 'x', 'instance': self.instance.id},
                            backup_id=worker_scheduler.slot_backup_id(
                                run.id))
        counts = self.new_scheduler().run_once(UTC(2025, 1, 1, 0, 1))
        self.assertEqual(1, counts['fired'])
        [run] = self.runs(schedule.id)
        self.assertEqual(schedules_db.FIRED, run.state)
        self.assertEqual([run.backup_id], [b.id for b in self.backups()])

    def test_a_backup_made_by_a_dead_worker_is_fired_after_the_grace(self):
        # The worker named and created the slot's backup near the end of
        # the grace period, then died before marking the run: the slot
        # did fire, and the next pass (after the grace) must say so.
        schedule = self.add_schedule('0 0 * * *')
        run = schedules_db.claim_slot(self.admin_context, schedule.id,
                                      UTC(2025, 1, 1), schedules_db.FULL,
                                      state=schedules_db.RETRYING)
        schedules_db.advance_next_run(self.admin_context, schedule.id,
                                      UTC(2025, 1, 1), UTC(2025, 1, 2))
        backup_id = worker_scheduler.slot_backup_id(run.id)
        schedules_db.update_run(self.admin_context, run.id,
                                [schedules_db.RETRYING],
                                schedules_db.RETRYING, backup_id=backup_id)
        self.service.create(self.admin_context, base.PROJECT,
                            {'name': 'x', 'instance': self.instance.id},
                            backup_id=backup_id)
        counts = self.new_scheduler().run_once(UTC(2025, 1, 1, 2))
        self.assertEqual((1, 0), (counts['fired'], counts['skipped']))
        [run] = self.runs(schedule.id)
        self.assertEqual((schedules_db.FIRED, backup_id),
                         (run.state, run.backup_id))
        self.assertEqual([], self.notifier.events(
            'dbaas.backup_schedule.skipped'))
        self.finish(backup_id)
        row = self.schedule(schedule.id)
        self.assertEqual((states.COMPLETED, UTC(2025, 1, 1), 0),
                         (row.last_run_status, row.last_success,
                          row.consecutive_failures))

    def test_a_dead_workers_claim_after_the_grace_period_is_skipped(self):
        schedule = self.add_schedule('0 0 * * *')
        schedules_db.claim_slot(self.admin_context, schedule.id,
                                UTC(2025, 1, 1), schedules_db.FULL,
                                state=schedules_db.RETRYING)
        schedules_db.advance_next_run(self.admin_context, schedule.id,
                                      UTC(2025, 1, 1), UTC(2025, 1, 2))
        self.assertEqual(1, self.scheduler.run_once(
            UTC(2025, 1, 1, 2))['skipped'])
        self.assertEqual([], self.backups())

    # Time zones.

    def test_a_daily_slot_in_berlin_across_both_dst_changes(self):
        # 02:30 local: skipped on 03-30 (fires at 03:30 CEST), twice on
        # 10-26 (fires once, at the first, CEST).
        schedule = self.add_schedule('30 2 * * *', timezone='Europe/Berlin',
                                     start=UTC(2025, 3, 29))
        for start in (UTC(2025, 3, 29), UTC(2025, 10, 25)):
            schedules_db.update(
                self.admin_context, schedule.id,
                self.schedule(schedule.id).version,
                {'next_run': schedule_times.next_slot(
                    '30 2 * * *', 'Europe/Berlin', start)})
            now = start
            while now < start + 3 * 24 * HOUR:
                if self.scheduler.run_once(now)['fired']:
                    self.finish(self.backups()[-1].id)
                now += 10 * MINUTE
        self.assertEqual([UTC(2025, 3, 29, 1, 30), UTC(2025, 3, 30, 1, 30),
                          UTC(2025, 3, 31, 0, 30), UTC(2025, 10, 25, 0, 30),
                          UTC(2025, 10, 26, 0, 30), UTC(2025, 10, 27, 1, 30)],
                         [run.slot for run in self.runs(schedule.id)])
        self.assertEqual(6, len(self.backups()))

    # Pruning.

    def test_pruning_after_each_success_deletes_through_the_delete_path(self):
        schedule = self.add_schedule('0 * * * *', keep_last=2)
        for hour in range(4):
            self.scheduler.run_once(UTC(2025, 1, 1) + hour * HOUR)
            self.finish(self.backups()[-1].id)
        backups = self.backups()
        self.assertEqual(4, len(backups))
        marked = [b.id for b in backups if b.delete_requested_at]
        self.assertEqual([b.id for b in backups[:2]], marked)
        self.assertEqual(sorted(('delete_backup', b) for b in marked),
                         self.casts('delete_backup', len(marked)))
        pruned = self.notifier.events('dbaas.backup_schedule.prune')
        self.assertEqual([[backups[0].id], [backups[1].id]],
                         [[d['backup_id'] for d in p['deleted']]
                          for p in pruned])
        self.assertEqual({'unselected'},
                         {d['rule'] for p in pruned for d in p['deleted']})
        # Pruning again finds nothing more.
        self.assertEqual([], self.scheduler.prune(
            self.admin_context, schedule.id, UTC(2025, 1, 1, 4)))

    def test_retention_preview_and_prune_agree(self):
        schedule = self.add_schedule('0 * * * *', keep_last=1)
        for hour in range(3):
            self.scheduler.run_once(UTC(2025, 1, 1) + hour * HOUR)
            self.complete(self.backups()[-1].id)
        backups = self.backups()
        preview = retention.preview(self.admin_context,
                                    self.schedule(schedule.id))
        self.assertEqual([(b.id, 'delete', 'unselected') for b in
                          backups[:2]],
                         [(p['backup_id'], p['action'], p['rule'])
                          for p in preview])
        full = retention.preview(self.admin_context,
                                 self.schedule(schedule.id),
                                 include_kept=True)
        self.assertEqual((backups[2].id, 'keep', ['keep_last', 'last_full']),
                         (full[2]['backup_id'], full[2]['action'],
                          full[2]['rules']))
        self.assertEqual(sorted(b.id for b in backups[:2]), sorted(
            self.scheduler.prune(self.admin_context, schedule.id)))

    def test_pruning_leaves_a_running_chain_alone(self):
        schedule = self.add_schedule('0 0 * * *', '0 * * * *', keep_last=1)
        self.scheduler.run_once(UTC(2025, 1, 1))
        self.finish(self.backups()[-1].id)
        self.scheduler.run_once(UTC(2025, 1, 1, 1))
        # The incremental is still running: its full parent must stay.
        self.assertEqual([], self.scheduler.prune(
            self.admin_context, schedule.id, UTC(2025, 1, 1, 1, 30)))
        self.assertEqual([None, None],
                         [b.delete_requested_at for b in self.backups()])


class ThreeWeeksInBerlinTest(_SchedulerFixture, base.FunctionalTestCase):
    """Daily full at 00:00 and hourly incrementals in Europe/Berlin, from
    Monday 2025-03-17 to the slot of Sunday 2025-04-06 23:00 (CEST), with
    the clocks going forward on 2025-03-30 (02:00 does not exist: 23
    slots that day). After every backup the scheduler prunes, and the
    worker's delete flow deletes. Expected, worked out by hand (local
    days; each rule keeps a day's 23:00 incremental, which keeps its
    day's whole chain):

    =============  ==============================================
    keep_last 2    04-06 23:00, 22:00
    keep_daily 3   04-06, 04-05, 04-04
    keep_weekly 2  W14 (03-31..04-06): 04-06; W13 (03-24..03-30):
                   03-30
    keep_monthly 2 April: 04-06; March: 03-31
    =============  ==============================================

    So the days 04-06, 04-05, 04-04, 03-31 (24 backups each) and 03-30
    (23) remain: 119 backups, of 503 made.
    """

    KEPT_DAYS = {(4, 6): range(24), (4, 5): range(24), (4, 4): range(24),
                 (3, 31): range(24),
                 (3, 30): [h for h in range(24) if h != 2]}

    def test_three_weeks(self):
        zone = zoneinfo.ZoneInfo('Europe/Berlin')
        schedule = self.add_schedule(
            '0 0 * * *', '0 * * * *', timezone='Europe/Berlin',
            start=UTC(2025, 3, 16, 23), keep_last=2, keep_daily=3,
            keep_weekly=2, keep_monthly=2)
        manager = worker_manager.WorkerManager(
            self.conf, instance_sources.load(self.conf), None, self.notifier)
        now, made = UTC(2025, 3, 16, 23), 0
        while now <= UTC(2025, 4, 6, 21):
            self.assertEqual(1, self.scheduler.run_once(now)['fired'], now)
            made += 1
            run = self.runs(schedule.id)[-1]
            self.finish(run.backup_id)
            # The worker's part of each deletion the pruning requested.
            for backup in self.backups():
                if backup.delete_requested_at is not None:
                    manager.delete_backup(self.admin_context, backup.id)
            now += HOUR
        self.assertEqual(503, made)

        expected = {
            datetime.datetime(2025, month, day, hour, tzinfo=zone)
            .astimezone(datetime.timezone.utc).replace(tzinfo=None)
            for (month, day), hours in self.KEPT_DAYS.items()
            for hour in hours}
        self.assertEqual(119, len(expected))
        slot_of = {run.backup_id: run.slot for run in self.runs(schedule.id)}
        left = self.backups()
        self.assertEqual(sorted(expected),
                         sorted(slot_of[b.id] for b in left))
        self.assertEqual({None}, {b.delete_requested_at for b in left})
        rules = {item['backup_id']: item['rules'] for item in
                 retention.preview(self.admin_context,
                                   self.schedule(schedule.id),
                                   now=UTC(2025, 4, 6, 21, 30),
                                   include_kept=True)}
        by_slot = {slot_of[b.id]: rules[b.id] for b in left}
        self.assertEqual(['keep_last', 'keep_daily', 'keep_weekly',
                          'keep_monthly'], by_slot[UTC(2025, 4, 6, 21)])
        self.assertEqual(['keep_weekly'], by_slot[UTC(2025, 3, 30, 21)])
        self.assertEqual(['keep_monthly'], by_slot[UTC(2025, 3, 31, 21)])
        self.assertEqual(['keep_last', 'chain'],
                         by_slot[UTC(2025, 4, 6, 20)])


(SchedulerTests_sqlite, SchedulerTests_mysql,
 SchedulerTests_postgresql) = base.for_each_backend(_SchedulerTests, __name__)
