#!/usr/bin/env bash
# A real all-in-one OpenStack Swift on loopback, for the tests.
#
#   tools/swift-aio.sh [start]   install if needed, start what is not running,
#                                wait for the proxy, print the auth variables
#   tools/swift-aio.sh stop      stop the processes this script started
#   tools/swift-aio.sh status    say what runs
#   tools/swift-aio.sh env       print the auth variables only
#   tools/swift-aio.sh start-keystone-proxy
#                                start, then also a second proxy that
#                                authenticates with Keystone (see below)
#
# `eval "$(tools/swift-aio.sh start)"` exports ST_AUTH, ST_USER and ST_KEY
# (tempauth, v1): only those `export` lines go to stdout, the rest to
# stderr. Swift (PyPI swift==2.38.3) lives in its own venv so its pinned
# dependencies never touch the project's; everything (venv, configs, rings,
# one device directory, logs, pid files) is under SWIFT_AIO_DIR (default
# ./.swift-aio, gitignored). One replica, workers = 0, memcached for
# tempauth's tokens. Idempotent: a second start with everything up only
# checks the proxy (and restarts it all if the generated configuration
# changed); stop keeps the data for the next start. Ports: SWIFT_AIO_PORT (default 16200) for the proxy,
# the next four for the object, container and account servers and memcached,
# the fifth for the Keystone proxy.
#
# start-keystone-proxy: a second proxy server on the same rings and storage
# servers whose pipeline is keystonemiddleware's auth_token plus Swift's
# keystoneauth (operator_roles admin, member; accounts AUTH_<project id>)
# and our access_rules filter (trove_backup_ext_swift), against the
# Keystone of tools/keystone-aio.sh (started if it is not running).
# keystonemiddleware==KSM_VERSION goes into Swift's venv. It
# registers that proxy in Keystone's catalog (service swift, type
# object-store, http://127.0.0.1:PORT/v1/AUTH_$(project_id)s) and prints,
# besides the ST_* variables, TBE_SWIFT_KEYSTONE_URL (the proxy's /v1 URL).
# The catalog has one such entry: the last start-keystone-proxy's (another
# SWIFT_AIO_DIR/PORT re-points it). stop stops it too.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SWIFT_VERSION=2.38.3
KSM_VERSION=13.0.1
cd_repo_root
ROOT=$(realpath -m "${SWIFT_AIO_DIR:-.swift-aio}")
VENV=$ROOT/venv
ETC=$ROOT/etc
RUN=$ROOT/run
LOG=$ROOT/log
DEVICES=$ROOT/devices
PROXY_PORT=${SWIFT_AIO_PORT:-16200}
OBJECT_PORT=$((PROXY_PORT + 1))
CONTAINER_PORT=$((PROXY_PORT + 2))
ACCOUNT_PORT=$((PROXY_PORT + 3))
MEMCACHED_PORT=$((PROXY_PORT + 4))
KEYSTONE_PROXY_PORT=$((PROXY_PORT + 5))
ST_AUTH=http://127.0.0.1:$PROXY_PORT/auth/v1.0
ST_USER=test:tester
ST_KEY=testing
SERVERS="object container account proxy"

print_env() {
    echo "export ST_AUTH=$ST_AUTH"
    echo "export ST_USER=$ST_USER"
    echo "export ST_KEY=$ST_KEY"
}

port_of() {
    case $1 in
        proxy) echo "$PROXY_PORT" ;; object) echo "$OBJECT_PORT" ;;
        container) echo "$CONTAINER_PORT" ;; account) echo "$ACCOUNT_PORT" ;;
        memcached) echo "$MEMCACHED_PORT" ;;
        proxy-keystone) echo "$KEYSTONE_PROXY_PORT" ;;
    esac
}

# What the command line of our process of that name contains.
marker_of() {
    case $1 in
        memcached) echo "-p $MEMCACHED_PORT" ;;
        *) echo "$ETC/$1-server.conf" ;;
    esac
}

running_pid() {     # of our process of that name
    pid_of "$RUN/$1.pid" "$(marker_of "$1")"
}

proxy_answers() {     # auth, then a HEAD of the account: the whole chain
    local headers token url
    headers=$(curl -m 5 -fsS -D - -o /dev/null -H "X-Auth-User: $ST_USER" \
        -H "X-Auth-Key: $ST_KEY" "$ST_AUTH" 2>/dev/null) || return 1
    token=$(awk -F': ' 'tolower($1)=="x-auth-token"{print $2}' <<<"$headers" | tr -d '\r')
    url=$(awk -F': ' 'tolower($1)=="x-storage-url"{print $2}' <<<"$headers" | tr -d '\r')
    [ -n "$token" ] && [ -n "$url" ] || return 1
    curl -m 5 -fsS -I -o /dev/null -H "X-Auth-Token: $token" "$url" 2>/dev/null
}

