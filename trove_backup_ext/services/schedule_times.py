"""When a schedule's slots fall: five-field cron in an IANA time zone.

Cron fields are read in the schedule's local wall-clock time (croniter on
naive local times), then each slot is turned into one UTC instant. Two
local times need a rule, and these are the rules (doc/source/user/
backup-schedules.rst says the same to users):

- A local time that does not exist (the hour skipped when clocks spring
  forward: 02:30 in Europe/Berlin on the last Sunday of March) still
  fires, once, shifted forward by the length of the gap: 02:30 fires at
  03:30 local (01:30 UTC). A daily backup is never lost to DST. This is
  PEP 495's reading of such a time with fold=0, also PostgreSQL's and
  java.time's. If it lands on the instant of another slot (an every-30-
  minutes cron), that instant fires once.
- A local time that happens twice (the hour repeated when clocks fall
  back: 02:30 in Europe/Berlin on the last Sunday of October) fires once,
  at its first occurrence (fold=0, still summer time). Vixie cron does
  the same; an hourly cron so leaves a two-hour gap in UTC that night.

So a slot is a UTC instant, slots of a schedule are strictly increasing,
and no instant is a slot twice: the (schedule, slot) key of
backup_schedule_runs can be trusted. All datetimes given and returned
here are naive UTC (as stored) or aware; returned ones are naive UTC.
"""

import datetime
import functools
import re
import zoneinfo

import croniter

from trove_backup_ext import exception

UTC = datetime.timezone.utc
FULL = 'full'
INCREMENTAL = 'incremental'

# A cron that has no slot within this many years is refused ("0 0 30 2 *",
# February 30th); a leap day (every 4 years, 8 across a century) is fine.
_HORIZON_YEARS = 9
# The most local candidates next_slot looks at; a wall-clock hour read
# twice (after the clocks fall back) costs at most 60 for a minutely cron.
_MAX_STEPS = 10000
# croniter's "R" (a value drawn at random each time the cron is read,
# optionally R(a-b) or R/n): a slot must be the same instant on every
# read and in every worker, so no field element may be one.
_RANDOM_ELEMENT = re.compile(r'^r(\(\d+-\d+\))?(/\d+)?$', re.IGNORECASE)


def validate_cron(text, field='full_cron'):
    """Return text stripped if it is a five-field cron expression with a
    slot in the next few years; else ValidationError naming field."""
    if not isinstance(text, str) or not text.strip():
        raise exception.ValidationError(
            reason='%s must be a five-field cron expression' % field)
    fields = text.split()
    if len(fields) != 5:
        raise exception.ValidationError(
            reason='%s %r has %d fields; a cron expression has five '
                   '(minute hour day-of-month month day-of-week)'
                   % (field, text[:64], len(fields)))
    normalized = ' '.join(fields)
    if any(_RANDOM_ELEMENT.match(element) for value in fields
           for element in value.split(',')):
        raise exception.ValidationError(
            reason='%s %r has a random value (R): a schedule\'s times must '
                   'be the same on every reading' % (field, text[:64]))
    try:
        if not croniter.croniter.is_valid(normalized):
            raise ValueError('not a valid cron expression')
        start = datetime.datetime(2000, 1, 1)
        first = croniter.croniter(normalized, start).get_next(
            datetime.datetime)
        if first.year > start.year + _HORIZON_YEARS:
            raise ValueError('it has no time in %d years' % _HORIZON_YEARS)
    except croniter.CroniterBadDateError:
        raise exception.ValidationError(
            reason='%s %r names no date that exists (such as February '
                   '30th)' % (field, text[:64]))
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise exception.ValidationError(
            reason='%s %r is not a valid cron expression: %s'
                   % (field, text[:64], exc))
    return normalized


# Names in the zone database that are not zones a user means: the host's
# own setting, the template of POSIX rules, and "no zone set".
_NOT_ZONES = frozenset(('localtime', 'posixrules', 'Factory'))


