#!/usr/bin/env bash
# Runs the tempest plugin of this repository (trove_backup_ext_tempest)
# with `tempest run` against a live deployment and the real Keystone.
#
#   tools/tempest-run.sh [more `tempest run` arguments]
#
# Exit status: tempest's (0 when every test passed). Only the summary of
# tempest goes to stdout, with a last line "tempest: N passed, N failed,
# N skipped"; progress to stderr. Logs stay in TEMPEST_AIO_DIR (default
# ./.tempest-aio, gitignored): workspace/ (tempest.conf, accounts.yaml,
# tempest.log) and deployment/log/.
#
# What it sets up, every run from scratch except the installs:
# 1. Keystone: tools/keystone-aio.sh start. Its catalog holds our service
#    (type "database") at http://127.0.0.1:$TBE_KEYSTONE_API_PORT/v1.0/
#    $(project_id)s, which is where the API below listens.
# 2. tempest (PyPI, pinned) in its own venv, with this checkout installed
#    into it editable and without dependencies: tempest finds the plugin
#    through its tempest.test_plugins entry point, and the plugin needs
#    nothing of the service's own dependencies.
# 3. The deployment, from the project's venv (VENV, default .venv):
#    trove-backup-api with auth_strategy = keystone (keystonemiddleware
#    validating tokens with the service user tbe-service),
#    trove-backup-worker and two trove-backup-agent (sqlite datastore,
#    local storage), as separate processes talking over the machine's
#    RabbitMQ in a vhost of their own (tbe-tempest), so that no other
#    user of the broker takes their messages. Instances (registry source):
#    live-a (tbe-a, with an agent), live-b (tbe-b, with an agent),
#    stalled-a (tbe-a, ACTIVE, no agent: its backups stay NEW until the
#    worker's reaper fails them after backup_timeout = 10 s) and
#    building-a (tbe-a, status BUILD).
# 4. tempest.conf and a pre-provisioned accounts.yaml: primary is
#    tbe-a-member, admin is tbe-b-admin (another project, admin role).
#    Tests run one at a time: they share one instance, and a backup
#    running on it makes a second one a 422.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

TEMPEST_VERSION=47.0.0
RUN_TIMEOUT=${TEMPEST_RUN_TIMEOUT:-900}
cd_repo_root
REPO=$PWD
ROOT=$(realpath -m "${TEMPEST_AIO_DIR:-.tempest-aio}")
TVENV=$ROOT/venv
WS=$ROOT/workspace
DEP=$ROOT/deployment
VENV=$(realpath -m "${VENV:-.venv}")
VHOST=tbe-tempest
RABBIT=${TBE_TEST_RABBIT_HOST:-127.0.0.1:5672}
PIDS=()

die() {     # lib.sh's, but 2: 1 is tempest's "a test failed"
    say "$*"
    exit 2
}

lock() {     # one run at a time: the ports and the vhost are fixed
    hold_lock "$ROOT/lock" 600 tempest-run.sh
}

has_plugin() {     # the entry point tempest finds the plugin by
    "$TVENV/bin/python" -c 'import importlib.metadata as m, sys
names = [e.name for e in m.entry_points(group="tempest.test_plugins")]
sys.exit("trove_backup_ext" not in names)' 2>/dev/null
}

install_tempest() {
    if [ ! -f "$TVENV/.tempest-$TEMPEST_VERSION" ]; then
        say "installing tempest==$TEMPEST_VERSION into $TVENV"
        rm -f "$TVENV"/.tempest-*
        [ -x "$TVENV/bin/python" ] || python3 -m venv "$TVENV"
        pip_install "$TVENV" "tempest==$TEMPEST_VERSION" >&2
        "$TVENV/bin/python" -c 'import tempest.cmd.main' \
            || die "tempest did not install"
        touch "$TVENV/.tempest-$TEMPEST_VERSION"
    fi
    # Editable: the plugin's code is this checkout's; reinstalled only to
    # (re)make its entry point.
    if ! has_plugin; then
        say "installing the plugin (this checkout) into $TVENV"
        pip_install_checkout "$TVENV" --no-deps -e "$REPO" >&2
        has_plugin || die "no tempest.test_plugins entry point trove_backup_ext (setup.cfg)"
    fi
}

