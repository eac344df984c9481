#!/usr/bin/env bash
# A real OpenStack Keystone on loopback, for the tests and the tempest run.
#
#   tools/keystone-aio.sh [start]   install if needed, start it if it is not
#                                   running, provision, print the variables
#   tools/keystone-aio.sh stop      stop the Keystone this script started
#   tools/keystone-aio.sh status    say whether it runs and answers
#   tools/keystone-aio.sh env       print the variables only
#
# `eval "$(tools/keystone-aio.sh start)"` exports TBE_KEYSTONE_* (only those
# `export` lines go to stdout, the rest to stderr). They are not OS_*
# variables on purpose: the test suite also drives the openstack CLI in
# noauth mode, which OS_USERNAME and friends would redirect to Keystone.
#
# Keystone (PyPI keystone==30.0.0: 28.x fails on today's dependencies with
# SQLite "database is locked") lives in its own venv with gunicorn, so its
# pinned dependencies never touch the project's. Everything (venv, config,
# fernet keys, SQLite database, passwords, log, pid) is under
# KEYSTONE_AIO_DIR (default ./.keystone-aio, gitignored). It listens on
# 127.0.0.1:KEYSTONE_AIO_PORT (default 16300).
#
# What it provisions (idempotently, on every start), in domain Default:
#   admin (bootstrap, admin on project admin and on the system)
#   projects tbe-a and tbe-b, each with users tbe-X-member (role member),
#     tbe-X-reader (reader) and tbe-X-admin (admin), all with the password
#     TBE_KEYSTONE_PASSWORD
#   tbe-service (role service on project service): the service user our
#     API's keystonemiddleware validates tokens with
#   a policy.yaml letting the service role delete application credentials:
#     the backup worker revokes the storage credentials it holds for
#     backup owners (doc/source/admin/threat-model.rst)
#   a catalog entry of type "database" (name trove-backup) whose public,
#     internal and admin endpoints are
#     http://127.0.0.1:KEYSTONE_AIO_API_PORT/v1.0/$(project_id)s
#     (default port 16310, where tools/tempest-run.sh starts our API).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

KEYSTONE_VERSION=30.0.0
GUNICORN_VERSION=27.0.1
cd_repo_root
ROOT=$(realpath -m "${KEYSTONE_AIO_DIR:-.keystone-aio}")
VENV=$ROOT/venv
ETC=$ROOT/etc
STATE=$ROOT/state
LOG=$ROOT/log
PORT=${KEYSTONE_AIO_PORT:-16300}
API_PORT=${KEYSTONE_AIO_API_PORT:-16310}
URL=http://127.0.0.1:$PORT
PIDFILE=$STATE/keystone.pid

secret() {     # a password made once, kept in ETC (root only)
    local file=$ETC/$1.password
    if [ ! -s "$file" ]; then
        (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(18))' >"$file")
    fi
    cat "$file"
}

print_env() {
    mkdir -p "$ETC"
    echo "export TBE_KEYSTONE_URL=$URL"
    echo "export TBE_KEYSTONE_AUTH_URL=$URL/v3"
    echo "export TBE_KEYSTONE_ADMIN_USER=admin"
    echo "export TBE_KEYSTONE_ADMIN_PASSWORD=$(secret admin)"
    echo "export TBE_KEYSTONE_PASSWORD=$(secret users)"
    echo "export TBE_KEYSTONE_SERVICE_USER=tbe-service"
    echo "export TBE_KEYSTONE_SERVICE_PASSWORD=$(secret service)"
    echo "export TBE_KEYSTONE_SERVICE_PROJECT=service"
    echo "export TBE_KEYSTONE_API_PORT=$API_PORT"
}

running_pid() {     # of our gunicorn
    pid_of "$PIDFILE" "--chdir $ETC"
}

answers() {     # -m: a hung worker must not hang the script
    curl -m 5 -fsS -o /dev/null "$URL/v3" 2>/dev/null
}

install() {
    local stamp=$VENV/.keystone-$KEYSTONE_VERSION-gunicorn-$GUNICORN_VERSION
    [ -f "$stamp" ] && return 0
    say "installing keystone==$KEYSTONE_VERSION into $VENV"
    python3 -m venv "$VENV"
    pip_install "$VENV" "keystone==$KEYSTONE_VERSION" \
        "gunicorn==$GUNICORN_VERSION" >&2
    "$VENV/bin/python" -W ignore -c 'import keystone.server.wsgi, gunicorn' \
        || die "keystone did not install"
    touch "$stamp"
}

