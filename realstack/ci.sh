#!/bin/bash
# CI entry point: install (idempotent), start a fresh realstack, print timings.
# Fails loudly (non-zero exit, log tail on stderr) when any step fails.
#   realstack/ci.sh            state in $REALSTACK_HOME (default <repo>/.realstack)
# Then run:  DECLSTACK_REQUIRE_REALSTACK=1 .venv/bin/pytest -m conformance
# and stop with realstack/ci-stop.sh.
set -euo pipefail
BASE=$(cd "$(dirname "$0")" && pwd)
now() { date +%s.%N; }
secs() { printf '%.1f' "$(echo "$2 - $1" | bc)"; }

T0=$(now)
"$BASE/install.sh" || { echo "realstack/ci.sh: install.sh failed" >&2; exit 1; }
T1=$(now)
"$BASE/start.sh" || { echo "realstack/ci.sh: start.sh failed (logs in \${REALSTACK_HOME:-<repo>/.realstack}/logs)" >&2; exit 1; }
T2=$(now)
STATE=${REALSTACK_HOME:-$(dirname "$BASE")/.realstack}
OS_CLIENT_CONFIG_FILE="$STATE/clouds.yaml" "$STATE/venv/bin/openstack" --os-cloud realstack \
    server list -f value >/dev/null \
    || { echo "realstack/ci.sh: cloud started but 'openstack server list' failed" >&2; exit 1; }
T3=$(now)
echo "realstack timings: install $(secs "$T0" "$T1")s, start $(secs "$T1" "$T2")s, smoke $(secs "$T2" "$T3")s, total $(secs "$T0" "$T3")s"
