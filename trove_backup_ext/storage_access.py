"""How the worker reaches a backup's storage, and what it gives an agent.

A backup in the service's own account (the default) needs nothing: the
worker and the agent use [swift]'s credentials. A backup in its owner's
account has either application credentials, one per phase (its own,
app_credentials.py, or those of the schedule that made it,
schedule_credentials.py), or a trust (trusts.py, the fallback, and backups
made before application credentials). Either way an agent gets a token
issued for the phase it runs, never a password or a secret; the worker
revokes each credential when its phase can no longer come: the write one
when the backup is COMPLETED or FAILED, the read one when it FAILED, all
of them when it is deleted (a schedule's: when the schedule and the
backups that use them are gone).
"""

import datetime

from oslo_log import log as logging
from oslo_utils import timeutils

from trove_backup_ext import app_credentials
from trove_backup_ext.db import lifecycle
from trove_backup_ext.db import storage_credentials as credentials_db
from trove_backup_ext import exception
from trove_backup_ext import schedule_credentials
from trove_backup_ext import states
from trove_backup_ext import storage
from trove_backup_ext.storage import base as storage_base
from trove_backup_ext import trusts

LOG = logging.getLogger(__name__)

WRITE = app_credentials.WRITE
READ = app_credentials.READ
DELETE = app_credentials.DELETE
# A schedule's credentials are made just before its row is written: the
# reaper leaves younger ones of no schedule alone.
_SCHEDULE_MAKING = datetime.timedelta(minutes=10)
# Phases that can no longer come once a backup ended so.
_ENDED = {states.COMPLETED: (WRITE,), states.FAILED: (WRITE, READ)}


def check_worker(conf):
    """Refuse at start-up a worker that could not reach owner-account
    backups: it needs the service user (revocations, trusts) and the key
    the credentials' secrets are derived from."""
    o = conf.swift
    missing = [name for name, value in (
        ('user', o.user), ('key', o.key),
        ('credential_secret_key', o.credential_secret_key
         if o.owner_account_credentials == 'application_credential'
         else 'unused')) if not value]
    if o.store_in_owner_account and missing:
        raise exception.ConfigurationError(
            'The worker needs [swift] %s with store_in_owner_account.'
            % ', '.join(missing))


def _held(context, backup):
    """Whether the backup is reached with credentials: its own, or its
    schedule's (schedule_credentials.py)."""
    if backup.credential_schedule_id:
        return True
    return bool(credentials_db.of_backup(context, backup.id))


def _credential(context, backup, phase):
    if backup.credential_schedule_id:
        row = credentials_db.of_schedule(
            context, backup.credential_schedule_id, [phase]).get(phase)
    else:
        row = credentials_db.get(context, backup.id, phase)
    if row is None:
        raise exception.StorageCredentialGone(
            reason='Backup %s has no %s credential any more (it was '
                   'revoked).' % (backup.id, phase))
    return row


def refused(exc):
    """Whether exc, from reaching a backup's storage, says its credential
    is refused or gone: trying again will not help until someone acts
    (worker/delete_retries.py)."""
    return isinstance(exc, (storage_base.CredentialRefused,
                            exception.StorageCredentialGone))


def agent_fields(conf, context, backup, phase):
    """What the backup's info in a message to an agent carries to reach
    storage: {'storage_access': {token, storage_url, expires}} for an
    owner-account backup, else nothing."""
    if backup.trust_id:
        return {'storage_access': trusts.issue_token(conf, backup.trust_id)}
    if _held(context, backup):
        return {'storage_access': app_credentials.issue_token(
            conf, _credential(context, backup, phase))}
    return {}


def driver(conf, context, backup, phase):
    """The storage driver the worker itself uses for phase of backup."""
    if backup.trust_id:
        return storage.load(conf, backup.storage_driver,
                            trust_id=backup.trust_id)
    if backup.storage_driver == 'swift' and _held(context, backup):
        return storage.load(conf, backup.storage_driver,
                            session=app_credentials.session_for(
                                conf, _credential(context, backup, phase)))
    return storage.load(conf, backup.storage_driver)


def _revoke(conf, context, backup_id, phases=None):
    try:
        for row in credentials_db.of_backup(context, backup_id, phases):
            app_credentials.revoke(conf, context, row)
    except Exception as exc:
        # Never the caller's failure: the reaper tries again.
        LOG.warning('Could not revoke the storage credentials of backup '
                    '%s (%s); the reaper tries again.', backup_id,
                    type(exc).__name__)


def ended(conf, context, backup_id, status):
    """Revoke what a backup that ended in status no longer needs (of its
    schedule's credentials: the write one, if the schedule is gone and
    this was its last running backup)."""
    if status in _ENDED:
        _revoke(conf, context, backup_id, _ENDED[status])
        try:
            backup = lifecycle.get(context, backup_id)
        except Exception as exc:
            # Never the caller's failure: the reaper finds it.
            LOG.warning('Could not read backup %s to release its '
                        'schedule\'s credentials (%s).', backup_id,
                        type(exc).__name__)
            return
        if backup is not None and backup.credential_schedule_id:
            schedule_credentials.release_unneeded(
                conf, context, backup.credential_schedule_id)


def deleted(conf, context, backup):
    """Revoke everything of a backup whose row is gone (its schedule's
    credentials, if the schedule is gone and this was its last backup)."""
    _revoke(conf, context, backup.id)
    if backup.credential_schedule_id:
        schedule_credentials.release_unneeded(conf, context,
                                              backup.credential_schedule_id)
    if backup.trust_id:
        trusts.release(conf, backup.trust_id, backup.id)


def revoke_left_over(conf, context):
    """The reaper's pass: revocations that failed before; how many were
    done."""
    done = 0
    try:
        for row in credentials_db.left_over(
                context, made_before=timeutils.utcnow() - _SCHEDULE_MAKING):
            done += bool(app_credentials.revoke(conf, context, row))
    except Exception as exc:
        LOG.warning('Revoking left-over storage credentials failed (%s); '
                    'the next pass tries again.', type(exc).__name__)
    return done
