"""All policy rules in code, for the enforcer and the sample generator."""

import itertools

from trove_backup_ext.policies import backup_schedules
from trove_backup_ext.policies import backup_strategies
from trove_backup_ext.policies import backups
from trove_backup_ext.policies import base
from trove_backup_ext.policies import instances
from trove_backup_ext.policies import restores


def list_rules():
    return list(itertools.chain(base.list_rules(), backups.list_rules(),
                                backup_strategies.list_rules(),
                                backup_schedules.list_rules(),
                                instances.list_rules(),
                                restores.list_rules()))
