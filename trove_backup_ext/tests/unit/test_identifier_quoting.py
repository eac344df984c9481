"""The SQL the verification builds from table names (bandit B608): each
name is quoted as one identifier, whatever it holds."""

import sqlite3

from trove_backup_ext.datastores import mariadb_verify
from trove_backup_ext.datastores import sqlite
from trove_backup_ext.tests import base

HOSTILE = ['plain', 'a"b', 'x"; DROP TABLE plain; --', 'sp ace', "q'uote",
           'back`tick']


class IdentifierQuotingTest(base.TestCase):

    def test_sqlite_counts_tables_of_any_name(self):
        connection = sqlite3.connect(':memory:')
        self.addCleanup(connection.close)
        for rows, name in enumerate(HOSTILE):
            quoted = '"%s"' % name.replace('"', '""')
            connection.execute('CREATE TABLE %s (i INTEGER)' % quoted)
            connection.executemany('INSERT INTO %s VALUES (?)' % quoted,
                                   [(i,) for i in range(rows)])
        self.assertEqual({name: rows for rows, name in enumerate(HOSTILE)},
                         sqlite.row_counts(connection))

    def test_mariadb_names_are_one_identifier(self):
        self.assertEqual('`back``tick`', mariadb_verify._quoted('back`tick'))
        self.assertEqual('`x``; DROP TABLE t; --`',
                         mariadb_verify._quoted('x`; DROP TABLE t; --'))
        self.assertEqual('`a"b`', mariadb_verify._quoted('a"b'))
