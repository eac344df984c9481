#!/usr/bin/env bash
# Checks that the real services the tests use answer, and starts any that
# does not, with the commands these machines start them with. Idempotent.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

wait_for() {    # name, check command; up to 60 s
    local name=$1; shift
    for _ in $(seq 1 60); do
        if "$@" >/dev/null 2>&1; then echo "$name: up"; return 0; fi
        sleep 1
    done
    echo "$name: did not come up" >&2
    return 1
}

mariadb_up() { mysqladmin -h 127.0.0.1 -uroot ping; }
postgresql_up() { pg_isready -h 127.0.0.1 -p 5432 -q; }
rabbitmq_up() { port_open 5672 2; }

if ! mariadb_up >/dev/null 2>&1; then
    echo "MariaDB: starting"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
fi
if ! postgresql_up >/dev/null 2>&1; then
    echo "PostgreSQL: starting"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi
if ! rabbitmq_up >/dev/null 2>&1; then
    echo "RabbitMQ: starting"
    rabbitmq-server -detached
fi

status=0
wait_for MariaDB mariadb_up || status=1
wait_for PostgreSQL postgresql_up || status=1
wait_for RabbitMQ rabbitmq_up || status=1
exit $status
