"""SQLAlchemy models of the plugin's tables.

Every list query of the API is a range scan of one of the indexes below,
ordered by (created, id), so a page costs O(page) however large the table.
"""

from sqlalchemy import Boolean, Column, DateTime, Float, ForeignKey, Index
from sqlalchemy import Integer
from sqlalchemy import String, UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlalchemy import orm


def _timestamp():
    # Microseconds matter: pages are keyed on created, and MySQL's plain
    # DATETIME would round many backups onto the same second.
    return DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')


def _project_id(length=255):
    # Project ids compare as they are spelled: MySQL's default collations
    # would take "ABC" for "abc" and show one project's rows to the other.
    return String(length).with_variant(
        mysql.VARCHAR(length, charset='utf8mb4', collation='utf8mb4_bin'),
        'mysql', 'mariadb')


class Base(orm.DeclarativeBase):
    pass


class Backup(Base):
    __tablename__ = 'backups'
    __table_args__ = (
        # At most one NEW/BUILDING backup per instance, enforced by the
        # database: the column holds the instance id only while the backup
        # runs and NULL (which never collides) otherwise.
        UniqueConstraint('running_instance_id',
                         name='uniq_backups0running_instance_id'),
        Index('ix_backups_project_created', 'project_id', 'created', 'id'),
        Index('ix_backups_project_datastore_created',
              'project_id', 'datastore', 'created', 'id'),
        Index('ix_backups_instance_created', 'instance_id', 'created', 'id'),
        Index('ix_backups_datastore_created', 'datastore', 'created', 'id'),
        Index('ix_backups_created', 'created', 'id'),
        Index('ix_backups_parent_id', 'parent_id'),
        Index('ix_backups_credential_schedule_id', 'credential_schedule_id'),
    )

    id = Column(String(36), primary_key=True)
    name = Column(String(255), nullable=False)
    description = Column(String(512))
    project_id = Column(_project_id(), nullable=False)
    user_id = Column(String(255))
    instance_id = Column(String(36), nullable=False)
    # Children point at their parent; the parent cannot go while they stay.
    parent_id = Column(String(36),
                       ForeignKey('backups.id', name='backups_parent_id_fkey'))
    status = Column(String(32), nullable=False)
    backup_type = Column(String(32), nullable=False)
    # Copied from the instance at create time so that a list never looks
    # anything up per row (Trove's N+1 lookups make its list slow).
    datastore = Column(String(64), nullable=False)
    datastore_version = Column(String(255), nullable=False)
    datastore_version_id = Column(String(36), nullable=False)
    storage_driver = Column(String(255), nullable=False)
    container = Column(String(256))
    # The Keystone trust from the owner under which the worker and agents
    # reach the owner's own Swift account (None: the service's account).
    trust_id = Column(String(64))
    # The backup schedule whose storage credentials reach this backup's
    # objects (db/storage_credentials.py); None: its own, or none. Kept
    # after the schedule is deleted, which keeps those credentials alive.
    credential_schedule_id = Column(String(36))
    location = Column(String(1024))
    checksum = Column(String(128))
    size = Column(Float)
    fail_reason = Column(String(1024))
    running_instance_id = Column(String(36))
    # The run the worker started (see worker/manager.py): set once, by a
    # compare-and-set on a NEW row, and echoed by the agent in each report.
    attempt_id = Column(String(36))
    # The agent's last progress report while it runs, as JSON.
    progress = Column(String(255))
    # The last verification (db/verifications.py): RUNNING, PASSED or
    # FAILED, the run's attempt, its last sign of life, when it ended and
    # what it found.
    verification_status = Column(String(16))
    verification_attempt_id = Column(String(36))
    verification_updated = Column(_timestamp())
    verification_checked = Column(_timestamp())
    verification_details = Column(String(2048))
    delete_requested_at = Column(_timestamp())
    # A failed deletion (DELETE_FAILED): how many attempts failed in a
    # row (the reaper waits longer after each), and how many of the last
    # of those in a row its storage credential was refused (it stops
    # after [worker] delete_refused_attempts): worker/delete_retries.py.
    # An operator's reset-status sets both to 0.
    delete_failures = Column(Integer, nullable=False, default=0,
                             server_default='0')
    delete_refusals = Column(Integer, nullable=False, default=0,
                             server_default='0')
    created = Column(_timestamp(), nullable=False)
    updated = Column(_timestamp(), nullable=False)