install() {
    if ! command -v memcached >/dev/null; then
        say "installing memcached (Debian)"
        apt-get install -y -qq memcached >&2 \
            || { apt-get update -qq >&2 && apt-get install -y -qq memcached >&2; }
    fi
    if [ ! -f "$VENV/.swift-$SWIFT_VERSION" ]; then
        say "installing swift==$SWIFT_VERSION into $VENV"
        python3 -m venv "$VENV"
        pip_install "$VENV" "swift==$SWIFT_VERSION" >&2
        "$VENV/bin/python" -c 'import swift.proxy.server' \
            || die "swift did not install"
        touch "$VENV/.swift-$SWIFT_VERSION"
    fi
}

# A proxy server's configuration but its auth filters' sections, which
# the caller writes after it: proxy_config PORT LOG_NAME AUTH_FILTERS.
proxy_config() {
    cat <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $1
workers = 0
user = $(id -un)
swift_dir = $ETC
log_name = $2

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats $3 copy slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MEMCACHED_PORT

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
[filter:symlink]
use = egg:swift#symlink

EOF
}

write_configs() {
    local user server
    user=$(id -un)
    mkdir -p "$ETC" "$RUN" "$LOG" "$DEVICES/d1"
    cat >"$ETC/swift.conf" <<EOF
[swift-hash]
swift_hash_path_prefix = trove-backup-ext
swift_hash_path_suffix = aio

[storage-policy:0]
name = gold
default = yes

[swift-constraints]
# Small, so that tests exercise paged listings with a few dozen objects.
container_listing_limit = 25
EOF
    for server in object container account; do
        cat >"$ETC/$server-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $(port_of "$server")
workers = 0
user = $user
swift_dir = $ETC
devices = $DEVICES
mount_check = false
disable_fallocate = true
log_name = $server-server

[pipeline:main]
pipeline = $server-server

[app:$server-server]
use = egg:swift#$server
EOF
    done
    { proxy_config "$PROXY_PORT" proxy-server tempauth
      cat <<EOF
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = $ST_KEY .admin
EOF
    } >"$ETC/proxy-server.conf"
    # Background servers read /etc/swift/swift.conf unless told otherwise
    # before anything else is imported.
    cat >"$ETC/run_server.py" <<'EOF'
"""Runs one Swift server with swift_dir set first: run_server.py DIR MODULE CONF."""
import importlib
import sys

from swift.common import constraints
from swift.common import utils

utils.set_swift_dir(sys.argv[1])
constraints.reload_constraints()
module = importlib.import_module(sys.argv[2])
sys.argv = [sys.argv[2], sys.argv[3], '--verbose']
sys.exit(module.main())
EOF
}

build_rings() {
    local stamp="$OBJECT_PORT $CONTAINER_PORT $ACCOUNT_PORT" kind
    if [ -f "$ETC/rings.stamp" ] && [ "$(cat "$ETC/rings.stamp")" = "$stamp" ]; then
        return
    fi
    say "building rings"
    for kind in object container account; do
        rm -f "$ETC/$kind.builder" "$ETC/$kind.ring.gz"
        "$VENV/bin/swift-ring-builder" "$ETC/$kind.builder" create 8 1 1 >/dev/null
        "$VENV/bin/swift-ring-builder" "$ETC/$kind.builder" add \
            "r1z1-127.0.0.1:$(port_of "$kind")/d1" 100 >/dev/null
        # Exit status 1 is a warning (e.g. about a single device), not a failure.
        "$VENV/bin/swift-ring-builder" "$ETC/$kind.builder" rebalance >/dev/null \
            || [ $? -eq 1 ] || die "ring $kind did not build"
    done
    echo "$stamp" >"$ETC/rings.stamp"
}

config_sum() {     # of the tempauth proxy and the storage servers
    { cat "$ETC"/{account,container,object,proxy}-server.conf "$ETC"/swift.conf \
        "$ETC"/run_server.py "$ETC"/rings.stamp 2>/dev/null || true; } | md5sum
}

start_one() {    # name, then the command; detached, logged, pid recorded
    local name=$1 port
    shift
    running_pid "$name" >/dev/null && return 0
    port=$(port_of "$name")
    if port_open "$port"; then
        die "port $port ($name) is taken by another process; set SWIFT_AIO_PORT"
    fi
    # 9>&-: the servers must not inherit (and hold) the start lock.
    setsid "$@" >"$LOG/$name.log" 2>&1 </dev/null 9>&- &
    echo $! >"$RUN/$name.pid"
}

