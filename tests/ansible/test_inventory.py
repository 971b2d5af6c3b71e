"""`declstack inventory` read by the real Ansible: ansible-inventory --list and --graph, and an
ad-hoc `ansible all -m debug -c local` that prints each host's address.

The stack is applied on the local cloud (served over real HTTP), the inventory is printed by
the real CLI in all three formats, and the JSON one is used as Ansible uses a script
inventory: an executable that runs `declstack inventory ... --output json`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
import yaml
from typer.testing import CliRunner

from declstack.cli import app
from declstack_localcloud import LocalCloud
from tests.unit.test_cli import assert_exited

pytestmark = pytest.mark.ansible

CLOUD = "ansible-inventory"
STACK = "inv"
SPEC = {
    "version": 1,
    "stack": STACK,
    "defaults": {"image": "cirros", "flavor": "m1.tiny", "networks": ["private"]},
    "servers": [
        {"name": "web", "count": 2, "metadata": {"role": "web"}, "tags": ["frontend"]},
        {"name": "db-main", "metadata": {"role": "db", "port": "5432"}, "tags": ["backend"]},
    ],
}
GRAPH = """\
@all:
  |--@ungrouped:
  |--@db_main:
  |  |--db-main
  |--@tag_backend:
  |  |--db-main
  |--@tag_frontend:
  |  |--web-1
  |  |--web-2
  |--@web:
  |  |--web-1
  |  |--web-2
"""


class Deployed:
    """The applied stack: its spec, the env the CLI needs, and what the cloud says."""

    def __init__(self, home: Path, cloud: LocalCloud) -> None:
        self.home = home
        self.clouds_yaml = home / "clouds.yaml"
        self.clouds_yaml.write_text(yaml.safe_dump({"clouds": {CLOUD: cloud.cloud_config()}}))
        self.spec = home / "spec.yaml"
        self.spec.write_text(yaml.safe_dump(SPEC, sort_keys=False))
        self.env = {"OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml), "OS_CLOUD": ""}
        self.cloud = cloud

    def declstack(self, *args: str) -> str:
        result = CliRunner().invoke(
            app, [args[0], str(self.spec), "--cloud", CLOUD, *args[1:]], env=self.env
        )
        assert_exited(result, 0)
        return result.stdout

    def addresses(self) -> dict[str, str]:
        """name -> the one address each server has, as openstacksdk (not declstack) sees it."""
        conn = openstack.connect(auth_type="password", **self.cloud.cloud_config())
        try:
            found = conn.compute.servers(details=True, tags=f"declstack:stack={STACK}")
            return {
                s.name: next(e["addr"] for entries in s.addresses.values() for e in entries)
                for s in found
            }
        finally:
            conn.close()


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    home = tmp_path_factory.mktemp("inventory")
    with LocalCloud(state_path=home / "state.sqlite", boot_seconds=0.3) as cloud:
        stack = Deployed(home, cloud)
        stack.declstack("apply", "--yes")
        yield stack


def _ansible(venv: Path, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OS_", "ANSIBLE_"))},
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",  # a file no plugin reads fails the run
        "ANSIBLE_HOST_KEY_CHECKING": "false",
        "ANSIBLE_NOCOLOR": "true",
    }
    result = subprocess.run(
        [str(venv / "bin" / tool), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def sources(deployed: Deployed) -> dict[str, Path]:
    """One inventory source per format: two files, and a script that runs declstack."""
    paths = {}
    for fmt, name in (("yaml", "inventory.yaml"), ("ini", "inventory.ini")):
        paths[fmt] = deployed.home / name
        paths[fmt].write_text(deployed.declstack("inventory", "--output", fmt))
    script = deployed.home / "declstack-inventory.sh"
    env = " ".join(f"{key}={value}" for key, value in deployed.env.items())
    script.write_text(
        "#!/bin/sh\n"
        "# Ansible calls this with --list: the whole inventory, host vars in _meta.\n"
        f"exec env {env} {sys.executable} -m declstack inventory {deployed.spec} "
        f"--cloud {CLOUD} --output json\n"
    )
    script.chmod(0o755)
    paths["json"] = script
    return paths


def _listed(venv: Path, source: Path) -> dict[str, Any]:
    result = _ansible(venv, "ansible-inventory", "-i", str(source), "--list")
    assert "WARNING" not in result.stderr, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("fmt", ["yaml", "ini", "json"])
def test_ansible_inventory_list_reads_exactly_what_declstack_printed(
    ansible_venv: Path, deployed: Deployed, sources: dict[str, Path], fmt: str
) -> None:
    ours = json.loads(deployed.declstack("inventory", "--output", "json"))
    listed = _listed(ansible_venv, sources[fmt])
    assert listed["_meta"]["hostvars"] == ours["_meta"]["hostvars"]
    assert listed["all"]["children"] == ["ungrouped", *ours["all"]["children"]]
    groups = {k: v for k, v in listed.items() if k not in ("_meta", "all")}
    assert groups == {k: v for k, v in ours.items() if k not in ("_meta", "all")}
    addresses = deployed.addresses()
    assert sorted(addresses) == ["db-main", "web-1", "web-2"]
    for name, variables in listed["_meta"]["hostvars"].items():
        assert variables["ansible_host"] == addresses[name]
        assert variables["declstack_addresses"] == {"private": [addresses[name]]}
        assert variables["declstack_status"] == "ACTIVE"
    assert listed["_meta"]["hostvars"]["db-main"]["declstack_metadata"] == {
        "port": "5432",  # a string still, not the int 5432
        "role": "db",
    }


@pytest.mark.parametrize("fmt", ["yaml", "ini", "json"])
def test_ansible_inventory_graph(ansible_venv: Path, sources: dict[str, Path], fmt: str) -> None:
    result = _ansible(ansible_venv, "ansible-inventory", "-i", str(sources[fmt]), "--graph")
    assert result.stdout == GRAPH


@pytest.mark.parametrize("fmt", ["yaml", "ini", "json"])
def test_ad_hoc_debug_prints_each_hosts_address(
    ansible_venv: Path, deployed: Deployed, sources: dict[str, Path], fmt: str
) -> None:
    result = _ansible(
        ansible_venv,
        "ansible",
        "all",
        "-i",
        str(sources[fmt]),
        "-c",
        "local",
        "-m",
        "debug",
        "-a",
        "msg='{{ inventory_hostname }} is at {{ ansible_host }}'",
    )
    printed = re.findall(r'^(\S+) \| SUCCESS => \{\s*"msg": "([^"]*)"', result.stdout, re.M)
    addresses = deployed.addresses()
    assert sorted(printed) == sorted((name, f"{name} is at {ip}") for name, ip in addresses.items())
