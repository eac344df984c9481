"""Retention: the rules, chains, statuses and time zones of plan()."""

import datetime

from trove_backup_ext.services import retention
from trove_backup_ext import states
from trove_backup_ext.tests import base

Item = retention.Item
UTC = datetime.datetime


def full(backup_id, created, status=states.COMPLETED, **kwargs):
    return Item(backup_id, created, status, None, states.FULL, **kwargs)


def incr(backup_id, created, parent_id, status=states.COMPLETED):
    return Item(backup_id, created, status, parent_id, states.INCREMENTAL)


def actions(decisions):
    return {d.backup_id: (d.action, d.rules) for d in decisions}


def hourly_fulls(start, hours):
    return [full('b%04d' % n, start + datetime.timedelta(hours=n))
            for n in range(hours)]


class YearOfDailyFullHourlyIncrementalTest(base.TestCase):
    """A daily full at 00:00 and an hourly incremental (each on the one
    before: the newest COMPLETED backup), pruned after every backup, for
    all of 2025 in UTC.

    keep_last 3, keep_daily 7, keep_weekly 4, keep_monthly 6,
    keep_yearly 2. Worked out by hand for the state after the backup of
    2025-12-31 23:00 (a Wednesday; its ISO week is 2026-W01, which starts
    on Monday 2025-12-29):

    ======================  =============================================
    rule                    the newest backup of ...
    ======================  =============================================
    keep_last 3             12-31 23:00, 22:00, 21:00
    keep_daily 7            12-31, 12-30, 12-29, 12-28, 12-27, 12-26,
                            12-25 (each day's 23:00 incremental)
    keep_weekly 4           2026-W01 12-31, W52 12-28, W51 12-21,
                            W50 12-14
    keep_monthly 6          12-31, 11-30, 10-31, 09-30, 08-31, 07-31
    keep_yearly 2           12-31 (2025 is the only year)
    ======================  =============================================

    A day's 23:00 incremental needs that day's whole chain (00:00 full,
    01:00 ... 22:00), so exactly these 14 days remain, 24 backups each
    (336), and nothing of any other day.
    """

    KEPT_DAYS = {
        (12, 31): ['keep_last', 'keep_daily', 'keep_weekly', 'keep_monthly',
                   'keep_yearly'],
        (12, 30): ['keep_daily'], (12, 29): ['keep_daily'],
        (12, 28): ['keep_daily', 'keep_weekly'],
        (12, 27): ['keep_daily'], (12, 26): ['keep_daily'],
        (12, 25): ['keep_daily'],
        (12, 21): ['keep_weekly'], (12, 14): ['keep_weekly'],
        (11, 30): ['keep_monthly'], (10, 31): ['keep_monthly'],
        (9, 30): ['keep_monthly'], (8, 31): ['keep_monthly'],
        (7, 31): ['keep_monthly'],
    }
    POLICY = {'keep_last': 3, 'keep_daily': 7, 'keep_weekly': 4,
              'keep_monthly': 6, 'keep_yearly': 2, 'max_age_days': None}

    def test_a_year(self):
        kept = {}           # id -> Item: what pruning has left.
        newest = None
        start = UTC(2025, 1, 1)
        for hour in range(365 * 24):
            now = start + datetime.timedelta(hours=hour)
            backup_id = now.strftime('%m-%d %H')
            if now.hour == 0:
                item = full(backup_id, now)
            else:
                item = incr(backup_id, now, newest.id)
            kept[item.id] = item
            newest = item
            plan = retention.plan(list(kept.values()), self.POLICY, 'UTC',
                                  now)
            for root in retention.roots(plan):
                self._delete_tree(kept, root.backup_id)
            # Every chain left is whole, and the newest backup survives.
            for left in kept.values():
                self.assertTrue(left.parent_id is None or
                                left.parent_id in kept, left)
            self.assertIn(newest.id, kept)

        expected = {'%02d-%02d %02d' % (month, day, h)
                    for month, day in self.KEPT_DAYS for h in range(24)}
        self.assertEqual(336, len(expected))
        self.assertEqual(sorted(expected), sorted(kept))

        final = actions(retention.plan(list(kept.values()), self.POLICY,
                                       'UTC', UTC(2025, 12, 31, 23)))
        for (month, day), rules in self.KEPT_DAYS.items():
            self.assertEqual(('keep', rules),
                             final['%02d-%02d 23' % (month, day)])
        self.assertEqual(('keep', ['keep_last', 'chain']),
                         final['12-31 22'])
        self.assertEqual(('keep', ['keep_last', 'chain']),
                         final['12-31 21'])
        self.assertEqual(('keep', ['last_full', 'chain']),
                         final['12-31 00'])
        self.assertEqual(('keep', ['chain']), final['07-31 00'])
        self.assertEqual(('keep', ['chain']), final['12-14 22'])

    @staticmethod
    def _delete_tree(kept, backup_id):
        # As the delete path: the backup and all its descendants.
        doomed = {backup_id}
        grew = True
        while grew:
            children = {i.id for i in kept.values()
                        if i.parent_id in doomed} - doomed
            doomed |= children
            grew = bool(children)
        for gone in doomed:
            del kept[gone]


