"""Storage credentials of backup schedules: owner-account backups with no
caller's token.

A scheduled backup has no caller whose token could make its credentials
(app_credentials.py). So the API makes them when the schedule is created
(or PATCHed to enabled without them), from that caller's token: three
restricted application credentials, one per phase, as a backup's, whose
access rules reach the objects of the schedule's backups only. Those ids
are not known in advance, so they are made to share a prefix: a scheduled
backup's id is id_prefix(schedule id) + 16 hex digits of its run (UUID
version 5 in form, and so never the id of a backup made by hand, which is
version 4); the rules name <account>/<container>/<prefix>*/**.

Each scheduled backup records the schedule (backups.credential_schedule_id)
and is reached with its credentials for as long as it lives, the schedule
deleted or not. They are revoked once the schedule is deleted and no
backup uses them (the write one: none running), at once by whoever
notices (the API deleting the schedule, the worker ending or deleting its
last backup), else by the reaper. Nothing here logs a credential's id or
secret (schedule ids, yes).
"""

import hashlib
import uuid

from keystoneauth1 import exceptions as ks_exceptions
from oslo_log import log as logging
from oslo_utils import uuidutils

from trove_backup_ext import app_credentials
from trove_backup_ext.db import backup_strategies as backup_strategies_db
from trove_backup_ext.db import storage_credentials as credentials_db
from trove_backup_ext import exception
from trove_backup_ext import trusts

LOG = logging.getLogger(__name__)

PHASES = app_credentials.PHASES
WRITE, READ, DELETE = (app_credentials.WRITE, app_credentials.READ,
                       app_credentials.DELETE)


class StorageCredentialNotFound(exception.NotFound):
    """The scheduler skips the slot at once (as for a missing instance)."""
    message = ('Backup schedule %(uuid)s has no storage credential: '
               'backups are kept in its project\'s own Swift account, '
               'and it was made before that or without one. Its owner '
               'gives it one by setting it enabled again (PATCH '
               '{"backup_schedule": {"enabled": true}}).')


def needed(conf):
    """Whether scheduled backups need a schedule's credentials here."""
    return bool(conf.swift.store_in_owner_account and
                conf.storage_strategy == 'swift')


def id_prefix(schedule_id):
    """The first 19 characters of every id of the schedule's backups:
    60 bits of its id's SHA-256, the version digit 5 where a UUID has
    it."""
    digest = hashlib.sha256(b'trove-backup-ext schedule ' +
                            schedule_id.encode()).hexdigest()
    return '%s-%s-5%s-' % (digest[:8], digest[8:12], digest[12:15])


def slot_backup_id(schedule_id, run_id):
    """The id of a run's backup under the schedule's prefix: the same on
    every attempt, and a UUID in form (variant bits set)."""
    tail = uuid.uuid5(uuid.NAMESPACE_URL, 'trove-backup-ext run ' +
                      run_id).hex[16:]
    return '%s%s-%s' % (id_prefix(schedule_id), tail[:4], tail[4:])


def prefix_of(context, schedule):
    """The id prefix of the schedule's next backup: id_prefix if it holds
    a write credential, else None (backups as any other)."""
    if credentials_db.of_schedule(context, schedule.id, [WRITE]):
        return id_prefix(schedule.id)
    return None


def access_rules(account, phase, container, schedule_id):
    """As app_credentials.access_rules, for every backup of a schedule:
    its objects are <account>/<container>/<prefix>*/** ."""
    root = '%s/%s' % (account, app_credentials.quoted(container))
    own = '%s/%s*/**' % (root, id_prefix(schedule_id))
    if phase == WRITE:
        # An incremental reads its parent: the schedule's own backups
        # only (db/backups.py picks it so). Not the container itself (a
        # PUT of it sets ACLs or a temp-URL key that would open every
        # backup in it): the API makes it with the caller's token.
        rules = [('PUT', own), ('GET', own)]
    elif phase == READ:
        rules = [('GET', own), ('HEAD', own)]
    else:
        rules = [('GET', root), ('DELETE', own), ('HEAD', own)]
    app_credentials.check_rule_paths([path for _, path in rules])
    return [{'service': 'object-store', 'method': method, 'path': path}
            for method, path in rules]


