"""Fixtures that start a real LocalCloud on loopback and talk to it over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import openstack
import pytest
import requests
import yaml

from declstack_localcloud import LocalCloud

OPENSTACK_CLI = Path(sys.executable).with_name("openstack")
T = TypeVar("T")


def wait_until(
    condition: Callable[[], T | None], what: str, timeout: float = 15.0, interval: float = 0.05
) -> T:
    """Poll `condition` until it returns neither None nor False (returned); fail after `timeout`.

    The only place the local-cloud tests sleep: they wait for a state, never for a time.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[LocalCloud]:
    with LocalCloud(
        state_path=tmp_path / "state.sqlite", boot_seconds=0.3, delete_seconds=0.2
    ) as running:
        yield running


@dataclass
class Api:
    """A raw HTTP client holding a demo token, for asserting exact status codes and bodies."""

    cloud: LocalCloud
    token: str
    session: requests.Session

    def request(
        self, method: str, path: str, version: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = {"X-Auth-Token": self.token, **kwargs.pop("headers", {})}
        if version is not None:
            headers["OpenStack-API-Version"] = f"compute {version}"
        return self.session.request(
            method, self.cloud.url + path, headers=headers, timeout=30, **kwargs
        )

    def boot(self, name: str = "vm", version: str = "2.1", **extra: Any) -> dict[str, Any]:
        image = self.image_id("cirros")
        body = {"server": {"name": name, "imageRef": image, "flavorRef": "1", **extra}}
        response = self.request("POST", "/compute/v2.1/servers", version, json=body)
        assert response.status_code == 202, response.text
        server: dict[str, Any] = response.json()["server"]
        return server

    def image_id(self, name: str) -> str:
        images = self.request("GET", f"/image/v2/images?name={name}").json()["images"]
        return str(images[0]["id"])


def issue_token(cloud: LocalCloud, user: str = "demo", password: str = "demo-secret") -> str:
    body: dict[str, Any] = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"name": "Default"}, "password": password}
                },
            },
            "scope": {"project": {"name": user, "domain": {"name": "Default"}}},
        }
    }
    response = requests.post(f"{cloud.auth_url}/auth/tokens", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


@pytest.fixture
def api(cloud: LocalCloud) -> Iterator[Api]:
    with requests.Session() as session:
        yield Api(cloud, issue_token(cloud), session)


@pytest.fixture
def conn(cloud: LocalCloud) -> Iterator[Any]:
    connection = openstack.connect(auth_type="password", **cloud.cloud_config())
    yield connection
    connection.close()


@pytest.fixture
def clouds_yaml(cloud: LocalCloud, tmp_path: Path) -> Path:
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": {"local": cloud.cloud_config()}}))
    return path


@dataclass
class Cli:
    """Runs the real `openstack` CLI against the cloud named `local` in a test clouds.yaml."""

    clouds_yaml: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml)}
        env = {
            k: v for k, v in env.items() if not k.startswith("OS_") or k == "OS_CLIENT_CONFIG_FILE"
        }
        result = subprocess.run(
            [str(OPENSTACK_CLI), "--os-cloud", "local", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert result.returncode == 0, f"{args}: {result.stderr}"
        return result


@pytest.fixture
def cli(clouds_yaml: Path) -> Cli:
    return Cli(clouds_yaml)
