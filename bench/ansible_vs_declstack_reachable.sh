#!/usr/bin/env bash
# declstack vs Ansible's openstack.cloud (bench/ansible/reachable.yml) on the real
# OpenStack services, issue 8: 10 servers, each with a floating IP from `public`,
# two security groups (web: tcp 22 and 443; app: tcp 8080 from web), servers in
# both, one key pair (generated here with ssh-keygen). Per round and tool: converge,
# no-op (the same run again), destroy. Prints wall-clock seconds per step (whole
# CLI runs), the HTTP requests each tool sent (its user agent in the services'
# access logs), for Ansible how many task items reported `changed`, and the
# declstack/Ansible ratios against the targets (3x converge, 5x no-op and destroy).
# On any exit it checks with openstacksdk that nothing of the bench is left
# (servers, floating IPs, groups, key pairs) and, after a failure, removes it.
#   bash bench/ansible_vs_declstack_reachable.sh [ROUNDS]   (default 1; realstack running)
# BENCH_LOGS=DIR keeps every step's output (declstack's [  t s] progress lines) there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-1} N=10 AV=.ansible-venv D=.venv/bin/declstack LOGS=.realstack/logs
export OS_CLIENT_CONFIG_FILE=${OS_CLIENT_CONFIG_FILE:-$PWD/.realstack/clouds.yaml}
die() { echo "reachable bench: $*" >&2; exit 1; }
[ -x "$AV/bin/ansible-playbook" ] || die "no Ansible venv at $AV: run bash tests/ansible/setup-venv.sh"
[ -x "$D" ] || die "no $D: python3 -m venv .venv && .venv/bin/pip install -e ."
[ -f "$OS_CLIENT_CONFIG_FILE" ] || die "no $OS_CLIENT_CONFIG_FILE: start realstack (bash realstack/start.sh)"
command -v ssh-keygen >/dev/null || die "no ssh-keygen (apt-get install openssh-client)"

TMP=$(mktemp -d) OUT=${BENCH_LOGS:-}
OUT=${OUT:-$TMP/logs}; mkdir -p "$OUT"
SPEC=$TMP/spec.yaml STACK=bench-reach APFX=ansible-reach
ssh-keygen -q -t ed25519 -N '' -C bench-reach -f "$TMP/id_bench"
# declstack: groups `web` and `app` as in the issue (owned by tag, so they live beside
# other stacks' `web`/`app` in the shared demo project). Ansible finds groups by name
# and fails when two have it, so its groups get its prefix.
cat > "$SPEC" <<YAML
version: 1
stack: $STACK
keypairs:
  $STACK:
    public_key: {file: id_bench.pub}
security_groups:
  web:
    description: ssh and https from anywhere
    rules:
      - {protocol: tcp, port: 22}
      - {protocol: tcp, port: 443}
  app:
    description: 8080 from the web servers
    rules:
      - {protocol: tcp, port: 8080, remote_group: web}
defaults: {image: cirros, flavor: m1.tiny, networks: [private]}
servers:
  - name: reach
    count: $N
    key_name: $STACK
    security_groups: [web, app]
    floating_ip: {network: public}
    metadata: {role: bench}
YAML

# The bench's resources, seen with openstacksdk: `check` lists what is left,
# `clean` deletes it (only names and tags of this bench; floating IPs by tag or id).
cat > "$TMP/left.py" <<'PY'
import json, sys, openstack
mode, stack, apfx, state = sys.argv[1:5]
c = openstack.connect(cloud="realstack")
if mode == "snapshot":  # floating IPs that exist before the bench
    json.dump({"before": [f.id for f in c.network.ips()]}, open(state, "w")); sys.exit()
try:
    st = json.load(open(state))
except FileNotFoundError:
    st = {"before": [f.id for f in c.network.ips()]}
servers = [s for s in c.compute.servers() if s.name.startswith(apfx + "-")
           or (s.metadata or {}).get("declstack:stack") == stack]
if mode == "record":  # the floating IPs on Ansible's servers (untagged): remember them
    ports = {p.id for s in servers for p in c.network.ports(device_id=s.id)}
    st["fips"] = sorted(set(st.get("fips", [])) | {f.id for f in c.network.ips() if f.port_id in ports})
    json.dump(st, open(state, "w")); sys.exit()
tag = "declstack:stack=" + stack
groups = [g for g in c.network.security_groups()
          if tag in (g.tags or []) or g.name in (apfx + "-web", apfx + "-app")]
keys = [k for k in c.compute.keypairs() if k.name in (stack, apfx + "-key")]
fips = [f for f in c.network.ips() if tag in (f.tags or []) or f.id in st.get("fips", [])]
new_free = [f for f in c.network.ips() if f.id not in st["before"] and not f.port_id and not f.tags
            and f not in fips]
if mode == "clean":
    for s in servers: c.compute.delete_server(s, ignore_missing=True)
    for s in servers: c.compute.wait_for_delete(s, wait=300)
    for f in fips: c.network.delete_ip(f, ignore_missing=True)
    for g in sorted(groups, key=lambda g: g.name.endswith("web")):  # app before web
        c.network.delete_security_group(g, ignore_missing=True)
    for k in keys: c.compute.delete_keypair(k, ignore_missing=True)
    sys.exit()
