"""Markers, limits and next links."""

import datetime
import types

import webob

from trove_backup_ext.api import pagination
from trove_backup_ext import exception
from trove_backup_ext.tests import base

BACKUP_ID = '6c7fd926-3e81-44c9-aaaa-bbb73b9bf56b'


def _backup(created=datetime.datetime(2026, 11, 28, 10, 1, 2, 345678)):
    return types.SimpleNamespace(id=BACKUP_ID, created=created)


class MarkerTest(base.TestCase):

    def test_round_trip_keeps_microseconds(self):
        backup = _backup()
        marker = pagination.make_marker(backup)
        self.assertEqual((backup.created, BACKUP_ID),
                         pagination.parse_marker(marker))

    def test_marker_is_url_safe(self):
        marker = pagination.make_marker(_backup())
        self.assertRegex(marker, r'^[A-Za-z0-9._-]+$')

    def test_backup_id_is_left_for_lookup(self):
        self.assertIsNone(pagination.parse_marker(BACKUP_ID))

    def test_garbage_is_a_validation_error(self):
        for garbage in ('2', 'abc', 'b1.', 'b1.!!!!', 'b1.' + 'A' * 40,
                        pagination.make_marker(_backup())[:-3]):
            self.assertRaises(exception.ValidationError,
                              pagination.parse_marker, garbage)

    def test_marker_with_bad_id_is_refused(self):
        import base64
        raw = base64.urlsafe_b64encode(b'20261128100102345678|nope')
        self.assertRaises(exception.ValidationError, pagination.parse_marker,
                          'b1.' + raw.decode().rstrip('='))


class LimitTest(base.TestCase):

    def test_default_when_absent(self):
        self.assertEqual(20, pagination.parse_limit(None, 20, 1000))

    def test_capped(self):
        self.assertEqual(1000, pagination.parse_limit('5000', 20, 1000))

    def test_zero_refused(self):
        self.assertRaises(exception.ValidationError,
                          pagination.parse_limit, '0', 20, 1000)


class NextLinksTest(base.TestCase):

    def test_keeps_filters_and_replaces_marker(self):
        request = webob.Request.blank(
            '/v1.0/p/backups?limit=2&marker=old&instance_id=%s' % BACKUP_ID,
            base_url='http://api.example:8779')
        links = pagination.next_links(request, _backup())
        self.assertEqual(1, len(links))
        self.assertEqual('next', links[0]['rel'])
        href = webob.Request.blank(links[0]['href'])
        self.assertEqual('/v1.0/p/backups', href.path)
        self.assertEqual('2', href.GET['limit'])
        self.assertEqual(BACKUP_ID, href.GET['instance_id'])
        self.assertEqual(pagination.make_marker(_backup()),
                         href.GET['marker'])
        self.assertEqual(1, len(href.GET.getall('marker')))
