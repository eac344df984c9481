"""The real `openstack database backup schedule create|list|show|set|
delete|health` against trove-backup-aio, and their errors."""

from trove_backup_ext.tests.functional import test_osc_restores

# A time that is not near while the tests run: no backup is fired.
NEW_YEAR = '0 3 1 1 *'


class TestBackupScheduleCommands(test_osc_restores.AllInOneTestCase):

    def create(self, name='nightly', *options):
        return self.openstack_json(
            'backup', 'schedule', 'create', name, '--instance', self.demo,
            '--full-cron', NEW_YEAR, *options)

    def test_create_list_show_set_delete(self):
        created = self.create(
            'nightly', '--incremental-cron', '30 4 1 1 *', '--timezone',
            'Europe/Berlin', '--description', 'new year', '--keep-daily',
            '7', '--keep-last', '0', '--max-age-days', '400')
        shown = self.api('/backup_schedules/%s' % created['id'])[
            'backup_schedule']
        self.assertEqual(shown, created)
        self.assertEqual(
            ('nightly', 'new year', self.demo, 'demo', NEW_YEAR,
             '30 4 1 1 *', 'Europe/Berlin', True),
            (created['name'], created['description'],
             created['instance_id'], created['project_id'],
             created['full_cron'], created['incremental_cron'],
             created['timezone'], created['enabled']))
        self.assertEqual({'keep_last': 0, 'keep_daily': 7,
                          'keep_weekly': None, 'keep_monthly': None,
                          'keep_yearly': None, 'max_age_days': 400},
                         created['retention'])
        # 03:00 on 1 January in Berlin (CET) is 02:00 UTC.
        self.assertTrue(created['next_run'].endswith('-01-01T02:00:00'),
                        created['next_run'])
        other = self.create('weekly', '--disable')
        self.assertEqual((False, None),
                         (other['enabled'], other['next_run']))

        listed = self.openstack_json('backup', 'schedule', 'list')
        self.assertEqual([other['id'], created['id']],
                         [row['ID'] for row in listed])
        self.assertEqual(['ID', 'Name', 'Instance ID', 'Full Cron',
                          'Incremental Cron', 'Timezone', 'Enabled',
                          'Next Run', 'Project ID'], list(listed[0]))
        self.assertEqual(listed[:1], self.openstack_json(
            'backup', 'schedule', 'list', '--limit', '1'))
        self.assertEqual(listed[1:], self.openstack_json(
            'backup', 'schedule', 'list', '--marker', other['id']))
        self.assertEqual(listed, self.openstack_json(
            'backup', 'schedule', 'list', '--instance', self.demo))
        self.assertEqual(created, self.openstack_json(
            'backup', 'schedule', 'show', 'nightly'))
        self.assertEqual(other, self.openstack_json(
            'backup', 'schedule', 'show', other['id']))

        changed = self.openstack_json(
            'backup', 'schedule', 'set', 'nightly', '--name', 'yearly',
            '--no-incremental-cron', '--timezone', 'UTC', '--keep-daily',
            'none', '--keep-yearly', '3', '--no-description')
        self.assertEqual(
            ('yearly', None, None, 'UTC'),
            (changed['name'], changed['description'],
             changed['incremental_cron'], changed['timezone']))
        self.assertEqual({'keep_last': 0, 'keep_daily': None,
                          'keep_weekly': None, 'keep_monthly': None,
                          'keep_yearly': 3, 'max_age_days': 400},
                         changed['retention'])
        self.assertTrue(changed['next_run'].endswith('-01-01T03:00:00'))
        disabled = self.openstack_json('backup', 'schedule', 'set',
                                       created['id'], '--disable')
        self.assertEqual((False, None),
                         (disabled['enabled'], disabled['next_run']))
        enabled = self.openstack_json('backup', 'schedule', 'set', 'weekly',
                                      '--enable')
        self.assertTrue(enabled['enabled'])
        self.assertIsNotNone(enabled['next_run'])

        # A table too (not only -f json).
        table = self.openstack('backup', 'schedule', 'show', 'yearly').stdout
        self.assertRegex(table, r"\| retention +\| keep_last='0', "
                                r"keep_yearly='3', max_age_days='400' +\|")
        table = self.openstack('backup', 'schedule', 'show', 'weekly').stdout
        self.assertRegex(table, r'\| retention +\| none +\|')

        self.openstack('backup', 'schedule', 'delete', 'yearly',
                       other['id'])
        self.assertEqual([], self.openstack_json('backup', 'schedule',
                                                 'list'))

    def test_errors_exit_non_zero_and_say_why(self):
        bad_cron = self.openstack('backup', 'schedule', 'create', 'x',
                                  '--instance', self.demo, '--full-cron',
                                  '0 3 * *', expect=1)
        self.assertIn("backup_schedule['full_cron']", bad_cron.stderr)
        self.assertIn('(HTTP 400)', bad_cron.stderr)
        bad_zone = self.openstack('backup', 'schedule', 'create', 'x',
                                  '--instance', self.demo, '--full-cron',
                                  NEW_YEAR, '--timezone', 'Moon/Base',
                                  expect=1)
        self.assertIn('Moon/Base', bad_zone.stderr)
        unknown = self.openstack(
            'backup', 'schedule', 'create', 'x', '--instance',
            test_osc_restores.MISSING_ID, '--full-cron', NEW_YEAR, expect=1)
        self.assertIn('(HTTP 404)', unknown.stderr)
        # argparse refuses a negative count before any request.
        negative = self.openstack('backup', 'schedule', 'create', 'x',
                                  '--instance', self.demo, '--full-cron',
                                  NEW_YEAR, '--keep-last', '-1', expect=2)
        self.assertIn('--keep-last', negative.stderr)
        self.assertEqual([], self.api('/backup_schedules')[
            'backup_schedules'])

        self.create('kept')
        nothing = self.openstack('backup', 'schedule', 'set', 'kept',
                                 expect=1)
        self.assertIn('Nothing to change', nothing.stderr)
        bad_set = self.openstack('backup', 'schedule', 'set', 'kept',
                                 '--incremental-cron', 'often', expect=1)
        self.assertIn("backup_schedule['incremental_cron']", bad_set.stderr)
        missing = self.openstack('backup', 'schedule', 'show', 'nope',
                                 expect=1)
        self.assertIn("No backup schedule with a name or ID of 'nope'",
                      missing.stderr)
        gone = self.openstack('backup', 'schedule', 'delete', 'kept',
                              'nope', expect=1)
        self.assertIn('Failed to delete 1 of 2 backup schedules',
                      gone.stderr)
        self.assertEqual([], self.api('/backup_schedules')[
            'backup_schedules'])
        self.create('twin')
        self.create('twin')
        twins = self.openstack('backup', 'schedule', 'show', 'twin',
                               expect=1)
        self.assertIn("More than one backup schedule exists with the name "
                      "'twin'", twins.stderr)

    def test_health_is_refused_to_a_member(self):
        # trove-backup-aio's callers are members of "demo"; the summary
        # (tested as an administrator in test_client_v1) is not theirs.
        refused = self.openstack('backup', 'schedule', 'health', expect=1)
        self.assertIn('backup_schedule:health', refused.stderr)
        self.assertIn('(HTTP 403)', refused.stderr)
        help_text = self.openstack('backup', 'schedule', 'health',
                                   '--help').stdout
        self.assertIn('--limit', help_text)
