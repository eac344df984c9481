"""services/schedule_health.py: which schedules are overdue, for crons
whose slots are not evenly spaced."""

import datetime
import types

import fixtures

from trove_backup_ext.services import schedule_health
from trove_backup_ext.tests import base

U = datetime.datetime


def schedule(full_cron, last_success, incremental_cron=None,
             created=U(2024, 1, 1)):
    return types.SimpleNamespace(
        id='s-' + full_cron, name='s', project_id='p', instance_id='i',
        full_cron=full_cron, incremental_cron=incremental_cron,
        timezone='UTC', last_success=last_success, created=created,
        consecutive_failures=0, last_run_status='COMPLETED')


class OverdueTest(base.TestCase):

    def overdue(self, schedules, now):
        self.useFixture(fixtures.MockPatchObject(
            schedule_health, 'enabled_schedules',
            lambda context: iter(schedules)))
        return [item['schedule_id']
                for item in schedule_health.overdue(None, now)]

    def test_weekdays_only_is_not_overdue_over_the_weekend(self):
        # Monday to Friday at 02:00; 2025-01-03 is a Friday. On Sunday
        # the last success is 49 hours old, but no slot was missed.
        weekdays = schedule('0 2 * * 1-5', U(2025, 1, 3, 2))
        self.assertEqual([], self.overdue([weekdays], U(2025, 1, 5, 3)))
        # Monday's and Tuesday's slots both passed without a success.
        self.assertEqual([weekdays.id],
                         self.overdue([weekdays], U(2025, 1, 7, 3)))

    def test_uneven_slots_of_two_crons(self):
        # A full at 01:00, incrementals every six hours: a one-hour gap
        # at night must not make the schedule overdue every evening.
        uneven = schedule('0 1 * * *', U(2025, 1, 1, 18),
                          incremental_cron='0 */6 * * *')
        self.assertEqual([], self.overdue([uneven], U(2025, 1, 1, 23)))
        self.assertEqual([uneven.id],
                         self.overdue([uneven], U(2025, 1, 2, 1, 30)))

    def test_even_slots(self):
        daily = schedule('0 2 * * *', U(2025, 1, 1, 2))
        self.assertEqual([], self.overdue([daily], U(2025, 1, 2, 23)))
        self.assertEqual([daily.id],
                         self.overdue([daily], U(2025, 1, 3, 3)))
        never = schedule('0 * * * *', None, created=U(2025, 1, 1, 0, 30))
        self.assertEqual([], self.overdue([never], U(2025, 1, 1, 1, 45)))
        self.assertEqual([never.id],
                         self.overdue([never], U(2025, 1, 1, 2, 45)))
