"""Policies of the instances routes we serve, named as Trove's."""

from oslo_policy import policy

from trove_backup_ext.policies import base

PATH = '/v1.0/{project_id}/instances'
PATH_ID = '/v1.0/{project_id}/instances/{instanceId}'
PATH_BACKUPS = '/v1.0/{project_id}/instances/{instanceId}/backups'

INDEX = 'instance:index'
INDEX_ALL_PROJECTS = 'instance:index:all_projects'
SHOW = 'instance:show'
BACKUPS = 'instance:backups'

rules = [
    policy.DocumentedRuleDefault(
        name=INDEX, check_str=base.RULE_ADMIN_OR_OWNER,
        description='List the instances of a project (read from the '
                    'configured instance source).',
        operations=[{'path': PATH, 'method': 'GET'}]),
    policy.DocumentedRuleDefault(
        name=INDEX_ALL_PROJECTS, check_str=base.RULE_ADMIN,
        description='List instances of all projects (all_projects=true) '
                    'or of a named project (project_id=X).',
        operations=[{'path': PATH, 'method': 'GET'}]),
    policy.DocumentedRuleDefault(
        name=SHOW, check_str=base.RULE_ADMIN_OR_OWNER,
        description='Show an instance. One of another project is found '
                    'only by an administrator.',
        operations=[{'path': PATH_ID, 'method': 'GET'}]),
    policy.DocumentedRuleDefault(
        name=BACKUPS, check_str=base.RULE_ADMIN_OR_OWNER,
        description='List the backups of an instance.',
        operations=[{'path': PATH_BACKUPS, 'method': 'GET'}]),
]


def list_rules():
    return rules
