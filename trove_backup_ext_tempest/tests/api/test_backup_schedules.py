"""Backup schedules API: create, list, show, update, delete, a schedule
that fires, and what the API must refuse."""

import json
import time

from tempest import config
from tempest.lib.common.utils import data_utils
from tempest.lib.common.utils import test_utils
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from trove_backup_ext_tempest.tests.api import base

CONF = config.CONF

FIELDS = {'id', 'name', 'description', 'instance_id', 'project_id',
          'full_cron', 'incremental_cron', 'timezone', 'retention',
          'enabled', 'next_run', 'last_run', 'last_success',
          'consecutive_failures', 'created', 'updated'}
RULES = ('keep_last', 'keep_daily', 'keep_weekly', 'keep_monthly',
         'keep_yearly', 'max_age_days')
# 03:00 on 1 January: a time no test run is near, so nothing fires.
NEW_YEAR = '0 3 1 1 *'


class BaseSchedulesTest(base.BaseBackupsTest):

    @classmethod
    def setup_clients(cls):
        super().setup_clients()
        cls.schedules_client = (
            cls.os_primary.database_backup.BackupSchedulesClient())
        cls.admin_schedules_client = (
            cls.os_admin.database_backup.BackupSchedulesClient())

    @classmethod
    def create_schedule(cls, client=None, instance_id=None, **fields):
        """A new schedule (as the API answered), deleted at the end of
        the class."""
        client = client or cls.schedules_client
        fields.setdefault('name', data_utils.rand_name('tempest-schedule'))
        fields.setdefault('full_cron', NEW_YEAR)
        schedule = client.create_backup_schedule(
            instance_id=instance_id or cls.instance_id,
            **fields)['backup_schedule']
        cls.addClassResourceCleanup(
            test_utils.call_and_ignore_notfound_exc,
            client.delete_backup_schedule, schedule['id'])
        return schedule


class BackupSchedulesTest(BaseSchedulesTest):

    @decorators.idempotent_id('0a2c4e6a-8c1e-4b3d-9f5b-7d9f1b3d5f7a')
    def test_create_show_update_delete(self):
        schedule = self.create_schedule(
            description='tempest', incremental_cron='30 3 1 1 *',
            timezone='Europe/Berlin', retention={'keep_daily': 7,
                                                 'max_age_days': 90})
        self.assertEqual(FIELDS, set(schedule))
        self.assertEqual(
            (self.instance_id, self.project_id, NEW_YEAR, '30 3 1 1 *',
             'Europe/Berlin', True, None, None, 0),
            (schedule['instance_id'], schedule['project_id'],
             schedule['full_cron'], schedule['incremental_cron'],
             schedule['timezone'], schedule['enabled'],
             schedule['last_run'], schedule['last_success'],
             schedule['consecutive_failures']))
        self.assertEqual(dict(dict.fromkeys(RULES), keep_daily=7,
                              max_age_days=90), schedule['retention'])
        # 03:00 CET on 1 January is 02:00 UTC.
        self.assertTrue(schedule['next_run'].endswith('-01-01T02:00:00'),
                        schedule['next_run'])
        self.assertEqual(schedule, self.schedules_client.show_backup_schedule(
            schedule['id'])['backup_schedule'])

        changed = self.schedules_client.update_backup_schedule(
            schedule['id'], name='renamed', timezone='UTC',
            incremental_cron=None,
            retention={'keep_daily': None, 'keep_last': 2}
        )['backup_schedule']
        self.assertEqual(('renamed', 'UTC', None),
                         (changed['name'], changed['timezone'],
                          changed['incremental_cron']))
        self.assertEqual(dict(dict.fromkeys(RULES), keep_last=2,
                              max_age_days=90), changed['retention'])
        self.assertTrue(changed['next_run'].endswith('-01-01T03:00:00'))
        disabled = self.schedules_client.update_backup_schedule(
            schedule['id'], enabled=False)['backup_schedule']
        self.assertEqual((False, None),
                         (disabled['enabled'], disabled['next_run']))
        self.assertEqual([], self.schedules_client.show_retention_preview(
            schedule['id'])['retention_preview'])

        self.schedules_client.delete_backup_schedule(schedule['id'])
        self.assertRaises(lib_exc.NotFound,
                          self.schedules_client.show_backup_schedule,
                          schedule['id'])

    @decorators.idempotent_id('4e6a8c0e-2a4c-4e6a-8c0e-2a4c6e8a0c2e')
    def test_list_filter_and_pages(self):
        made = [self.create_schedule()['id'] for _ in range(3)]
        listed = self.schedules_client.list_backup_schedules(
            instance_id=self.instance_id)['backup_schedules']
        self.assertEqual(made[::-1], [s['id'] for s in listed
                                      if s['id'] in made])
        seen, marker = [], None
        while True:
            params = {'limit': 2, 'instance_id': self.instance_id}
            if marker:
                params['marker'] = marker
            page = self.schedules_client.list_backup_schedules(**params)
            self.assertLessEqual(len(page['backup_schedules']), 2)
            seen += [s['id'] for s in page['backup_schedules']]
            marker = self.next_marker(page)
            if marker is None:
                break
        self.assertEqual([s['id'] for s in listed], seen)
        self.assertEqual(len(seen), len(set(seen)))

    @decorators.idempotent_id('8c0e2a4c-6e8a-4c0e-9a4c-6e8a0c2e4a6c')
    def test_a_schedule_fires_and_records_its_run(self):
        # Every minute: the worker takes the next minute's slot and backs
        # the instance up; the schedule shows the run.
        schedule = self.create_schedule(full_cron='* * * * *',
                                        retention={'keep_last': 1})
        deadline = time.monotonic() + self.client.build_timeout
        while True:
            shown = self.schedules_client.show_backup_schedule(
                schedule['id'])['backup_schedule']
            if shown['last_success']:
                break
            if time.monotonic() > deadline:
                raise lib_exc.TimeoutException(
                    'Schedule %s has no successful run after %s s: %s' % (
                        schedule['id'], self.client.build_timeout, shown))
            time.sleep(self.client.build_interval)
        self.schedules_client.update_backup_schedule(schedule['id'],
                                                     enabled=False)
        self.addCleanup(self.delete_backups_since, schedule['created'])
        self.assertEqual(0, shown['consecutive_failures'])
        self.assertEqual('COMPLETED', shown['last_run']['status'])
        backup = self.client.show_backup(shown['last_run']['backup_id'])[
            'backup']
        self.assertEqual((self.instance_id, 'COMPLETED'),
                         (backup['instance_id'], backup['status']))

    def delete_backups_since(self, created):
        """Delete the instance's backups created since created (what the
        schedule made), once none of them runs any more: later tests
        find the instance free."""
        deadline = time.monotonic() + self.client.build_timeout
        while True:
            made = [b for b in self.client.list_backups(
                instance_id=self.instance_id)['backups']
                if b['created'] >= created]
            if not [b for b in made if b['status'] in ('NEW', 'BUILDING')]:
                break
            if time.monotonic() > deadline:
                raise lib_exc.TimeoutException(
                    'Backups still running: %s' % made)
            time.sleep(self.client.build_interval)
        for item in made:
            self.delete_and_wait(self.client, item['id'])


