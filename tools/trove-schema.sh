#!/usr/bin/env bash
# The real OpenStack Trove database schema, for the trove instance source's
# tests.
#
#   tools/trove-schema.sh install      install Trove into its venv if needed
#   tools/trove-schema.sh sync URL     install if needed, then run the real
#                                      `trove-manage db_sync` on the database
#                                      at the SQLAlchemy URL (which must exist;
#                                      a SQLite file is created)
#   tools/trove-schema.sh python       install if needed, print the venv's python
#
# Trove (PyPI trove==26.0.0, the 2026.2 release; every dependency pinned by
# tools/trove-constraints.txt) lives in its own venv, TROVE_VENV (default
# ./.trove-venv, gitignored): its eventlet and pins never touch the
# project's venv. Installing takes about 40 s once; after that install is a
# stamp check and sync takes the few seconds of db_sync itself. db_sync
# runs Trove's alembic migrations, so a second sync of the same database
# changes nothing. Trove 26.0.0's migrations fail on PostgreSQL (they
# declare TEXT(4294967295)): use SQLite or MySQL/MariaDB.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

TROVE_VERSION=26.0.0
cd_repo_root
CONSTRAINTS=$PWD/tools/trove-constraints.txt
VENV=$(realpath -m "${TROVE_VENV:-.trove-venv}")

stamp() {     # changes when the version or a pin changes
    echo "$VENV/.trove-$TROVE_VERSION-$(md5sum <"$CONSTRAINTS" | cut -c1-12)"
}

install() {
    [ -f "$(stamp)" ] && return 0
    # Test processes installing at once: one does, the others wait for it.
    hold_lock "$VENV/.lock" 600 install
    if [ ! -f "$(stamp)" ]; then
        say "installing trove==$TROVE_VERSION into $VENV"
        rm -f "$VENV"/.trove-*
        python3 -m venv "$VENV"
        pip_install "$VENV" -c "$CONSTRAINTS" "trove==$TROVE_VERSION" >&2
        "$VENV/bin/python" -c 'import trove.cmd.manage' 2>/dev/null \
            || die "trove did not install"
        touch "$(stamp)"
    fi
    exec 9>&-
}

sync() {
    local url=$1 work rc=0
    install
    work=$(mktemp -d)
    # The URL may hold a password: the file is readable by us only.
    (umask 077; printf '[DEFAULT]\n\n[database]\nconnection = %s\n' "$url" \
        >"$work/trove.conf")
    # Trove logs every migration and eventlet warns on import: the output is
    # shown only when db_sync fails.
    "$VENV/bin/trove-manage" --config-file "$work/trove.conf" db_sync \
        >"$work/db_sync.log" 2>&1 </dev/null || rc=$?
    if [ "$rc" != 0 ]; then
        cat "$work/db_sync.log" >&2
        rm -rf "$work"
        die "trove-manage db_sync failed (exit $rc)"
    fi
    rm -rf "$work"
}

case ${1:-} in
    install) install ;;
    sync) [ $# -eq 2 ] || die "usage: $0 sync URL"; sync "$2" ;;
    python) install; echo "$VENV/bin/python" ;;
    *) die "usage: $0 install | sync URL | python" ;;
esac