@functools.lru_cache(maxsize=1)
def _zone_names():
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def validate_timezone(name, field='timezone'):
    """Return name if it is an IANA time zone name this host knows (as
    "Europe/Berlin" or "UTC"); else ValidationError naming field."""
    if not isinstance(name, str) or name not in _zone_names():
        raise exception.ValidationError(
            reason='%s %r is not an IANA time zone name (such as UTC or '
                   'Europe/Berlin)' % (field, str(name)[:64]))
    return name


@functools.lru_cache(maxsize=512)
def _zone(name):
    return zoneinfo.ZoneInfo(name)


def _aware_utc(moment):
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _to_utc(local, zone):
    """(UTC instant, gap) of the naive local time under the rules above;
    gap is how far a skipped time was shifted forward (else zero)."""
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return first, datetime.timedelta(0)
    if first.astimezone(zone).replace(tzinfo=None) == local:
        return first, datetime.timedelta(0)       # repeated: the first
    return first, first - second                  # skipped: shifted


def _spring_forward_lookback(zone, after):
    # Skipped local times before after's local time are shifted to after
    # it when the clocks moved forward within the last two days; look
    # back by the jump so that they are seen.
    jump = (after.astimezone(zone).utcoffset() -
            (after - datetime.timedelta(days=2)).astimezone(zone)
            .utcoffset())
    return max(jump, datetime.timedelta(0))


def next_slot(cron, tz, after_utc):
    """The first slot of cron in time zone tz strictly after after_utc,
    as a naive UTC datetime (the DST rules are in the module's doc)."""
    zone = _zone(tz)
    after = _aware_utc(after_utc)
    start = (after.astimezone(zone).replace(tzinfo=None) -
             _spring_forward_lookback(zone, after))
    # croniter works on the naive local time as on a clock without DST.
    local_times = croniter.croniter(cron, start)
    best = horizon = None
    for _ in range(_MAX_STEPS):
        local = local_times.get_next(datetime.datetime)
        if horizon is not None and local > horizon:
            break
        instant, gap = _to_utc(local, zone)
        if instant > after:
            if best is None or instant < best:
                best = instant
            # A later local time may still map earlier, if this one was
            # shifted forward: look at those within the shift.
            if horizon is None or local + gap > horizon:
                horizon = local + gap
    if best is None:
        raise exception.ValidationError(
            reason='cron %r has no time after %s' % (cron, after))
    return best.replace(tzinfo=None)


def slots_between(cron, tz, start_utc, end_utc, limit=None):
    """The slots s of cron in tz with start_utc < s <= end_utc, oldest
    first, naive UTC; at most limit of them (the oldest) if given."""
    end = _aware_utc(end_utc).replace(tzinfo=None)
    slots = []
    slot = _aware_utc(start_utc).replace(tzinfo=None)
    while limit is None or len(slots) < limit:
        slot = next_slot(cron, tz, slot)
        if slot > end:
            break
        slots.append(slot)
    return slots


def next_schedule_slot(full_cron, incremental_cron, tz, after_utc):
    """(slot, kind) of a schedule's next slot after after_utc: the
    earlier of its full and incremental crons' next slots; FULL when
    both fall on the same instant. kind is FULL or INCREMENTAL."""
    full = next_slot(full_cron, tz, after_utc)
    if incremental_cron:
        incremental = next_slot(incremental_cron, tz, after_utc)
        if incremental < full:
            return incremental, INCREMENTAL
    return full, FULL


def slot_kind(full_cron, incremental_cron, tz, slot_utc):
    """FULL if slot_utc (naive or aware UTC) is a slot of full_cron (or
    there is no incremental_cron), else INCREMENTAL."""
    slot = _aware_utc(slot_utc).replace(tzinfo=None)
    if not incremental_cron:
        return FULL
    before = slot - datetime.timedelta(microseconds=1)
    return FULL if next_slot(full_cron, tz, before) == slot else INCREMENTAL
