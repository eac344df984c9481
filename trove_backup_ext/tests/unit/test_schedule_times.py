"""services/schedule_times.py: cron and zone checks, slots across DST.

Europe/Berlin in 2026: clocks spring forward on 29 March at 01:00 UTC
(02:00 CET -> 03:00 CEST) and fall back on 25 October at 01:00 UTC
(03:00 CEST -> 02:00 CET). Expected slots are worked out by hand.
"""

import datetime

from trove_backup_ext import exception
from trove_backup_ext.services import schedule_times
from trove_backup_ext.tests import base

U = datetime.datetime
BERLIN = 'Europe/Berlin'


class ValidateTest(base.TestCase):

    def test_good_crons_are_normalized(self):
        self.assertEqual('0 2 * * *',
                         schedule_times.validate_cron('  0  2 * * * '))
        for cron in ('*/15 * * * *', '0 3 * * mon-fri', '0 0 1 */3 *',
                     '0 0 29 2 *', '30 1 1,15 * *'):
            self.assertEqual(cron, schedule_times.validate_cron(cron))

    def test_bad_crons_name_the_field(self):
        for cron, fragment in (
                ('* * *', 'has 3 fields'),
                ('0 0 * * * *', 'has 6 fields'),
                ('@daily', 'has 1 fields'),
                ('61 * * * *', 'is not a valid cron expression'),
                ('0 25 * * *', 'is not a valid cron expression'),
                ('a b c d e', 'is not a valid cron expression'),
                ('H * * * *', 'is not a valid cron expression'),
                ('0 0 30 2 *', 'names no date that exists'),
                ('', 'must be a five-field cron expression'),
                (5, 'must be a five-field cron expression')):
            error = self.assertRaises(exception.ValidationError,
                                      schedule_times.validate_cron, cron,
                                      "backup_schedule['incremental_cron']")
            self.assertIn("backup_schedule['incremental_cron']", str(error))
            self.assertIn(fragment, str(error))
            self.assertEqual(400, error.code)

    def test_random_crons_are_refused(self):
        # croniter reads "R" as a value drawn at random each time a cron
        # is read: every pass would find another next slot (a daily
        # backup at 03:12, then again at 17:40), and slot_kind could not
        # tell a full slot from an incremental one.
        for cron in ('R R * * *', '0 R * * *', 'R(0-5) 2 * * *',
                     'r/15 * * * *', '0 2 R * *', '0,R 2 * * *',
                     '0 2 * * R'):
            error = self.assertRaises(exception.ValidationError,
                                      schedule_times.validate_cron, cron)
            self.assertIn('full_cron', str(error))
            self.assertIn('random', str(error))
        # Month and day names with an "r" are not random values.
        for cron in ('0 2 * mar,apr fri', '0 2 * * thu-fri'):
            self.assertEqual(cron, schedule_times.validate_cron(cron))

    def test_zones(self):
        for name in ('UTC', BERLIN, 'America/New_York', 'Asia/Kolkata'):
            self.assertEqual(name, schedule_times.validate_timezone(name))
        for name in ('Mars/Olympus', 'utc', 'localtime', 'posixrules',
                     'Factory', '../../etc/passwd', '', None, 3,
                     'Europe/Berlin\n'):
            error = self.assertRaises(exception.ValidationError,
                                      schedule_times.validate_timezone, name)
            self.assertIn("timezone", str(error))