class BackupSchedulesHealthTest(BaseSchedulesTest):

    @decorators.idempotent_id('da53e740-72b3-4f46-aad5-82ffe795fc04')
    def test_health_is_for_administrators(self):
        schedule = self.create_schedule()
        # Not even to the owner of a schedule.
        self.assertRaises(lib_exc.Forbidden,
                          self.schedules_client.show_backup_schedules_health)
        health = self.admin_schedules_client.show_backup_schedules_health(
            limit=1000)['schedules_health']
        self.assertEqual({'checked_at', 'enabled_schedules',
                          'overdue_count', 'overdue'}, set(health))
        self.assertGreaterEqual(health['enabled_schedules'], 1)
        self.assertGreaterEqual(health['overdue_count'],
                                len(health['overdue']))
        # Just created, so not overdue, whatever else is.
        self.assertNotIn(schedule['id'], [
            item['schedule_id'] for item in health['overdue']])
        limited = self.admin_schedules_client.show_backup_schedules_health(
            limit=1)['schedules_health']
        self.assertLessEqual(len(limited['overdue']), 1)
        self.assertRaises(lib_exc.BadRequest,
                          self.admin_schedules_client
                          .show_backup_schedules_health, limit=0)


class BackupSchedulesAdminTest(BaseSchedulesTest,
                               base.AdminProjectBackupsTest):

    @decorators.idempotent_id('2e4a6c8e-0a2c-4e4a-8c6e-8a0c2e4a6c8e')
    def test_admin_sees_every_project(self):
        mine = self.create_schedule()
        theirs = self.create_schedule(
            self.admin_schedules_client,
            instance_id=CONF.database_backup.admin_instance_id)
        everything = [s['id'] for s in
                      self.admin_schedules_client.list_backup_schedules(
                          all_projects=True)['backup_schedules']]
        self.assertIn(mine['id'], everything)
        self.assertIn(theirs['id'], everything)
        of_primary = [s['id'] for s in
                      self.admin_schedules_client.list_backup_schedules(
                          project_id=self.project_id)['backup_schedules']]
        self.assertIn(mine['id'], of_primary)
        self.assertNotIn(theirs['id'], of_primary)
        self.assertEqual(
            mine, self.admin_schedules_client.show_backup_schedule(
                mine['id'])['backup_schedule'])
        # Not the other way round.
        self.assertRaises(lib_exc.NotFound,
                          self.schedules_client.show_backup_schedule,
                          theirs['id'])
        self.assertRaises(lib_exc.NotFound,
                          self.schedules_client.update_backup_schedule,
                          theirs['id'], name='mine')
        self.assertRaises(lib_exc.NotFound,
                          self.schedules_client.delete_backup_schedule,
                          theirs['id'])
        self.assertEqual(theirs['name'],
                         self.admin_schedules_client.show_backup_schedule(
                             theirs['id'])['backup_schedule']['name'])


