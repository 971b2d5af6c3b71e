#!/bin/bash
# Install everything realstack needs; idempotent.
#   ./install.sh [VENV]     (default VENV: $REALSTACK_HOME/venv, i.e. <repo>/.realstack/venv)
# apt:  rabbitmq-server, mariadb-server (+ curl bc iproute2 procps util-linux)
# PyPI: keystone 30.0.0, nova 34.0.0, openstack-placement 16.0.0, glance 33.0.0,
#       neutron 29.0.0, cinder 29.0.0, python-openstackclient 10.5.0, openstacksdk 4.22.0,
#       gunicorn, PyMySQL - with every dependency pinned by constraints.txt
#       (the set resolved and tested on 2026-11-24) - plus the local
#       realstack-ml2 mechanism driver from pkgs/realstack_ml2.
set -euo pipefail
BASE=$(cd "$(dirname "$0")" && pwd)
# Generated state (venv, config, databases, logs, pids, clouds.yaml) lives in
# $REALSTACK_HOME, by default <repo>/.realstack (gitignored).
STATE=${REALSTACK_HOME:-$(dirname "$BASE")/.realstack}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
VENV=${1:-$STATE/venv}
PYTHON=${PYTHON:-python3}
T0=$(date +%s)

"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10), "need Python >= 3.10"'

# ---- Debian packages ------------------------------------------------------
APT_PKGS="rabbitmq-server mariadb-server mariadb-client curl bc iproute2 procps util-linux"
missing=""
for p in $APT_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "apt-get install:$missing"
    # Keep the packages' own init scripts from starting system-wide rabbitmq /
    # mariadb on 5672/3306 (start.sh runs private instances on those ports).
    POLICY=/usr/sbin/policy-rc.d CREATED_POLICY=0
    if [ ! -e $POLICY ]; then printf '#!/bin/sh\nexit 101\n' > $POLICY; chmod +x $POLICY; CREATED_POLICY=1; fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    [ $CREATED_POLICY = 1 ] && rm -f $POLICY
else
    echo "apt packages already installed"
fi

# ---- Python virtualenv -----------------------------------------------------
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/pip --disable-pip-version-check"
$PIP install -q -U pip setuptools wheel
$PIP install -q -c "$BASE/constraints.txt" \
    keystone==30.0.0 nova==34.0.0 openstack-placement==16.0.0 glance==33.0.0 \
    neutron==29.0.0 cinder==29.0.0 python-openstackclient==10.5.0 openstacksdk==4.22.0 \
    gunicorn PyMySQL
# Build the driver from a copy, so pip's in-tree build/ and *.egg-info land in
# the state directory and not in the source tree.
rm -rf "$STATE/src/realstack_ml2" && mkdir -p "$STATE/src"
cp -r "$BASE/pkgs/realstack_ml2" "$STATE/src/realstack_ml2"
$PIP install -q "$STATE/src/realstack_ml2"
"$VENV/bin/python" - <<'PY'
import importlib.metadata as m
for d in ("keystone", "nova", "openstack-placement", "glance", "neutron", "cinder",
          "python-openstackclient", "openstacksdk", "gunicorn", "PyMySQL",
          "realstack-ml2"):
    print("  %-24s %s" % (d, m.version(d)))
PY
echo "installed into $VENV in $(( $(date +%s) - T0 ))s"
