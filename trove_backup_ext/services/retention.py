"""Which of a schedule's backups to keep and which to prune, and why.

plan() is a pure function over plain values (no database, no clock), so
every decision can be tested by hand; decide() and preview() read the
rows. Nothing here deletes: the worker's scheduler (Scheduler.prune)
deletes through the normal delete path.

Rules (as restic's `forget --keep-*`; each rule counts on its own):

- keep_last N: the N newest COMPLETED backups.
- keep_daily/weekly/monthly/yearly N: walking COMPLETED backups newest
  first, the newest backup of each of the last N days (ISO weeks, months,
  years) that have one, in the schedule's time zone. A scheduled backup
  counts for the time of its slot, not of its creation (a retry may make
  it up to [scheduler] grace_period later).
- max_age_days D: a cap. A backup created more than D days before now is
  not kept by any keep_* rule. With no keep_* rule set, every backup up to
  D days old is kept (a TTL, as Velero's). With no rule at all, pruning
  deletes nothing.

Whatever the rules say, these are kept, with the reason as their rule:

- chain: every ancestor of a kept, running or foreign backup (an
  incremental is useless without its parents); so a full goes only with
  all its children, which are unkept too.
- last_full: the newest COMPLETED full of the instance (counting backups
  from outside the schedule) by creation time, so that every schedule of
  the instance names the same one; never deleted while it is the last.
- running: NEW or BUILDING backups (deleting them is refused anyway).
- recent_failure: a FAILED backup newer than the newest COMPLETED one,
  left for the operator to read its fail_reason.

Deleted: COMPLETED backups no rule keeps (rule unselected, or max_age_days
when only the cap dropped them) and FAILED backups older than the newest
COMPLETED one (rule failed). Backups already being deleted are left out.
Backups outside the schedule (others) are never deleted; they only protect
their ancestors and count for last_full.

The API's GET .../backup_schedules/{id}/retention_preview calls
preview(context, schedule) (schedule: the BackupSchedule row); the worker's
scheduler prunes with decide() and retention.roots().
"""

import collections
import dataclasses
import datetime
import zoneinfo

from oslo_utils import timeutils

from trove_backup_ext.db import retention as retention_db
from trove_backup_ext import states

KEEP_RULES = ('keep_last', 'keep_daily', 'keep_weekly', 'keep_monthly',
              'keep_yearly')
POLICY_KEYS = KEEP_RULES + ('max_age_days',)

KEEP = 'keep'
DELETE = 'delete'


@dataclasses.dataclass(frozen=True)
class Item:
    """What retention needs of a backup. Times are naive UTC; slot is
    the time a scheduled backup was due."""
    id: str
    created: datetime.datetime
    status: str
    parent_id: str = None
    backup_type: str = states.FULL
    deleting: bool = False
    slot: datetime.datetime = None

    @property
    def at(self):
        """The time the rules read: a scheduled backup counts for its
        slot's day (however late a retry made it), others for their
        creation."""
        return self.slot or self.created

    @classmethod
    def of(cls, row, slot=None):
        return cls(id=row.id, created=row.created, status=row.status,
                   parent_id=row.parent_id, backup_type=row.backup_type,
                   deleting=row.delete_requested_at is not None, slot=slot)


@dataclasses.dataclass
class Decision:
    backup_id: str
    action: str
    rule: str
    rules: list
    created: datetime.datetime
    status: str
    backup_type: str
    parent_id: str
    slot: datetime.datetime = None

    @property
    def at(self):
        return self.slot or self.created

    def as_dict(self):
        return {'backup_id': self.backup_id, 'action': self.action,
                'rule': self.rule, 'rules': list(self.rules),
                'created': _text(self.created), 'slot': _text(self.slot),
                'status': self.status, 'type': self.backup_type,
                'parent_id': self.parent_id}