install_service() {
    if [ ! -x "$VENV/bin/trove-backup-api" ]; then
        say "installing trove-backup-ext into $VENV"
        [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
        pip_install_checkout "$VENV" -e "$REPO" >&2
    fi
}

# A process of ours left by a run that was killed: its pid file, and
# DEP in its command line (a recycled pid is never taken for ours).
stop_leftovers() {
    local pidfile pid
    for pidfile in "$DEP"/run/*.pid; do
        if pid=$(pid_of "$pidfile" "$DEP/"); then
            kill -9 -- "-$pid" 2>/dev/null || true
        fi
    done
}

stop_deployment() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 -- "-$pid" 2>/dev/null || true
    done
    PIDS=()
    rabbitmqctl -q delete_vhost "$VHOST" >/dev/null 2>&1 || true
}

start() {    # name, command...: own process group, log, pid file
    local name=$1
    shift
    setsid "$@" >"$DEP/log/$name.log" 2>&1 </dev/null 9>&- &
    PIDS+=("$!")
    echo "$!" >"$DEP/run/$name.pid"
}

wait_log() {     # name, pattern: up to 60 s
    local name=$1 pattern=$2
    for _ in $(seq 1 600); do
        grep -q -E -- "$pattern" "$DEP/log/$name.log" && return 0
        kill -0 "$(cat "$DEP/run/$name.pid")" 2>/dev/null || {
            tail -n 40 "$DEP/log/$name.log" >&2
            die "$name exited; see $DEP/log/$name.log"; }
        sleep 0.1
    done
    tail -n 40 "$DEP/log/$name.log" >&2
    die "$name did not log '$pattern' within 60 s"
}

project_ids() {     # of tbe-a and tbe-b, from real logins
    "$VENV/bin/python" - <<'EOF'
import os
from keystoneauth1.identity import v3
from keystoneauth1 import session
for user, project in (('tbe-a-member', 'tbe-a'), ('tbe-b-admin', 'tbe-b')):
    auth = v3.Password(auth_url=os.environ['TBE_KEYSTONE_AUTH_URL'],
                       username=user, project_name=project,
                       password=os.environ['TBE_KEYSTONE_PASSWORD'],
                       user_domain_id='default', project_domain_id='default')
    print(auth.get_project_id(session.Session()))
EOF
}

write_deployment_configs() {
    local common
    common="[DEFAULT]
transport_url = rabbit://guest:guest@$RABBIT/$VHOST
storage_strategy = local
instance_source = registry

[api]
auth_strategy = keystone
host = 127.0.0.1
port = $TBE_KEYSTONE_API_PORT

[keystone_authtoken]
www_authenticate_uri = $TBE_KEYSTONE_URL
auth_type = password
auth_url = $TBE_KEYSTONE_AUTH_URL
username = $TBE_KEYSTONE_SERVICE_USER
password = $TBE_KEYSTONE_SERVICE_PASSWORD
project_name = $TBE_KEYSTONE_SERVICE_PROJECT
user_domain_id = default
project_domain_id = default

[local_storage]
storage_dir = $DEP/backups

[backup_encryption]
key_file = $DEP/backup.key

[oslo_messaging_rabbit]
rabbit_interval_max = 2
"
    (umask 077
     python3 -c 'import secrets; print(secrets.token_hex(32))' >"$DEP/backup.key"
     # The workers' master key seals the agents' keys in the database;
     # trove-backup-manage instance add writes each agent's key file.
     python3 -c 'import secrets; print(secrets.token_hex(32))' >"$DEP/agent-keys.master"
     mkdir -p "$DEP/agent-keys"
     printf '%s\n[database]\nconnection = sqlite:///%s/control.sqlite\n\n[worker]\nbackup_timeout = 10\nreaper_interval = 1\nagent_keys_master_key_file = %s/agent-keys.master\nagent_key_dir = %s/agent-keys\n\n[scheduler]\ntick_interval = 5\n' \
         "$common" "$DEP" "$DEP" "$DEP" >"$DEP/control.conf"
     for name in a b; do
         if [ "$name" = a ]; then id=$LIVE_A; else id=$LIVE_B; fi
         printf '%s\n[agent]\ndatastore = sqlite\nprogress_interval = 1\nkey_file = %s/agent-keys/%s.key\n\n[sqlite]\ndatabase_path = %s/live-%s.sqlite\n' \
             "$common" "$DEP" "$id" "$DEP" "$name" >"$DEP/agent-$name.conf"
     done)
    for name in a b; do
        python3 - "$DEP/live-$name.sqlite" <<'EOF'
import sqlite3, sys
with sqlite3.connect(sys.argv[1]) as db:
    db.execute('PRAGMA journal_mode=wal')
    db.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)')
    db.executemany('INSERT INTO items VALUES (?, ?)',
                   ((i, 'item %d' % i) for i in range(1, 5001)))
EOF
    done
}

add_instance() {     # id, name, project id, status
    "$VENV/bin/trove-backup-manage" --config-file "$DEP/control.conf" \
        instance add --id "$1" --name "$2" --project-id "$3" \
        --datastore sqlite --datastore-version "$SQLITE_VERSION" \
        --status "$4" >/dev/null 2>>"$DEP/log/manage.log" \
        || die "registering instance $2 failed; see $DEP/log/manage.log"
}

deploy() {
    local ids project_a project_b pid adds
    stop_leftovers
    rm -rf "$DEP"
    mkdir -p "$DEP/log" "$DEP/run" "$DEP/backups"
    chmod 700 "$DEP"
    rabbitmqctl -q delete_vhost "$VHOST" >/dev/null 2>&1 || true
    rabbitmqctl -q add_vhost "$VHOST" >/dev/null
    rabbitmqctl -q set_permissions -p "$VHOST" guest '.*' '.*' '.*' >/dev/null
    LIVE_A=$(cat /proc/sys/kernel/random/uuid)
    LIVE_B=$(cat /proc/sys/kernel/random/uuid)
    write_deployment_configs
    ids=$(project_ids)
    project_a=$(sed -n 1p <<<"$ids")
    project_b=$(sed -n 2p <<<"$ids")
    SQLITE_VERSION=$(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)')
    STALLED_A=$(cat /proc/sys/kernel/random/uuid)
    BUILDING_A=$(cat /proc/sys/kernel/random/uuid)
    "$VENV/bin/trove-backup-manage" --config-file "$DEP/control.conf" db sync \
        >>"$DEP/log/manage.log" 2>&1 || die "db sync failed; see $DEP/log/manage.log"
    # The services start while the instances are registered: agents know
    # their instance by id alone, and nothing asks for one before tempest.
    start worker "$VENV/bin/trove-backup-worker" --config-file "$DEP/control.conf"
    start agent-a "$VENV/bin/trove-backup-agent" --config-file "$DEP/agent-a.conf" \
        --instance-id "$LIVE_A"
    start agent-b "$VENV/bin/trove-backup-agent" --config-file "$DEP/agent-b.conf" \
        --instance-id "$LIVE_B"
    start api "$VENV/bin/trove-backup-api" --config-file "$DEP/control.conf"
    # At once: each command spends its seconds importing, not writing.
    add_instance "$LIVE_A" live-a "$project_a" ACTIVE & adds=("$!")
    add_instance "$LIVE_B" live-b "$project_b" ACTIVE & adds+=("$!")
    add_instance "$STALLED_A" stalled-a "$project_a" ACTIVE & adds+=("$!")
    add_instance "$BUILDING_A" building-a "$project_a" BUILD & adds+=("$!")
    for pid in "${adds[@]}"; do
        wait "$pid" || die "registering the instances failed"
    done
    wait_log worker 'trove-backup-worker serving topic'
    wait_log agent-a 'trove-backup-agent of instance'
    wait_log agent-b 'trove-backup-agent of instance'
    wait_log api 'trove-backup-api listening'
    # Without a token: auth_token's 401 means the whole stack answers.
    [ "$(curl -m 10 -s -o /dev/null -w '%{http_code}' \
        "http://127.0.0.1:$TBE_KEYSTONE_API_PORT/v1.0/$project_a/backups")" = 401 ] \
        || die "the API does not answer 401 without a token; see $DEP/log/api.log"
}

write_tempest_config() {
    mkdir -p "$WS/etc" "$WS/logs"
    (umask 077
     cat >"$WS/etc/accounts.yaml" <<EOF
- username: tbe-a-member
  project_name: tbe-a
  password: $TBE_KEYSTONE_PASSWORD
  roles: [member]
- username: tbe-b-admin
  project_name: tbe-b
  password: $TBE_KEYSTONE_PASSWORD
  roles: [admin]
EOF
     cat >"$WS/etc/tempest.conf" <<EOF
[DEFAULT]
log_dir = $WS/logs
log_file = tempest.log

[auth]
use_dynamic_credentials = false
test_accounts_file = $WS/etc/accounts.yaml
default_credentials_domain_name = Default
create_isolated_networks = false

[identity]
uri_v3 = $TBE_KEYSTONE_AUTH_URL
auth_version = v3
region = RegionOne
admin_role = admin

[identity-feature-enabled]
api_v2 = false

[service_available]
trove_backup_ext = true
nova = false
cinder = false
glance = false
neutron = false
swift = false

[database_backup]
catalog_type = database
endpoint_type = publicURL
build_interval = 1
build_timeout = 120
datastore = sqlite
instance_id = $LIVE_A
admin_instance_id = $LIVE_B
stalled_instance_id = $STALLED_A
inactive_instance_id = $BUILDING_A
EOF
    )
}

main() {
    local started rc log
    lock
    started=$(date +%s)
    trap stop_deployment EXIT
    tools/ensure-services.sh >&2     # RabbitMQ, when run on its own
    eval "$(tools/keystone-aio.sh start)"
    say "keystone up after $(( $(date +%s) - started )) s"
    install_service
    install_tempest
    say "tempest installed after $(( $(date +%s) - started )) s"
    deploy
    say "deployment up after $(( $(date +%s) - started )) s"
    write_tempest_config
    log=$WS/logs/run.log
    set +e
    (cd "$WS" && timeout "$RUN_TIMEOUT" "$TVENV/bin/tempest" run \
        --config-file "$WS/etc/tempest.conf" \
        --regex '^trove_backup_ext_tempest\.' --concurrency 1 "$@") \
        >"$log" 2>&1
    rc=$?
    set -e
    # The failures' details (all but the passed tests), then the summary.
    if [ "$rc" != 0 ]; then
        awk '/^Totals$/ {exit} {print}' "$log" | grep -v -e '\.\.\. ok$' \
            | tail -n 400 >&2 || true
        [ "$rc" = 124 ] && say "tempest run timed out after $RUN_TIMEOUT s"
    fi
    sed -n '/^Totals$/,$p' "$log"
    awk '/ - Passed: /{p=$3} / - Failed: /{f=$3} / - Skipped: /{s=$3}
         END {printf "tempest: %d passed, %d failed, %d skipped\n", p, f, s}' "$log"
    say "done after $(( $(date +%s) - started )) s; logs in $WS/logs and $DEP/log"
    if [ "$rc" = 0 ] && ! grep -q ' - Passed: [1-9]' "$log"; then
        say "tempest ran no test"
        rc=1
    fi
    return "$rc"
}

main "$@"
