"""Which datastore versions can take a backup of which.

Our backups are physical (data files, not SQL), and a server reads only
the on-disk format of its own release line: PostgreSQL 15 cannot start
on a 14 or 17 data directory; MariaDB and MySQL change theirs between
minor series (10.6, 10.11, 11.4), and one upgraded in place needs
mariadb-upgrade, which a restore does not run. SQLite 3 reads every
SQLite 3 file. So a target takes a backup of the same release line.
"""

import re

# Components of the version number that make a release line.
_LINE_LENGTH = {'postgresql': 1, 'mariadb': 2, 'mysql': 2, 'sqlite': 1}
_NUMBERS = re.compile(r'[0-9]+')


def release_line(datastore, version):
    """('15',) for PostgreSQL 15.4, ('10', '11') for MariaDB 10.11.6; the
    whole version for a datastore we know nothing of."""
    numbers = _NUMBERS.findall(version or '')
    length = _LINE_LENGTH.get(datastore)
    if datastore == 'postgresql' and numbers and int(numbers[0]) < 10:
        length = 2      # 9.6 was a major version of its own.
    if length is None or len(numbers) < length:
        return (version,)
    return tuple(numbers[:length])


def why_not_restorable(datastore, backup_version, target_datastore,
                       target_version):
    """None if the target can take the backup; else the reason."""
    if target_datastore != datastore:
        return ('it runs %s, and the backup is of %s.'
                % (target_datastore, datastore))
    if (release_line(datastore, backup_version) !=
            release_line(datastore, target_version)):
        return ('it runs %s %s, and the backup was taken from %s %s: a '
                'physical backup restores into the same release line '
                '(%s) only.' % (datastore, target_version, datastore,
                                backup_version,
                                '.'.join(release_line(datastore,
                                                      backup_version))))
    return None
