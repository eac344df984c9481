"""How far a running backup or restore is, as its reports show it."""

import threading
import time


class Progress:
    """Bytes done out of an estimated total, and the rate since start.

    Updated by the data path (any thread), read by the heartbeat every
    few seconds: that read, not each chunk, becomes a report, so the
    worker's database sees one write per report interval.
    """

    def __init__(self, total=None, clock=time.monotonic):
        self.total = total
        self.done = 0
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()

    def add(self, count):
        with self._lock:
            self.done += count

    def set_done(self, done):
        with self._lock:
            self.done = done

    def snapshot(self):
        """{bytes_done, bytes_total, percent, rate (bytes/s)}; percent
        None while the total is unknown, and never 100 before the end."""
        with self._lock:
            done = self.done
        elapsed = max(self._clock() - self._started, 1e-3)
        percent = None
        if self.total:
            percent = min(round(100.0 * done / self.total, 1), 99.9)
        return {'bytes_done': done, 'bytes_total': self.total,
                'percent': percent, 'rate': int(done / elapsed)}
