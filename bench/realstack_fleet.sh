#!/usr/bin/env bash
# declstack on the real OpenStack services (realstack must be running):
# create N servers (with a port on `private` each), re-run (no-op), delete.
# Compare with FIELD-NOTES' Ansible figures for 10 servers on the same services.
#   bash bench/realstack_fleet.sh [N]        (default 10; the demo quota is 10 instances)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10}
export OS_CLIENT_CONFIG_FILE=${OS_CLIENT_CONFIG_FILE:-.realstack/clouds.yaml}
SPEC=$(mktemp --suffix=.yaml)
trap 'rm -f "$SPEC"' EXIT
cat > "$SPEC" <<YAML
version: 1
stack: bench-fleet
defaults: {image: cirros, flavor: m1.tiny, networks: [private]}
servers:
  - {name: fleet, count: $N, metadata: {role: bench}}
YAML
D=.venv/bin/declstack
t() { local s; s=$(date +%s.%N); "$@" > /dev/null 2>&1; printf '%-8s %5.1f s\n' "$LABEL" "$(echo "$(date +%s.%N) - $s" | bc)"; }
LABEL=create t $D apply "$SPEC" --cloud realstack --yes
LABEL=re-run t $D apply "$SPEC" --cloud realstack --yes
LABEL=delete t $D destroy "$SPEC" --cloud realstack --yes
