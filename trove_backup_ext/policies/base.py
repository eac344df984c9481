"""Base rules, named and defined as Trove's so policy files carry over."""

from oslo_policy import policy

RULE_ADMIN = 'rule:admin'
RULE_ADMIN_OR_OWNER = 'rule:admin_or_owner'

rules = [
    policy.RuleDefault('context_is_admin', 'role:admin',
                       description='Decides who is an administrator.'),
    policy.RuleDefault('admin', 'role:admin or is_admin:True',
                       description='An administrator.'),
    policy.RuleDefault('admin_or_owner',
                       'rule:admin or project_id:%(tenant)s',
                       description='An administrator, or a member of the '
                                   'project that owns the target.'),
    policy.RuleDefault('default', RULE_ADMIN_OR_OWNER,
                       description='Rule of any action not listed.'),
]


def list_rules():
    return rules
