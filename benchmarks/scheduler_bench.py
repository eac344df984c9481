#!/usr/bin/env python3
"""Cost of the backup scheduler per 10,000 schedules.

A scratch database (MariaDB or PostgreSQL) gets N instances and N
schedules; one Scheduler (the worker's, with an injectable clock) then
runs the passes of one simulated hour, one every [scheduler]
tick_interval seconds, through the API's create path (casts go to an
in-memory bus nobody reads: the backups stay NEW). Measured in this
process: CPU seconds (time.process_time) of all passes, divided by the
simulated minutes, and the SQL statements per pass (SQLAlchemy's
before_cursor_execute), for idle passes and for passes that fire. The
database server's own CPU is not included. Then, for a sample of the
fired backups: the cost of WorkerManager.backup_ended (record the
outcome, prune) per COMPLETED backup.

    python benchmarks/scheduler_bench.py --backend mysql --schedules 10000
"""

import argparse
import datetime
import json
import statistics
import sys
import time
import uuid

from oslo_config import cfg
from oslo_db.sqlalchemy import enginefacade
import sqlalchemy as sa

from trove_backup_ext import conf as backup_conf
from trove_backup_ext import context as backup_context
from trove_backup_ext.db import api as db_api
from trove_backup_ext.db import migration
from trove_backup_ext.db import models
from trove_backup_ext import instance_sources
from trove_backup_ext import rpc
from trove_backup_ext.services import backups as backup_service
from trove_backup_ext.services import schedule_times
from trove_backup_ext.worker import rpcapi as worker_rpcapi
from trove_backup_ext.worker import scheduler as worker_scheduler

SERVERS = {'mysql': 'mysql+pymysql://root@127.0.0.1:3306',
           'postgresql': 'postgresql+psycopg2://postgres@127.0.0.1:5432'}
START = datetime.datetime(2026, 1, 5)      # a Monday, 00:00 UTC


class NullNotifier:
    def info(self, context, event_type, payload):
        pass
    error = info


def make_conf(tick, batch):
    conf = cfg.ConfigOpts()
    backup_conf.register_opts(conf)
    conf([], project='trove-backup-ext', default_config_files=[])
    conf.set_override('transport_url', 'fake:///')
    conf.set_override('control_exchange', 'bench-%s' % uuid.uuid4().hex)
    conf.set_override('max_backups_per_tenant', -1)
    conf.set_override('tick_interval', tick, group='scheduler')
    conf.set_override('batch_size', batch, group='scheduler')
    return conf


def scratch_database(backend):
    name = 'tbe_sched_bench_%s' % uuid.uuid4().hex[:8]
    server = SERVERS[backend]
    admin = sa.create_engine(server + ('/postgres' if backend == 'postgresql'
                                       else '/'),
                             isolation_level='AUTOCOMMIT')
    with admin.connect() as connection:
        connection.execute(sa.text('CREATE DATABASE %s' % name))
    url = '%s/%s' % (server, name) + ('?charset=utf8mb4'
                                      if backend == 'mysql' else '')

    def drop():
        with admin.connect() as connection:
            connection.execute(sa.text('DROP DATABASE IF EXISTS %s%s' % (
                name, ' WITH (FORCE)' if backend == 'postgresql' else '')))
    return url, drop


