#!/usr/bin/env python3
"""Where one API request spends its time: the deployed WSGI app called
in-process (no HTTP, no server), on a seeded database (SQLite by default,
or --backend mysql|postgresql), timed per operation and profiled with
cProfile.

    .venv/bin/python benchmarks/api_profile.py --rows 100000 --reps 500

For each operation it prints the mean in-process time per request and the
functions that take the most cumulative time, trimmed to this project's,
pecan's, webob's, SQLAlchemy's and oslo's. It measures; it asserts nothing.
Its figures go into doc/source/admin/benchmarks.rst.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import sys
import tempfile
import time

import api_bench    # benchmarks/ is sys.path[0] when run as a script

from trove_backup_ext.api import deploy
from trove_backup_ext import service

PROJECT = api_bench.PROJECT


def make_app(url, workdir):
    """The app as trove-backup-api builds it, with its configuration."""
    path = os.path.join(workdir, 'trove-backup-ext.conf')
    with open(path, 'w') as f:
        f.write('[DEFAULT]\ntransport_url = fake://\n'
                'max_backups_per_tenant = -1\n\n'
                '[api]\nauth_strategy = noauth\n\n'
                '[database]\nconnection = %s\n' % url)
    conf = service.setup(service.parse_args(['--config-file', path]))
    return deploy.deploy(conf)


def call(app, method, path, body=None, roles='member'):
    """One request through the WSGI app; its status code."""
    raw = json.dumps(body).encode() if body is not None else b''
    path, _, query = path.partition('?')
    environ = {
        'REQUEST_METHOD': method, 'PATH_INFO': path, 'QUERY_STRING': query,
        'SERVER_NAME': 'localhost', 'SERVER_PORT': '8779',
        'SERVER_PROTOCOL': 'HTTP/1.1', 'wsgi.url_scheme': 'http',
        'wsgi.input': io.BytesIO(raw), 'wsgi.errors': sys.stderr,
        'wsgi.version': (1, 0), 'wsgi.multithread': True,
        'wsgi.multiprocess': False, 'wsgi.run_once': False,
        'CONTENT_LENGTH': str(len(raw)), 'HTTP_X_ROLES': roles,
        'HTTP_HOST': 'localhost:8779'}
    if body is not None:
        environ['CONTENT_TYPE'] = 'application/json'
    status = []
    for _ in app(environ, lambda s, h, e=None: status.append(s)):
        pass
    return int(status[0].split()[0])


def operations(info):
    base = '/v1.0/%s/backups' % PROJECT
    show_ids = info['show_ids']
    spare = iter(info['spare'] * 1000)
    deletes = iter(info['delete_ids'])
    return [
        ('404, no SQL', lambda i: ('GET', base + '/not-a-uuid'), 404),
        ('list, default page', lambda i: ('GET', base), 200),
        ('list, limit=100', lambda i: ('GET', base + '?limit=100'), 200),
        ('show', lambda i: ('GET', '%s/%s' % (
            base, show_ids[i % len(show_ids)])), 200),
        ('create', lambda i: ('POST', base, {'backup': {
            'name': 'p', 'instance': next(spare)}}), 202),
        ('delete', lambda i: ('DELETE', '%s/%s' % (base, next(deletes))),
         202),
    ]


def profile(app, name, request, expect, reps, top):
    for i in range(10):
        call(app, *request(i))
    started = time.perf_counter()
    for i in range(reps):
        status = call(app, *request(i))
        if status != expect and name != 'create':
            raise RuntimeError('%s answered %d' % (name, status))
    mean_ms = (time.perf_counter() - started) / reps * 1000
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(reps):
        call(app, *request(i))
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats('cumulative').print_stats(top)
    print('== %s: %.3f ms per request in-process (%d requests)'
          % (name, mean_ms, reps))
    print('\n'.join(line for line in out.getvalue().splitlines()
                    if line.strip()[:1].isdigit() or 'ncalls' in line))
    return {'operation': name, 'mean_ms': mean_ms}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rows', type=int, default=100000)
    parser.add_argument('--reps', type=int, default=500)
    parser.add_argument('--top', type=int, default=25)
    parser.add_argument('--only', help='operations whose name contains it')
    parser.add_argument('--backend', default='sqlite',
                        choices=('sqlite', 'mysql', 'postgresql'))
    args = parser.parse_args()
    rng = random.Random(7)
    database = api_bench.ScratchDatabase(args.backend)
    try:
        info = api_bench.seed(database.engine, args.rows, rng,
                              create_instances=args.reps * 2 + 20,
                              delete_backups=args.reps * 2 + 20)
        with tempfile.TemporaryDirectory() as workdir:
            app = make_app(database.url, workdir)
            results = [profile(app, name, request, expect, args.reps,
                               args.top)
                       for name, request, expect in operations(info)
                       if not args.only or args.only in name]
    finally:
        database.close()
    print(json.dumps(results))


if __name__ == '__main__':
    main()