class TimeZoneTest(base.TestCase):
    """Days, weeks and months are the schedule's, across DST changes."""

    def kept(self, items, policy, timezone, now):
        return sorted(d.backup_id for d in
                      retention.plan(items, policy, timezone, now)
                      if d.action == 'keep')

    def test_daily_in_berlin_across_spring_forward(self):
        # Hourly fulls 2025-03-28 00:00 UTC .. 2025-03-31 12:00 UTC. On
        # 2025-03-30 Berlin skips 02:00 (CET -> CEST): that local day has
        # 23 hours and ends at 21:59 UTC; 03-29 ends at 22:59 UTC.
        items = hourly_fulls(UTC(2025, 3, 28), 85)
        names = {i.created: i.id for i in items}
        kept = self.kept(items, {'keep_daily': 3}, 'Europe/Berlin',
                         UTC(2025, 3, 31, 12))
        self.assertEqual(sorted([
            names[UTC(2025, 3, 31, 12)],    # 14:00 CEST, the newest
            names[UTC(2025, 3, 30, 21)],    # 23:00 CEST on 03-30
            names[UTC(2025, 3, 29, 22)],    # 23:00 CET on 03-29
        ]), kept)
        # In UTC the same backups fall on other days.
        self.assertEqual(sorted([
            names[UTC(2025, 3, 31, 12)], names[UTC(2025, 3, 30, 23)],
            names[UTC(2025, 3, 29, 23)]]),
            self.kept(items, {'keep_daily': 3}, 'UTC',
                      UTC(2025, 3, 31, 12)))

    def test_daily_in_berlin_across_fall_back(self):
        # 2025-10-26 has 25 hours in Berlin (02:00 twice): 22:00 UTC on
        # 10-25 to 22:59 UTC on 10-26, all of them one day.
        items = hourly_fulls(UTC(2025, 10, 25, 12), 36)
        names = {i.created: i.id for i in items}
        kept = self.kept(items, {'keep_daily': 2}, 'Europe/Berlin',
                         UTC(2025, 10, 26, 23))
        self.assertEqual(sorted([
            names[UTC(2025, 10, 26, 23)],   # 00:00 CET on 10-27
            names[UTC(2025, 10, 26, 22)],   # 23:00 CET on 10-26
        ]), kept)
        kept = self.kept(items[:-1], {'keep_daily': 2}, 'Europe/Berlin',
                         UTC(2025, 10, 26, 22))
        self.assertEqual(sorted([
            names[UTC(2025, 10, 26, 22)],   # 23:00 CET on 10-26
            names[UTC(2025, 10, 25, 21)],   # 23:00 CEST on 10-25
        ]), kept)

    def test_weekly_and_monthly_in_new_york(self):
        # 2025-03-01 03:00 UTC is still February 28 in New York (EST),
        # and 2025-03-09 (DST starts, a Sunday) closes ISO week 10.
        items = [full('feb', UTC(2025, 3, 1, 3)),
                 full('mar1', UTC(2025, 3, 1, 6)),
                 full('sun', UTC(2025, 3, 10, 3, 30)),    # 23:30 EDT 03-09
                 full('mon', UTC(2025, 3, 10, 5))]        # 01:00 EDT 03-10
        self.assertEqual(['feb', 'mon'],
                         self.kept(items, {'keep_monthly': 5},
                                   'America/New_York', UTC(2025, 3, 11)))
        self.assertEqual(['mon', 'sun'],
                         self.kept(items, {'keep_weekly': 2},
                                   'America/New_York', UTC(2025, 3, 11)))


