"""Progress of a running operation, and how the API shows it."""

import json

from trove_backup_ext.agent import progress
from trove_backup_ext.api import views
from trove_backup_ext.tests import base


class ProgressTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.now = 100.0
        self.progress = progress.Progress(total=1000,
                                          clock=lambda: self.now)

    def test_snapshot_counts_bytes_percent_and_rate(self):
        self.progress.add(250)
        self.progress.add(250)
        self.now += 2.0
        self.assertEqual({'bytes_done': 500, 'bytes_total': 1000,
                          'percent': 50.0, 'rate': 250},
                         self.progress.snapshot())

    def test_percent_never_says_done_before_the_end(self):
        # The total is an estimate: a database may grow while it is read.
        self.progress.set_done(1500)
        self.assertEqual(99.9, self.progress.snapshot()['percent'])

    def test_unknown_total(self):
        self.progress.total = None
        self.progress.add(10)
        self.assertIsNone(self.progress.snapshot()['percent'])

    def test_view_of_a_report_and_of_none(self):
        self.assertIsNone(views.progress_view(None))
        shown = views.progress_view(json.dumps(
            {'bytes_done': 1, 'bytes_total': 2, 'percent': 50.0,
             'rate': 3, 'unexpected': 'dropped'}))
        self.assertEqual({'bytes_done': 1, 'bytes_total': 2,
                          'percent': 50.0, 'rate': 3}, shown)