class SlotsTest(base.TestCase):

    def slots(self, cron, start, end, tz=BERLIN):
        return schedule_times.slots_between(cron, tz, start, end)

    def test_utc_daily(self):
        self.assertEqual(U(2026, 1, 2, 2, 0), schedule_times.next_slot(
            '0 2 * * *', 'UTC', U(2026, 1, 1, 2, 0)))
        self.assertEqual(U(2026, 1, 1, 2, 0), schedule_times.next_slot(
            '0 2 * * *', 'UTC', U(2026, 1, 1, 1, 59, 59)))
        # An aware "after" is the same instant.
        self.assertEqual(U(2026, 1, 1, 2, 0), schedule_times.next_slot(
            '0 2 * * *', 'UTC', datetime.datetime(
                2026, 1, 1, 2, 59, tzinfo=datetime.timezone(
                    datetime.timedelta(hours=1)))))

    def test_local_time_follows_the_zone_offset(self):
        # 03:00 in Tokyo (UTC+9, no DST) is 18:00 UTC the day before.
        self.assertEqual(U(2026, 6, 30, 18, 0), schedule_times.next_slot(
            '0 3 * * *', 'Asia/Tokyo', U(2026, 6, 30, 12, 0)))
        # 02:00 Berlin is 01:00 UTC in winter, 00:00 UTC in summer.
        self.assertEqual(
            [U(2026, 3, 28, 1, 0), U(2026, 3, 29, 1, 0),
             U(2026, 3, 30, 0, 0)],
            self.slots('0 2 * * *', U(2026, 3, 27, 12), U(2026, 3, 30, 12)))

    def test_skipped_local_time_fires_once_shifted_forward(self):
        # 02:30 does not exist on 29 March: it fires at 03:30 CEST.
        self.assertEqual(
            [U(2026, 3, 28, 1, 30), U(2026, 3, 29, 1, 30),
             U(2026, 3, 30, 0, 30)],
            self.slots('30 2 * * *', U(2026, 3, 27, 12), U(2026, 3, 30, 12)))
        # Asked from within the hour after the jump (03:10 CEST), the
        # shifted slot is still ahead.
        self.assertEqual(U(2026, 3, 29, 1, 30), schedule_times.next_slot(
            '30 2 * * *', BERLIN, U(2026, 3, 29, 1, 10)))

    def test_skipped_and_real_local_times_on_one_instant_fire_once(self):
        # Local 02:00 and 02:30 shift onto 03:00 and 03:30 CEST, which
        # are slots too: each instant once, strictly increasing.
        self.assertEqual(
            [U(2026, 3, 29, 0, 0), U(2026, 3, 29, 0, 30),
             U(2026, 3, 29, 1, 0), U(2026, 3, 29, 1, 30),
             U(2026, 3, 29, 2, 0)],
            self.slots('*/30 * * * *', U(2026, 3, 28, 23, 45),
                       U(2026, 3, 29, 2, 0)))

    def test_repeated_local_time_fires_at_its_first_occurrence(self):
        # 02:30 happens twice on 25 October: 00:30 UTC (CEST) fires,
        # 01:30 UTC (CET) does not.
        self.assertEqual(
            [U(2026, 10, 24, 0, 30), U(2026, 10, 25, 0, 30),
             U(2026, 10, 26, 1, 30)],
            self.slots('30 2 * * *', U(2026, 10, 23, 12),
                       U(2026, 10, 26, 12)))
        # Hourly: no slot in the repeated hour's second pass, so two
        # hours between 00:00 and 02:00 UTC that night.
        self.assertEqual(
            [U(2026, 10, 24, 23, 0), U(2026, 10, 25, 0, 0),
             U(2026, 10, 25, 2, 0), U(2026, 10, 25, 3, 0)],
            self.slots('0 * * * *', U(2026, 10, 24, 22, 30),
                       U(2026, 10, 25, 3, 0)))
        # Asked from within the second pass (01:10 CET), the next slot is
        # after it.
        self.assertEqual(U(2026, 10, 25, 2, 0), schedule_times.next_slot(
            '0 * * * *', BERLIN, U(2026, 10, 25, 1, 10)))

    def test_a_year_of_hourly_slots_in_berlin(self):
        slots = self.slots('0 * * * *', U(2025, 12, 31, 23),
                           U(2026, 12, 31, 23))
        # Every one of 2026's 8760 UTC hours but the second 02:00 of
        # 25 October (01:00 UTC). On 29 March the skipped 02:00 lands on
        # 03:00 CEST's instant (01:00 UTC), which fires once.
        self.assertEqual(8760 - 1, len(slots))
        self.assertNotIn(U(2026, 10, 25, 1, 0), slots)
        self.assertIn(U(2026, 3, 29, 1, 0), slots)
        self.assertEqual(len(slots), len(set(slots)))
        self.assertEqual(sorted(slots), slots)

    def test_slots_between_bounds_and_limit(self):
        start = U(2026, 1, 1, 0, 0)
        self.assertEqual([U(2026, 1, 1, 1, 0), U(2026, 1, 1, 2, 0)],
                         schedule_times.slots_between(
                             '0 * * * *', 'UTC', start, U(2026, 1, 1, 2, 0)))
        self.assertEqual([U(2026, 1, 1, 1, 0)],
                         schedule_times.slots_between(
                             '0 * * * *', 'UTC', start, U(2026, 1, 2),
                             limit=1))
        self.assertEqual([U(2028, 2, 29), U(2032, 2, 29)],
                         schedule_times.slots_between(
                             '0 0 29 2 *', 'UTC', start, U(2036, 1, 1)))

    def test_schedule_slot_and_kind(self):
        full, incremental = '0 0 * * *', '0 * * * *'
        self.assertEqual(
            (U(2026, 1, 2, 0, 0), schedule_times.FULL),
            schedule_times.next_schedule_slot(full, incremental, 'UTC',
                                              U(2026, 1, 1, 23, 30)))
        self.assertEqual(
            (U(2026, 1, 1, 23, 0), schedule_times.INCREMENTAL),
            schedule_times.next_schedule_slot(full, incremental, 'UTC',
                                              U(2026, 1, 1, 22, 30)))
        self.assertEqual(
            (U(2026, 1, 2, 0, 0), schedule_times.FULL),
            schedule_times.next_schedule_slot(full, None, 'UTC',
                                              U(2026, 1, 1, 22, 30)))
        self.assertEqual(schedule_times.FULL, schedule_times.slot_kind(
            full, incremental, 'UTC', U(2026, 1, 2, 0, 0)))
        self.assertEqual(schedule_times.INCREMENTAL, schedule_times.slot_kind(
            full, incremental, 'UTC', U(2026, 1, 2, 1, 0)))
        self.assertEqual(schedule_times.FULL, schedule_times.slot_kind(
            full, None, 'UTC', U(2026, 1, 2, 1, 0)))