write_configs() {
    mkdir -p "$ETC" "$STATE" "$LOG"
    chmod 700 "$ETC" "$STATE"
    cat >"$ETC/keystone.conf" <<EOF
[DEFAULT]
use_stderr = true

[database]
connection = sqlite:///$STATE/keystone.sqlite

[token]
provider = fernet

[fernet_tokens]
key_repository = $STATE/fernet-keys

[fernet_receipts]
key_repository = $STATE/fernet-keys

[credential]
key_repository = $STATE/credential-keys

[identity]
# bcrypt's cheapest cost: every test authenticates, and a loopback test
# Keystone guards nothing worth 12 rounds per login.
password_hash_rounds = 4

[oslo_policy]
policy_file = $ETC/policy.yaml

[cache]
# One gunicorn process: its memory is a coherent cache, and without one
# every token validation costs ~0.5 s here.
enabled = true
backend = dogpile.cache.memory
EOF
    # As a deployer of trove-backup-ext sets it: the backup worker (as the
    # service user, role service) revokes the application credentials it
    # holds for backup owners; Keystone lets only their owner or an
    # admin delete them otherwise.
    cat >"$ETC/policy.yaml" <<'EOF'
"identity:delete_application_credential": "rule:admin_or_owner or role:service"
EOF
    # Keystone parses sys.argv when it configures itself; under gunicorn
    # that is gunicorn's command line, which it rejects.
    cat >"$ETC/keystone_wsgi.py" <<'EOF'
"""Keystone's WSGI application, with gunicorn's argv hidden from it."""
import sys

sys.argv = sys.argv[:1]
from keystone.common.sql import core as sql_core  # noqa: E402
from keystone.server import wsgi  # noqa: E402

# SQLite enforces foreign keys only when asked: without it, deleting an
# application credential leaves its role rows, and the next credential
# given the same (reused) internal id fails with a 409.
sql_core.enable_sqlite_foreign_key()

application = wsgi.initialize_public_application()
EOF
    # Provisioning through Keystone's own REST API, as an operator would;
    # get-or-create everything so a second run changes nothing.
    cat >"$ETC/provision.py" <<'EOF'
"""Projects, users, roles and the catalog entry of the test Keystone."""
import os

from keystoneauth1.identity import v3
from keystoneauth1 import session

URL = os.environ['KS_URL'] + '/v3'
sess = session.Session(auth=v3.Password(
    auth_url=URL, username='admin', password=os.environ['KS_ADMIN_PASSWORD'],
    user_domain_id='default', system_scope='all'))


def get(path, key, **query):
    return sess.get(URL + path, params=query).json()[key]


def ensure(path, key, body, **query):
    """The entity of that name (and query), created if missing."""
    found = get(path, key, **query)
    if found:
        return found[0]
    return sess.post(URL + path, json={key[:-1]: body}).json()[key[:-1]]


def ensure_user(name, project, password):
    user = ensure('/users', 'users',
                  {'name': name, 'domain_id': 'default', 'password': password,
                   'default_project_id': project['id']},
                  name=name, domain_id='default')
    # Passwords are kept in files beside the database: make them agree.
    sess.patch(URL + '/users/' + user['id'],
               json={'user': {'password': password}})
    return user


def grant(project, user, role):
    sess.put(URL + '/projects/%s/users/%s/roles/%s' % (
        project['id'], user['id'], role['id']))


roles = {name: ensure('/roles', 'roles', {'name': name}, name=name)
         for name in ('admin', 'member', 'reader', 'service')}
service_project = ensure('/projects', 'projects',
                         {'name': 'service', 'domain_id': 'default'},
                         name='service', domain_id='default')
grant(service_project, ensure_user('tbe-service', service_project,
                                   os.environ['KS_SERVICE_PASSWORD']),
      roles['service'])
for project_name in ('tbe-a', 'tbe-b'):
    project = ensure('/projects', 'projects',
                     {'name': project_name, 'domain_id': 'default'},
                     name=project_name, domain_id='default')
    for persona in ('member', 'reader', 'admin'):
        user = ensure_user('%s-%s' % (project_name, persona), project,
                           os.environ['KS_PASSWORD'])
        grant(project, user, roles[persona])

service = ensure('/services', 'services',
                 {'name': 'trove-backup', 'type': 'database', 'enabled': True,
                  'description': 'trove-backup-ext (tests)'},
                 type='database')
endpoint_url = 'http://127.0.0.1:%s/v1.0/$(project_id)s' % os.environ[
    'KS_API_PORT']
for interface in ('public', 'internal', 'admin'):
    endpoint = ensure('/endpoints', 'endpoints',
                      {'service_id': service['id'], 'interface': interface,
                       'region_id': 'RegionOne', 'url': endpoint_url},
                      service_id=service['id'], interface=interface)
    if endpoint['url'] != endpoint_url:
        sess.patch(URL + '/endpoints/' + endpoint['id'],
                   json={'endpoint': {'url': endpoint_url}})
EOF
}

