"""Policies of the instances routes we serve, named as Trove's."""

from oslo_policy import policy

from trove_backup_ext.policies import base

PATH_BACKUPS = '/v1.0/{project_id}/instances/{instanceId}/backups'

BACKUPS = 'instance:backups'

rules = [
    policy.DocumentedRuleDefault(
        name=BACKUPS, check_str=base.RULE_ADMIN_OR_OWNER,
        description='List the backups of an instance.',
        operations=[{'path': PATH_BACKUPS, 'method': 'GET'}]),
]


def list_rules():
    return rules
