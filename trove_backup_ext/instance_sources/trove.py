"""Instances read, read-only, from a Trove deployment's own database."""

import datetime

from oslo_config import cfg
from oslo_db import exception as db_exception
from oslo_db.sqlalchemy import engines
from oslo_log import log as logging
from oslo_utils import timeutils
import sqlalchemy as sa

from trove_backup_ext import exception
from trove_backup_ext.instance_sources import base
from trove_backup_ext import opt_groups

LOG = logging.getLogger(__name__)

trove_database_group = cfg.OptGroup(
    'trove_database', title="Trove's database, read by the trove instance "
                            "source")
trove_database_opts = [
    cfg.StrOpt('connection', secret=True,
               help="SQLAlchemy URL of the Trove deployment's database "
                    "(the [database] connection of trove.conf), for "
                    "instance_source = trove. Give an account that may "
                    "only SELECT: the source never writes."),
    cfg.IntOpt('max_pool_size', default=5, min=1,
               help='Most connections kept open to the Trove database.'),
    cfg.IntOpt('max_overflow', default=10, min=0,
               help='Connections opened beyond max_pool_size at busy '
                    'times.'),
    cfg.IntOpt('pool_timeout', default=30, min=1,
               help='Seconds to wait for a free connection.'),
    cfg.IntOpt('connection_recycle_time', default=3600, min=1,
               help='Seconds after which a pooled connection is replaced.'),
    cfg.IntOpt('agent_heartbeat_expiry', default=90, min=0,
               help="Seconds after a guest agent's last heartbeat after "
                    "which its instance is not backed up (Trove's own "
                    "agent_heartbeat_expiry, default 90). 0 disables the "
                    "check."),
]


def register_opts(conf):
    opt_groups.register(conf, trove_database_group, trove_database_opts)


def list_opts():
    return {trove_database_group: trove_database_opts}


_META = sa.MetaData()
# Only the columns read, as trove-manage db_sync creates them.
INSTANCES = sa.Table(
    'instances', _META,
    sa.Column('id', sa.String(36)), sa.Column('name', sa.String(255)),
    sa.Column('tenant_id', sa.String(36)), sa.Column('task_id', sa.Integer),
    sa.Column('server_status', sa.String(64)),
    sa.Column('deleted', sa.Boolean),
    sa.Column('datastore_version_id', sa.String(36)),
    sa.Column('cluster_id', sa.String(36)),
    sa.Column('created', sa.DateTime))
SERVICE_STATUSES = sa.Table(
    'service_statuses', _META,
    sa.Column('instance_id', sa.String(36)),
    sa.Column('status_id', sa.Integer),
    sa.Column('updated_at', sa.DateTime))
DATASTORES = sa.Table(
    'datastores', _META,
    sa.Column('id', sa.String(36)), sa.Column('name', sa.String(255)))
DATASTORE_VERSIONS = sa.Table(
    'datastore_versions', _META,
    sa.Column('id', sa.String(36)), sa.Column('datastore_id', sa.String(36)),
    sa.Column('name', sa.String(255)))
BACKUPS = sa.Table(
    'backups', _META,
    sa.Column('instance_id', sa.String(36)), sa.Column('state', sa.String(32)),
    sa.Column('deleted', sa.Boolean))