manage() {
    OS_KEYSTONE_CONFIG_FILES=$ETC/keystone.conf "$VENV/bin/keystone-manage" \
        --config-file "$ETC/keystone.conf" "$@" >>"$LOG/manage.log" 2>&1 \
        || die "keystone-manage $1 failed; see $LOG/manage.log"
}

setup_database() {     # once per state directory, and again if the port moved
    local stamp="$KEYSTONE_VERSION $PORT"
    if [ -f "$STATE/setup.stamp" ] && [ "$(cat "$STATE/setup.stamp")" = "$stamp" ]; then
        return
    fi
    say "creating the database, keys and admin"
    mkdir -p -m 700 "$STATE/fernet-keys" "$STATE/credential-keys"
    manage db_sync
    # Existing keys are kept: the tokens and credentials they sealed stay
    # readable.
    [ -e "$STATE/fernet-keys/0" ] || manage fernet_setup \
        --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
    [ -e "$STATE/credential-keys/0" ] || manage credential_setup \
        --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
    manage bootstrap --bootstrap-password "$(secret admin)" \
        --bootstrap-admin-url "$URL/v3" --bootstrap-public-url "$URL/v3" \
        --bootstrap-internal-url "$URL/v3" --bootstrap-region-id RegionOne
    echo "$stamp" >"$STATE/setup.stamp"
}

provision() {     # again only when what it would do changed
    local stamp
    stamp=$({ cat "$ETC/provision.py" "$ETC"/*.password; echo "$API_PORT"; } | md5sum)
    if [ -f "$STATE/provision.stamp" ] && [ "$(cat "$STATE/provision.stamp")" = "$stamp" ]; then
        return
    fi
    say "provisioning projects, users and the catalog"
    KS_URL=$URL KS_ADMIN_PASSWORD=$(secret admin) KS_PASSWORD=$(secret users) \
        KS_SERVICE_PASSWORD=$(secret service) KS_API_PORT=$API_PORT \
        "$VENV/bin/python" "$ETC/provision.py" >"$LOG/provision.log" 2>&1 \
        || die "provisioning failed; see $LOG/provision.log"
    echo "$stamp" >"$STATE/provision.stamp"
}

config_sum() {     # what gunicorn is started with
    { cat "$ETC/keystone.conf" "$ETC/keystone_wsgi.py" "$ETC/policy.yaml"; echo "$PORT"; } | md5sum
}

start() {
    local sum pid
    install
    write_configs
    sum=$(config_sum)
    if running_pid >/dev/null && [ "$(cat "$STATE/running.sum" 2>/dev/null)" != "$sum" ]; then
        say "configuration changed: restarting"
        stop
    fi
    setup_database
    if ! running_pid >/dev/null; then
        echo "$sum" >"$STATE/running.sum"
        port_open "$PORT" && die "port $PORT is taken by another process; set KEYSTONE_AIO_PORT"
        # One worker process with one thread: SQLite takes one writer at
        # a time, and concurrent requests in threads of one process made
        # it answer "database is locked" (a 500 to a test's login); the
        # requests are short and simply wait their turn. 9>&-: gunicorn
        # must not inherit (and hold) the start lock.
        OS_KEYSTONE_CONFIG_FILES=$ETC/keystone.conf setsid \
            "$VENV/bin/gunicorn" --chdir "$ETC" --bind "127.0.0.1:$PORT" \
            --workers 1 --worker-class gthread --threads 1 --timeout 120 \
            --no-control-socket keystone_wsgi:application \
            >"$LOG/keystone.log" 2>&1 </dev/null 9>&- &
        echo $! >"$PIDFILE"
    fi
    for _ in $(seq 1 300); do
        answers && break
        pid=$(running_pid) || die "keystone exited; see $LOG/keystone.log"
        sleep 0.2
    done
    answers || die "keystone did not answer within 60 s; see $LOG/keystone.log"
    provision
    say "up: $URL (state in $ROOT)"
    print_env
}

stop() {
    local pid
    if pid=$(running_pid); then
        say "stopping (pid $pid)"
        stop_pids "$pid"
    fi
    rm -f "$PIDFILE"
}

status() {
    local pid
    if pid=$(running_pid); then
        say "running (pid $pid, $URL)"
    else
        say "stopped"; return 1
    fi
    answers && say "answers at $URL/v3" || { say "does not answer"; return 1; }
}

lock() {     # test processes starting it at once: one does, the rest wait
    hold_lock "$ROOT/lock" 300 keystone-aio.sh
}

case ${1:-start} in
    start) lock; start ;;
    stop) lock; stop ;;
    status) status ;;
    env) print_env ;;
    *) die "usage: $0 [start|stop|status|env]" ;;
esac
