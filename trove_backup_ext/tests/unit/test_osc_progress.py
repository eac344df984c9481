"""The --wait progress bar and polling loop of the OSC plugin."""

import io

from trove_backup_ext.osc import progress
from trove_backup_ext.tests import base

MIB = 1024 * 1024


class Terminal(io.StringIO):

    def isatty(self):
        return True


def running(percent, done=None, total=6 * MIB, rate=2 * MIB):
    return {'status': 'RESTORING', 'progress': {
        'percent': percent, 'rate': rate, 'bytes_total': total,
        'bytes_done': done if done is not None else total * percent // 100}}


class TestRender(base.TestCase):

    def test_percent_rate_and_bytes(self):
        self.assertEqual(
            'RESTORING [###############...............]  50%  2.0 MiB/s'
            '  3.0 MiB of 6.0 MiB',
            progress.render('RESTORING', running(50)['progress']))

    def test_unknown_total_and_nothing_yet(self):
        self.assertEqual(
            'BUILDING  [..............................]   ?%  512 B/s  '
            '1.5 KiB',
            progress.render('BUILDING', {'percent': None, 'rate': 512,
                                         'bytes_done': 1536,
                                         'bytes_total': None}))
        self.assertEqual('NEW       [..............................]   ?%',
                         progress.render('NEW', None))
        self.assertEqual('-         [..............................]   ?%',
                         progress.render(None, None))

    def test_success_is_a_full_bar_and_percent_is_clamped(self):
        self.assertEqual('COMPLETED [%s] 100%%' % ('#' * 30),
                         progress.render('COMPLETED', None, succeeded=True))
        self.assertTrue(progress.render(
            'RESTORING', {'percent': 140}).endswith('] 100%'))

    def test_human_size(self):
        self.assertEqual(['0 B', '1023 B', '1.0 KiB', '1.5 MiB', '2.0 GiB',
                          '3.0 TiB', '2048.0 TiB'],
                         [progress.human_size(n) for n in (
                             0, 1023, 1024, 1.5 * MIB, 2 << 30, 3 << 40,
                             2 << 50)])


class TestFollow(base.TestCase):

    def follow(self, items, stream):
        items, sleeps = iter(items), []
        last = progress.follow(lambda: next(items),
                               lambda item: item['status'], ('COMPLETED',),
                               ('FAILED',), stream, interval=7,
                               sleep=sleeps.append)
        return last, sleeps

    def test_a_log_gets_a_line_per_change(self):
        stream = io.StringIO()
        items = [{'status': 'NEW', 'progress': None}, running(10),
                 running(10), running(60),
                 {'status': 'COMPLETED', 'progress': None, 'id': 'r'}]

        last, sleeps = self.follow(items, stream)

        self.assertEqual('r', last['id'])
        self.assertEqual([7] * 4, sleeps)
        lines = stream.getvalue().splitlines()
        self.assertEqual(4, len(lines), lines)
        self.assertTrue(lines[0].startswith('NEW '))
        self.assertIn('  10%', lines[1])
        self.assertIn('  60%', lines[2])
        # The last rate seen stays on the final, full line.
        self.assertEqual('COMPLETED [%s] 100%%  2.0 MiB/s  3.6 MiB of '
                         '6.0 MiB' % ('#' * 30), lines[3])

    def test_a_terminal_gets_one_line_redrawn(self):
        stream = Terminal()
        last, _ = self.follow([running(10), running(60),
                               {'status': 'FAILED', 'progress': None}],
                              stream)

        self.assertEqual('FAILED', last['status'])
        out = stream.getvalue()
        self.assertEqual(3, out.count('\r'))
        self.assertTrue(out.endswith('\n'))
        self.assertEqual(1, out.count('\n'))
        # A failure keeps the percent it got to.
        self.assertIn('FAILED    [##################............]  60%',
                      out)