# trove/instance/tasks.py: task_id -> (action, is_error).
TASKS = {
    0x01: ('NONE', False), 0x02: ('DELETING', False),
    0x03: ('REBOOTING', False), 0x04: ('RESIZING', False),
    0x05: ('BUILDING', False), 0x06: ('MIGRATING', False),
    0x07: ('RESTART_REQUIRED', False), 0x08: ('PROMOTING', False),
    0x09: ('EJECTING', False), 0x0a: ('LOGGING', False),
    0x0b: ('DETACHING', False), 0x0c: ('UPDATING', False),
    0x50: ('BUILDING', True), 0x51: ('BUILDING', True),
    0x52: ('BUILDING', True), 0x53: ('BUILDING', True),
    0x54: ('BUILDING', True), 0x55: ('PROMOTING', True),
    0x56: ('EJECTING', True), 0x57: ('GROWING', True),
    0x58: ('SHRINKING', True), 0x59: ('UPGRADING', False),
    0x5a: ('UPGRADING', True), 0x5b: ('ERROR', True),
    0x5c: ('BUILDING', True), 0x5d: ('UPDATING', True),
}
# The instance status Trove shows while a task of that action runs.
TASK_STATUSES = {
    'BUILDING': 'BUILD', 'REBOOTING': 'REBOOT', 'RESIZING': 'RESIZE',
    'UPGRADING': 'UPGRADE', 'RESTART_REQUIRED': 'RESTART_REQUIRED',
    'PROMOTING': 'PROMOTE', 'EJECTING': 'EJECT', 'LOGGING': 'LOGGING',
    'DETACHING': 'DETACH',
}
# trove/instance/service_status.py: the datastore statuses in which Trove
# lets an action start (action_is_allowed: running, blocked, shutdown,
# crashed, restart required, healthy), and the API status of the others.
SERVICE_ALLOWED = frozenset((0x01, 0x02, 0x04, 0x06, 0x20, 0x21))
SERVICE_REFUSED = {0x03: 'SHUTDOWN', 0x05: 'DELETED', 0x08: 'FAILED',
                   0x09: 'BUILD', 0x10: 'PROMOTE', 0x11: 'EJECT',
                   0x12: 'LOGGING', 0x16: 'ERROR', 0x17: 'NEW',
                   0x18: 'ERROR', 0x19: 'BUILD', 0x22: 'RESTARTING'}
FAILED_TIMEOUT_GUESTAGENT = 0x18
RESTART_REQUIRED = 0x20
TROVE_BACKUP_RUNNING = ('NEW', 'BUILDING', 'SAVING')
SERVER_STATUSES = ('BUILD', 'ERROR', 'REBOOT', 'RESIZE', 'ACTIVE', 'SHUTDOWN')


class _Status:
    """Trove's verdict on one instance, as trove/instance/models.py
    reaches it: SimpleInstance.status, Instance.validate_can_perform_action
    and, for the guest's heartbeat, update_service_status."""

    def __init__(self, task_id, server_status, service_id, heartbeat_age,
                 heartbeat_expiry, trove_backup_running):
        self.action, self.task_error = TASKS.get(task_id, ('UNKNOWN', True))
        # Trove reads the server status from Nova, except while building.
        if self.action == 'BUILDING':
            self.server = 'BUILD'
        else:
            self.server = server_status or base.ACTIVE
        if (self.action == 'NONE' and service_id != RESTART_REQUIRED and
                heartbeat_expiry and (heartbeat_age is None or
                                      heartbeat_age >= heartbeat_expiry)):
            service_id = FAILED_TIMEOUT_GUESTAGENT
        self.service_id = service_id
        self.backup_running = trove_backup_running

    def shown(self):
        """The status field of Trove's instance API."""
        if self.task_error:
            return 'ERROR'
        if self.action == 'BUILDING':
            return 'ERROR' if self.server == 'ERROR' else 'BUILD'
        if self.action in TASK_STATUSES:
            return TASK_STATUSES[self.action]
        if self.action == 'DELETING':
            if self.server in ('ACTIVE', 'SHUTDOWN', 'DELETED'):
                return 'SHUTDOWN'
            return 'ERROR'
        if self.backup_running:
            return 'BACKUP'
        if self.server in SERVER_STATUSES:
            return self.server
        if self.server == 'VERIFY_RESIZE':
            return 'RESIZE'
        return 'UNKNOWN'

    def refusal(self):
        """Why Trove refuses to start a backup, as a status, or None."""
        shown = self.shown()
        if self.server not in base.BACKUP_READY_STATUSES:
            return shown
        if self.action not in ('NONE', 'RESTART_REQUIRED'):
            # A task Trove's status does not show (MIGRATING, UPDATING).
            return (shown if shown not in base.BACKUP_READY_STATUSES
                    else self.action)
        if self.service_id not in SERVICE_ALLOWED:
            # Trove names the instance status, ACTIVE here; the datastore's
            # status says what is wrong.
            return SERVICE_REFUSED.get(self.service_id, 'UNKNOWN')
        if self.backup_running:
            return 'BACKUP'
        return None

    def status(self):
        """ACTIVE when Trove would let a backup start, else the reason."""
        return self.refusal() or base.ACTIVE