def populate(engine, count, mix):
    """count schedules on as many instances. mix 'hourly': every one
    hourly at minute n % 60 (each minute fires count/60); 'daily': daily
    at n % 1440 minutes past midnight (count/1440 a minute)."""
    now = datetime.datetime.utcnow()
    instances, schedules = [], []
    for n in range(count):
        instance_id = str(uuid.uuid4())
        if mix == 'hourly':
            cron = '%d * * * *' % (n % 60)
        else:
            cron = '%d %d * * *' % (n % 60, (n // 60) % 24)
        instances.append({'id': instance_id, 'name': 'db%d' % n,
                          'project_id': 'bench-%d' % (n % 100),
                          'datastore': 'sqlite', 'datastore_version': '3',
                          'status': 'ACTIVE', 'created': now})
        schedules.append({
            'id': str(uuid.uuid4()), 'name': 's%d' % n,
            'project_id': 'bench-%d' % (n % 100), 'user_id': 'u',
            'instance_id': instance_id, 'full_cron': cron,
            'timezone': 'UTC', 'enabled': True, 'keep_last': 7,
            'next_run': schedule_times.next_slot(
                cron, 'UTC', START - datetime.timedelta(microseconds=1)),
            'consecutive_failures': 0, 'version': 1, 'created': now,
            'updated': now})
    with engine.begin() as connection:
        for start in range(0, count, 2000):
            connection.execute(sa.insert(models.RegistryInstance),
                               instances[start:start + 2000])
            connection.execute(sa.insert(models.BackupSchedule),
                               schedules[start:start + 2000])


class QueryCounter:
    def __init__(self, engine):
        self.count = 0
        sa.event.listen(engine, 'before_cursor_execute', self._seen)

    def _seen(self, *args):
        self.count += 1


def run(backend, count, mix, tick, batch, minutes, sample):
    url, drop = scratch_database(backend)
    try:
        factory = enginefacade._TransactionFactory()
        factory.configure(connection=url, max_pool_size=10)
        db_api.context_manager.patch_factory(factory)
        engine = factory.get_writer_engine()
        migration.upgrade(engine=engine)
        populate(engine, count, mix)
        conf = make_conf(tick, batch)
        service = backup_service.BackupService(
            conf, instance_sources.load(conf),
            worker_rpcapi.WorkerAPI(conf, rpc.get_transport(conf)))
        scheduler = worker_scheduler.Scheduler(conf, service,
                                               NullNotifier())
        counter = QueryCounter(engine)
        passes = []
        cpu_total = 0.0
        wall_total = 0.0
        now = START
        end = START + datetime.timedelta(minutes=minutes)
        while now < end:
            queries, cpu, wall = counter.count, time.process_time(), \
                time.monotonic()
            counts = scheduler.run_once(now)
            cpu_used = time.process_time() - cpu
            wall_used = time.monotonic() - wall
            cpu_total += cpu_used
            wall_total += wall_used
            passes.append({'fired': counts['fired'],
                           'queries': counter.count - queries,
                           'cpu': cpu_used, 'wall': wall_used})
            now += datetime.timedelta(seconds=tick)
        idle = [p for p in passes if not p['fired']]
        busy = [p for p in passes if p['fired']]
        fired = sum(p['fired'] for p in passes)
        ended = _backup_ended_cost(engine, scheduler, counter, sample)
        return {
            'backend': backend, 'schedules': count, 'mix': mix,
            'tick_interval': tick, 'batch_size': batch,
            'simulated_minutes': minutes, 'passes': len(passes),
            'fired': fired,
            'cpu_s_per_wall_minute': cpu_total / minutes,
            'pass_wall_s_total': wall_total,
            'queries_per_idle_pass': (statistics.mean(
                p['queries'] for p in idle) if idle else None),
            'queries_per_firing_pass_mean': (statistics.mean(
                p['queries'] for p in busy) if busy else None),
            'queries_per_fired_slot': (sum(
                p['queries'] for p in busy) / fired if fired else None),
            'cpu_ms_per_fired_slot': (1000 * sum(
                p['cpu'] for p in busy) / fired if fired else None),
            'backup_ended': ended,
        }
    finally:
        drop()


def _backup_ended_cost(engine, scheduler, counter, sample):
    """Mark sample fired backups COMPLETED; the cost of backup_ended."""
    with engine.begin() as connection:
        ids = list(connection.execute(
            sa.select(models.Backup.id).limit(sample)).scalars())
        connection.execute(sa.update(models.Backup)
                           .where(models.Backup.id.in_(ids))
                           .values(status='COMPLETED',
                                   running_instance_id=None))
        connection.execute(sa.delete(models.InstanceOperation).where(
            models.InstanceOperation.operation_id.in_(ids)))
    context = backup_context.get_admin_context()
    queries, cpu = counter.count, time.process_time()
    for backup_id in ids:
        scheduler.backup_ended(context, backup_id, 'COMPLETED')
    if not ids:
        return None
    return {'sample': len(ids),
            'queries_each': (counter.count - queries) / len(ids),
            'cpu_ms_each': 1000 * (time.process_time() - cpu) / len(ids)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--backend', choices=sorted(SERVERS),
                        default='mysql')
    parser.add_argument('--schedules', type=int, default=10000)
    parser.add_argument('--mix', choices=('hourly', 'daily'),
                        default='hourly')
    parser.add_argument('--tick-interval', type=int, default=30)
    parser.add_argument('--batch-size', type=int, default=100)
    parser.add_argument('--minutes', type=int, default=60)
    parser.add_argument('--sample', type=int, default=200)
    args = parser.parse_args()
    result = run(args.backend, args.schedules, args.mix, args.tick_interval,
                 args.batch_size, args.minutes, args.sample)
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == '__main__':
    main()
