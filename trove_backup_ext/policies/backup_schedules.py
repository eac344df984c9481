"""Policies of the backup schedules resource."""

from oslo_policy import policy

from trove_backup_ext.policies import base

PATH = '/v1.0/{project_id}/backup_schedules'
PATH_ID = '/v1.0/{project_id}/backup_schedules/{scheduleId}'
PREVIEW = PATH_ID + '/retention_preview'
# "health" is no UUID, so never a schedule's id.
HEALTH_PATH = PATH + '/health'

INDEX = 'backup_schedule:index'
INDEX_ALL_PROJECTS = 'backup_schedule:index:all_projects'
SHOW = 'backup_schedule:show'
CREATE = 'backup_schedule:create'
UPDATE = 'backup_schedule:update'
DELETE = 'backup_schedule:delete'
HEALTH = 'backup_schedule:health'

rules = [
    policy.DocumentedRuleDefault(
        name=INDEX, check_str=base.RULE_ADMIN_OR_OWNER,
        description='List a project\'s backup schedules.',
        operations=[{'path': PATH, 'method': 'GET'}]),
    policy.DocumentedRuleDefault(
        name=INDEX_ALL_PROJECTS, check_str=base.RULE_ADMIN,
        description='List backup schedules of all projects '
                    '(all_projects=true) or of a named project '
                    '(project_id=X).',
        operations=[{'path': PATH, 'method': 'GET'}]),
    policy.DocumentedRuleDefault(
        name=SHOW, check_str=base.RULE_ADMIN_OR_OWNER,
        description='Show a backup schedule, and which of its backups the '
                    'next pruning would delete.',
        operations=[{'path': PATH_ID, 'method': 'GET'},
                    {'path': PREVIEW, 'method': 'GET'}]),
    policy.DocumentedRuleDefault(
        name=CREATE, check_str=base.RULE_ADMIN_OR_OWNER,
        description='Create a backup schedule of an instance. An instance '
                    'of another project is found only by an administrator.',
        operations=[{'path': PATH, 'method': 'POST'}]),
    policy.DocumentedRuleDefault(
        name=UPDATE, check_str=base.RULE_ADMIN_OR_OWNER,
        description='Change a backup schedule (its times, retention, '
                    'enabled).',
        operations=[{'path': PATH_ID, 'method': 'PATCH'}]),
    policy.DocumentedRuleDefault(
        name=DELETE, check_str=base.RULE_ADMIN_OR_OWNER,
        description='Delete a backup schedule (the backups it made stay).',
        operations=[{'path': PATH_ID, 'method': 'DELETE'}]),
    policy.DocumentedRuleDefault(
        name=HEALTH, check_str=base.RULE_ADMIN,
        description='Summarize the backup schedules of every project: '
                    'those with no successful backup for twice their '
                    'period.',
        operations=[{'path': HEALTH_PATH, 'method': 'GET'}]),
]


def list_rules():
    return rules
