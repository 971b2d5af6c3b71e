"""Every fault can be switched on, and a client sees it."""

from __future__ import annotations

import http.client
import time
from typing import Any

import pytest
import requests
from openstack import exceptions

from declstack_localcloud import LocalCloud
from declstack_localcloud.faults import FaultInjector, Faults

from .conftest import Api

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


def test_boot_failures_show_nova_fault(cloud: LocalCloud, api: Api) -> None:
    cloud.set_faults(boot_error_rate=1.0)
    server = api.boot("doomed")
    time.sleep(0.4)
    shown = api.request("GET", f"/compute/v2.1/servers/{server['id']}").json()["server"]
    assert shown["status"] == "ERROR"
    assert shown["fault"]["code"] == 500
    assert shown["fault"]["message"] == (
        "No valid host was found. There are not enough hosts available."
    )
    assert shown["addresses"] == {}


def test_slow_boots(cloud: LocalCloud, api: Api) -> None:
    cloud.set_faults(boot_extra_seconds=1.0)
    server = api.boot("slow")
    time.sleep(0.5)
    status = api.request("GET", f"/compute/v2.1/servers/{server['id']}").json()["server"]["status"]
    assert status == "BUILD"
    time.sleep(1.0)
    status = api.request("GET", f"/compute/v2.1/servers/{server['id']}").json()["server"]["status"]
    assert status == "ACTIVE"


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
