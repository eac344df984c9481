"""What the API does to backup schedules, apart from HTTP: check, write.

Nothing is cast: the worker's scheduler finds due schedules by their
next_run, which is computed here whenever the times or enabled change.
"""

from importlib import metadata

from oslo_utils import timeutils
from oslo_utils import uuidutils

from trove_backup_ext.db import backup_schedules as schedules_db
from trove_backup_ext.db import storage_credentials as credentials_db
from trove_backup_ext import exception
from trove_backup_ext import schedule_credentials
from trove_backup_ext.services import instance_access
from trove_backup_ext.services import retention as retention_service
from trove_backup_ext.services import schedule_times

# The schedule's retention object: the rules retention applies.
RETENTION_KEYS = retention_service.POLICY_KEYS
# Columns whose change moves next_run.
_TIME_FIELDS = ('full_cron', 'incremental_cron', 'timezone', 'enabled')
_DATASTORES = 'trove_backup_ext.datastores'
# Concurrent PATCHes of one schedule: each is applied again to the row
# the other wrote, this many times, before a 409.
_UPDATE_ATTEMPTS = 3


def _canonical(uuid):
    return uuid.lower() if uuid else uuid


def _field(name):
    # Named as the validator names body fields.
    return "backup_schedule[%r]" % name


def backed_up_datastores():
    """Names of the datastore drivers installed (what can be backed up)."""
    return {ep.name for ep in metadata.entry_points(group=_DATASTORES)}


def _check_times(values):
    """Validate the crons and zone of values in place (normalized)."""
    values['full_cron'] = schedule_times.validate_cron(
        values['full_cron'], _field('full_cron'))
    if values.get('incremental_cron') is not None:
        values['incremental_cron'] = schedule_times.validate_cron(
            values['incremental_cron'], _field('incremental_cron'))
    schedule_times.validate_timezone(values['timezone'], _field('timezone'))


def _retention(rules):
    # JSON Schema's "integer" admits 3.0; the row and the view hold 3.
    return {key: None if value is None else int(value)
            for key, value in rules.items()}


def _next_run(values, now):
    if not values['enabled']:
        return None
    slot, _ = schedule_times.next_schedule_slot(
        values['full_cron'], values.get('incremental_cron'),
        values['timezone'], now)
    return slot


class BackupScheduleService:

    def __init__(self, conf, instance_source, credentials=None):
        """credentials: a schedule_credentials.ScheduleCredentialMaker
        when scheduled backups are kept in their owners' Swift accounts
        (each schedule gets its own credentials from its creator)."""
        self.conf = conf
        self.instances = instance_source
        self.credentials = credentials

    @staticmethod
    def _visible_project(context):
        return None if context.is_admin else context.project_id

    def get(self, context, schedule_id):
        """The schedule if the caller may see it, else 404."""
        if not uuidutils.is_uuid_like(schedule_id):
            raise exception.BackupScheduleNotFound(uuid=schedule_id)
        return schedules_db.get(context, _canonical(schedule_id),
                                self._visible_project(context))

    def list_page(self, context, limit, project_id, instance_id=None,
                  after=None):
        """A page plus whether more follow; project_id None: all."""
        rows = schedules_db.list_page(context, limit + 1, project_id,
                                      _canonical(instance_id), after=after)
        return rows[:limit], len(rows) > limit

    def create(self, context, project_id, spec):
        """Create a schedule of an instance of project_id from a request
        the schema admitted; its next_run is the first slot from now."""
        instance = instance_access.project_instance(
            self.instances, context, spec['instance_id'], project_id)
        if instance.datastore not in backed_up_datastores():
            raise exception.UnprocessableEntity(
                reason='instance %s is of datastore %s, which this '
                       'service cannot back up' % (instance.id,
                                                   instance.datastore))
        values = {
            'name': spec['name'],
            'description': spec.get('description'),
            'project_id': project_id,
            'user_id': context.user_id,
            'instance_id': instance.id,
            'full_cron': spec['full_cron'],
            'incremental_cron': spec.get('incremental_cron'),
            'timezone': spec.get('timezone', 'UTC'),
            'enabled': spec.get('enabled', True),
        }
        retention = _retention(spec.get('retention') or {})
        values.update({key: retention.get(key) for key in RETENTION_KEYS})
        _check_times(values)
        values['next_run'] = _next_run(values, timeutils.utcnow())
        if self.credentials is None:
            return schedules_db.create(context, values)
        # Its credentials first: refused (4xx), nothing is written.
        values['id'] = uuidutils.generate_uuid()
        self.credentials.create(context, values['id'], project_id,
                                instance.id)
        try:
            return schedules_db.create(context, values)
        except Exception:
            self.credentials.discard(context, values['id'])
            raise

    def update(self, context, schedule, changes):
        """Apply a PATCH the schema admitted (JSON merge patch: a null
        clears a nullable field) to schedule, the row the caller read.
        Setting enabled gives a schedule without storage credentials its
        own, from the caller's token (refused: nothing changes)."""
        made = []
        if self.credentials is not None and changes.get('enabled'):
            before = set(credentials_db.of_schedule(context, schedule.id))
            self.credentials.create(context, schedule.id,
                                    schedule.project_id,
                                    schedule.instance_id)
            made = [row for phase, row in credentials_db.of_schedule(
                context, schedule.id).items() if phase not in before]
        try:
            return self._update(context, schedule, changes)
        except Exception:
            if made:
                self.credentials.discard(context, schedule.id, made)
            raise

    def _update(self, context, schedule, changes):
        for attempt in range(_UPDATE_ATTEMPTS):
            values = self._merged(schedule, changes)
            try:
                return schedules_db.update(
                    context, schedule.id, schedule.version, values,
                    self._visible_project(context))
            except schedules_db.ScheduleChanged:
                if attempt == _UPDATE_ATTEMPTS - 1:
                    raise
                schedule = schedules_db.get(context, schedule.id,
                                            self._visible_project(context))

    @staticmethod
    def _merged(schedule, changes):
        """The columns to write: the changed ones, and next_run if the
        times or enabled changed (re-enabling starts from now: slots
        passed while disabled are not made up)."""
        values = {key: changes[key] for key in (
            'name', 'description', 'full_cron', 'incremental_cron',
            'timezone', 'enabled') if key in changes}
        retention = changes.get('retention', {})
        if retention is None:
            retention = dict.fromkeys(RETENTION_KEYS)
        values.update(_retention(retention))
        if not any(key in values for key in _TIME_FIELDS):
            return values
        merged = {key: getattr(schedule, key) for key in _TIME_FIELDS}
        merged.update({key: values[key] for key in _TIME_FIELDS
                       if key in values})
        _check_times(merged)
        values.update({key: merged[key] for key in _TIME_FIELDS
                       if key in values})
        if merged['enabled'] and schedule.enabled and all(
                merged[key] == getattr(schedule, key)
                for key in _TIME_FIELDS):
            return values       # Same times: the next slot stays.
        values['next_run'] = _next_run(merged, timeutils.utcnow())
        return values

    def delete(self, context, schedule):
        schedules_db.delete(context, schedule.id,
                            self._visible_project(context))
        # What none of its backups needs goes now; the rest with the
        # last backup that uses it (or the reaper).
        schedule_credentials.release_unneeded(self.conf, context,
                                              schedule.id)

    def retention_preview(self, context, schedule):
        """What the next pruning would delete, and by which rule: the
        retention service's answer (services/retention.py)."""
        return retention_service.preview(context, schedule)
