"""The backup scheduler: each worker fires due slots, each slot once.

A pass (run_once) first retries the slots waiting for their instance
(runs RETRYING), then takes the due schedules. For each, it claims the
slots due by now as rows of backup_schedule_runs (UNIQUE(schedule_id,
slot): whichever worker inserts a row owns that slot), moves next_run on
by compare-and-set, and only then fires: so a worker that dies at any line
leaves either an unclaimed slot (next_run did not move: another worker
claims it) or a RETRYING run, which every worker's next pass picks up.

A slot's backup id is derived from its run id. Two workers retrying one
run, or a retry after a crash that followed the backup's creation, find
that backup (or collide on its primary key) instead of making another.
"""

import collections
import datetime
import threading
import uuid

from oslo_log import log as logging
from oslo_utils import timeutils

from trove_backup_ext import context as backup_context
from trove_backup_ext.db import backup_schedules as schedules_db
from trove_backup_ext.db import lifecycle
from trove_backup_ext import exception
from trove_backup_ext import notifications
from trove_backup_ext import schedule_credentials
from trove_backup_ext.services import retention
from trove_backup_ext.services import schedule_times
from trove_backup_ext import states

LOG = logging.getLogger(__name__)

_RUN_NAMESPACE = uuid.UUID('5b0f4a52-8f0e-4a7c-9d51-6f3c1e2a7b90')
# What a busy, stopped or over-quota instance answers: try again later.
_RETRY_LATER = (exception.UnprocessableEntity, exception.QuotaExceeded,
                exception.ServiceUnavailable)


def slot_backup_id(run_id, schedule_id=None):
    """The id of the backup a run makes: the same on every attempt. With
    schedule_id, under that schedule's prefix, which its storage
    credentials reach (schedule_credentials.py)."""
    if schedule_id is not None:
        return schedule_credentials.slot_backup_id(schedule_id, run_id)
    return str(uuid.uuid5(_RUN_NAMESPACE, run_id))


