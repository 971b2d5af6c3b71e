#!/usr/bin/env bash
# Build the virtualenv Ansible runs in. ansible 14.5.0 needs Python >= 3.12 (.venv may be
# 3.11) and, as installed here, bundles openstack.cloud 2.6.0. FIELD-NOTES pins
# openstacksdk 4.14.0 because openstack.cloud 2.5.0 broke on >= 4.15; 2.6.0 says it fixed
# that, but the pin is kept: it is the combination the tests were run with.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${1:-$repo/.ansible-venv}"

# ansible 14.x needs Python >= 3.12; the project's own venv may be older.
find_python() {
    if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
    local candidate
    for candidate in python3.12 python3.13 \
        "$HOME"/.pyenv/versions/3.12*/bin/python3.12 "$HOME"/.pyenv/versions/3.13*/bin/python3.13; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            command -v "$candidate"; return
        fi
    done
    echo "setup-venv.sh: ansible 14.5 needs Python >= 3.12; set PYTHON=/path/to/python3.12" >&2
    exit 1
}
python="$(find_python)"

if [ ! -x "$venv/bin/python" ] \
    || ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    "$python" -m venv --clear "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "ansible==14.5.0" "openstacksdk==4.14.0"
"$venv/bin/ansible" --version | sed -n 1p  # sed reads it all: no SIGPIPE under pipefail
"$venv/bin/ansible-galaxy" collection list openstack.cloud 2>/dev/null | grep openstack.cloud || true
"$venv/bin/python" -c 'import openstack.version; print("openstacksdk", openstack.version.__version__)'
echo "ansible venv ready: $venv"