start_base() {     # everything but the Keystone proxy, up and answering
    local server module before after
    install
    before=$(config_sum)
    write_configs
    build_rings
    after=$(config_sum)
    if [ "$before" != "$after" ] && running_pid proxy >/dev/null; then
        say "configuration changed: restarting"
        stop
    fi
    start_one memcached memcached -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 \
        -m 64 -u "$(id -un)"
    for server in $SERVERS; do
        case $server in
            object) module=swift.obj.server ;;
            *) module=swift.$server.server ;;
        esac
        start_one "$server" "$VENV/bin/python" "$ETC/run_server.py" "$ETC" \
            "$module" "$ETC/$server-server.conf"
    done
    for _ in $(seq 1 150); do
        if proxy_answers; then
            say "up: proxy $ST_AUTH (state in $ROOT)"
            return 0
        fi
        for server in memcached $SERVERS; do
            running_pid "$server" >/dev/null \
                || die "$server exited; see $LOG/$server.log"
        done
        sleep 0.2
    done
    die "the proxy did not answer within 30 s; see $LOG/"
}

start() {
    start_base
    print_env
}

install_keystonemiddleware() {
    [ -f "$VENV/.keystonemiddleware-$KSM_VERSION" ] && return 0
    say "installing keystonemiddleware==$KSM_VERSION into $VENV"
    pip_install "$VENV" "keystonemiddleware==$KSM_VERSION" >&2
    "$VENV/bin/python" -c 'import keystonemiddleware.auth_token' \
        || die "keystonemiddleware did not install"
    touch "$VENV/.keystonemiddleware-$KSM_VERSION"
}

# Our filter in Swift's venv: a deployer installs the distribution there
# with `pip install --no-deps trove-backup-ext`; here a .pth file puts this
# checkout's trove_backup_ext_swift (which needs nothing but Swift) on its
# path, so the proxy always runs the code under test.
install_access_rules_filter() {
    local site
    site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$PWD" >"$site/trove-backup-ext-swift.pth"
    "$VENV/bin/python" -c 'import trove_backup_ext_swift.access_rules' \
        || die "trove_backup_ext_swift is not importable in $VENV"
}

