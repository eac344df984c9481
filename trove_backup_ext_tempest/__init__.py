"""Tempest plugin of trove-backup-ext: API tests of the backups service."""
