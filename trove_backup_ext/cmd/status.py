"""trove-backup-status: is this deployment ready? (upgrade check)

`trove-backup-status schedules` prints the backup schedules' summary
(JSON): those with no COMPLETED backup for twice their period.

Exit code 0 when every check passed, 1 when one warns, 2 when one failed
(255 if a check itself crashed), as oslo.upgradecheck defines.
"""

import json
import os
import sys

from oslo_upgradecheck import upgradecheck

from trove_backup_ext import conf as backup_conf
from trove_backup_ext import context
from trove_backup_ext import service
from trove_backup_ext.services import schedule_health
from trove_backup_ext import upgrade_checks


def main(argv=None):
    conf = backup_conf.CONF
    # The table goes to stdout, where scripts read it; logs to stderr.
    conf.set_default('use_stderr', True)
    default_files = ([service.DEFAULT_CONFIG_FILE]
                     if os.path.exists(service.DEFAULT_CONFIG_FILE) else [])
    argv = sys.argv[1:] if argv is None else argv
    if 'schedules' in argv and 'upgrade' not in argv:
        return _schedules(conf, [a for a in argv if a != 'schedules'],
                          default_files)
    return upgradecheck.main(
        conf, project='trove-backup-ext',
        upgrade_command=upgrade_checks.Checks(conf),
        argv=argv, default_config_files=default_files)


def _schedules(conf, argv, default_files):
    """trove-backup-status schedules: the admin summary of the backup
    schedules as JSON; exit 1 if one had no success for twice its
    period."""
    conf(argv, project='trove-backup-ext',
         default_config_files=default_files)
    conf.set_override('max_retries', 0, group='database')
    service.setup(conf)
    summary = schedule_health.summary(context.get_admin_context())
    json.dump(summary, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write('\n')
    return 1 if summary['overdue'] else 0


if __name__ == '__main__':
    sys.exit(main())
