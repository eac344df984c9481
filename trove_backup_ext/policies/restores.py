"""Policies of the restores resource."""

from oslo_policy import policy

from trove_backup_ext.policies import base

PATH = '/v1.0/{project_id}/restores'
PATH_ID = '/v1.0/{project_id}/restores/{restoreId}'
ALIAS = '/v1.0/{project_id}/backups/{backupId}/restore'

INDEX = 'restore:index'
INDEX_ALL_PROJECTS = 'restore:index:all_projects'
SHOW = 'restore:show'
CREATE = 'restore:create'

rules = [
    policy.DocumentedRuleDefault(
        name=INDEX, check_str=base.RULE_ADMIN_OR_OWNER,
        description='List the restores into a project\'s instances.',
        operations=[{'path': PATH, 'method': 'GET'}]),
    policy.DocumentedRuleDefault(
        name=INDEX_ALL_PROJECTS, check_str=base.RULE_ADMIN,
        description='List restores of all projects (all_projects=true) or '
                    'of a named project (project_id=X).',
        operations=[{'path': PATH, 'method': 'GET'}]),
    policy.DocumentedRuleDefault(
        name=SHOW, check_str=base.RULE_ADMIN_OR_OWNER,
        description='Show a restore.',
        operations=[{'path': PATH_ID, 'method': 'GET'}]),
    policy.DocumentedRuleDefault(
        name=CREATE, check_str=base.RULE_ADMIN_OR_OWNER,
        description='Restore a backup into an instance (replacing its '
                    'data). A backup or an instance of another project is '
                    'found only by an administrator.',
        operations=[{'path': PATH, 'method': 'POST'},
                    {'path': ALIAS, 'method': 'POST'}]),
]


def list_rules():
    return rules