class TroveSource(base.InstanceSource):
    """Reads instances and datastores from Trove's database.

    Trove's API computes an instance's status from the task status and
    server status of its `instances` row, the guest agent's datastore
    status in `service_statuses`, and whether one of Trove's own backups of
    it runs; so does this source (see _Status), on the schema that
    `trove-manage db_sync` creates. Trove asks Nova for the server status;
    the source cannot, so it takes the one Trove last saved in the row, or
    ACTIVE where Trove saved none, and counts on the guest agent's
    heartbeat to tell a server that stopped answering.

    Its engine is its own, never the plugin's database, and every session
    it opens is read-only (MySQL/MariaDB and PostgreSQL refuse writes in
    it, SQLite runs query_only). Deployers should also give it an account
    that may only SELECT.
    """

    def __init__(self, conf):
        super().__init__(conf)
        register_opts(conf)
        options = conf.trove_database
        if not options.connection:
            raise exception.ConfigurationError(
                '[trove_database] connection must be set for '
                'instance_source = trove.')
        pool = {}
        if not options.connection.startswith('sqlite'):
            # SQLite files get no pool, so no pool options.
            pool = dict(max_pool_size=options.max_pool_size,
                        max_overflow=options.max_overflow,
                        pool_timeout=options.pool_timeout)
        # max_retries=0: no connection until the first request, so the API
        # starts while Trove's database is down.
        self.engine = engines.create_engine(
            options.connection, mysql_sql_mode='TRADITIONAL',
            connection_recycle_time=options.connection_recycle_time,
            max_retries=0, logging_name='trove_database', **pool)
        sa.event.listen(self.engine, 'connect', _read_only_session)
        self.heartbeat_expiry = options.agent_heartbeat_expiry

    def _read(self, query):
        try:
            with self.engine.connect() as connection:
                with connection.begin():
                    return query(connection)
        except db_exception.DBConnectionError:
            LOG.exception("Cannot reach Trove's database")
            raise exception.ServiceUnavailable(
                reason="Trove's database cannot be reached.")

    def get_instance(self, context, instance_id):
        return self._read(lambda connection: self._instance(connection,
                                                            instance_id))

    def _instance(self, connection, instance_id):
        row = connection.execute(_SELECT.where(
            INSTANCES.c.id == instance_id)).first()
        if row is None:
            raise exception.InstanceNotFound(uuid=instance_id)
        return self._page_of(connection, [row])[0]

    def list_instances(self, context, project_id, limit, after=None):
        return self._read(lambda connection: self._list(
            connection, project_id, limit, after))

    def _list(self, connection, project_id, limit, after):
        i = INSTANCES
        stmt = _SELECT
        if project_id is not None:
            stmt = stmt.where(i.c.tenant_id == project_id)
        if after is not None:
            created, row_id = after
            stmt = stmt.where(i.c.created <= created, sa.or_(
                i.c.created < created,
                sa.and_(i.c.created == created, i.c.id < row_id)))
        rows = connection.execute(
            stmt.order_by(i.c.created.desc(), i.c.id.desc())
            .limit(limit + 1)).all()
        return self._page_of(connection, rows[:limit]), len(rows) > limit

    def _page_of(self, connection, rows):
        """Instances of rows of _SELECT: their guests' statuses and
        Trove's running backups read in one query each for the page,
        not one per row."""
        ids = [row.id for row in rows]
        services = {}
        for service in connection.execute(
                sa.select(SERVICE_STATUSES.c.instance_id,
                          SERVICE_STATUSES.c.status_id,
                          SERVICE_STATUSES.c.updated_at)
                .where(SERVICE_STATUSES.c.instance_id.in_(ids))
                .order_by(SERVICE_STATUSES.c.updated_at.desc())):
            services.setdefault(service.instance_id, service)
        running = set(connection.execute(
            sa.select(BACKUPS.c.instance_id).distinct()
            .where(BACKUPS.c.instance_id.in_(ids),
                   BACKUPS.c.state.in_(TROVE_BACKUP_RUNNING),
                   BACKUPS.c.deleted == sa.false())).scalars())
        return [self._to_instance(row, services.get(row.id),
                                  row.id in running) for row in rows]

    def _to_instance(self, row, service, backup_running):
        verdict = _Status(row.task_id, row.server_status,
                          service.status_id if service else None,
                          _age(service.updated_at if service else None),
                          self.heartbeat_expiry, backup_running)
        status, shown = verdict.status(), verdict.shown()
        if row.datastore is None:
            # Trove itself cannot load such an instance.
            LOG.warning('Trove instance %s has no datastore version %s.',
                        row.id, row.datastore_version_id)
            status = 'UNKNOWN'
        return base.Instance(
            id=row.id, name=row.name, project_id=row.tenant_id,
            datastore=row.datastore or '', datastore_version=row.version or '',
            datastore_version_id=row.datastore_version_id or '',
            status=status, created=row.created, shown_status=shown,
            cluster_id=row.cluster_id)

    def datastore_exists(self, context, datastore):
        return self.datastore_name(context, datastore) is not None

    def datastore_name(self, context, datastore):
        # Trove's Datastore.load: an id first, else a name.
        def find(connection):
            for column in (DATASTORES.c.id, DATASTORES.c.name):
                name = connection.execute(
                    sa.select(DATASTORES.c.name).where(column == datastore)
                    .limit(1)).scalar()
                if name is not None:
                    return name
            return None
        return self._read(find)


