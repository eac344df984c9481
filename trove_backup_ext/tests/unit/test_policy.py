"""Policy defaults: Trove's names and meanings."""

from trove_backup_ext import context as backup_context
from trove_backup_ext import exception
from trove_backup_ext import policies
from trove_backup_ext import policy
from trove_backup_ext.tests import base
from trove_backup_ext.tests import service_fixtures


class PolicyDefaultsTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(service_fixtures.Conf())

    @staticmethod
    def _context(project, roles):
        context = backup_context.RequestContext(project_id=project,
                                                roles=roles)
        context.is_admin = policy.check_is_admin(context)
        return context

    def test_trove_rule_names(self):
        names = {rule.name for rule in policies.list_rules()}
        self.assertTrue({'backup:index', 'backup:index:all_projects',
                         'backup:show', 'backup:create',
                         'backup:delete'} <= names)

    def test_owner_allowed_other_project_refused(self):
        member = self._context('p1', ['member'])
        for action in ('backup:index', 'backup:show', 'backup:create',
                       'backup:delete'):
            policy.authorize(member, action, policy.project_target('p1'))
            self.assertRaises(exception.PolicyNotAuthorized,
                              policy.authorize, member, action,
                              policy.project_target('p2'))

    def test_all_projects_admin_only(self):
        member = self._context('p1', ['member'])
        exc = self.assertRaises(exception.PolicyNotAuthorized,
                                policy.authorize, member,
                                'backup:index:all_projects',
                                policy.project_target('p1'))
        self.assertEqual(403, exc.code)
        self.assertIn('backup:index:all_projects', str(exc))
        admin = self._context('p1', ['admin'])
        self.assertTrue(admin.is_admin)
        policy.authorize(admin, 'backup:index:all_projects',
                         policy.project_target('p1'))
        policy.authorize(admin, 'backup:delete', policy.project_target('p9'))
