"""trove-backup-status: is this deployment ready? (upgrade check)

Exit code 0 when every check passed, 1 when one warns, 2 when one failed
(255 if a check itself crashed), as oslo.upgradecheck defines.
"""

import os
import sys

from oslo_upgradecheck import upgradecheck

from trove_backup_ext import conf as backup_conf
from trove_backup_ext import service
from trove_backup_ext import upgrade_checks


def main(argv=None):
    conf = backup_conf.CONF
    # The table goes to stdout, where scripts read it; logs to stderr.
    conf.set_default('use_stderr', True)
    default_files = ([service.DEFAULT_CONFIG_FILE]
                     if os.path.exists(service.DEFAULT_CONFIG_FILE) else [])
    return upgradecheck.main(
        conf, project='trove-backup-ext',
        upgrade_command=upgrade_checks.Checks(conf),
        argv=sys.argv[1:] if argv is None else argv,
        default_config_files=default_files)


if __name__ == '__main__':
    sys.exit(main())
