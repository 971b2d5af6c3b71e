"""The unmodified `openstack` CLI against the local cloud."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from declstack_localcloud import LocalCloud

from .conftest import Cli

pytestmark = pytest.mark.integration


def _json(cli: Cli, *args: str) -> Any:
    return json.loads(cli.run(*args, "-f", "json").stdout)


def test_token_and_catalog_listings(cli: Cli) -> None:
    token = _json(cli, "token", "issue")
    assert isinstance(token, dict) and token["id"] and token["project_id"]
    flavors = {f["Name"]: f for f in _json(cli, "flavor", "list")}
    assert {"m1.nano", "m1.tiny", "m1.small", "m1.medium", "m1.large", "small"} <= set(flavors)
    assert flavors["m1.tiny"]["ID"] == "2" and flavors["m1.tiny"]["RAM"] == 512
    images = {i["Name"]: i["Status"] for i in _json(cli, "image", "list")}
    assert images == {
        "cirros": "active",
        "Ubuntu-14.04": "active",
        "ubuntu-22.04": "active",
        "debian-12": "active",
    }
    networks = [n["Name"] for n in _json(cli, "network", "list")]
    assert networks == ["private", "public"]
    groups = [g["Name"] for g in _json(cli, "security", "group", "list")]
    assert groups == ["default"]


def test_server_lifecycle_through_the_cli(cli: Cli) -> None:
    key = cli.run("keypair", "create", "cli-key").stdout
    assert "PRIVATE KEY" in key
    created = _json(
        cli,
        "server",
        "create",
        "--image",
        "cirros",
        "--flavor",
        "m1.tiny",
        "--key-name",
        "cli-key",
        "--network",
        "private",
        "--wait",
        "cli-1",
    )
    assert isinstance(created, dict)
    assert created["status"] == "ACTIVE"
    assert created["key_name"] == "cli-key"
    listed = _json(cli, "server", "list")
    assert [(s["Name"], s["Status"]) for s in listed] == [("cli-1", "ACTIVE")]
    assert listed[0]["Networks"]["private"][0].startswith("10.0.")
    cli.run("server", "set", "--property", "role=web", "cli-1")
    shown = _json(cli, "server", "show", "cli-1")
    assert shown["properties"] == {"role": "web"}
    cli.run("server", "delete", "--wait", "cli-1")
    assert _json(cli, "server", "list") == []
    missing = cli.run("server", "show", "cli-1", check=False)
    assert missing.returncode != 0 and "No Server found" in missing.stderr


def test_wrong_password_is_refused(cloud: LocalCloud, tmp_path: Path) -> None:
    config = cloud.cloud_config()
    config["auth"]["password"] = "not-the-password"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"clouds": {"local": config}}))
    result = Cli(path).run("token", "issue", check=False)
    assert result.returncode != 0
    assert "401" in result.stderr
