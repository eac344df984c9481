#!/usr/bin/env bash
# The service command: installs trove-backup-ext into .venv and runs the
# all-in-one service (API + worker + agent) on 127.0.0.1:8779. Arguments
# go to trove-backup-aio (--port, --state-dir, --config-file).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q -e . 2>&1 \
    | grep -v -e '^WARNING: Location' -e 'BuildBackendWarning' || true
exec "$VENV/bin/trove-backup-aio" "$@"
