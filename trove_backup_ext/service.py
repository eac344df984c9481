"""Start-up shared by the commands: config, logging, database."""

import gc
import os

from oslo_log import log as logging

from trove_backup_ext import conf as backup_conf
from trove_backup_ext.db import api as db_api

DEFAULT_CONFIG_FILE = '/etc/trove-backup-ext/trove-backup-ext.conf'
_PREPARED = False


def parse_args(argv, default_config_files=None):
    conf = backup_conf.CONF
    if default_config_files is None:
        default_config_files = ([DEFAULT_CONFIG_FILE]
                                if os.path.exists(DEFAULT_CONFIG_FILE)
                                else [])
    conf(argv, project='trove-backup-ext',
         default_config_files=default_config_files)
    return conf


def setup(conf):
    """Logging and the database engine; once per process."""
    global _PREPARED
    if not _PREPARED:
        logging.setup(conf, 'trove-backup-ext')
        db_api.configure(conf)
        _PREPARED = True
    return conf


def prepare(config_files):
    """Parse config_files (or the default file) and set up; for WSGI and
    paste loaders, which have no command line."""
    conf = parse_args([], default_config_files=config_files or None)
    return setup(conf)


def freeze_startup_objects():
    """Keep what start-up loaded out of the garbage collector's passes.

    A large list page sets off full collections, which otherwise walk every
    module and object loaded at start-up: most of such a page's p95.
    """
    gc.collect()
    gc.freeze()
