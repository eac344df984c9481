"""The tempest.test_plugins entry point of trove-backup-ext."""

import os

from tempest import config
from tempest.test_discover import plugins

from trove_backup_ext_tempest import config as plugin_config


class TroveBackupExtTempestPlugin(plugins.TempestPlugin):

    def load_tests(self):
        top_level = os.path.dirname(os.path.dirname(os.path.abspath(
            __file__)))
        return (os.path.join(top_level, 'trove_backup_ext_tempest', 'tests'),
                top_level)

    def register_opts(self, conf):
        conf.register_opt(plugin_config.service_option,
                          group='service_available')
        conf.register_group(plugin_config.database_backup_group)
        conf.register_opts(plugin_config.DatabaseBackupGroup,
                           group=plugin_config.database_backup_group)

    def get_opt_lists(self):
        return plugin_config.list_opts()

    def get_service_clients(self):
        # Its own name: trove-tempest-plugin registers "database".
        params = {
            'name': 'database_backup',
            'service_version': 'database_backup.v1',
            'module_path': 'trove_backup_ext_tempest.services',
            'client_names': ['BackupSchedulesClient', 'BackupsClient',
                             'RestoresClient'],
        }
        params.update(config.service_client_config('database_backup'))
        return [params]
