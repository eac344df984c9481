"""Backup statuses, as Trove names them."""

NEW = 'NEW'
BUILDING = 'BUILDING'
SAVING = 'SAVING'        # Kept as a known value; nothing sets it.
COMPLETED = 'COMPLETED'
FAILED = 'FAILED'
DELETE_FAILED = 'DELETE_FAILED'
RESTORED = 'RESTORED'    # Kept as a known value; nothing sets it.

RUNNING = frozenset((NEW, BUILDING, SAVING))
ALL = frozenset((NEW, BUILDING, SAVING, COMPLETED, FAILED, DELETE_FAILED,
                 RESTORED))

FULL = 'full'
INCREMENTAL = 'incremental'

# Restores (their own statuses, as Cinder's restore has its own).
RESTORING = 'RESTORING'
RESTORE_RUNNING = frozenset((NEW, RESTORING))
RESTORE_ALL = frozenset((NEW, RESTORING, COMPLETED, FAILED))

# A backup's verification.
VERIFY_RUNNING = 'RUNNING'
VERIFY_PASSED = 'PASSED'
VERIFY_FAILED = 'FAILED'
