# shellcheck shell=bash
# What the scripts of tools/ share. Sourced, never run, first thing after
# their `set`:
#
#     . "$(dirname "$0")/lib.sh"
#
# Sourcing it defines functions and does nothing else: no shell option
# changes (a caller's `set -euo pipefail` holds; ensure-services.sh keeps
# running without -e), no variable is set, the directory stays. It offers:
#
#   cd_repo_root            cd to the checkout's root (this file's ..)
#   say MESSAGE...          "NAME: MESSAGE" to stderr, NAME the script's
#                           file name without .sh (stdout stays for what
#                           callers eval)
#   die MESSAGE...          say, then exit 1
#   hold_lock FILE SECONDS WHO
#                           lock FILE (made with its directory) on fd 9,
#                           waiting up to SECONDS; dies "another WHO
#                           holds FILE". Children must not inherit fd 9
#                           (9>&-), or they hold the lock too
#   pip_install VENV ARGS...
#                           `pip install -q ARGS` with VENV's pip, its
#                           output on stdout without pip's "WARNING:
#                           Location" lines; status 0 even when pip fails:
#                           callers check by importing what they needed
#   pip_install_checkout VENV ARGS...
#                           the same for ARGS installing this checkout,
#                           also without the build backend's warnings
#   port_open PORT [SECONDS]
#                           true if 127.0.0.1:PORT accepts a connection
#                           within SECONDS (default 1)
#   pid_of PIDFILE MARKER   the pid in PIDFILE if that process is alive
#                           and its command line contains MARKER
#   alive PID               true if PID runs (a zombie does not)
#   stop_pids PID...        TERM to each, KILL to any still alive 10 s on

cd_repo_root() {
    cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit
}

say() {
    local name=${0##*/}
    echo "${name%.sh}: $*" >&2
}

die() {
    say "$*"
    exit 1
}

hold_lock() {
    mkdir -p "$(dirname "$1")"
    exec 9>"$1"
    flock -w "$2" 9 || die "another $3 holds $1"
}

pip_install() {
    local venv=$1
    shift
    "$venv/bin/pip" install -q "$@" 2>&1 | grep -v -e '^WARNING: Location' || true
}

pip_install_checkout() {     # pbr's build backend warns on every build
    pip_install "$@" | grep -v -e 'BuildBackendWarning' || true
}

port_open() {
    python3 -c 'import socket,sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), float(sys.argv[2])).close()
except OSError:
    sys.exit(1)' "$1" "${2:-1}"
}

# A recycled pid must never be taken for (or killed as) ours: hence the
# MARKER, something only our process's command line holds.
pid_of() {
    local pid
    [ -f "$1" ] || return 1
    pid=$(cat "$1")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -F -- "$2" || return 1
    echo "$pid"
}

alive() {     # a zombie waiting for its reaper is gone for us
    [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

stop_pids() {
    local pid
    # All signalled first, then waited for: each takes a moment to exit.
    for pid in "$@"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "$@"; do
        for _ in $(seq 1 100); do
            alive "$pid" || break
            sleep 0.1
        done
        alive "$pid" && kill -9 "$pid" 2>/dev/null
    done
    return 0
}
