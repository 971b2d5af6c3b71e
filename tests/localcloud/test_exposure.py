"""Beyond loopback, `serve` warns loudly and /admin/* needs an admin token."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from declstack_localcloud import serve
from declstack_localcloud.cloud import LocalCloud, is_loopback

from .conftest import issue_token, wait_until

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("LocalHost.", True),
        ("0.0.0.0", False),
        ("", False),
        ("::", False),
        ("192.168.1.10", False),
        ("10.0.0.1", False),
        ("myhost.example.com", False),
    ],
)
def test_which_hosts_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@dataclass
class Served:
    port: int
    clouds_yaml: Path
    out: str
    err: str

    @property
    def url(self) -> str:  # always talk over loopback, whatever the cloud listens on
        return f"http://127.0.0.1:{self.port}"


def _serve(tmp_path: Path, host: str, capsys: pytest.CaptureFixture[str]) -> Iterator[Served]:
    """Run `serve.run` in a thread; ready once it has printed its usage (captured here)."""
    clouds_yaml = tmp_path / "clouds.yaml"
    stopping = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            serve.run(host, 0, tmp_path / "s.sqlite", clouds_yaml, "lc", 0.1, stopping)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    out: list[str] = []
    err: list[str] = []

    def ready() -> bool:
        if errors:
            raise errors[0]
        captured = capsys.readouterr()
        out.append(captured.out)
        err.append(captured.err)
        return "Stop with Ctrl-C.\n" in "".join(out)

    try:
        wait_until(ready, "serve to print its usage")
        url = yaml.safe_load(clouds_yaml.read_text())["clouds"]["lc"]["auth"]["auth_url"]
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        served = Served(port, clouds_yaml, "".join(out), "".join(err))
        yield served
    finally:
        stopping.set()
        thread.join(timeout=10)
        assert not thread.is_alive() and not errors


@pytest.fixture
def exposed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Served]:
    yield from _serve(tmp_path, "0.0.0.0", capsys)


@pytest.fixture
def private(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Served]:
    yield from _serve(tmp_path, "127.0.0.1", capsys)


def _token(served: Served, user: str) -> str:
    handle: Any = type("Handle", (), {"auth_url": f"{served.url}/identity/v3"})()
    return issue_token(handle, user, f"{user}-secret")


def test_beyond_loopback_serve_warns_and_faults_need_the_admin_token(exposed: Served) -> None:
    faults = f"{exposed.url}/admin/faults"
    body = {"rate_503": 0.5}
    anonymous = requests.put(faults, json=body, timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["message"] == (
        "The request you have made requires authentication."
    )
    assert requests.get(faults, timeout=5).status_code == 401
    bogus = requests.get(faults, headers={"X-Auth-Token": "made-up"}, timeout=5)
    assert bogus.status_code == 401
    demo = requests.put(
        faults, json=body, headers={"X-Auth-Token": _token(exposed, "demo")}, timeout=5
    )
    assert demo.status_code == 403
    assert demo.json()["error"]["message"] == "The fault endpoint needs a token of the admin user."
    admin = {"X-Auth-Token": _token(exposed, "admin")}
    allowed = requests.put(faults, json=body, headers=admin, timeout=5)
    assert allowed.status_code == 200 and allowed.json()["faults"]["rate_503"] == 0.5
    assert requests.get(faults, headers=admin, timeout=5).json()["faults"]["rate_503"] == 0.5

    assert exposed.err == (
        f"WARNING: listening on 0.0.0.0 port {exposed.port}, beyond loopback: anyone who can"
        " reach it can use this cloud with the well-known passwords in clouds.yaml"
        " (demo/demo-secret, admin/admin-secret).\n"
        "WARNING: /admin/faults now needs the admin token: send X-Auth-Token with a token of"
        " the admin user (openstack --os-cloud lc-admin token issue -f value -c id).\n"
    )
    assert (
        "Faults: TOKEN=$(openstack --os-cloud lc-admin token issue -f value -c id);"
        f' curl -H "X-Auth-Token: $TOKEN" -X PUT -d \'{{"rate_503": 0.2}}\''
        f" http://0.0.0.0:{exposed.port}/admin/faults\n"
    ) in exposed.out


def test_on_loopback_faults_need_no_token_and_nothing_is_said(private: Served) -> None:
    put = requests.put(f"{private.url}/admin/faults", json={"rate_503": 0.25}, timeout=5)
    assert put.status_code == 200 and put.json()["faults"]["rate_503"] == 0.25
    assert private.err == ""
    assert f"Faults: curl -X PUT -d '{{\"rate_503\": 0.2}}' {private.url}/admin/faults\n" in (
        private.out
    )
    assert private.clouds_yaml.stat().st_mode & 0o777 == 0o600


def test_an_embedded_cloud_on_all_interfaces_guards_admin_too(tmp_path: Path) -> None:
    with LocalCloud(state_path=tmp_path / "s.sqlite", host="0.0.0.0") as cloud:
        assert cloud.admin_token_required
        url = f"http://127.0.0.1:{cloud.port}/admin/faults"
        assert requests.get(url, timeout=5).status_code == 401
    with LocalCloud(state_path=tmp_path / "s.sqlite") as cloud:
        assert not cloud.admin_token_required
        assert requests.get(f"{cloud.url}/admin/faults", timeout=5).status_code == 200
