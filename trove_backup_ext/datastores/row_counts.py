"""Row counts of a server backup: recorded with it, compared after restore.

A physical backup (pg_basebackup, mariabackup) copies a database that
keeps changing, and lands at a point of its own that no client query can
share. So the counts are read right after the copy, and the driver notes
whether anything was written between just before the copy started and the
last count: if nothing was, the counts are those of the restored data
exactly and any difference fails the verification; if something was,
they are approximate and a difference is only reported.
"""

from trove_backup_ext.datastores import base


def recorded(counts, quiet):
    """The metadata entries of counts read at backup time."""
    return {'row_counts': counts, 'row_counts_exact': bool(quiet)}


def not_recorded(reason):
    """The metadata entry of counts that could not be read: the backup
    still completes, its verification says why nothing was compared."""
    return {'row_counts_error': str(reason)[:500]}


def check(metadata, found):
    """The row_counts check of a verification: the counts found in the
    restored data against what metadata recorded."""
    if 'row_counts_error' in metadata:
        return {'check': 'row_counts', 'ok': True,
                'detail': 'not compared: the counts could not be read at '
                          'backup time (%s)' % metadata['row_counts_error']}
    expected = metadata.get('row_counts')
    if expected is None:
        return {'check': 'row_counts', 'ok': True,
                'detail': 'not recorded by the release or configuration '
                          'that took this backup'}
    result = base.compare_counts(expected, found)
    if result['ok'] or metadata.get('row_counts_exact'):
        if result['ok'] and not metadata.get('row_counts_exact'):
            result['detail'] += ' (the database was written during the '\
                                'backup, yet they match)'
        return result
    return {'check': 'row_counts', 'ok': True,
            'detail': 'approximate, not compared strictly: the database '
                      'was written during the backup, so the counts read '
                      'after it (%d rows) cannot match the restored data '
                      '(%d rows) exactly; %s' % (
                          sum(expected.values()), sum(found.values()),
                          result['detail'])}
