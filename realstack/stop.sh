#!/bin/bash
# Stop exactly the processes start.sh recorded in run/pids (newest first).
# RabbitMQ is stopped through rabbitmqctl (so the Erlang node shuts down
# cleanly) and the epmd daemon that the Erlang VM spawned is told to exit
# with `epmd -kill` - no process is looked up by name.
BASE=$(cd "$(dirname "$0")" && pwd)
# Generated state (venv, config, databases, logs, pids, clouds.yaml) lives in
# $REALSTACK_HOME, by default <repo>/.realstack (gitignored).
STATE=${REALSTACK_HOME:-$(dirname "$BASE")/.realstack}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
PIDFILE=$STATE/run/pids
RD=$STATE/data/rabbitmq
[ -s "$PIDFILE" ] || { echo "nothing to stop ($PIDFILE is empty or missing)"; exit 0; }

mapfile -t LINES < <(tac "$PIDFILE")
for line in "${LINES[@]}"; do
    read -r name pid <<< "$line"
    kill -0 "$pid" 2>/dev/null || { echo "$name ($pid) not running"; continue; }
    if [ "$name" = rabbitmq ]; then
        HOME=$RD RABBITMQ_NODENAME=rabbit@localhost ERL_EPMD_ADDRESS=127.0.0.1 \
            /usr/lib/rabbitmq/bin/rabbitmqctl -n rabbit@localhost stop >/dev/null 2>&1 \
            || kill -TERM "$pid"
    else
        kill -TERM "$pid"
    fi
    echo "stopping $name ($pid)"
done
for line in "${LINES[@]}"; do
    read -r name pid <<< "$line"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "$name ($pid) still running after 10s, sending SIGKILL"; kill -KILL "$pid"
    fi
done
if grep -q '^rabbitmq ' "$PIDFILE"; then
    ERL_EPMD_ADDRESS=127.0.0.1 epmd -kill >/dev/null 2>&1 || true
fi
rm -f "$PIDFILE"
echo "realstack stopped"