left = [f"server {s.name}" for s in servers] + [f"floating IP {f.floating_ip_address}" for f in fips] \
    + [f"security group {g.name} ({g.id})" for g in groups] + [f"key pair {k.name}" for k in keys]
print("left of the bench: " + (", ".join(left) if left else "nothing"))
if new_free:
    print("unassociated untagged floating IPs created during the run (ours or another user's): "
          + ", ".join(f.floating_ip_address for f in new_free))
sys.exit(1 if left else 0)
PY
L() { .venv/bin/python "$TMP/left.py" "$1" "$STACK" "$APFX" "$TMP/state.json"; }

# The demo project is shared: wait (up to WAIT_ROOM s) for room for N servers.
room() { .venv/bin/python -c 'import openstack; a = openstack.connect(cloud="realstack").compute.get_limits().absolute
print(a.instances - a.instances_used)' 2>/dev/null; }
FREE=$(room) || die "realstack does not answer (bash realstack/start.sh)"
for _ in $(seq $((${WAIT_ROOM:-600} / 10))); do [ "$FREE" -ge "$N" ] && break
  echo "the demo project has room for $FREE servers, $N needed: waiting" >&2; sleep 10; FREE=$(room); done
[ "$FREE" -ge "$N" ] || die "the demo project has room for $FREE servers, $N needed"
L snapshot

A() { ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false timeout 1800 "$AV/bin/ansible-playbook" \
  -i localhost, bench/ansible/reachable.yml -e "cloud_name=realstack fleet_size=$N state=$1 prefix=$APFX" \
  -e "web_group=$APFX-web app_group=$APFX-app public_key_file=$TMP/id_bench.pub" \
  -e "ansible_python_interpreter=$PWD/$AV/bin/python"; }
cleanup() {
  local rc=$?
  if [ -z "${DONE:-}" ]; then
    echo "cleaning up after a failure" >&2
    timeout 600 $D destroy "$SPEC" --cloud realstack --yes >/dev/null 2>&1 || true
    L record >/dev/null 2>&1 || true
    A absent >/dev/null 2>&1 || true
    L clean >/dev/null 2>&1 || true
  fi
  L check || rc=1
  echo "load at the end: $(uptime)"
  [ -n "${BENCH_LOGS:-}" ] || rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
ua() { "$1" -c 'import openstack.version as v; print("openstacksdk/" + v.__version__)'; }
DUA=$(ua .venv/bin/python) AUA=$(ua $AV/bin/python)  # user agents, to count each tool's requests
[ "$DUA" != "$AUA" ] || echo "both tools send $DUA: request counts are not separable" >&2
FILES=$(ls $LOGS/{keystone,glance,neutron,nova-api,placement}.log 2>/dev/null || true)

declare -A RES SEC
# step KEY UA-PATTERN CMD...: time one whole CLI run, count its requests.
step() {
  local key=$1 ua=$2 f n=0 marks=() s; shift 2
  for f in $FILES; do marks+=("$(wc -l < "$f")"); done
  s=$(date +%s.%N)
  "$@" > "$OUT/$key.log" 2>&1 || { tail -25 "$OUT/$key.log" >&2; die "$key failed"; }
  s=$(echo "$(date +%s.%N) - $s" | bc)
  set -- $FILES
  for f in "${marks[@]}"; do n=$((n + $(tail -n +$((f + 1)) "$1" | grep -c "\"$ua" || true))); shift; done
  SEC[$key]=$s RES[$key]=$(printf '%.1f s, %d req' "$s" "$n")
  [[ $key == a* ]] && RES[$key]+=", $(grep -c '^changed: ' "$OUT/$key.log" || true) changed"
  echo "round ${key##*.} ${key%.*}: ${RES[$key]}  (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
}
echo "start: $(date -u +%FT%TZ), $(uptime)" >&2
for r in $(seq "$ROUNDS"); do
  step "d-converge.$r" "$DUA" $D apply "$SPEC" --cloud realstack --yes
  step "d-no-op.$r" "$DUA" $D apply "$SPEC" --cloud realstack --yes
  step "d-destroy.$r" "$DUA" $D destroy "$SPEC" --cloud realstack --yes
  step "a-converge.$r" "$AUA" A present
  L record
  step "a-no-op.$r" "$AUA" A present
  step "a-destroy.$r" "$AUA" A absent
done
DONE=1
printf '\n| step | round | declstack | Ansible (items changed) | Ansible / declstack (target) |\n| --- | --- | --- | --- | --- |\n'
for s in converge no-op destroy; do for r in $(seq "$ROUNDS"); do
  t=3; [ "$s" = converge ] || t=5
  x=$(printf '%.1f' "$(echo "scale=3; ${SEC[a-$s.$r]} / ${SEC[d-$s.$r]}" | bc)")
  ok=$(echo "$x >= $t" | bc)
  printf '| %s | %d | %s | %s | %sx (%dx: %s) |\n' "$s" "$r" "${RES[d-$s.$r]}" "${RES[a-$s.$r]}" \
    "$x" "$t" "$([ "$ok" = 1 ] && echo met || echo MISSED)"; done; done
[ -z "${BENCH_LOGS:-}" ] || echo "step logs in $OUT"