class ScheduleCredentialMaker:
    """The API's side: a schedule's credentials from the caller's token."""

    def __init__(self, conf):
        self.conf = conf
        self.options = conf.swift
        self._backups = app_credentials.CredentialMaker(conf)

    def create(self, context, schedule_id, project_id, instance_id):
        """Make the schedule's missing credentials (all or none); the
        container they reach. Refused (4xx) when they cannot be made."""
        if self.options.owner_account_credentials != 'application_credential':
            raise exception.UnprocessableEntity(
                reason='backups are kept in your project\'s own Swift '
                       'account, and this deployment makes their '
                       'credentials as Keystone trusts '
                       '([swift] owner_account_credentials = trust), '
                       'which scheduled backups cannot use: they need '
                       'application credentials with access rules.')
        have = credentials_db.of_schedule(context, schedule_id)
        if WRITE in have:
            return have[WRITE].container
        role = self._backups.check(context, project_id)
        container = (backup_strategies_db.default_container(
            context, project_id, instance_id) or
            self.conf.backup_swift_container)
        app_credentials.check_container(container)
        session = self._backups.caller_session(context)
        made = []
        try:
            account = app_credentials.account_path(self.options, session)
            app_credentials.make_container(self.options, session, container)
            for phase in PHASES:
                if phase not in have:
                    made.append(self._create_one(
                        context, session, schedule_id, project_id, phase,
                        role, account, container))
        except (ks_exceptions.Unauthorized,
                ks_exceptions.Forbidden) as exc:
            self._delete(context, session, made)
            raise exception.Forbidden(
                'Keystone refused to let your token make the application '
                'credential a backup schedule storing in your project\'s '
                'own Swift account needs (a token of an application '
                'credential cannot make another unless it is '
                'unrestricted; use a password or token login): %s'
                % trusts.reason(exc))
        except (ks_exceptions.NotFound, ks_exceptions.BadRequest) as exc:
            self._delete(context, session, made)
            raise exception.UnprocessableEntity(
                reason='this cloud\'s Keystone cannot make application '
                       'credentials with access rules (Train or later is '
                       'needed), which a backup schedule storing in your '
                       'project\'s own Swift account needs: %s'
                       % trusts.reason(exc))
        except ks_exceptions.ClientException as exc:
            self._delete(context, session, made)
            LOG.warning('Creating the storage credentials of backup '
                        'schedule %s failed: %s', schedule_id,
                        trusts.status(exc))
            raise exception.ServiceUnavailable(
                reason='Keystone could not create the credentials the '
                       'backup schedule needs (%s).' % trusts.reason(exc))
        except Exception:
            self._delete(context, session, made)
            raise
        return container

    def _create_one(self, context, session, schedule_id, project_id, phase,
                    role, account, container):
        row_id = uuidutils.generate_uuid()
        kid = app_credentials.key_id(self.options.credential_secret_key)
        made = self._backups.post_credential(context, session, {
            # The row's id too: a name left by a failed clean-up never
            # blocks the next attempt.
            'name': 'trove-backup-schedule-%s-%s-%s' % (
                schedule_id, phase, row_id[:8]),
            'description': 'The %s phase of the backups of schedule %s '
                           '(trove-backup-ext).' % (phase, schedule_id),
            'secret': app_credentials.secret(self.options, row_id, kid),
            'roles': [{'name': role}],
            'unrestricted': False,
            'access_rules': access_rules(account, phase, container,
                                         schedule_id),
            # Lives with the schedule and its backups; revoked then.
            'expires_at': None})
        try:
            return credentials_db.add(context, {
                'id': row_id, 'schedule_id': schedule_id, 'phase': phase,
                'container': container, 'credential_id': made['id'],
                'user_id': context.user_id, 'project_id': project_id,
                'key_id': kid, 'expires_at': None})
        except Exception:
            # Another request gave the schedule this phase meanwhile.
            self._backups.delete_credential(session, context.user_id,
                                            made['id'], schedule_id)
            raise

    def _delete(self, context, session, rows):
        for row in rows:
            self._backups.delete_credential(
                session, row.user_id, row.credential_id,
                schedule_id=row.schedule_id)
            credentials_db.remove(context, row.id)

    def discard(self, context, schedule_id, rows=None):
        """Best effort, with the caller's token: credentials made for a
        schedule that was not created or changed after all."""
        rows = list(credentials_db.of_schedule(context, schedule_id).values()
                    if rows is None else rows)
        self._delete(context, self._backups.caller_session(context), rows)


def release_unneeded(conf, context, schedule_id):
    """Revoke what a deleted schedule's backups no longer need (as the
    [swift] service user); a failure is left for the reaper."""
    try:
        for row in credentials_db.unneeded_of_schedule(context, schedule_id):
            app_credentials.revoke(conf, context, row)
    except Exception as exc:
        LOG.warning('Could not revoke the storage credentials of backup '
                    'schedule %s (%s); the reaper tries again.',
                    schedule_id, type(exc).__name__)


class ScheduledStorage:
    """The worker's side: a scheduled backup is made with its schedule's
    credentials, in their container."""

    def __init__(self, conf):
        self.conf = conf

    def prepare(self, context, schedule, values):
        """Point the new backup's values at the schedule's credentials."""
        write = credentials_db.of_schedule(context, schedule.id,
                                           [WRITE]).get(WRITE)
        if write is None or not values['id'].startswith(
                id_prefix(schedule.id)):
            raise StorageCredentialNotFound(uuid=schedule.id)
        values['container'] = write.container
        values['credential_schedule_id'] = schedule.id
