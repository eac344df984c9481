#!/usr/bin/env python3
"""Send generated hostile requests to the API, in process, on a real
database, and print the figures (requests, time, codes, findings) as JSON.

    .venv/bin/python tools/fuzz-api.py --backend sqlite --requests 10000
    .venv/bin/python tools/fuzz-api.py --backend mysql --backend postgresql
    .venv/bin/python tools/fuzz-api.py --auth keystone --requests 10000

The requests and checks are those of trove_backup_ext/tests/api_fuzz.py
(the bounded run is tests/functional/test_hostile_input.py). MariaDB and
PostgreSQL are reached as the functional tests reach them
(TBE_TEST_MYSQL_URL, TBE_TEST_POSTGRESQL_URL). --auth keystone puts
keystonemiddleware's auth_token in front, its AuthTokenFixture knowing the
runner's tokens (the run of KeystoneHostileInputTest_*). Exit status 1
when anything was found.
"""

import argparse
import json
import logging
import sys
import warnings

from keystonemiddleware import fixture as ksm_fixture

from trove_backup_ext.api import app as backup_app
from trove_backup_ext.api import deploy
from trove_backup_ext.tests import api_fuzz
from trove_backup_ext.tests import fuzz_keystone
from trove_backup_ext.tests import service_fixtures


# As in KeystoneHostileInputTest.
_KEYSTONE = {'api.auth_strategy': 'keystone',
             'keystone_authtoken.www_authenticate_uri':
                 'http://keystone.example/identity'}


def fuzz(backend, requests, seed, auth='noauth'):
    keystone = auth == 'keystone'
    conf = service_fixtures.Conf(**(_KEYSTONE if keystone else {}))
    database = service_fixtures.Database(backend)
    fixtures = [conf, database]
    if keystone:
        fixtures.append(ksm_fixture.AuthTokenFixture())
    try:
        for fixture in fixtures:
            fixture.setUp()
        if keystone:
            fuzz_keystone.register_tokens(fixtures[-1])
        worker = service_fixtures.WorkerServer(conf.conf)
        worker.setUp()
        fixtures.append(worker)
        app = deploy.deploy(conf.conf, backup_app.setup_app(conf.conf))
        runner = api_fuzz.Runner(app, database.engine, keystone=keystone)
        try:
            runner.seed()
            summary = api_fuzz.run(runner, requests, seed=seed)
        finally:
            runner.close()
        summary['examples'] = [f._asdict() for f in runner.findings[:20]]
        return summary
    finally:
        for fixture in reversed(fixtures):
            fixture.cleanUp()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--backend', action='append',
                        choices=service_fixtures.BACKENDS)
    parser.add_argument('--requests', type=int, default=10000)
    parser.add_argument('--seed', type=int, default=2026)
    parser.add_argument('--auth', choices=('noauth', 'keystone'),
                        default='noauth')
    args = parser.parse_args()
    warnings.filterwarnings('ignore')
    # The API logs a warning per refused request: only errors, which the
    # runner counts as findings, and no output but the figures.
    logging.getLogger().setLevel(logging.ERROR)
    results = {}
    for backend in args.backend or ['sqlite']:
        results[backend] = fuzz(backend, args.requests, args.seed,
                                args.auth)
        print(json.dumps({backend: results[backend]}), flush=True)
    return 1 if any(r['findings'] for r in results.values()) else 0


if __name__ == '__main__':
    sys.exit(main())
