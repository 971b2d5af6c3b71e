#!/bin/bash
# Stop exactly the processes start.sh recorded in run/pids (newest first), and
# wait until each one is really gone before saying so: start.sh removes data/
# right after, and a MariaDB still flushing InnoDB there made that fail with
# "cannot remove .../data/mysql/sys: Directory not empty".
# RabbitMQ is stopped through rabbitmqctl (so the Erlang node shuts down
# cleanly) and the epmd daemon that the Erlang VM spawned is told to exit
# with `epmd -kill` - no process is looked up by name.
#
# Deadlines (seconds, generous for a busy machine): RS_STOP_TIMEOUT (default 120)
# for everything to exit after SIGTERM, then SIGKILL and RS_KILL_TIMEOUT (default
# 60) for the kernel to finish them. A process still alive after that stays in
# run/pids and stop.sh exits 1, so start.sh refuses to reuse data/ under it.
set -u
BASE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/common.sh
. "$BASE/lib/common.sh"
# Generated state (venv, config, databases, logs, pids, clouds.yaml) lives in
# $REALSTACK_HOME, by default <repo>/.realstack (gitignored).
STATE=${REALSTACK_HOME:-$(dirname "$BASE")/.realstack}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
PIDFILE=$STATE/run/pids
RD=$STATE/data/rabbitmq
STOP_TIMEOUT=${RS_STOP_TIMEOUT:-120}
KILL_TIMEOUT=${RS_KILL_TIMEOUT:-60}
[ -s "$PIDFILE" ] || { echo "nothing to stop ($PIDFILE is empty or missing)"; exit 0; }

mapfile -t LINES < <(tac "$PIDFILE")
for line in "${LINES[@]}"; do
    read -r name pid <<< "$line"
    alive "$pid" || { echo "$name ($pid) not running"; continue; }
    if [ "$name" = rabbitmq ]; then
        HOME=$RD RABBITMQ_NODENAME=rabbit@localhost ERL_EPMD_ADDRESS=127.0.0.1 \
            timeout 60 /usr/lib/rabbitmq/bin/rabbitmqctl -n rabbit@localhost stop >/dev/null 2>&1 \
            || kill -TERM "$pid" 2>/dev/null
    else
        kill -TERM "$pid" 2>/dev/null
    fi
    echo "stopping $name ($pid)"
done

# One deadline for all: they were all told to stop at once, and shut down in parallel.
deadline=$((SECONDS + STOP_TIMEOUT))
killed=()
for line in "${LINES[@]}"; do
    read -r name pid <<< "$line"
    left=$((deadline - SECONDS))
    wait_gone $((left > 0 ? left : 0)) "$pid" >/dev/null && continue
    echo "$name ($pid) still running ${STOP_TIMEOUT}s after SIGTERM, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    killed+=("$line")
done
survivors=()
kill_deadline=$((SECONDS + KILL_TIMEOUT))
for line in "${killed[@]}"; do
    read -r name pid <<< "$line"
    left=$((kill_deadline - SECONDS))
    wait_gone $((left > 0 ? left : 0)) "$pid" >/dev/null || survivors+=("$line")
done

if grep -q '^rabbitmq ' "$PIDFILE"; then
    ERL_EPMD_ADDRESS=127.0.0.1 epmd -kill >/dev/null 2>&1 || true
fi
if [ ${#survivors[@]} -gt 0 ]; then
    printf '%s\n' "${survivors[@]}" | tac > "$PIDFILE"
    echo "realstack NOT stopped: still alive ${KILL_TIMEOUT}s after SIGKILL (kept in $PIDFILE):" >&2
    for line in "${survivors[@]}"; do read -r name pid <<< "$line"; describe "$pid" >&2; done
    exit 1
fi
rm -f "$PIDFILE"
echo "realstack stopped"
