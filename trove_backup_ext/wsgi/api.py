"""WSGI entry point of the API, for uwsgi, mod_wsgi or gunicorn.

Configuration files come from TROVE_BACKUP_EXT_CONFIG_FILES (comma
separated), else /etc/trove-backup-ext/trove-backup-ext.conf.
"""

import os

from trove_backup_ext.api import deploy
from trove_backup_ext import service


def init_application():
    files = [f.strip() for f in
             os.environ.get('TROVE_BACKUP_EXT_CONFIG_FILES', '').split(',')
             if f.strip()]
    conf = service.prepare(files)
    application = deploy.deploy(conf)
    service.freeze_startup_objects()
    return application


def __getattr__(name):
    # Built on first access, not on import, so importing this module (for
    # docs or tests) needs no configuration.
    if name == 'application':
        global application
        application = init_application()
        return application
    raise AttributeError(name)