class ProjectUsage(Base):
    """How many backups a project holds; the quota is checked against it
    with one conditional UPDATE, so parallel creates cannot overshoot."""
    __tablename__ = 'project_usages'

    project_id = Column(_project_id(), primary_key=True)
    backups = Column(Integer, nullable=False, default=0)


class RegistryInstance(Base):
    """An instance known to the stand-alone "registry" instance source."""
    __tablename__ = 'registry_instances'
    __table_args__ = (
        Index('ix_registry_instances_project_id', 'project_id'),
    )

    id = Column(String(36), primary_key=True)
    name = Column(String(255), nullable=False)
    project_id = Column(_project_id(), nullable=False)
    datastore = Column(String(64), nullable=False)
    datastore_version = Column(String(255), nullable=False)
    status = Column(String(32), nullable=False)
    created = Column(_timestamp(), nullable=False)


class BackupStrategy(Base):
    """Where a project's (or one instance's) new backups go by default:
    Trove's backup strategy. instance_id '' is the project-wide one, as in
    Trove, so the unique constraint holds it once (NULLs never collide)."""
    __tablename__ = 'backup_strategies'
    __table_args__ = (
        UniqueConstraint('project_id', 'instance_id',
                         name='uniq_backup_strategies0project_id0instance_id'),
    )

    id = Column(String(36), primary_key=True)
    project_id = Column(_project_id(), nullable=False)
    instance_id = Column(String(36), nullable=False)
    backend = Column(String(255), nullable=False)
    swift_container = Column(String(256), nullable=False)
    created = Column(_timestamp(), nullable=False)
    updated = Column(_timestamp(), nullable=False)


class InstanceOperation(Base):
    """The one backup or restore running on an instance.

    Its primary key is the lock: a backup and a restore of one instance
    cannot both insert their row, whichever comes second gets a duplicate
    key, in one statement the database enforces, with no read before.
    """
    __tablename__ = 'instance_operations'
    __table_args__ = (
        UniqueConstraint('operation_id',
                         name='uniq_instance_operations0operation_id'),
    )

    instance_id = Column(String(36), primary_key=True)
    kind = Column(String(16), nullable=False)       # backup, restore
    operation_id = Column(String(36), nullable=False)
    created = Column(_timestamp(), nullable=False)


class Restore(Base):
    """A backup restored into an instance (the source or another)."""
    __tablename__ = 'restores'
    __table_args__ = (
        Index('ix_restores_project_created', 'project_id', 'created', 'id'),
        Index('ix_restores_instance_created', 'instance_id', 'created',
              'id'),
        Index('ix_restores_backup_created', 'backup_id', 'created', 'id'),
        Index('ix_restores_created', 'created', 'id'),
    )

    id = Column(String(36), primary_key=True)
    project_id = Column(_project_id(), nullable=False)
    user_id = Column(String(255))
    # Not a foreign key: a restore stays on record after its backup is
    # deleted (an audit trail), like Cinder's.
    backup_id = Column(String(36))
    instance_id = Column(String(36), nullable=False)
    source_instance_id = Column(String(36))
    restore_point = Column(_timestamp())
    status = Column(String(32), nullable=False)
    fail_reason = Column(String(1024))
    attempt_id = Column(String(36))
    # The agent's last progress report, as JSON; None once it ended.
    progress = Column(String(255))
    created = Column(_timestamp(), nullable=False)
    updated = Column(_timestamp(), nullable=False)
    started = Column(_timestamp())
    finished = Column(_timestamp())


class StorageCredential(Base):
    """A Keystone application credential of one backup (backup_id) or of
    one backup schedule (schedule_id: for every backup it makes), and one
    phase of their life (write, read, delete), owned by their creator and
    limited by access rules to those backups' objects in its owner's Swift
    account (a schedule's: under container, the ids its backups get). Its
    secret is not stored: it is derived from the service's [swift]
    credential_secret_key (key_id names which) and the row's id."""
    __tablename__ = 'storage_credentials'
    __table_args__ = (
        UniqueConstraint('backup_id', 'phase',
                         name='uniq_storage_credentials0backup_id0phase'),
        UniqueConstraint('schedule_id', 'phase',
                         name='uniq_storage_credentials0schedule_id0phase'),
    )

    id = Column(String(36), primary_key=True)
    backup_id = Column(String(36))
    schedule_id = Column(String(36))
    container = Column(String(256))
    phase = Column(String(16), nullable=False)
    credential_id = Column(String(64), nullable=False)
    user_id = Column(String(64), nullable=False)
    project_id = Column(_project_id(64), nullable=False)
    key_id = Column(String(16), nullable=False)
    expires_at = Column(_timestamp())
    created = Column(_timestamp(), nullable=False)


