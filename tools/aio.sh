#!/usr/bin/env bash
# The service command: installs trove-backup-ext into .venv and runs the
# all-in-one service (API + worker + agent) on 127.0.0.1:8779. Arguments
# go to trove-backup-aio (--port, --state-dir, --config-file).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd_repo_root
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
pip_install_checkout "$VENV" -e .
exec "$VENV/bin/trove-backup-aio" "$@"
