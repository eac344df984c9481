"""The backup schedules API: create, list, show, PATCH, DELETE, the
retention preview, and every refusal (which changes nothing)."""

import datetime

from oslo_utils import uuidutils
import sqlalchemy as sa

from trove_backup_ext.db import backup_schedules as schedules_db
from trove_backup_ext.db import models
from trove_backup_ext.tests import base

PROJECT = base.PROJECT
OTHER = base.OTHER_PROJECT
FIELDS = {'id', 'name', 'description', 'instance_id', 'project_id',
          'full_cron', 'incremental_cron', 'timezone', 'retention',
          'enabled', 'next_run', 'last_run', 'last_success',
          'consecutive_failures', 'created', 'updated'}
RETENTION = ('keep_last', 'keep_daily', 'keep_weekly', 'keep_monthly',
             'keep_yearly', 'max_age_days')
TIME = '%Y-%m-%dT%H:%M:%S'


def parse_time(text):
    return datetime.datetime.strptime(text, TIME)


class _ScheduleAPITests:

    def setUp(self):
        super().setUp()
        self.instance = self.add_instance()

    # Helpers.

    def create(self, project=PROJECT, roles=None, expect=201, **fields):
        spec = dict({'name': 'nightly', 'instance_id': self.instance.id,
                     'full_cron': '0 2 * * *'}, **fields)
        response = self.request('POST', '/backup_schedules',
                                project=project, roles=roles,
                                json={'backup_schedule': spec})
        self.assertEqual(expect, response.status_code, response.text)
        return response.json().get('backup_schedule')

    def patch(self, schedule_id, fields, project=PROJECT, expect=200,
              **kwargs):
        response = self.request('PATCH', '/backup_schedules/%s' % schedule_id,
                                project=project,
                                json={'backup_schedule': fields}, **kwargs)
        self.assertEqual(expect, response.status_code, response.text)
        return response

    def show(self, schedule_id, project=PROJECT, **kwargs):
        return self.request('GET', '/backup_schedules/%s' % schedule_id,
                            project=project, **kwargs)

    def rows(self):
        """What a refused request must leave as it was."""
        with self.database.engine.connect() as connection:
            return sorted(tuple(row) for row in connection.execute(
                sa.select(models.BackupSchedule)).all())

    # Create and show.

    def test_create_shows_every_field_and_the_next_slot(self):
        before = datetime.datetime.utcnow().replace(microsecond=0)
        created = self.create(
            description='every night', incremental_cron='30 */6 * * *',
            timezone='Asia/Tokyo', retention={'keep_daily': 7,
                                              'keep_weekly': 4})
        self.assertEqual(FIELDS, set(created))
        self.assertTrue(uuidutils.is_uuid_like(created['id']))
        self.assertEqual(
            ('nightly', 'every night', self.instance.id, PROJECT,
             '0 2 * * *', '30 */6 * * *', 'Asia/Tokyo', True, None, None, 0),
            (created['name'], created['description'],
             created['instance_id'], created['project_id'],
             created['full_cron'], created['incremental_cron'],
             created['timezone'], created['enabled'], created['last_run'],
             created['last_success'], created['consecutive_failures']))
        self.assertEqual({'keep_last': None, 'keep_daily': 7,
                          'keep_weekly': 4, 'keep_monthly': None,
                          'keep_yearly': None, 'max_age_days': None},
                         created['retention'])
        # Tokyo is UTC+9: the incrementals' 00:30, 06:30, 12:30, 18:30
        # and the full's 02:00 are at 15:30, 21:30, 03:30, 09:30 and
        # 17:00 UTC; the next is one of those within six hours.
        next_run = parse_time(created['next_run'])
        self.assertIn((next_run.hour, next_run.minute),
                      [(15, 30), (21, 30), (3, 30), (9, 30), (17, 0)])
        self.assertGreater(next_run, before)
        self.assertLessEqual(next_run - before, datetime.timedelta(hours=6))
        self.assertEqual(created, self.show(created['id']).json()[
            'backup_schedule'])
        # A normalized cron, the defaults.
        plain = self.create(full_cron='  15   3 * *  sun ')
        self.assertEqual(('15 3 * * sun', None, 'UTC', True),
                         (plain['full_cron'], plain['incremental_cron'],
                          plain['timezone'], plain['enabled']))
        next_run = parse_time(plain['next_run'])
        self.assertEqual((6, 3, 15), (next_run.weekday(), next_run.hour,
                                      next_run.minute))
        self.assertEqual(set(RETENTION), set(plain['retention']))
        self.assertEqual({None}, set(plain['retention'].values()))

    def test_create_disabled_has_no_next_run(self):
        created = self.create(enabled=False)
        self.assertEqual((False, None),
                         (created['enabled'], created['next_run']))

    def test_bad_input_is_a_400_naming_the_field(self):
        cases = [
            ({'full_cron': '0 2 * *'}, "backup_schedule['full_cron']"),
            ({'full_cron': '0 2 * * * *'}, "backup_schedule['full_cron']"),
            ({'full_cron': '99 2 * * *'}, "backup_schedule['full_cron']"),
            ({'full_cron': '0 0 31 2 *'}, "backup_schedule['full_cron']"),
            ({'full_cron': 7}, "backup_schedule['full_cron']"),
            ({'full_cron': ''}, "backup_schedule['full_cron']"),
            ({'incremental_cron': 'hourly'},
             "backup_schedule['incremental_cron']"),
            ({'timezone': 'Mars/Olympus'}, "backup_schedule['timezone']"),
            ({'timezone': 'localtime'}, "backup_schedule['timezone']"),
            ({'timezone': None}, "backup_schedule['timezone']"),
            ({'retention': {'keep_daily': -1}},
             "backup_schedule['retention']['keep_daily']"),
            ({'retention': {'keep_last': 1.5}},
             "backup_schedule['retention']['keep_last']"),
            ({'retention': {'keep_last': '3'}},
             "backup_schedule['retention']['keep_last']"),
            ({'retention': {'keep_last': True}},
             "backup_schedule['retention']['keep_last']"),
            ({'retention': {'max_age_days': 2 ** 40}},
             "backup_schedule['retention']['max_age_days']"),
            ({'retention': {'keep_hourly': 24}}, "keep_hourly"),
            ({'retention': [7]}, "backup_schedule['retention']"),
            ({'enabled': 'yes'}, "backup_schedule['enabled']"),
            ({'enabled': 1}, "backup_schedule['enabled']"),
            ({'name': ''}, "backup_schedule['name']"),
            ({'name': 'a\x00b'}, "backup_schedule['name']"),
            ({'instance_id': 'not-a-uuid'},
             "backup_schedule['instance_id']"),
            ({'colour': 'blue'}, "colour"),
            ({'next_run': '2030-01-01T00:00:00'}, "next_run"),
        ]
        for fields, fragment in cases:
            response = self.request(
                'POST', '/backup_schedules',
                json={'backup_schedule': dict(
                    {'name': 'n', 'instance_id': self.instance.id,
                     'full_cron': '0 2 * * *'}, **fields)})
            self.assertFault(response, 400, 'badRequest', fragment)
        for body in ({}, {'backup_schedule': {}}, [],
                     {'backup_schedule': {'name': 'n',
                                          'instance_id': self.instance.id}},
                     {'backup_schedule': 'x'}, {'schedule': {}}):
            response = self.request('POST', '/backup_schedules', json=body)
            self.assertFault(response, 400, 'badRequest')
        response = self.request('POST', '/backup_schedules', data='{"a"',
                                headers={'Content-Type': 'application/json'})
        self.assertFault(response, 400, 'badRequest', 'not valid JSON')
        self.assertEqual([], self.rows())

    def test_instance_must_be_the_project_s_and_backed_up(self):
        others = self.add_instance(project_id=OTHER)
        for instance_id in (others.id, uuidutils.generate_uuid()):
            response = self.request('POST', '/backup_schedules', json={
                'backup_schedule': {'name': 'n', 'instance_id': instance_id,
                                    'full_cron': '0 2 * * *'}})
            self.assertFault(response, 404, 'itemNotFound', instance_id)
        # An administrator names another project's instance in that
        # project's URL, not in its own.
        self.create(project=PROJECT, roles='admin', expect=404,
                    instance_id=others.id)
        by_admin = self.create(project=OTHER, roles='admin',
                               instance_id=others.id)
        self.assertEqual(OTHER, by_admin['project_id'])
        unknown = self.add_instance(datastore='mongodb', version='7.0')
        response = self.request('POST', '/backup_schedules', json={
            'backup_schedule': {'name': 'n', 'instance_id': unknown.id,
                                'full_cron': '0 2 * * *'}})
        self.assertFault(response, 422, 'unprocessableEntity', 'mongodb')
        self.assertEqual(1, len(self.rows()))

    def test_show_is_404_for_unknown_and_other_project_s(self):
        created = self.create()
        for schedule_id in (uuidutils.generate_uuid(), 'nope', '%00'):
            self.assertFault(self.show(schedule_id), 404, 'itemNotFound')
        response = self.request('GET', '/backup_schedules/%s' % created['id'],
                                project=OTHER)
        self.assertFault(response, 404, 'itemNotFound', created['id'])
        # Upper case finds the same.
        self.assertEqual(200, self.show(created['id'].upper()).status_code)
        response = self.show(created['id'], project=OTHER, roles='admin',
                             url_project=OTHER)
        self.assertEqual(200, response.status_code, response.text)

    # List.

    def test_list_filters_pages_and_projects(self):
        second = self.add_instance(name='second')
        on_first = [self.create()['id'] for _ in range(3)]
        on_second = [self.create(instance_id=second.id)['id']
                     for _ in range(2)]
        others = self.add_instance(project_id=OTHER)
        theirs = self.create(project=OTHER, instance_id=others.id)['id']

        def listed(query='', project=PROJECT, **kwargs):
            response = self.request('GET', '/backup_schedules' + query,
                                    project=project, **kwargs)
            self.assertEqual(200, response.status_code, response.text)
            return response.json()

        body = listed()
        self.assertEqual(list(reversed(on_first + on_second)),
                         [s['id'] for s in body['backup_schedules']])
        self.assertNotIn('links', body)
        self.assertEqual(set(on_second), {s['id'] for s in listed(
            '?instance_id=%s' % second.id)['backup_schedules']})
        # Pages of two, following the next links to the end.
        seen, query = [], '?limit=2'
        while True:
            body = listed(query)
            seen += [s['id'] for s in body['backup_schedules']]
            if 'links' not in body:
                break
            href = body['links'][0]['href']
            self.assertEqual('next', body['links'][0]['rel'])
            query = href[href.index('?'):]
        self.assertEqual(list(reversed(on_first + on_second)), seen)
        # A schedule id as marker.
        self.assertEqual(list(reversed(on_first))[1:], [
            s['id'] for s in listed('?marker=%s&instance_id=%s' % (
                on_first[-1], self.instance.id))['backup_schedules']])
        # Administrators: all projects, or one.
        everything = listed('?all_projects=true', roles='admin')
        self.assertEqual(set(on_first + on_second + [theirs]),
                         {s['id'] for s in everything['backup_schedules']})
        self.assertEqual([theirs], [s['id'] for s in listed(
            '?project_id=%s' % OTHER, roles='admin')['backup_schedules']])
        for query, code, name in (
                ('?all_projects=true', 403, 'forbidden'),
                ('?project_id=%s' % OTHER, 403, 'forbidden'),
                ('?limit=x', 400, 'badRequest'),
                ('?limit=0', 400, 'badRequest'),
                ('?marker=garbage', 400, 'badRequest'),
                ('?marker=%s' % uuidutils.generate_uuid(), 400,
                 'badRequest'),
                ('?instance_id=bad', 400, 'badRequest'),
                ('?sort=name', 400, 'badRequest'),
                ('?limit=1&limit=2', 400, 'badRequest')):
            response = self.request('GET', '/backup_schedules' + query)
            self.assertFault(response, code, name)

    # PATCH.

    def test_patch_changes_fields_and_recomputes_next_run_when_needed(self):
        created = self.create(retention={'keep_daily': 7})
        renamed = self.patch(created['id'], {
            'name': 'renamed', 'description': 'text',
            'retention': {'keep_last': 3}}).json()['backup_schedule']
        self.assertEqual(('renamed', 'text', created['next_run']),
                         (renamed['name'], renamed['description'],
                          renamed['next_run']))
        # A merge: keep_daily stays.
        self.assertEqual(dict(dict.fromkeys(RETENTION), keep_last=3,
                              keep_daily=7), renamed['retention'])
        changed = self.patch(created['id'], {
            'full_cron': '45 13 * * *', 'timezone': 'America/New_York',
            'retention': {'keep_daily': None}}).json()['backup_schedule']
        next_run = parse_time(changed['next_run'])
        # 13:45 in New York is 17:45 or 18:45 UTC.
        self.assertIn((next_run.hour, next_run.minute), [(17, 45), (18, 45)])
        self.assertEqual(dict(dict.fromkeys(RETENTION), keep_last=3),
                         changed['retention'])
        disabled = self.patch(created['id'], {'enabled': False}).json()[
            'backup_schedule']
        self.assertEqual((False, None),
                         (disabled['enabled'], disabled['next_run']))
        enabled = self.patch(created['id'], {
            'enabled': True, 'incremental_cron': '*/10 * * * *',
            'retention': None}).json()['backup_schedule']
        next_run = parse_time(enabled['next_run'])
        self.assertEqual(0, next_run.minute % 5)
        self.assertEqual({None}, set(enabled['retention'].values()))
        cleared = self.patch(created['id'], {
            'incremental_cron': None, 'description': None}).json()[
            'backup_schedule']
        self.assertEqual((None, None), (cleared['incremental_cron'],
                                        cleared['description']))
        self.assertEqual(cleared, self.show(created['id']).json()[
            'backup_schedule'])

    def test_bad_patches_change_nothing(self):
        created = self.create()
        before = self.rows()
        path = '/backup_schedules/%s' % created['id']
        for fields, code, fragment in (
                ({}, 400, 'backup_schedule'),
                ({'full_cron': '0 2 * *'}, 400,
                 "backup_schedule['full_cron']"),
                ({'full_cron': None}, 400, "backup_schedule['full_cron']"),
                ({'timezone': 'Nowhere/Else'}, 400,
                 "backup_schedule['timezone']"),
                ({'retention': {'keep_weekly': -4}}, 400, 'keep_weekly'),
                ({'instance_id': uuidutils.generate_uuid()}, 400,
                 'cannot be changed'),
                ({'project_id': OTHER}, 400, 'cannot be changed'),
                ({'next_run': '2030-01-01T00:00:00'}, 400, 'next_run'),
                ({'enabled': None}, 400, "backup_schedule['enabled']"),
                ({'name': 'ok', 'full_cron': '0 0 30 2 *'}, 400,
                 'full_cron')):
            response = self.request('PATCH', path,
                                    json={'backup_schedule': fields})
            self.assertFault(response, code, 'badRequest', fragment)
        for body in ({}, [], {'backup_schedule': None}):
            response = self.request('PATCH', path, json=body)
            self.assertFault(response, 400, 'badRequest')
        response = self.request('PATCH', path, data='name: x', headers={
            'Content-Type': 'text/plain'})
        self.assertFault(response, 415, 'badMediaType')
        # Another project's, an unknown one.
        response = self.request('PATCH', path, project=OTHER,
                                json={'backup_schedule': {'name': 'x'}})
        self.assertFault(response, 404, 'itemNotFound')
        response = self.request(
            'PATCH', '/backup_schedules/%s' % uuidutils.generate_uuid(),
            json={'backup_schedule': {'name': 'x'}})
        self.assertFault(response, 404, 'itemNotFound')
        self.assertEqual(before, self.rows())

    def test_patch_applies_to_the_row_another_writer_changed(self):
        created = self.create()
        # Another writer (another API server) moves the version after
        # this request's read: the PATCH is applied again to its row.
        schedules_db.update(self.admin_context, created['id'], 1,
                            {'description': 'theirs'})
        patched = self.patch(created['id'], {'name': 'mine'}).json()[
            'backup_schedule']
        self.assertEqual(('mine', 'theirs'),
                         (patched['name'], patched['description']))

    # DELETE and methods.

    def test_delete_is_204_and_final(self):
        created = self.create()
        kept = self.create()
        path = '/backup_schedules/%s' % created['id']
        response = self.request('DELETE', path, project=OTHER)
        self.assertFault(response, 404, 'itemNotFound')
        response = self.request('DELETE', path)
        self.assertEqual(204, response.status_code, response.text)
        self.assertEqual(b'', response.content)
        self.assertFault(self.show(created['id']), 404, 'itemNotFound')
        self.assertFault(self.request('DELETE', path), 404, 'itemNotFound')
        self.assertEqual([kept['id']], [row[0] for row in self.rows()])

    def test_methods_not_allowed(self):
        created = self.create()
        before = self.rows()
        for method, path, allow in (
                ('PUT', '/backup_schedules', 'GET, POST'),
                ('DELETE', '/backup_schedules', 'GET, POST'),
                ('PATCH', '/backup_schedules', 'GET, POST'),
                ('PUT', '/backup_schedules/%s' % created['id'],
                 'GET, PATCH, DELETE'),
                ('POST', '/backup_schedules/%s' % created['id'],
                 'GET, PATCH, DELETE')):
            response = self.request(method, path, json={})
            self.assertFault(response, 405, 'badMethod')
            self.assertEqual(allow, response.headers['Allow'])
        response = self.request(
            'DELETE', '/backup_schedules/%s/extra' % created['id'])
        self.assertFault(response, 404, 'itemNotFound')
        self.assertEqual(before, self.rows())

    def test_last_run_and_failures_are_shown(self):
        created = self.create()
        slot = datetime.datetime(2026, 1, 1, 2, 0)
        backup_id = uuidutils.generate_uuid()
        schedules_db.record_run_result(self.admin_context, created['id'],
                                       slot, 'FAILED', backup_id)
        shown = self.show(created['id']).json()['backup_schedule']
        self.assertEqual({'time': '2026-01-01T02:00:00',
                          'backup_id': backup_id, 'status': 'FAILED'},
                         shown['last_run'])
        self.assertEqual((None, 1), (shown['last_success'],
                                     shown['consecutive_failures']))
        schedules_db.record_run_result(
            self.admin_context, created['id'],
            slot + datetime.timedelta(days=1), 'COMPLETED', backup_id)
        shown = self.show(created['id']).json()['backup_schedule']
        self.assertEqual(('2026-01-02T02:00:00', 0),
                         (shown['last_success'],
                          shown['consecutive_failures']))

    # The retention preview.

    def test_retention_preview(self):
        created = self.create(retention={'keep_last': 1})
        response = self.request(
            'GET', '/backup_schedules/%s/retention_preview' % created['id'])
        self.assertEqual(200, response.status_code, response.text)
        self.assertEqual({'retention_preview': []}, response.json())
        response = self.request(
            'GET', '/backup_schedules/%s/retention_preview' % created['id'],
            project=OTHER)
        self.assertFault(response, 404, 'itemNotFound')

    # The admin summary of the schedules' health.

    def set_schedule(self, schedule_id, **values):
        """Change a schedule row directly, as the scheduler would."""
        with self.database.engine.begin() as connection:
            connection.execute(sa.update(models.BackupSchedule)
                               .where(models.BackupSchedule.id
                                      == schedule_id).values(**values))

    def health(self, query='', **kwargs):
        kwargs.setdefault('project', base.ADMIN_PROJECT)
        return self.request('GET', '/backup_schedules/health' + query,
                            **kwargs)

    def test_health_lists_overdue_schedules_of_every_project(self):
        now = datetime.datetime.utcnow().replace(microsecond=0)
        day, hour = datetime.timedelta(days=1), datetime.timedelta(hours=1)
        others = self.add_instance(project_id=OTHER)
        # Another project's nightly schedule, last successful three days
        # ago: overdue after two.
        late = self.create(project=OTHER, roles='admin',
                           instance_id=others.id)['id']
        self.set_schedule(late, created=now - 10 * day,
                          last_success=now - 3 * day,
                          consecutive_failures=3)
        # An hourly one that never succeeded in five hours.
        never = self.create(full_cron='0 * * * *')['id']
        self.set_schedule(never, created=now - 5 * hour)
        # A recent success, a young schedule, a disabled one: fine.
        fine = self.create()['id']
        self.set_schedule(fine, created=now - 10 * day,
                          last_success=now - day)
        young = self.create(full_cron='0 * * * *')['id']
        disabled = self.create(enabled=False)['id']
        self.set_schedule(disabled, created=now - 10 * day)

        response = self.health(roles='admin')
        self.assertEqual(200, response.status_code, response.text)
        body = response.json()
        self.assertEqual(['schedules_health'], list(body))
        health = body['schedules_health']
        self.assertEqual({'checked_at', 'enabled_schedules',
                          'overdue_count', 'overdue'}, set(health))
        self.assertLessEqual(now, parse_time(health['checked_at']))
        self.assertEqual((4, 2), (health['enabled_schedules'],
                                  health['overdue_count']))
        self.assertEqual([late, never],
                         [item['schedule_id'] for item in health['overdue']])
        self.assertNotIn(fine, response.text)
        self.assertNotIn(young, response.text)
        self.assertNotIn(disabled, response.text)
        first = health['overdue'][0]
        self.assertEqual(
            {'schedule_id': late, 'name': 'nightly', 'project_id': OTHER,
             'instance_id': others.id,
             'last_success': (now - 3 * day).strftime(TIME),
             'consecutive_failures': 3, 'last_run_status': None,
             'period_seconds': 86400},
            {key: value for key, value in first.items()
             if key != 'seconds_since_success'})
        self.assertGreaterEqual(first['seconds_since_success'], 3 * 86400)
        second = health['overdue'][1]
        self.assertEqual((PROJECT, None, 0, 3600),
                         (second['project_id'], second['last_success'],
                          second['consecutive_failures'],
                          second['period_seconds']))
        # Bounded: limit keeps the longest overdue; the count is of all.
        health = self.health('?limit=1', roles='admin').json()[
            'schedules_health']
        self.assertEqual((2, [late]), (health['overdue_count'], [
            item['schedule_id'] for item in health['overdue']]))

    def test_health_is_refused_to_owners_and_bad_queries(self):
        late = self.create()['id']
        self.set_schedule(late, created=datetime.datetime(2020, 1, 1))
        before = self.rows()
        # The owner of the overdue schedule, or anyone not an admin.
        for project in (PROJECT, OTHER):
            response = self.health(project=project)
            self.assertFault(response, 403, 'forbidden',
                             'backup_schedule:health')
            self.assertNotIn(late, response.text)
        for query in ('?limit=0', '?limit=x', '?limit=-1',
                      '?limit=1&limit=2', '?all_projects=true',
                      '?marker=%s' % late, '?factor=3'):
            self.assertFault(self.health(query, roles='admin'), 400,
                             'badRequest')
        # Read only; not a schedule; nothing under it.
        for method in ('POST', 'PUT', 'PATCH', 'DELETE'):
            response = self.request(method, '/backup_schedules/health',
                                    roles='admin',
                                    json={'backup_schedule': {'name': 'x'}})
            self.assertFault(response, 405, 'badMethod')
            self.assertEqual('GET', response.headers['Allow'])
        for path in ('/backup_schedules/health/x',
                     '/backup_schedules/health/retention_preview'):
            self.assertFault(self.request('GET', path, roles='admin'), 404,
                             'itemNotFound')
        self.assertEqual(before, self.rows())


(TestScheduleAPI_sqlite, TestScheduleAPI_mysql,
 TestScheduleAPI_postgresql) = base.for_each_backend(_ScheduleAPITests,
                                                     __name__)
