#!/usr/bin/env bash
# The test command: installs what the tests need into .venv, makes sure the
# real services answer, and runs the whole suite (or the stestr filters
# given as arguments).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd_repo_root

VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
pip_install "$VENV" -U pip
pip_install_checkout "$VENV" -e . -r test-requirements.txt
"$VENV/bin/python" -c 'import trove_backup_ext.api.deploy'
# The security lint of tox -e pep8 (bandit.yaml), on whole runs.
if [ $# -eq 0 ]; then
    "$VENV/bin/bandit" -q -c bandit.yaml -r .
fi

tools/ensure-services.sh
# The backup tools the datastore drivers run (Debian's mariadb-backup).
tools/install-backup-tools.sh
# A real Swift for the swift storage tests, with a second proxy on the
# real Keystone for the trust tests (both installed on first use).
swift_env=$(tools/swift-aio.sh start-keystone-proxy)
eval "$swift_env"
# Trove, in its own venv, for the trove instance source's schema tests.
tools/trove-schema.sh install
# A real Keystone for the keystone-mode tests and the tempest run
# (installed on first use).
keystone_env=$(tools/keystone-aio.sh start)
eval "$keystone_env"

export PATH="$PWD/$VENV/bin:$PATH"
log=$(mktemp)
set +e
stestr run --color "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
passed=$(awk '/ - Passed: /{print $3}' "$log" | tail -n1)
failed=$(awk '/ - Failed: /{print $3}' "$log" | tail -n1)
skipped=$(awk '/ - Skipped: /{print $3}' "$log" | tail -n1)
# The tempest plugin against a live deployment and the real Keystone, on
# whole runs only (a filtered run is a developer's quick check).
if [ $# -eq 0 ] || [ -n "${TBE_FORCE_TEMPEST:-}" ]; then
    set +e
    tools/tempest-run.sh | tee "$log"
    tempest_rc=${PIPESTATUS[0]}
    set -e
    read -r t_passed t_failed t_skipped \
        < <(awk '/^tempest: /{print $2, $4, $6}' "$log" | tail -n1) || true
    passed=$(( ${passed:-0} + ${t_passed:-0} ))
    failed=$(( ${failed:-0} + ${t_failed:-0} ))
    skipped=$(( ${skipped:-0} + ${t_skipped:-0} ))
    if [ "$rc" = 0 ]; then
        rc=$tempest_rc
    fi
fi
rm -f "$log"
echo "${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
if [ "${passed:-0}" = "0" ] && [ "$rc" = "0" ]; then
    echo "No test ran." >&2
    exit 1
fi
exit "$rc"
