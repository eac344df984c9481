"""--wait: poll an operation until it ends, with a progress bar on stderr."""

import time

POLL_INTERVAL = 2   # seconds; agents report progress every few seconds
BAR_WIDTH = 30
_UNITS = ('B', 'KiB', 'MiB', 'GiB', 'TiB')


def human_size(count):
    value = float(count)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            break
        value /= 1024
    return ('%d %s' % (value, unit) if unit == 'B'
            else '%.1f %s' % (value, unit))


def render(state, progress, succeeded=False):
    """One line: state, bar, percent, rate and bytes, e.g.
    ``RESTORING [###############...............]  50%  2.0 MiB/s  3.0 MiB
    of 6.0 MiB``. progress is the API's dict or None (not started, or
    ended); a bar of an unknown total shows ``?%``."""
    progress = progress or {}
    percent = 100 if succeeded else progress.get('percent')
    if percent is None:
        bar, shown = '.' * BAR_WIDTH, '  ?%'
    else:
        percent = max(0, min(100, int(percent)))
        filled = BAR_WIDTH * percent // 100
        bar = '#' * filled + '.' * (BAR_WIDTH - filled)
        shown = '%3d%%' % percent
    line = '%-9s [%s] %s' % (state or '-', bar, shown)
    if progress.get('rate') is not None:
        line += '  %s/s' % human_size(progress['rate'])
    if progress.get('bytes_done') is not None:
        line += '  %s' % human_size(progress['bytes_done'])
        if progress.get('bytes_total'):
            line += ' of %s' % human_size(progress['bytes_total'])
    return line


class Bar:
    """Redraws one line on a terminal; elsewhere (a log, a pipe) writes a
    line only when it changed."""

    def __init__(self, stream):
        self.stream = stream
        self.tty = stream.isatty()
        self.last = None

    def show(self, line):
        if line == self.last:
            return
        if self.tty:
            pad = max(0, len(self.last or '') - len(line))
            self.stream.write('\r' + line + ' ' * pad)
        else:
            self.stream.write(line + '\n')
        self.stream.flush()
        self.last = line

    def close(self):
        if self.tty and self.last is not None:
            self.stream.write('\n')
            self.stream.flush()


def follow(get, state_of, succeeded, failed, stream,
           interval=POLL_INTERVAL, sleep=time.sleep):
    """Call get() until state_of(item) is in succeeded or failed, drawing
    its progress; the last item. The server ends every operation (its
    reaper fails what stops making progress), so there is no timeout here:
    Ctrl-C stops the wait, not the operation."""
    bar = Bar(stream)
    seen = None
    try:
        while True:
            item = get()
            state = state_of(item)
            # The rate of the last report stays on the final line.
            seen = item.get('progress') or seen
            ended = state in succeeded or state in failed
            bar.show(render(state, item.get('progress') if not ended
                            else seen, succeeded=state in succeeded))
            if ended:
                return item
            sleep(interval)
    finally:
        bar.close()
