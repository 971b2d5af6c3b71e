#!/usr/bin/env bash
# declstack vs Ansible's openstack.cloud.server (bench/ansible/fleet.yml, a serial loop)
# on the real OpenStack services: 10 servers each, create, re-run, third run, delete.
# Prints wall-clock seconds per step (whole CLI runs), the HTTP requests each tool
# sent (its user agent in the services' access logs) and, for Ansible, how many
# loop items reported `changed`.
#   bash bench/ansible_vs_declstack.sh [ROUNDS]     (default 2; realstack running)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2} N=10 AV=.ansible-venv D=.venv/bin/declstack LOGS=.realstack/logs
export OS_CLIENT_CONFIG_FILE=${OS_CLIENT_CONFIG_FILE:-$PWD/.realstack/clouds.yaml}
die() { echo "ansible_vs_declstack: $*" >&2; exit 1; }
[ -x "$AV/bin/ansible-playbook" ] || die "no Ansible venv at $AV: run bash tests/ansible/setup-venv.sh"
[ -x "$D" ] || die "no $D: python3 -m venv .venv && .venv/bin/pip install -e ."
[ -f "$OS_CLIENT_CONFIG_FILE" ] || die "no $OS_CLIENT_CONFIG_FILE: start realstack (bash realstack/start.sh)"
FREE=$(.venv/bin/python -c 'import openstack; a = openstack.connect(cloud="realstack").compute.get_limits().absolute
print(a.instances - a.instances_used)' 2>/dev/null) || die "realstack does not answer (bash realstack/start.sh)"
[ "$FREE" -ge "$N" ] || die "the demo project has room for $FREE servers, $N needed"

TMP=$(mktemp -d) SPEC=$TMP/spec.yaml
cat > "$SPEC" <<YAML
version: 1
stack: bench-fleet
defaults: {image: cirros, flavor: m1.tiny, networks: [private]}
servers:
  - {name: fleet, count: $N, metadata: {role: bench}}
YAML
A() { ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false "$AV/bin/ansible-playbook" \
  -i localhost, bench/ansible/fleet.yml -e "cloud_name=realstack fleet_size=$N state=$1" \
  -e "ansible_python_interpreter=$PWD/$AV/bin/python"; }
cleanup() { [ -n "${DONE:-}" ] || { echo "cleaning up after a failure" >&2; $D destroy "$SPEC" --cloud realstack --yes >/dev/null 2>&1; A absent >/dev/null 2>&1; }; rm -rf "$TMP"; }
trap cleanup EXIT
ua() { "$1" -c 'import openstack.version as v; print("openstacksdk/" + v.__version__)'; }
DUA=$(ua .venv/bin/python) AUA=$(ua $AV/bin/python)  # user agents, to count each tool's requests
FILES=$(ls $LOGS/{keystone,glance,neutron,nova-api,placement}.log 2>/dev/null || true)

declare -A RES
# step KEY UA-PATTERN CMD...: time one whole CLI run, count its requests.
step() {
  local key=$1 ua=$2 f n=0 marks=() s; shift 2
  for f in $FILES; do marks+=("$(wc -l < "$f")"); done
  s=$(date +%s.%N)
  "$@" > "$TMP/$key.log" 2>&1 || { tail -25 "$TMP/$key.log" >&2; die "$key failed"; }
  s=$(echo "$(date +%s.%N) - $s" | bc)
  set -- $FILES
  for f in "${marks[@]}"; do n=$((n + $(tail -n +$((f + 1)) "$1" | grep -c "\"$ua" || true))); shift; done
  RES[$key]=$(printf '%.1f s, %d req' "$s" "$n")
  [[ $key == a* ]] && RES[$key]+=", $(grep -c '^changed: ' "$TMP/$key.log" || true) changed"
  echo "round ${key##*.} ${key%.*}: ${RES[$key]}" >&2
}
for r in $(seq "$ROUNDS"); do
  for s in create re-run third; do step "d-$s.$r" "$DUA" $D apply "$SPEC" --cloud realstack --yes; done
  step "d-delete.$r" "$DUA" $D destroy "$SPEC" --cloud realstack --yes
  for s in create re-run third; do step "a-$s.$r" "$AUA" A present; done
  step "a-delete.$r" "$AUA" A absent
done
DONE=1
printf '\n| step | round | declstack | Ansible (serial loop; items changed of %d) |\n| --- | --- | --- | --- |\n' "$N"
for s in create re-run third delete; do for r in $(seq "$ROUNDS"); do
  printf '| %s | %d | %s | %s |\n' "$s" "$r" "${RES[d-$s.$r]}" "${RES[a-$s.$r]}"; done; done
