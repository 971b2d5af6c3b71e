"""Every fault can be switched on, and a client sees it."""

from __future__ import annotations

import http.client
import time
from datetime import datetime
from typing import Any

import pytest
import requests
from openstack import exceptions

from declstack_localcloud import LocalCloud
from declstack_localcloud.faults import FaultInjector, Faults

from .conftest import Api, wait_until

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("fault, status", [("rate_500", 500), ("rate_503", 503)])
def test_server_errors_reach_the_sdk(cloud: LocalCloud, conn: Any, fault: str, status: int) -> None:
    list(conn.compute.flavors())
    cloud.set_faults(**{fault: 1.0})
    with pytest.raises(exceptions.HttpException) as raised:
        list(conn.compute.flavors())
    assert raised.value.status_code == status
    cloud.set_faults(**{fault: 0.0})
    assert len(list(conn.compute.flavors())) == 6


@pytest.mark.parametrize("fault, status", [("rate_429", 429), ("rate_413", 413)])
def test_rate_limits_carry_retry_after(
    cloud: LocalCloud, api: Api, fault: str, status: int
) -> None:
    cloud.set_faults(**{fault: 1.0, "retry_after": 7})
    response = api.request("GET", "/compute/v2.1/servers")
    assert response.status_code == status
    assert response.headers["Retry-After"] == "7"
    assert response.json()["overLimit"]["retryAfter"] == "7"
    assert response.json()["overLimit"]["code"] == status


def test_dropped_connections(cloud: LocalCloud, api: Api) -> None:
    cloud.set_faults(rate_drop=1.0)
    client = http.client.HTTPConnection("127.0.0.1", cloud.port, timeout=5)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        client.request("GET", "/compute/v2.1/servers", headers={"X-Auth-Token": api.token})
        client.getresponse()
    client.close()
    assert requests.get(f"{cloud.url}/admin/faults", timeout=5).ok, "admin is never faulted"


def _server(api: Api, server_id: str) -> dict[str, Any]:
    server: dict[str, Any] = api.request("GET", f"/compute/v2.1/servers/{server_id}").json()[
        "server"
    ]
    return server


def _status_is(api: Api, server_id: str, status: str) -> dict[str, Any] | None:
    shown = _server(api, server_id)
    return shown if shown["status"] == status else None


def test_boot_failures_show_nova_fault(cloud: LocalCloud, api: Api) -> None:
    cloud.set_faults(boot_error_rate=1.0)
    server = api.boot("doomed")
    shown = wait_until(lambda: _status_is(api, server["id"], "ERROR"), "the boot to fail")
    assert shown["fault"]["code"] == 500
    assert shown["fault"]["message"] == (
        "No valid host was found. There are not enough hosts available."
    )
    assert shown["addresses"] == {}


def test_slow_boots(cloud: LocalCloud, api: Api) -> None:
    cloud.set_faults(boot_extra_seconds=2.0)
    before = time.monotonic()
    server = api.boot("slow")
    assert _server(api, server["id"])["status"] == "BUILD"
    active = wait_until(lambda: _status_is(api, server["id"], "ACTIVE"), "the slow boot")
    # Lower bounds only, so a busy machine cannot fail them: boot_seconds (0.3) + 2.0 extra.
    assert time.monotonic() - before >= 2.3
    launched = datetime.fromisoformat(active["OS-SRV-USG:launched_at"])
    created = datetime.fromisoformat(active["created"].replace("Z", "+00:00")).replace(tzinfo=None)
    assert (launched - created).total_seconds() >= 2.3 - 1.0  # "created" drops the fraction


def test_faults_over_http_admin_endpoint(cloud: LocalCloud, api: Api) -> None:
    put = requests.put(f"{cloud.url}/admin/faults", json={"rate_503": 1.0, "seed": 3}, timeout=5)
    assert put.status_code == 200 and put.json()["faults"]["rate_503"] == 1.0
    assert api.request("GET", "/image/v2/images").status_code == 503
    assert requests.get(f"{cloud.url}/admin/faults", timeout=5).json()["faults"]["seed"] == 3
    bad = requests.put(f"{cloud.url}/admin/faults", json={"rate_999": 1}, timeout=5)
    assert bad.status_code == 400 and "unknown fault" in bad.json()["error"]["message"]


def test_constructor_faults_and_seeded_reproducibility(tmp_path: Any) -> None:
    with LocalCloud(state_path=tmp_path / "s.sqlite", faults={"quota_instances": 0}) as cloud:
        assert cloud.faults["quota_instances"] == 0
    first = FaultInjector(Faults(rate_503=0.5, seed=42))
    second = FaultInjector(Faults(rate_503=0.5, seed=42))
    assert [first.roll_request() for _ in range(50)] == [second.roll_request() for _ in range(50)]
    other = FaultInjector(Faults(rate_503=0.5, seed=43))
    assert [first.roll_request() for _ in range(50)] != [other.roll_request() for _ in range(50)]