write_keystone_proxy_config() {     # needs the TBE_KEYSTONE_* variables
    (umask 077
     { proxy_config "$KEYSTONE_PROXY_PORT" proxy-keystone \
           "authtoken keystoneauth access_rules"
       cat <<EOF
[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = $TBE_KEYSTONE_URL
auth_type = password
auth_url = $TBE_KEYSTONE_AUTH_URL
username = $TBE_KEYSTONE_SERVICE_USER
password = $TBE_KEYSTONE_SERVICE_PASSWORD
project_name = $TBE_KEYSTONE_SERVICE_PROJECT
user_domain_id = default
project_domain_id = default
# keystoneauth decides; auth_token only says who the caller is.
delay_auth_decision = true
# Swift's memcache client ("memcached_servers" needs python-memcached).
cache = swift.cache
# The catalog is what auth_token checks an access rule's service type
# against: without it, a token of an application credential gets a 500.
include_service_catalog = true
# Without it auth_token refuses every token of an application credential
# with access rules; with it, it enforces them (the backups' storage
# credentials, which may reach one backup's objects only).
service_type = object-store
# Otherwise any valid token sent as X-Service-Token skips the access
# rules of the X-Auth-Token: only a real service's token may.
service_token_roles_required = true

[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = admin, member
reseller_prefix = AUTH_

# Ours: the access rules also limit the requests Swift's middlewares make
# for the caller (large objects' segments, symlinks' targets, copies).
[filter:access_rules]
paste.filter_factory = trove_backup_ext_swift.access_rules:filter_factory
EOF
     } >"$ETC/proxy-keystone-server.conf")
    # Through Keystone's REST API as its admin; get-or-create, so a second
    # run changes nothing.
    cat >"$ETC/register_swift.py" <<'EOF'
"""Registers the Keystone proxy as object-store in Keystone's catalog."""
import os

from keystoneauth1.identity import v3
from keystoneauth1 import session

URL = os.environ['TBE_KEYSTONE_AUTH_URL']
sess = session.Session(auth=v3.Password(
    auth_url=URL, username=os.environ['TBE_KEYSTONE_ADMIN_USER'],
    password=os.environ['TBE_KEYSTONE_ADMIN_PASSWORD'],
    user_domain_id='default', system_scope='all'))
endpoint_url = os.environ['SWIFT_URL'] + '/AUTH_$(project_id)s'
services = sess.get(URL + '/services',
                    params={'type': 'object-store'}).json()['services']
service = services[0] if services else sess.post(URL + '/services', json={
    'service': {'name': 'swift', 'type': 'object-store', 'enabled': True,
                'description': 'swift-aio Keystone proxy (tests)'}}
).json()['service']
for interface in ('public', 'internal', 'admin'):
    found = sess.get(URL + '/endpoints', params={
        'service_id': service['id'], 'interface': interface}).json()[
        'endpoints']
    if not found:
        sess.post(URL + '/endpoints', json={'endpoint': {
            'service_id': service['id'], 'interface': interface,
            'region_id': 'RegionOne', 'url': endpoint_url}})
    elif found[0]['url'] != endpoint_url:
        sess.patch(URL + '/endpoints/' + found[0]['id'],
                   json={'endpoint': {'url': endpoint_url}})
EOF
}

keystone_proxy_answers() {     # 401 without a token: auth_token + keystoneauth decide
    [ "$(curl -m 5 -s -o /dev/null -w '%{http_code}' \
        "http://127.0.0.1:$KEYSTONE_PROXY_PORT/v1/AUTH_probe" 2>/dev/null)" = 401 ]
}

start_keystone_proxy() {
    local keystone_env sum swift_url=http://127.0.0.1:$KEYSTONE_PROXY_PORT/v1
    start_base
    keystone_env=$(tools/keystone-aio.sh start 9>&-) \
        || die "tools/keystone-aio.sh start failed"
    eval "$keystone_env"
    install_keystonemiddleware
    install_access_rules_filter
    write_keystone_proxy_config
    sum=$({ cat "$ETC/proxy-keystone-server.conf" \
                trove_backup_ext_swift/*.py; config_sum; } | md5sum)
    if running_pid proxy-keystone >/dev/null \
            && [ "$(cat "$RUN/proxy-keystone.sum" 2>/dev/null)" != "$sum" ]; then
        say "Keystone proxy configuration changed: restarting it"
        stop_servers proxy-keystone
    fi
    if ! running_pid proxy-keystone >/dev/null; then
        echo "$sum" >"$RUN/proxy-keystone.sum"
        start_one proxy-keystone "$VENV/bin/python" "$ETC/run_server.py" \
            "$ETC" swift.proxy.server "$ETC/proxy-keystone-server.conf"
    fi
    SWIFT_URL=$swift_url "$VENV/bin/python" "$ETC/register_swift.py" \
        >"$LOG/register.log" 2>&1 \
        || die "registering Swift in Keystone failed; see $LOG/register.log"
    for _ in $(seq 1 150); do
        if keystone_proxy_answers; then
            say "up: Keystone proxy $swift_url"
            print_env
            echo "export TBE_SWIFT_KEYSTONE_URL=$swift_url"
            return 0
        fi
        running_pid proxy-keystone >/dev/null \
            || die "proxy-keystone exited; see $LOG/proxy-keystone.log"
        sleep 0.2
    done
    die "the Keystone proxy did not answer within 30 s; see $LOG/"
}

stop_servers() {     # the servers named
    local name pid pids=()
    for name in "$@"; do
        if pid=$(running_pid "$name"); then
            pids+=("$pid")
            say "$name stopping"
        fi
        rm -f "$RUN/$name.pid"
    done
    stop_pids "${pids[@]}"
}

stop() {
    stop_servers proxy-keystone proxy account container object memcached
}

status() {
    local name rc=0
    for name in memcached $SERVERS; do
        if pid=$(running_pid "$name"); then
            say "$name: running (pid $pid, port $(port_of "$name"))"
        else
            say "$name: stopped"; rc=1
        fi
    done
    proxy_answers && say "proxy answers at $ST_AUTH" || { say "proxy does not answer"; rc=1; }
    # Only started on demand: reported, never a failure of the status.
    if pid=$(running_pid proxy-keystone); then
        say "proxy-keystone: running (pid $pid, port $KEYSTONE_PROXY_PORT)"
    fi
    return $rc
}

lock() {     # test processes starting it at once: one does, the rest wait
    hold_lock "$ROOT/lock" 120 swift-aio.sh
}

case ${1:-start} in
    start) lock; start ;;
    start-keystone-proxy) lock; start_keystone_proxy ;;
    stop) lock; stop ;;
    status) status ;;
    env) print_env ;;
    *) die "usage: $0 [start|start-keystone-proxy|stop|status|env]" ;;
esac
