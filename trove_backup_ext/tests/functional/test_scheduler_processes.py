"""Three trove-backup-worker processes race on 1,000 due slots.

Every slot must make exactly one backup, on MariaDB and on PostgreSQL,
also when one of the workers is killed (SIGKILL) halfway. No agent runs:
the backups stay NEW (what matters here is the rows).
"""

import collections
import re

import fixtures
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa
from testtools import content

from trove_backup_ext.db import backup_schedules as schedules_db
from trove_backup_ext.db import models
from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import process_fixtures as pf
from trove_backup_ext.tests import rabbitmq_fixtures as rf
from trove_backup_ext.tests import service_fixtures
from trove_backup_ext.worker import scheduler as worker_scheduler

SLOTS = 1000
WORKERS = 3
# A yearly cron, due since its last slot: one due slot per schedule. The
# grace period covers it, so every slot fires (none is MISSED).
CRON = '0 0 1 1 *'
GRACE = 400 * 86400


class _RaceTests:

    backend = None

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(600, gentle=True))
        vhost = self.useFixture(rf.Vhost())
        self.database = self.useFixture(
            service_fixtures.Database(self.backend))
        self.deploy = pf.Deployment(self, vhost.transport_url,
                                    self.database.url, sections={
                                        'DEFAULT': {
                                            'max_backups_per_tenant': -1},
                                        'scheduler': {
                                            'tick_interval': 1,
                                            'grace_period': GRACE,
                                            'batch_size': 50}})
        self.slot = self._add_due_schedules()

    def _add_due_schedules(self):
        now = timeutils.utcnow()
        slot = now.replace(month=1, day=1, hour=0, minute=0, second=0,
                           microsecond=0)
        instances, schedules = [], []
        for n in range(SLOTS):
            instance_id = uuidutils.generate_uuid()
            instances.append({
                'id': instance_id, 'name': 'db%d' % n,
                'project_id': base.PROJECT, 'datastore': 'sqlite',
                'datastore_version': '3', 'status': 'ACTIVE',
                'created': now})
            schedules.append({
                'id': uuidutils.generate_uuid(), 'name': 's%d' % n,
                'project_id': base.PROJECT, 'user_id': 'user-1',
                'instance_id': instance_id, 'full_cron': CRON,
                'timezone': 'UTC', 'enabled': True, 'next_run': slot,
                'consecutive_failures': 0, 'version': 1, 'created': now,
                'updated': now})
        with self.database.engine.begin() as connection:
            connection.execute(sa.insert(models.RegistryInstance),
                               instances)
            connection.execute(sa.insert(models.BackupSchedule), schedules)
        return slot

    def _count(self, table, *where):
        with self.database.engine.connect() as connection:
            return connection.execute(sa.select(sa.func.count())
                                      .select_from(table).where(*where)
                                      ).scalar()

    def _fired(self):
        return self._count(models.BackupScheduleRun,
                           models.BackupScheduleRun.state ==
                           schedules_db.FIRED)

    def _start_workers(self):
        workers = [self.deploy.start_worker(wait=False)
                   for _ in range(WORKERS)]
        for worker in workers:
            worker.wait_ready()
        return workers

    def _fired_by(self, workers):
        pattern = re.compile(r'fired slot \S+ \(full\): backup (\S+)\.')
        return [pattern.findall(worker.log_text()) for worker in workers]

    def _assert_each_slot_made_one_backup(self, workers):
        ef.wait_for(lambda: self._fired() == SLOTS, timeout=300,
                    interval=0.5)
        with self.database.engine.connect() as connection:
            runs = list(connection.execute(sa.select(
                models.BackupScheduleRun)))
            backups = list(connection.execute(sa.select(
                models.Backup.id, models.Backup.instance_id,
                models.Backup.status)))
            instance_of = dict(connection.execute(sa.select(
                models.BackupSchedule.id,
                models.BackupSchedule.instance_id)).all())
        fired_by = self._fired_by(workers)
        self.addDetail('fired-per-worker', content.text_content(
            ', '.join(str(len(ids)) for ids in fired_by)))
        self.assertEqual(SLOTS, len(runs))
        self.assertEqual({(schedules_db.FIRED, self.slot)},
                         {(run.state, run.slot) for run in runs})
        self.assertEqual(SLOTS, len({run.schedule_id for run in runs}))
        self.assertEqual(SLOTS, len(backups))
        self.assertEqual(
            sorted(worker_scheduler.slot_backup_id(run.id) for run in runs),
            sorted(backup.id for backup in backups))
        self.assertEqual(sorted(run.backup_id for run in runs),
                         sorted(backup.id for backup in backups))
        # One backup per schedule's instance: none was made twice.
        per_instance = collections.Counter(b.instance_id for b in backups)
        self.assertEqual({1}, set(per_instance.values()))
        self.assertEqual(set(instance_of.values()), set(per_instance))
        # No worker claims to have fired a slot that another fired too.
        claimed = [backup_id for ids in fired_by for backup_id in ids]
        self.assertEqual(len(claimed), len(set(claimed)))
        # next_run moved on to next year's slot everywhere.
        self.assertEqual(0, self._count(
            models.BackupSchedule,
            models.BackupSchedule.next_run <= self.slot))

    def test_three_workers_fire_each_of_1000_slots_once(self):
        workers = self._start_workers()
        self._assert_each_slot_made_one_backup(workers)

    def test_a_worker_killed_halfway_leaves_no_slot_behind(self):
        workers = self._start_workers()
        ef.wait_for(lambda: self._fired() >= SLOTS // 4, timeout=300,
                    interval=0.05)
        workers[0].kill()
        self._assert_each_slot_made_one_backup(workers)


(RaceTests_mysql, RaceTests_postgresql) = (
    type('RaceTests_%s' % backend, (_RaceTests, base.TestCase),
         {'backend': backend, '__module__': __name__})
    for backend in ('mysql', 'postgresql'))