def _iso(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def owner_context(schedule):
    """The schedule's owner, as whom its backups are made."""
    return backup_context.RequestContext(
        user_id=schedule.user_id, project_id=schedule.project_id,
        roles=['member'], overwrite=False)


class Scheduler:

    def __init__(self, conf, backups, notifier, context_factory=None,
                 clock=timeutils.utcnow):
        """backups: a services.backups.BackupService (the API's path);
        clock: returns naive UTC now (tests pass their own)."""
        self.conf = conf
        self.backups = backups
        self.notifier = notifier
        self.context_factory = (context_factory or
                                backup_context.get_admin_context)
        self.clock = clock
        self._stop = threading.Event()
        self._thread = None

    @property
    def grace(self):
        return datetime.timedelta(seconds=self.conf.scheduler.grace_period)

    # A pass.

    def run_once(self, now=None):
        """One pass as at now (default: the clock); counts of what
        happened: fired, missed, skipped, waiting, schedules (due ones
        read), advanced (next_run moved by this pass)."""
        context = self.context_factory()
        now = now or self.clock()
        counts = collections.Counter()
        batch = self.conf.scheduler.batch_size
        for run in schedules_db.list_runs(
                context, states=[schedules_db.RETRYING], limit=batch):
            try:
                self._retry(context, run, now, counts)
            except Exception:
                LOG.exception('Schedule %s: retrying slot %s failed; the '
                              'next pass tries again.', run.schedule_id,
                              _iso(run.slot))
        for schedule in schedules_db.due_schedules(context, now, batch):
            counts['schedules'] += 1
            try:
                self._take_due(context, schedule, now, counts)
            except Exception:
                LOG.exception('Schedule %s: this pass failed; the next '
                              'one tries again.', schedule.id)
        return counts

    def _retry(self, context, run, now, counts):
        schedule = schedules_db.find(context, run.schedule_id)
        if schedule is None:
            return      # Deleted, its runs with it.
        if (run.backup_id is not None and
                lifecycle.get(context, run.backup_id) is not None):
            # A worker created the slot's backup and stopped before
            # marking the run: it fired, whatever the time or enabled
            # say now (_fire only marks it).
            self._fire(context, schedule, run, now, counts)
        elif not schedule.enabled:
            self._skip(context, schedule, run, 'the schedule was disabled '
                       'before the slot could fire.', counts)
        elif now - run.slot >= self.grace:
            # Its last attempt's reason; none if the worker that took it
            # stopped before trying.
            self._skip(context, schedule, run, run.reason or (
                'not fired within [scheduler] grace_period (%d s): the '
                'worker that took it stopped.'
                % self.conf.scheduler.grace_period), counts)
        else:
            self._fire(context, schedule, run, now, counts)

    def _due_slots(self, schedule, now):
        """([(slot, kind)] due by now, oldest first, at most
        max_missed_slots + 1; the next_run that follows them)."""
        first = schedule.next_run
        slots = [(first, schedule_times.slot_kind(
            schedule.full_cron, schedule.incremental_cron,
            schedule.timezone, first))]
        while True:
            following = schedule_times.next_schedule_slot(
                schedule.full_cron, schedule.incremental_cron,
                schedule.timezone, slots[-1][0])
            if (following[0] > now or
                    len(slots) > self.conf.scheduler.max_missed_slots):
                return slots, following[0]
            slots.append(following)

    def _take_due(self, context, schedule, now, counts):
        slots, next_run = self._due_slots(schedule, now)
        if next_run <= now:
            # More missed slots than one pass records: all of these are
            # missed, the next pass goes on from next_run.
            missed, to_fire = slots, None
        elif now - slots[-1][0] <= self.grace:
            missed, to_fire = slots[:-1], slots[-1]
        else:
            missed, to_fire = slots, None
        recorded = []
        for slot, kind in missed:
            reason = (
                'a later slot (%s) fires instead: after an outage, only '
                'the latest missed slot runs.' % _iso(to_fire[0])
                if to_fire else
                'no worker ran the scheduler within [scheduler] '
                'grace_period (%d s) after this slot.'
                % self.conf.scheduler.grace_period)
            if schedules_db.claim_slot(context, schedule.id, slot, kind,
                                       state=schedules_db.MISSED,
                                       reason=reason):
                schedules_db.record_run_result(context, schedule.id, slot,
                                               schedules_db.MISSED)
                recorded.append((slot, kind, reason))
        if recorded:
            counts['missed'] += len(recorded)
            LOG.warning('Schedule %s missed %d slot(s), %s to %s: %s',
                        schedule.id, len(recorded), _iso(recorded[0][0]),
                        _iso(recorded[-1][0]), recorded[-1][2])
            self.notifier.error(
                context, 'dbaas.backup_schedule.missed',
                notifications.schedule_payload(
                    schedule, count=len(recorded),
                    slots=[_iso(s) for s, _, _ in recorded[:100]],
                    reason=recorded[-1][2]))
        run = None
        if to_fire:
            run = schedules_db.claim_slot(context, schedule.id, to_fire[0],
                                          to_fire[1],
                                          state=schedules_db.RETRYING)
        # Only once the slots are ours: a worker dying before this line
        # leaves next_run as it was, for any worker to take again.
        if schedules_db.advance_next_run(context, schedule.id,
                                         schedule.next_run, next_run):
            counts['advanced'] += 1
        if run is not None:
            self._fire(context, schedule, run, now, counts)

    # Firing a claimed slot.

    def _fire(self, context, schedule, run, now, counts):
        # The id named on the run stands (a retry); a schedule holding
        # storage credentials names its backups under its prefix.
        scoped = (schedule_credentials.needed(self.conf) and
                  schedule_credentials.prefix_of(context, schedule))
        backup_id = run.backup_id or slot_backup_id(
            run.id, schedule.id if scoped else None)
        if run.backup_id is None:
            # Named before it exists: a backup that ends at once finds
            # its run (see backup_ended).
            schedules_db.update_run(context, run.id, [schedules_db.RETRYING],
                                    schedules_db.RETRYING,
                                    backup_id=backup_id)
        if lifecycle.get(context, backup_id) is None:
            if schedules_db.get_run(context, run.id) is None:
                # Its schedule was deleted since the claim (the runs go
                # with it): the DELETE's 204 said nothing more happens.
                return None
            try:
                self.backups.create(
                    owner_context(schedule), schedule.project_id,
                    self._spec(schedule, run), backup_id=backup_id,
                    schedule=schedule)
            except exception.NotFound as exc:
                return self._skip(context, schedule, run, str(exc), counts)
            except Exception as exc:
                if lifecycle.get(context, backup_id) is None:
                    # Not our own backup made meanwhile (its primary key
                    # is refused as a busy instance): the instance's.
                    if not isinstance(exc, _RETRY_LATER):
                        LOG.exception('Schedule %s: slot %s could not '
                                      'fire.', schedule.id, _iso(run.slot))
                    return self._wait(context, schedule, run, now,
                                      str(exc), counts)
        # A slot skipped at the end of its grace period by another worker
        # while this one created its backup did fire after all: its
        # recorded skip gives way to the backup's status.
        if schedules_db.update_run(context, run.id, [schedules_db.RETRYING],
                                   schedules_db.FIRED, backup_id=backup_id,
                                   reason=None):
            record = schedules_db.record_run_result
        elif schedules_db.update_run(context, run.id, [schedules_db.SKIPPED],
                                     schedules_db.FIRED, backup_id=backup_id,
                                     reason=None):
            record = schedules_db.record_fired_after_skip
        else:
            record = None
        if record is not None:
            # Its status now: it may have ended before the run named it
            # (backup_ended found no run then).
            backup = lifecycle.get(context, backup_id)
            record(context, schedule.id, run.slot,
                   backup.status if backup else states.NEW, backup_id)
            counts['fired'] += 1
            LOG.info('Schedule %s fired slot %s (%s): backup %s.',
                     schedule.id, _iso(run.slot), run.kind, backup_id)
            self.notifier.info(context, 'dbaas.backup_schedule.fire',
                               notifications.schedule_payload(
                                   schedule, slot=_iso(run.slot),
                                   kind=run.kind, backup_id=backup_id))

    @staticmethod
    def _spec(schedule, run):
        return {'name': ('%s %s' % (schedule.name, _iso(run.slot)))[:255],
                'instance': schedule.instance_id,
                'description': 'Backup schedule %s, slot %s (%s).' % (
                    schedule.id, _iso(run.slot), run.kind),
                # Its parent: the instance's newest COMPLETED backup, or
                # the schedule's with its storage credentials (a full
                # one is made if there is none; db/backups.py).
                'incremental': run.kind == schedules_db.INCREMENTAL}

    def _wait(self, context, schedule, run, now, reason, counts):
        if now - run.slot >= self.grace:
            return self._skip(context, schedule, run, reason, counts)
        schedules_db.update_run(context, run.id, [schedules_db.RETRYING],
                                schedules_db.RETRYING, reason=reason[:1024])
        counts['waiting'] += 1
        LOG.info('Schedule %s: slot %s waits (until %s): %s', schedule.id,
                 _iso(run.slot), _iso(run.slot + self.grace), reason)

    def _skip(self, context, schedule, run, reason, counts):
        if not schedules_db.update_run(context, run.id,
                                       [schedules_db.RETRYING],
                                       schedules_db.SKIPPED,
                                       reason=reason[:1024]):
            return
        schedules_db.record_run_result(context, schedule.id, run.slot,
                                       schedules_db.SKIPPED)
        counts['skipped'] += 1
        LOG.warning('Schedule %s skipped slot %s: %s', schedule.id,
                    _iso(run.slot), reason)
        self.notifier.error(context, 'dbaas.backup_schedule.skipped',
                            notifications.schedule_payload(
                                schedule, slot=_iso(run.slot),
                                kind=run.kind, reason=reason))

    # After a backup ends (WorkerManager.backup_ended).

    def backup_ended(self, context, backup_id, status):
        """Record a scheduled backup's outcome on its schedule, and prune
        after a success. Idempotent: a repeated call records nothing
        new and finds nothing more to prune."""
        context = self.context_factory()
        run = schedules_db.run_of_backup(context, backup_id)
        if run is None:
            return      # Not a scheduled backup.
        schedules_db.record_run_result(context, run.schedule_id, run.slot,
                                       status, backup_id)
        if status == states.COMPLETED:
            self.prune(context, run.schedule_id)

    def prune(self, context, schedule_id, now=None):
        """Delete, through the API's delete path (marks, then the
        worker deletes storage first, then rows, with notifications),
        what the schedule's retention no longer keeps; the deletions
        requested."""
        schedule = schedules_db.find(context, schedule_id)
        if schedule is None:
            return []
        decisions = retention.decide(context, schedule,
                                     now or self.clock())
        requested = []
        for root in retention.roots(decisions):
            try:
                self.backups.delete(context, root.backup_id)
            except (exception.NotFound, exception.UnprocessableEntity,
                    exception.ServiceUnavailable) as exc:
                # Running, being restored, gone, or no worker reachable:
                # the next pruning sees it again.
                LOG.info('Schedule %s: not pruning backup %s now: %s',
                         schedule.id, root.backup_id, exc)
                continue
            requested.append(root.backup_id)
        if requested:
            roots = set(requested)
            deleted = [d for d in decisions if d.action == retention.DELETE
                       and (d.backup_id in roots or
                            self._under(d, roots, decisions))]
            LOG.info('Schedule %s pruned %d backup(s).', schedule.id,
                     len(deleted))
            self.notifier.info(context, 'dbaas.backup_schedule.prune',
                               notifications.schedule_payload(
                                   schedule, deleted=[
                                       {'backup_id': d.backup_id,
                                        'rule': d.rule}
                                       for d in deleted]))
        return requested

    @staticmethod
    def _under(decision, roots, decisions):
        parents = {d.backup_id: d.parent_id for d in decisions}
        parent = decision.parent_id
        while parent is not None:
            if parent in roots:
                return True
            parent = parents.get(parent)
        return False

    # The thread.

    def start(self):
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name='backup-scheduler')
        self._thread.start()

    def _loop(self):
        # A first pass at once: slots missed while no worker ran fire on
        # start (within the grace period).
        while not self._stop.is_set():
            try:
                counts = self.run_once()
                # More may be due; but never spin on schedules that a
                # pass cannot move (a database error on each).
                full = (counts['schedules'] >= self.conf.scheduler.batch_size
                        and counts['advanced'] > 0)
            except Exception:
                LOG.exception('Scheduler pass failed; trying again later.')
                full = False
            if not full:
                self._stop.wait(self.conf.scheduler.tick_interval)

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
