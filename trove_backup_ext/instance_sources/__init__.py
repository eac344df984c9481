"""Loads the configured instance source plugin."""

from stevedore import driver

from trove_backup_ext import exception

NAMESPACE = 'trove_backup_ext.instance_sources'


def load(conf):
    try:
        manager = driver.DriverManager(
            NAMESPACE, conf.instance_source, invoke_on_load=True,
            invoke_args=(conf,))
    except Exception as exc:
        raise exception.ConfigurationError(
            'Cannot load instance source %r from namespace %s: %s' % (
                conf.instance_source, NAMESPACE, exc))
    return manager.driver