# An instance with its datastore and version names, as Trove keeps them.
_SELECT = (
    sa.select(INSTANCES.c.id, INSTANCES.c.name, INSTANCES.c.tenant_id,
              INSTANCES.c.task_id, INSTANCES.c.server_status,
              INSTANCES.c.datastore_version_id, INSTANCES.c.cluster_id,
              INSTANCES.c.created,
              DATASTORE_VERSIONS.c.name.label('version'),
              DATASTORES.c.name.label('datastore'))
    .select_from(INSTANCES.outerjoin(
        DATASTORE_VERSIONS,
        DATASTORE_VERSIONS.c.id == INSTANCES.c.datastore_version_id)
        .outerjoin(DATASTORES,
                   DATASTORES.c.id == DATASTORE_VERSIONS.c.datastore_id))
    .where(INSTANCES.c.deleted == sa.false()))


def _age(updated_at):
    """Seconds since a naive UTC time (as Trove stores them), or None."""
    if updated_at is None:
        return None
    return (timeutils.utcnow() - updated_at) / datetime.timedelta(seconds=1)


def _read_only_session(dbapi_connection, connection_record):
    """Makes every transaction of a new connection read-only."""
    module = type(dbapi_connection).__module__
    cursor = dbapi_connection.cursor()
    try:
        if module.startswith('sqlite3'):
            cursor.execute('PRAGMA query_only = ON')
        elif module.startswith(('pymysql', 'MySQLdb', 'mysql')):
            cursor.execute('SET SESSION TRANSACTION READ ONLY')
        elif module.startswith(('psycopg2', 'psycopg')):
            cursor.execute('SET SESSION CHARACTERISTICS AS TRANSACTION '
                           'READ ONLY')
            # The SET ran in a transaction of its own: keep it.
            dbapi_connection.commit()
        else:
            raise exception.ConfigurationError(
                'The trove instance source cannot make a %s connection '
                'read-only.' % module)
    finally:
        cursor.close()
