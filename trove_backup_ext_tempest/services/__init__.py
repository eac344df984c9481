"""Service clients of the tempest plugin."""

from trove_backup_ext_tempest.services.backups_client import BackupsClient

__all__ = ['BackupsClient']