class BackupSchedulesNegativeTest(BaseSchedulesTest):

    @classmethod
    def resource_setup(cls):
        super().resource_setup()
        cls.schedule = cls.create_schedule()

    def assertUnchanged(self):
        self.assertEqual(self.schedule,
                         self.schedules_client.show_backup_schedule(
                             self.schedule['id'])['backup_schedule'])

    def assertNoneOnInstance(self, instance_id):
        self.assertEqual(
            [], self.schedules_client.list_backup_schedules(
                instance_id=instance_id)['backup_schedules'])

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('6a8c0e2a-4c6e-4a8c-9e2a-4c6e8a0c2e4a')
    def test_create_with_bad_bodies(self):
        before = self.schedules_client.list_backup_schedules(
            instance_id=self.instance_id)['backup_schedules']
        spec = {'name': 'bad', 'instance_id': self.instance_id,
                'full_cron': NEW_YEAR}
        for changes in ({'full_cron': '0 3 1 1'},
                        {'full_cron': '0 3 1 1 * 2026'},
                        {'full_cron': '0 0 30 2 *'},
                        {'incremental_cron': 'hourly'},
                        {'timezone': 'Mars/Olympus'},
                        {'retention': {'keep_last': -1}},
                        {'retention': {'keep_hourly': 24}},
                        {'enabled': 'yes'},
                        {'instance_id': 'not-a-uuid'},
                        {'colour': 'blue'}):
            body = json.dumps({'backup_schedule': dict(spec, **changes)})
            self.assertRaises(
                lib_exc.BadRequest,
                self.schedules_client.create_backup_schedule_raw, body)
        for body in ('{}', '[]', '{"backup_schedule": ',
                     json.dumps({'backup_schedule': {'name': 'bad'}})):
            self.assertRaises(
                lib_exc.BadRequest,
                self.schedules_client.create_backup_schedule_raw, body)
        self.assertEqual(before, self.schedules_client.list_backup_schedules(
            instance_id=self.instance_id)['backup_schedules'])

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('0c2e4a6c-8e0a-4c2e-8a6c-8e0a2c4e6a8c')
    def test_create_for_unknown_instance(self):
        unknown = data_utils.rand_uuid()
        self.assertRaises(lib_exc.NotFound,
                          self.schedules_client.create_backup_schedule,
                          name='bad', instance_id=unknown,
                          full_cron=NEW_YEAR)
        self.assertNoneOnInstance(unknown)

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('4a6c8e0a-2c4e-4a6c-9e0a-2c4e6a8c0e2a')
    def test_unknown_schedule(self):
        unknown = data_utils.rand_uuid()
        for call, args in (
                (self.schedules_client.show_backup_schedule, (unknown,)),
                (self.schedules_client.show_backup_schedule,
                 ('not-a-uuid',)),
                (self.schedules_client.delete_backup_schedule, (unknown,)),
                (self.schedules_client.show_retention_preview, (unknown,))):
            self.assertRaises(lib_exc.NotFound, call, *args)
        self.assertRaises(lib_exc.NotFound,
                          self.schedules_client.update_backup_schedule,
                          unknown, name='x')

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('8e0a2c4e-6a8c-4e0a-8c4e-6a8c0e2a4c6e')
    def test_bad_updates_change_nothing(self):
        for changes in ({}, {'instance_id': data_utils.rand_uuid()},
                        {'full_cron': None}, {'full_cron': '61 * * * *'},
                        {'timezone': 'utc'}, {'enabled': None},
                        {'retention': {'max_age_days': -5}},
                        {'next_run': '2030-01-01T00:00:00'}):
            self.assertRaises(lib_exc.BadRequest,
                              self.schedules_client.update_backup_schedule,
                              self.schedule['id'], **changes)
        self.assertUnchanged()

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('2a4c6e8a-0c2e-4a4c-8e8a-0c2e4a6c8e0a')
    def test_list_all_projects_as_member(self):
        self.assertRaises(lib_exc.Forbidden,
                          self.schedules_client.list_backup_schedules,
                          all_projects=True)
        self.assertRaises(lib_exc.Forbidden,
                          self.schedules_client.list_backup_schedules,
                          project_id=self.os_admin.credentials.project_id)
        self.assertRaises(lib_exc.BadRequest,
                          self.schedules_client.list_backup_schedules,
                          limit='many')
        self.assertRaises(lib_exc.BadRequest,
                          self.schedules_client.list_backup_schedules,
                          marker='garbage')


class BackupSchedulesOtherProjectNegativeTest(BaseSchedulesTest,
                                              base.AdminProjectBackupsTest):

    @decorators.attr(type=['negative'])
    @decorators.idempotent_id('6c8e0a2c-4e6a-4c8e-8a2c-4e6a8c0e2a4c')
    def test_create_for_another_projects_instance(self):
        theirs = CONF.database_backup.admin_instance_id
        self.assertRaises(lib_exc.NotFound,
                          self.schedules_client.create_backup_schedule,
                          name='bad', instance_id=theirs, full_cron=NEW_YEAR)
        self.assertEqual([], [
            s for s in self.admin_schedules_client.list_backup_schedules(
                all_projects=True, instance_id=theirs)['backup_schedules']
            if s['name'] == 'bad'])
