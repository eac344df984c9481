"""What a list shows: its projects, its page size, where its page starts
(keyset pagination: opaque markers) and its next link.

A marker encodes the (created, id) of the last backup on a page; the next
page starts strictly after it. Unlike Trove's integer offsets it stays
correct while backups are added, change status or are deleted, costs the
same on every page, and needs no look-up even if that backup is gone.
"""

import base64
import binascii
import datetime
from urllib import parse

from oslo_utils import strutils
from oslo_utils import uuidutils

from trove_backup_ext import exception
from trove_backup_ext import policy

_PREFIX = 'b1.'
_TIME = '%Y%m%d%H%M%S%f'


def make_marker(backup):
    raw = '%s|%s' % (backup.created.strftime(_TIME), backup.id)
    return _PREFIX + base64.urlsafe_b64encode(
        raw.encode('ascii')).decode('ascii').rstrip('=')


def parse_marker(marker, kind='backup'):
    """(created, id) from a marker of ours; None if marker is a backup id,
    which the caller looks up (clients document the marker as an id)."""
    if uuidutils.is_uuid_like(marker):
        return None
    try:
        if not marker.startswith(_PREFIX):
            raise ValueError()
        encoded = marker[len(_PREFIX):]
        raw = base64.urlsafe_b64decode(
            encoded + '=' * (-len(encoded) % 4)).decode('ascii')
        created, backup_id = raw.split('|')
        if not uuidutils.is_uuid_like(backup_id):
            raise ValueError()
        return datetime.datetime.strptime(created, _TIME), backup_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise exception.ValidationError(
            reason="marker %r is not a marker of this service; use the "
                   "marker of a next link or a %s id" % (marker[:64], kind))


def listed_project(context, url_project, query, all_projects_rule):
    """The project a list shows: the URL's, another named by project_id,
    or None (every project) with all_projects; either of the last two
    needs all_projects_rule."""
    all_projects = strutils.bool_from_string(query.get('all_projects'))
    if all_projects or 'project_id' in query:
        policy.authorize(context, all_projects_rule,
                         policy.project_target(url_project))
    return query.get('project_id') or (None if all_projects
                                       else url_project)


def page_size(request, query):
    """The query's limit, or the default page size; capped."""
    conf = request.conf
    return parse_limit(query.get('limit'), conf.backups_page_size,
                       conf.backups_max_page_size)


def after(marker, find, kind='backup'):
    """The (created, id) a page starts after: from a marker of ours, or
    from the row find(id) returns for an id (clients document the marker
    as one); None without a marker."""
    if marker is None:
        return None
    start = parse_marker(marker, kind)
    if start is None:
        try:
            row = find(marker)
        except exception.NotFound:
            raise exception.ValidationError(
                reason='marker %s %s cannot be found' % (kind, marker))
        start = (row.created, row.id)
    return start


def parse_limit(value, default, maximum):
    if value is None:
        return default
    limit = int(value)   # The query schema admitted digits only.
    if limit < 1:
        raise exception.ValidationError(
            reason='limit %d is not a positive integer' % limit)
    return min(limit, maximum)


def next_links(request, last_backup):
    """The links of a page that has more after last_backup."""
    params = [(k, v) for k, v in request.GET.items() if k != 'marker']
    params.append(('marker', make_marker(last_backup)))
    href = '%s?%s' % (request.path_url, parse.urlencode(params))
    return [{'rel': 'next', 'href': href}]
