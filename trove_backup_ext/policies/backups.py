"""Policies of the backups resource."""

from oslo_policy import policy

from trove_backup_ext.policies import base

PATH = '/v1.0/{project_id}/backups'
PATH_ID = '/v1.0/{project_id}/backups/{backupId}'

INDEX = 'backup:index'
INDEX_ALL_PROJECTS = 'backup:index:all_projects'
SHOW = 'backup:show'
CREATE = 'backup:create'
DELETE = 'backup:delete'
VERIFY = 'backup:verify'
PATH_VERIFY = '/v1.0/{project_id}/backups/{backupId}/verify'

rules = [
    policy.DocumentedRuleDefault(
        name=INDEX, check_str=base.RULE_ADMIN_OR_OWNER,
        description='List the backups of a project.',
        operations=[{'path': PATH, 'method': 'GET'}]),
    policy.DocumentedRuleDefault(
        name=INDEX_ALL_PROJECTS, check_str=base.RULE_ADMIN,
        description='List backups of all projects (all_projects=true) or '
                    'of a named project (project_id=X).',
        operations=[{'path': PATH, 'method': 'GET'}]),
    policy.DocumentedRuleDefault(
        name=SHOW, check_str=base.RULE_ADMIN_OR_OWNER,
        description='Show a backup.',
        operations=[{'path': PATH_ID, 'method': 'GET'}]),
    policy.DocumentedRuleDefault(
        name=CREATE, check_str=base.RULE_ADMIN_OR_OWNER,
        description='Create a backup of an instance.',
        operations=[{'path': PATH, 'method': 'POST'}]),
    policy.DocumentedRuleDefault(
        name=DELETE, check_str=base.RULE_ADMIN_OR_OWNER,
        description='Delete a backup and its incremental backups.',
        operations=[{'path': PATH_ID, 'method': 'DELETE'}]),
    policy.DocumentedRuleDefault(
        name=VERIFY, check_str=base.RULE_ADMIN_OR_OWNER,
        description='Verify a backup: restore it into a scratch place and '
                    'check it there.',
        operations=[{'path': PATH_VERIFY, 'method': 'POST'}]),
]


def list_rules():
    return rules
