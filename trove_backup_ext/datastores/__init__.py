"""Loads datastore drivers."""

from stevedore import driver

from trove_backup_ext import exception

NAMESPACE = 'trove_backup_ext.datastores'


def load(conf, name):
    try:
        return driver.DriverManager(NAMESPACE, name, invoke_on_load=True,
                                    invoke_args=(conf,)).driver
    except Exception as exc:
        raise exception.ConfigurationError(
            'Cannot load datastore driver %r from namespace %s: %s'
            % (name, NAMESPACE, exc))
