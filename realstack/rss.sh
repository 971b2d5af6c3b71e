#!/bin/bash
# Memory of a running realstack: RSS of every process start.sh recorded in run/pids,
# its descendants included (gunicorn workers, cinder-volume's backend child, ...).
#   realstack/rss.sh        state in $REALSTACK_HOME (default <repo>/.realstack)
set -u
BASE=$(cd "$(dirname "$0")" && pwd)
STATE=${REALSTACK_HOME:-$(dirname "$BASE")/.realstack}
PIDFILE=$STATE/run/pids
[ -s "$PIDFILE" ] || { echo "nothing running ($PIDFILE is empty or missing)" >&2; exit 1; }
tree() { local c; echo "$1"; for c in $(pgrep -P "$1"); do tree "$c"; done; }
total=0
while read -r name pid; do
    kb=0 n=0
    for p in $(tree "$pid"); do
        r=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null)
        [ -n "$r" ] && kb=$((kb + r)) && n=$((n + 1))
    done
    total=$((total + kb))
    printf '%-18s pid %-7s procs %-2s RSS %7.1f MiB\n' "$name" "$pid" "$n" "$(echo "$kb / 1024" | bc -l)"
done < "$PIDFILE"
printf '%-18s %34.1f MiB\n' TOTAL "$(echo "$total / 1024" | bc -l)"
