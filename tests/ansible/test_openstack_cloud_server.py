"""Ansible's openstack.cloud.server against the local cloud gets what real Nova gives it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import openstack
import pytest
import yaml

from declstack_localcloud import LocalCloud

pytestmark = pytest.mark.ansible

PLAYBOOK = Path(__file__).with_name("server.yml")


def _run(venv: Path, clouds_yaml: Path, state: str, extra: dict[str, Any]) -> bool:
    """Run the playbook once; return the task's `changed`."""
    variables = {
        "cloud_name": "local",
        "state": state,
        "ansible_python_interpreter": str(venv / "bin" / "python"),
        **extra,
    }
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OS_")},
        "OS_CLIENT_CONFIG_FILE": str(clouds_yaml),
        "ANSIBLE_STDOUT_CALLBACK": "json",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
    }
    result = subprocess.run(
        [
            str(venv / "bin" / "ansible-playbook"),
            "-i",
            "localhost,",
            "-e",
            json.dumps(variables),
            str(PLAYBOOK),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    stats = json.loads(result.stdout)["stats"]["localhost"]
    assert stats["failures"] == 0
    return bool(stats["changed"])


@pytest.fixture
def local(tmp_path: Path) -> Any:
    with LocalCloud(state_path=tmp_path / "state.sqlite", boot_seconds=0.5) as cloud:
        path = tmp_path / "clouds.yaml"
        path.write_text(yaml.safe_dump({"clouds": {"local": cloud.cloud_config()}}))
        yield cloud, path


def _groups(cloud: LocalCloud) -> list[str]:
    conn = openstack.connect(auth_type="password", **cloud.cloud_config())
    try:
        server = conn.compute.find_server("ansible-1", ignore_missing=False)
        server = conn.compute.fetch_server_security_groups(server)
        return sorted(group["name"] for group in server.security_groups)
    finally:
        conn.close()


def test_empty_security_groups_removes_the_default_group_nova_attached(
    ansible_venv: Path, local: Any
) -> None:
    cloud, clouds_yaml = local
    extra: dict[str, Any] = {"server_security_groups": []}
    assert _run(ansible_venv, clouds_yaml, "present", extra) is True
    assert _groups(cloud) == ["default"], "Nova attaches `default` when the request has none"
    assert _run(ansible_venv, clouds_yaml, "present", extra) is True
    assert _groups(cloud) == []
    assert _run(ansible_venv, clouds_yaml, "present", extra) is False
    assert _run(ansible_venv, clouds_yaml, "absent", extra) is True


def test_omitted_security_groups_leaves_the_server_alone(ansible_venv: Path, local: Any) -> None:
    cloud, clouds_yaml = local
    assert _run(ansible_venv, clouds_yaml, "present", {}) is True
    assert _run(ansible_venv, clouds_yaml, "present", {}) is False
    assert _groups(cloud) == ["default"]
    assert _run(ansible_venv, clouds_yaml, "absent", {}) is True
    assert _run(ansible_venv, clouds_yaml, "absent", {}) is False
