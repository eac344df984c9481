"""Policies of the backup strategies resource, named as Trove's."""

from oslo_policy import policy

from trove_backup_ext.policies import base

PATH = '/v1.0/{project_id}/backup_strategies'

INDEX = 'backup_strategy:index'
CREATE = 'backup_strategy:create'
DELETE = 'backup_strategy:delete'

rules = [
    policy.DocumentedRuleDefault(
        name=CREATE, check_str=base.RULE_ADMIN_OR_OWNER,
        description="Create or change the backup strategy (the default "
                    "Swift container) of a project or of one of its "
                    "instances.",
        operations=[{'path': PATH, 'method': 'POST'}]),
    policy.DocumentedRuleDefault(
        name=INDEX, check_str=base.RULE_ADMIN_OR_OWNER,
        description='List the backup strategies of a project.',
        operations=[{'path': PATH, 'method': 'GET'}]),
    policy.DocumentedRuleDefault(
        name=DELETE, check_str=base.RULE_ADMIN_OR_OWNER,
        description='Delete a backup strategy of a project.',
        operations=[{'path': PATH, 'method': 'DELETE'}]),
]


def list_rules():
    return rules
