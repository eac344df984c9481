"""The access rules made for a container either match the requests sent
for its backups, as auth_token matches them, or the container is refused
(400) before anything is made."""

import testtools

from keystonemiddleware.auth_token import _path_matches

from trove_backup_ext import app_credentials
from trove_backup_ext import exception
from trove_backup_ext import schedule_credentials


# Characters the API takes in swift_container (schemas/backups.py), that
# webob leaves unquoted in Request.path, and that auth_token's
# _path_matches reads as regular-expression syntax.
CONTAINERS = ('db+backups', 'backups(1)', 'a$b', 'backups(', 'db.backups',
              "db-backups_1~!&',;=:@", 'database_backups')


class ContainerNameRegexTest(testtools.TestCase):
    """auth_token matches a rule's path as a regular expression built from
    its literal characters: a container of these names gets credentials
    whose every request auth_token refuses (401), or crashes on (a 500
    from re.error for an unbalanced parenthesis), so its backups fail.
    Either the API refuses such names up front (check_container) or the
    rules it makes match the requests it sends."""

    def _check(self, rules_for, container, backup_id='B'):
        try:
            app_credentials.check_container(container)
        except exception.BadRequest:
            return  # refused with a message: fine
        rules = rules_for(container)
        path = '/v1/AUTH_p/%s/%s' % (app_credentials.quoted(container),
                                     '%s/segment-1' % backup_id)
        matched = []
        for rule in rules:
            try:
                matched.append(bool(_path_matches(path, rule['path'])))
            except Exception as exc:  # re.error in auth_token: a 500
                self.fail('auth_token cannot read the rule %r: %r'
                          % (rule['path'], exc))
        self.assertIn(True, matched,
                      'no rule of container %r lets auth_token pass %s'
                      % (container, path))

    def test_backup_credentials(self):
        for container in CONTAINERS:
            self._check(lambda c: app_credentials.access_rules(
                '/v1/AUTH_p', app_credentials.READ, (c, 'B'), []),
                container)

    def test_schedule_credentials(self):
        # A scheduled backup's id starts with its schedule's prefix.
        schedule_id = '6f1c2b9e-4d1a-4a51-9a0e-1d2c3b4a5f60'
        prefix = schedule_credentials.id_prefix(schedule_id)
        for container in CONTAINERS:
            self._check(lambda c: schedule_credentials.access_rules(
                '/v1/AUTH_p', app_credentials.READ, c, schedule_id),
                container, backup_id=prefix + '8000-000000000000')

    def test_names_that_match_are_not_refused(self):
        for container in ('db.backups', 'database_backups', "a-b_c~!&',;=:@"):
            app_credentials.check_container(container)