class AgentKey(Base):
    """The key an instance's agent signs its messages with (and the one
    before it, during a rotation's grace window), sealed with the
    workers' master key: the database alone gives no key away."""
    __tablename__ = 'agent_keys'

    instance_id = Column(String(36), primary_key=True)
    # Bumped by each rotation: the compare-and-set of the next one.
    generation = Column(Integer, nullable=False)
    key_id = Column(String(16), nullable=False)
    sealed_key = Column(String(255), nullable=False)
    previous_key_id = Column(String(16))
    previous_sealed_key = Column(String(255))
    previous_expires = Column(_timestamp())
    # Fingerprint of the master key that sealed both keys.
    master_key_id = Column(String(16), nullable=False)
    created = Column(_timestamp(), nullable=False)
    updated = Column(_timestamp(), nullable=False)


class BackupSchedule(Base):
    """When an instance is backed up and which of its backups are kept.

    next_run is the next due slot (UTC) while the schedule is enabled,
    None while it is disabled: the scheduler's query is a range scan of
    (enabled, next_run). version grows by one with each change a caller
    makes, so two PATCHes cannot silently undo each other.
    """
    __tablename__ = 'backup_schedules'
    __table_args__ = (
        Index('ix_backup_schedules_enabled_next_run', 'enabled', 'next_run'),
        Index('ix_backup_schedules_project_created',
              'project_id', 'created', 'id'),
        Index('ix_backup_schedules_instance_created',
              'instance_id', 'created', 'id'),
        Index('ix_backup_schedules_created', 'created', 'id'),
    )

    id = Column(String(36), primary_key=True)
    name = Column(String(255), nullable=False)
    description = Column(String(512))
    project_id = Column(_project_id(), nullable=False)
    user_id = Column(String(255))
    instance_id = Column(String(36), nullable=False)
    full_cron = Column(String(255), nullable=False)
    incremental_cron = Column(String(255))
    timezone = Column(String(64), nullable=False)
    # Retention rules; None: the rule is not used.
    keep_last = Column(Integer)
    keep_daily = Column(Integer)
    keep_weekly = Column(Integer)
    keep_monthly = Column(Integer)
    keep_yearly = Column(Integer)
    max_age_days = Column(Integer)
    enabled = Column(Boolean, nullable=False)
    next_run = Column(_timestamp())
    last_run_time = Column(_timestamp())
    last_run_backup_id = Column(String(36))
    last_run_status = Column(String(32))
    last_success = Column(_timestamp())
    consecutive_failures = Column(Integer, nullable=False)
    version = Column(Integer, nullable=False)
    created = Column(_timestamp(), nullable=False)
    updated = Column(_timestamp(), nullable=False)


class BackupScheduleRun(Base):
    """One slot of a schedule, taken by the worker that fires it.

    The unique (schedule_id, slot) is what makes a slot fire once however
    many workers see it due: the second INSERT is a duplicate key. The
    rows go with their schedule (ON DELETE CASCADE); the backups they
    made stay.
    """
    __tablename__ = 'backup_schedule_runs'
    __table_args__ = (
        UniqueConstraint('schedule_id', 'slot',
                         name='uniq_backup_schedule_runs0schedule_id0slot'),
        Index('ix_backup_schedule_runs_backup_id', 'backup_id'),
        Index('ix_backup_schedule_runs_state_slot', 'state', 'slot'),
    )

    id = Column(String(36), primary_key=True)
    schedule_id = Column(String(36), ForeignKey(
        'backup_schedules.id', ondelete='CASCADE',
        name='backup_schedule_runs_schedule_id_fkey'), nullable=False)
    slot = Column(_timestamp(), nullable=False)
    kind = Column(String(16), nullable=False)        # full, incremental
    state = Column(String(16), nullable=False)
    backup_id = Column(String(36))
    reason = Column(String(1024))
    created = Column(_timestamp(), nullable=False)
    updated = Column(_timestamp(), nullable=False)