class ChainAndStatusTest(base.TestCase):

    now = UTC(2025, 6, 10)

    def plan(self, items, policy, others=()):
        return actions(retention.plan(items, policy, 'UTC', self.now,
                                      others=others))

    def test_incremental_keeps_its_parents_and_full_goes_with_children(self):
        items = [full('f1', UTC(2025, 6, 1)),
                 incr('i1', UTC(2025, 6, 2), 'f1'),
                 incr('i2', UTC(2025, 6, 3), 'i1'),
                 full('f2', UTC(2025, 6, 4)),
                 incr('j1', UTC(2025, 6, 5), 'f2')]
        result = self.plan(items, {'keep_last': 1})
        self.assertEqual({'f1': ('delete', ['unselected']),
                          'i1': ('delete', ['unselected']),
                          'i2': ('delete', ['unselected']),
                          'f2': ('keep', ['last_full', 'chain']),
                          'j1': ('keep', ['keep_last'])}, result)
        decisions = retention.plan(items, {'keep_last': 1}, 'UTC', self.now)
        self.assertEqual(['f1'], [d.backup_id for d in
                                  retention.roots(decisions)])
        # The third newest is i2: its parents stay for it.
        result = self.plan(items, {'keep_last': 3})
        self.assertEqual(('keep', ['keep_last']), result['i2'])
        self.assertEqual(('keep', ['chain']), result['i1'])
        self.assertEqual(('keep', ['chain']), result['f1'])

    def test_last_completed_full_is_never_deleted(self):
        items = [full('f1', UTC(2025, 1, 1)), incr('i1', UTC(2025, 1, 2),
                                                   'f1'),
                 full('f2', UTC(2025, 2, 1), status=states.FAILED)]
        result = self.plan(items, {'keep_daily': 7, 'max_age_days': 30})
        self.assertEqual(('keep', ['last_full']), result['f1'])
        self.assertEqual(('delete', ['max_age_days']), result['i1'])
        # Newer than any COMPLETED backup: left to be read.
        self.assertEqual(('keep', ['recent_failure']), result['f2'])

    def test_a_newer_full_outside_the_schedule_counts(self):
        items = [full('f1', UTC(2025, 1, 1))]
        others = [full('manual', UTC(2025, 6, 1))]
        self.assertEqual({'f1': ('delete', ['max_age_days'])},
                         self.plan(items, {'max_age_days': 30}, others))

    def test_two_schedules_of_one_instance_agree_on_its_last_full(self):
        # A's full was due at 02:00 but made at 02:40 (it waited for B's,
        # due and made at 02:30). Each schedule sees its own backups by
        # slot and the other's by creation: if each judged "the last
        # full" by those, each would take the other's for it and delete
        # its own, leaving the instance none.
        a_full = full('a', UTC(2025, 1, 1, 2, 40), slot=UTC(2025, 1, 1, 2))
        b_full = full('b', UTC(2025, 1, 1, 2, 30),
                      slot=UTC(2025, 1, 1, 2, 30))
        policy = {'max_age_days': 30}
        by_a = self.plan([a_full], policy, others=[full(
            'b', b_full.created)])
        by_b = self.plan([b_full], policy, others=[full(
            'a', a_full.created)])
        deleted = {backup_id for result in (by_a, by_b)
                   for backup_id, (action, _) in result.items()
                   if action == 'delete'}
        self.assertEqual({'b'}, deleted)
        self.assertEqual(('keep', ['last_full']), by_a['a'])

    def test_foreign_and_running_children_protect_their_parents(self):
        items = [full('f1', UTC(2025, 1, 1)),
                 full('f2', UTC(2025, 1, 2)),
                 incr('i2', UTC(2025, 6, 9), 'f2', status=states.BUILDING),
                 full('f3', UTC(2025, 6, 1))]
        others = [incr('manual', UTC(2025, 1, 3), 'f1')]
        result = self.plan(items, {'keep_last': 1}, others)
        self.assertEqual(('keep', ['chain']), result['f1'])
        self.assertEqual(('keep', ['chain']), result['f2'])
        self.assertEqual(('keep', ['running']), result['i2'])
        self.assertEqual(('keep', ['keep_last', 'last_full']), result['f3'])

    def test_failures(self):
        items = [full('failed-old', UTC(2025, 6, 1), status=states.FAILED),
                 full('ok', UTC(2025, 6, 2)),
                 full('failed-new', UTC(2025, 6, 3), status=states.FAILED)]
        self.assertEqual({'failed-old': ('delete', ['failed']),
                          'ok': ('keep', ['keep_last', 'last_full']),
                          'failed-new': ('keep', ['recent_failure'])},
                         self.plan(items, {'keep_last': 1}))

    def test_failures_do_not_count_for_the_rules(self):
        items = [full('a', UTC(2025, 6, 1)), full('b', UTC(2025, 6, 2)),
                 full('c', UTC(2025, 6, 3), status=states.FAILED)]
        result = self.plan(items, {'keep_last': 2})
        self.assertEqual('keep', result['a'][0])
        self.assertEqual('keep', result['b'][0])

    def test_no_policy_deletes_nothing(self):
        items = [full('a', UTC(2020, 1, 1)),
                 full('b', UTC(2020, 1, 2), status=states.FAILED)]
        for policy in ({}, {'keep_last': None, 'keep_daily': 0}):
            result = self.plan(items, policy)
            self.assertEqual({'keep'}, {a for a, _ in result.values()})

    def test_max_age_alone_is_a_ttl(self):
        items = [full('old', UTC(2025, 5, 1)), full('young', UTC(2025, 6, 5)),
                 full('newest', UTC(2025, 6, 9))]
        self.assertEqual({'old': ('delete', ['max_age_days']),
                          'young': ('keep', ['max_age_days']),
                          'newest': ('keep', ['max_age_days', 'last_full'])},
                         self.plan(items, {'max_age_days': 30}))

    def test_backups_being_deleted_are_left_out(self):
        items = [full('gone', UTC(2025, 6, 1), deleting=True),
                 full('ok', UTC(2025, 6, 2))]
        self.assertEqual({'ok': ('keep', ['keep_last', 'last_full'])},
                         self.plan(items, {'keep_last': 1}))

    def test_same_day_newest_wins_and_ties_break_by_id(self):
        items = [full('x', UTC(2025, 6, 1, 1)), full('y', UTC(2025, 6, 1, 1)),
                 full('z', UTC(2025, 6, 1, 0))]
        result = self.plan(items, {'keep_daily': 5})
        self.assertEqual('keep', result['y'][0])
        self.assertEqual(('delete', ['unselected']), result['x'])
        self.assertEqual(('delete', ['unselected']), result['z'])
