"""When the worker tries a failed deletion again, and when it stops.

A deletion fails for one of two kinds of reasons. The store is down,
slow or full: that passes, so the reaper tries again, less and less often
([worker] delete_retry_interval, doubled after each failure in a row, up
to delete_retry_max_interval), for as long as it takes. Or the credential
the service holds for a backup in its owner's Swift account is refused:
the trust's trustor or the application credential's owner lost the role,
or it was deleted or expired. Nothing the worker does changes that, so
after [worker] delete_refused_attempts refusals in a row it stops, says
why on the backup (its fault, shown by the API) and in its log, and
leaves it to an operator: `trove-backup-manage backup reset-status`
re-arms the retries once the owner's access is restored.
"""

import datetime

from oslo_utils import timeutils

# 2 ** 20 intervals is beyond any maximum: the exponent stops there.
_MAX_DOUBLINGS = 20


def delay(conf, failures):
    """Seconds from the failures-th failure in a row (1: the first) to
    the next attempt."""
    o = conf.worker
    ceiling = max(o.delete_retry_max_interval, o.delete_retry_interval)
    doublings = min(max(failures - 1, 0), _MAX_DOUBLINGS)
    return min(o.delete_retry_interval * 2 ** doublings, ceiling)


def backoff(conf):
    """[(failures, seconds), ...]: the wait after that many failures in a
    row, the last for that many and more (lifecycle.pending_deletes).
    Taken from the options at each pass, so a change applies at once."""
    steps, failures = [], 1
    while True:
        seconds = delay(conf, failures)
        steps.append((failures, seconds))
        if seconds >= delay(conf, failures + 1):
            return steps
        failures += 1


def decide(conf, failures, refusals, reason, now=None):
    """(when it is tried again, or None if no more; the reason to show)
    after failures failures in a row, the last refusals of which in a row
    refused the backup's storage credential."""
    limit = conf.worker.delete_refused_attempts
    if limit and refusals >= limit:
        return None, stopped_reason(refusals, reason)
    now = now or timeutils.utcnow()
    return now + datetime.timedelta(seconds=delay(conf, failures)), reason


def stopped_reason(refusals, reason):
    return ('Stopped retrying: the backup\'s storage credential was refused '
            '%d times in a row (the owner of its trust or application '
            'credential may have lost the role on the project, or it was '
            'deleted or expired). An operator can retry after restoring '
            'it: trove-backup-manage backup reset-status. Last error: %s'
            % (refusals, reason))
