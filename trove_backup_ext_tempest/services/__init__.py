"""Service clients of the tempest plugin."""

from trove_backup_ext_tempest.services.backup_schedules_client import (
    BackupSchedulesClient)
from trove_backup_ext_tempest.services.backups_client import BackupsClient
from trove_backup_ext_tempest.services.restores_client import RestoresClient

__all__ = ['BackupSchedulesClient', 'BackupsClient', 'RestoresClient']
