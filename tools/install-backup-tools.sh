#!/usr/bin/env bash
# Installs the backup tools the datastore drivers run when they are missing:
# mariabackup and mbstream (Debian package mariadb-backup). Idempotent;
# silent unless it installs something or fails.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if { have mariadb-backup || have mariabackup; } && have mbstream; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "mariabackup is missing: install the Debian package mariadb-backup" \
         "(as root)" >&2
    exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq mariadb-backup; } \
        >"$log" 2>&1; then
    cat "$log" >&2
    echo "Installing mariadb-backup failed" >&2
    exit 1
fi
echo "mariadb-backup: installed"
