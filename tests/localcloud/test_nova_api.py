"""Nova behaviour at the HTTP level: microversions, lifecycle, validation, quotas, persistence."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from declstack_localcloud import LocalCloud

from .conftest import Api, issue_token, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def slow_api(tmp_path: Path) -> Iterator[Api]:
    """Long transitions (2 s boot and delete, 1 s actions): intermediate states are asserted
    right after the request, and a busy machine must not let them pass unseen."""
    with (
        LocalCloud(
            state_path=tmp_path / "slow.sqlite", boot_seconds=2.0, delete_seconds=2.0
        ) as cloud,
        requests.Session() as session,
    ):
        yield Api(cloud, issue_token(cloud), session)


def _wait_status(api: Api, server_id: str, status: str, version: str = "2.1") -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        response = api.request("GET", f"/compute/v2.1/servers/{server_id}", version)
        server: dict[str, Any] = response.json()["server"]
        return server if server["status"] == status else None

    return wait_until(reached, f"{server_id} to reach {status}")


def test_requests_without_a_valid_token_get_keystone_401(cloud: LocalCloud) -> None:
    for path in ("/compute/v2.1/servers", "/image/v2/images", "/network/v2.0/networks"):
        response = requests.get(cloud.url + path, headers={"X-Auth-Token": "nope"}, timeout=5)
        assert response.status_code == 401
        assert response.json() == {
            "error": {
                "code": 401,
                "title": "Unauthorized",
                "message": "The request you have made requires authentication.",
            }
        }


def test_microversion_negotiation_and_gated_fields(api: Api) -> None:
    server = api.boot("mv", networks="auto", version="2.37")
    old = api.request("GET", f"/compute/v2.1/servers/{server['id']}")
    assert old.headers["OpenStack-API-Version"] == "compute 2.1"
    body = old.json()["server"]
    assert (
        "description" not in body and "tags" not in body and set(body["flavor"]) == {"id", "links"}
    )
    new = api.request("GET", f"/compute/v2.1/servers/{server['id']}", "latest")
    assert new.headers["X-OpenStack-Nova-API-Version"] == "2.104"
    body = new.json()["server"]
    assert body["description"] is None and body["tags"] == []
    assert body["flavor"]["original_name"] == "m1.nano"
    legacy = api.request(
        "GET", "/compute/v2.1/servers", headers={"X-OpenStack-Nova-API-Version": "2.26"}
    )
    assert legacy.headers["X-OpenStack-Nova-API-Version"] == "2.26"
    too_new = api.request("GET", "/compute/v2.1/servers", "2.999")
    assert too_new.status_code == 406


def test_networks_required_from_2_37_and_none_means_no_addresses(api: Api) -> None:
    missing = api.request(
        "POST",
        "/compute/v2.1/servers",
        "2.37",
        json={"server": {"name": "x", "imageRef": api.image_id("cirros"), "flavorRef": "1"}},
    )
    assert missing.status_code == 400
    assert "'networks' is a required property" in missing.json()["badRequest"]["message"]
    tags_too_early = api.request(
        "POST",
        "/compute/v2.1/servers",
        "2.51",
        json={
            "server": {
                "name": "x",
                "imageRef": api.image_id("cirros"),
                "flavorRef": "1",
                "networks": "none",
                "tags": ["a"],
            }
        },
    )
    assert tags_too_early.status_code == 400
    server = api.boot("isolated", networks="none", version="2.37")
    shown = _wait_status(api, server["id"], "ACTIVE")
    assert shown["addresses"] == {} and "security_groups" not in shown


def test_lifecycle_build_then_active_then_deleted_in_changes_since(slow_api: Api) -> None:
    api = slow_api
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 2))
    server = api.boot("life")
    first = api.request("GET", f"/compute/v2.1/servers/{server['id']}").json()["server"]
    assert first["status"] == "BUILD"
    assert first["OS-EXT-STS:task_state"] in ("scheduling", "spawning")
    active = _wait_status(api, server["id"], "ACTIVE")
    assert active["OS-EXT-STS:power_state"] == 1 and active["OS-EXT-STS:task_state"] is None
    assert api.request("DELETE", f"/compute/v2.1/servers/{server['id']}").status_code == 204
    deleting = api.request("GET", f"/compute/v2.1/servers/{server['id']}").json()["server"]
    assert deleting["OS-EXT-STS:task_state"] == "deleting"

    def answers_404() -> requests.Response | None:
        response = api.request("GET", f"/compute/v2.1/servers/{server['id']}")
        return response if response.status_code == 404 else None

    gone = wait_until(answers_404, "the deleted server to answer 404")
    assert gone.json()["itemNotFound"]["code"] == 404
    assert api.request("GET", "/compute/v2.1/servers").json()["servers"] == []
    changes = api.request("GET", f"/compute/v2.1/servers/detail?changes-since={before}")
    assert [(s["id"], s["status"]) for s in changes.json()["servers"]] == [
        (server["id"], "DELETED")
    ]


def test_actions_in_a_wrong_state_conflict(slow_api: Api) -> None:
    api = slow_api
    server = api.boot("act")
    url = f"/compute/v2.1/servers/{server['id']}/action"
    # realstack: while it is scheduled the server is only a build request to os-stop (404)
    scheduling = api.request("POST", url, json={"os-stop": None})
    assert scheduling.status_code == 404, scheduling.text
    wait_until(
        lambda: (
            api.request("GET", f"/compute/v2.1/servers/{server['id']}").json()["server"][
                "OS-EXT-STS:task_state"
            ]
            == "spawning"
        ),
        "spawning",
    )
    early = api.request("POST", url, json={"os-stop": None})
    assert early.status_code == 409
    assert "vm_state building" in early.json()["conflictingRequest"]["message"]
    _wait_status(api, server["id"], "ACTIVE")
    assert api.request("POST", url, json={"os-start": None}).status_code == 409
    assert api.request("POST", url, json={"os-stop": None}).status_code == 202
    _wait_status(api, server["id"], "SHUTOFF")
    assert api.request("POST", url, json={"os-start": None}).status_code == 202
    _wait_status(api, server["id"], "ACTIVE")
    assert api.request("POST", url, json={"reboot": {"type": "SOFT"}}).status_code == 202
    assert _wait_status(api, server["id"], "REBOOT")["OS-EXT-STS:task_state"] == "reboot_started"
    _wait_status(api, server["id"], "ACTIVE")
    groups = f"/compute/v2.1/servers/{server['id']}/os-security-groups"
    assert [g["name"] for g in api.request("GET", groups).json()["security_groups"]] == ["default"]
    assert (
        api.request("POST", url, json={"removeSecurityGroup": {"name": "default"}}).status_code
        == 202
    )
    assert api.request("GET", groups).json()["security_groups"] == []
    again = api.request("POST", url, json={"removeSecurityGroup": {"name": "default"}})
    assert again.status_code == 404  # SecurityGroupNotFound, as Nova answers
    assert (
        api.request("POST", url, json={"addSecurityGroup": {"name": "default"}}).status_code == 202
    )


def test_tags_and_metadata_sub_resources_follow_nova_rules(api: Api) -> None:
    server = api.boot("sub", version="2.52", networks="auto", tags=["one"])
    _wait_status(api, server["id"], "ACTIVE")
    base = f"/compute/v2.1/servers/{server['id']}"
    assert api.request("GET", f"{base}/tags", "2.25").status_code == 404
    assert api.request("PUT", f"{base}/tags/two", "2.26").status_code == 201
    assert api.request("PUT", f"{base}/tags/two", "2.26").status_code == 204
    assert api.request("GET", f"{base}/tags", "2.26").json() == {"tags": ["one", "two"]}
    assert api.request("PUT", f"{base}/tags/a,b", "2.26").status_code == 400
    assert api.request("PUT", f"{base}/tags/" + "x" * 61, "2.26").status_code == 400
    too_many = {"tags": [f"t{i}" for i in range(51)]}
    assert api.request("PUT", f"{base}/tags", "2.26", json=too_many).status_code == 400
    assert api.request("DELETE", f"{base}/tags/one", "2.26").status_code == 204
    assert api.request("GET", f"{base}/tags/one", "2.26").status_code == 404
    assert api.request("POST", f"{base}/metadata", json={"metadata": {"a": "1"}}).json() == {
        "metadata": {"a": "1"}
    }
    api.request("PUT", f"{base}/metadata/b", json={"meta": {"b": "2"}})
    assert api.request("GET", f"{base}/metadata").json()["metadata"] == {"a": "1", "b": "2"}
    mismatch = api.request("PUT", f"{base}/metadata/b", json={"meta": {"c": "3"}})
    assert mismatch.status_code == 400
    assert api.request("PUT", f"{base}/metadata", json={"metadata": {"z": "9"}}).json() == {
        "metadata": {"z": "9"}
    }
    assert api.request("DELETE", f"{base}/metadata/z").status_code == 204
    assert api.request("GET", f"{base}/metadata/z").status_code == 404


def test_quota_exceeded_gives_nova_403(cloud: LocalCloud, api: Api) -> None:
    cloud.set_faults(quota_instances=2)
    api.boot("q1")
    api.boot("q2")
    body = {"server": {"name": "q3", "imageRef": api.image_id("cirros"), "flavorRef": "1"}}
    refused = api.request("POST", "/compute/v2.1/servers", json=body)
    assert refused.status_code == 403
    assert refused.json()["forbidden"]["message"] == (
        "Quota exceeded for instances: Requested 1, but already used 2 of 2 instances"
    )
    limits = api.request("GET", "/compute/v2.1/limits").json()["limits"]["absolute"]
    assert limits["maxTotalInstances"] == 2 and limits["totalInstancesUsed"] == 2


def test_generated_keypair_before_2_92_and_public_key_required_after(api: Api) -> None:
    made = api.request("POST", "/compute/v2.1/os-keypairs", "2.2", json={"keypair": {"name": "g"}})
    assert made.status_code == 201
    keypair = made.json()["keypair"]
    assert keypair["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert keypair["public_key"].startswith("ssh-rsa ") and keypair["fingerprint"].count(":") == 15
    refused = api.request(
        "POST", "/compute/v2.1/os-keypairs", "2.92", json={"keypair": {"name": "h"}}
    )
    assert refused.status_code == 400
    duplicate = api.request(
        "POST", "/compute/v2.1/os-keypairs", "2.2", json={"keypair": {"name": "g"}}
    )
    assert duplicate.status_code == 409
    names = [
        k["keypair"]["name"]
        for k in api.request("GET", "/compute/v2.1/os-keypairs").json()["keypairs"]
    ]
    assert names == ["default", "g"]


def test_parallel_creates_get_distinct_ips(cloud: LocalCloud, api: Api) -> None:
    image = api.image_id("cirros")
    statuses: list[int] = []

    def create(index: int) -> None:
        with requests.Session() as session:
            response = session.post(
                f"{cloud.url}/compute/v2.1/servers",
                headers={"X-Auth-Token": api.token},
                json={"server": {"name": f"par-{index}", "imageRef": image, "flavorRef": "1"}},
                timeout=30,
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [202] * 12
    ports = api.request("GET", "/network/v2.0/ports?device_owner=compute:nova").json()["ports"]
    ips = [p["fixed_ips"][0]["ip_address"] for p in ports]
    assert len(ips) == 12 and len(set(ips)) == 12


def test_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "kept.sqlite"
    with LocalCloud(state_path=path, boot_seconds=0.2) as first, requests.Session() as session:
        api = Api(first, issue_token(first), session)
        server_id = api.boot("kept")["id"]
    with LocalCloud(state_path=path) as second, requests.Session() as session:
        api = Api(second, issue_token(second), session)
        shown = _wait_status(api, server_id, "ACTIVE")
        assert shown["name"] == "kept"


def test_expired_tokens_are_refused(cloud: LocalCloud) -> None:
    cloud.set_faults(token_ttl=2.0)
    before = time.monotonic()
    token = issue_token(cloud)
    headers = {"X-Auth-Token": token}
    url = f"{cloud.url}/compute/v2.1/flavors"
    assert requests.get(url, headers=headers, timeout=5).ok
    wait_until(
        lambda: requests.get(url, headers=headers, timeout=5).status_code == 401,
        "the token to expire",
    )
    # Refused no sooner than its lifetime (a lower bound: a slow machine only adds to it).
    assert time.monotonic() - before >= 2.0
