"""Service clients of the tempest plugin."""

from trove_backup_ext_tempest.services.backups_client import BackupsClient
from trove_backup_ext_tempest.services.restores_client import RestoresClient

__all__ = ['BackupsClient', 'RestoresClient']