def _text(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%S') if moment else None


_BUCKETS = {
    'keep_last': None,
    'keep_daily': lambda local: local.date(),
    'keep_weekly': lambda local: local.isocalendar()[:2],
    'keep_monthly': lambda local: (local.year, local.month),
    'keep_yearly': lambda local: local.year,
}


def _newest_first(items):
    return sorted(items, key=lambda item: (item.at, item.id),
                  reverse=True)


def select(completed, policy, timezone, now):
    """{backup id: [rules keeping it]} for COMPLETED items by the keep_*
    rules and the max_age_days cap alone (no chains)."""
    tz = zoneinfo.ZoneInfo(timezone or 'UTC')
    max_age = policy.get('max_age_days')
    young = _newest_first(
        item for item in completed if not max_age or
        item.at >= now - datetime.timedelta(days=max_age))
    kept = collections.defaultdict(list)
    counts = {rule: policy.get(rule) or 0 for rule in KEEP_RULES}
    if not any(counts.values()):
        if max_age:
            for item in young:
                kept[item.id].append('max_age_days')
        return kept
    local = [item.at.replace(tzinfo=datetime.timezone.utc)
             .astimezone(tz) for item in young]
    for rule in KEEP_RULES:
        left, last, bucket = counts[rule], None, _BUCKETS[rule]
        for index, item in enumerate(young):
            if left <= 0:
                break
            key = index if bucket is None else bucket(local[index])
            if key != last:
                kept[item.id].append(rule)
                last = key
                left -= 1
    return kept


def _any_rule(policy):
    return any(policy.get(key) for key in POLICY_KEYS)


def plan(backups, policy, timezone, now, others=()):
    """A Decision for each of the schedule's backups not being deleted:
    deletions first (oldest first), then what is kept (newest first).

    backups: the schedule's Items; others: the instance's other backups
    (never deleted here, see the module docstring); now: naive UTC.
    """
    live = [item for item in backups if not item.deleting]
    by_id = {item.id: item for item in list(others) + live}
    completed = [item for item in live if item.status == states.COMPLETED]
    if _any_rule(policy):
        reasons = select(completed, policy, timezone, now)
    else:
        reasons = collections.defaultdict(list)
        for item in live:
            reasons[item.id].append('no_policy')
    newest_done = max((item.at for item in completed), default=None)
    for item in live:
        if item.status in states.RUNNING:
            reasons[item.id].append('running')
        elif item.status == states.FAILED:
            if newest_done is None or item.at > newest_done:
                reasons[item.id].append('recent_failure')
        elif item.status != states.COMPLETED:
            # DELETE_FAILED without a delete request, RESTORED: not ours
            # to judge.
            reasons[item.id].append('other_status')
    live_ids = {item.id for item in live}
    fulls = [item for item in by_id.values()
             if item.status == states.COMPLETED and not item.deleting and
             item.backup_type == states.FULL]
    if fulls:
        # By creation, not by slot: every schedule of the instance must
        # name the same backup (others have no slot in this plan).
        last_full = max(fulls, key=lambda item: (item.created, item.id))
        if last_full.id in live_ids:
            reasons[last_full.id].append('last_full')
    # Ancestors of whatever stays (kept, running, foreign) stay too.
    protectors = [item for item in live if reasons.get(item.id)] + [
        item for item in others if not item.deleting]
    for item in protectors:
        parent = by_id.get(item.parent_id)
        while parent is not None:
            if parent.id in live_ids:
                if 'chain' in reasons[parent.id]:
                    break
                reasons[parent.id].append('chain')
            parent = by_id.get(parent.parent_id)
    capped = set()
    if policy.get('max_age_days'):
        limit = now - datetime.timedelta(days=policy['max_age_days'])
        capped = {item.id for item in completed if item.at < limit}
    deletions, keeps = [], []
    for item in live:
        rules = reasons.get(item.id)
        if rules:
            keeps.append(_decision(item, KEEP, rules))
        elif item.status == states.FAILED:
            deletions.append(_decision(item, DELETE, ['failed']))
        else:
            deletions.append(_decision(
                item, DELETE,
                ['max_age_days' if item.id in capped else 'unselected']))
    deletions.sort(key=lambda d: (d.at, d.backup_id))
    keeps.sort(key=lambda d: (d.at, d.backup_id), reverse=True)
    return deletions + keeps


def _decision(item, action, rules):
    return Decision(backup_id=item.id, action=action, rule=rules[0],
                    rules=rules, created=item.created, status=item.status,
                    backup_type=item.backup_type, parent_id=item.parent_id,
                    slot=item.slot)


def roots(decisions):
    """The deletions whose parent is not deleted too: deleting each (with
    its descendants, as the delete path does) deletes exactly the plan's
    deletions."""
    deleted = {d.backup_id for d in decisions if d.action == DELETE}
    return [d for d in decisions
            if d.action == DELETE and d.parent_id not in deleted]


def policy_of(schedule):
    """The retention policy of a BackupSchedule row, as plan() takes it."""
    return {key: getattr(schedule, key) for key in POLICY_KEYS}


def decide(context, schedule, now=None):
    """plan() for the schedule's backups as they are in the database."""
    slots = retention_db.backup_slots(context, schedule.id)
    rows = retention_db.instance_backups(context, schedule.instance_id)
    return plan([Item.of(row, slots[row.id]) for row in rows
                 if row.id in slots],
                policy_of(schedule), schedule.timezone,
                now or timeutils.utcnow(),
                others=[Item.of(row) for row in rows
                        if row.id not in slots])


def preview(context, schedule, now=None, include_kept=False):
    """What the next pruning of the schedule would delete, oldest first:
    [{backup_id, action, rule, rules, created, slot, status, type,
    parent_id}] (slot: the time the schedule made it for); with
    include_kept, then what it keeps and why, newest first. Pruning runs
    after each COMPLETED scheduled backup, so the next one may delete
    more (what ages out meanwhile)."""
    return [decision.as_dict() for decision in decide(context, schedule, now)
            if include_kept or decision.action == DELETE]
