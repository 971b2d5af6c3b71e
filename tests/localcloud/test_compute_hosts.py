"""Compute hosts, server groups, resize, rebuild, start and stop, as realstack's Nova 34
answers them (observed with 1 and then 3 fake compute hosts; see docs/localcloud.md)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
import requests
import yaml

from declstack_localcloud import HostCapacity, LocalCloud, LocalCloudError, serve

from .conftest import OPENSTACK_CLI, Api, issue_token, wait_until

pytestmark = pytest.mark.integration

NO_HOSTS = "No valid host was found. There are not enough hosts available."
SERVERS = "/compute/v2.1/servers"
GROUPS = "/compute/v2.1/os-server-groups"


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[LocalCloud]:
    """Transitions of 0.8 s: a state asserted right after the request that starts it
    (powering-off, resize_prep, rebuilding...) cannot pass unseen on a busy machine."""
    with LocalCloud(
        state_path=tmp_path / "state.sqlite", boot_seconds=0.8, delete_seconds=0.2
    ) as running:
        yield running


@pytest.fixture
def admin(cloud: LocalCloud) -> Iterator[Api]:
    with requests.Session() as session:
        yield Api(cloud, issue_token(cloud, "admin", "admin-secret"), session)


def _group(api: Api, policy: str, name: str = "grp", **extra: Any) -> dict[str, Any]:
    body = {"server_group": {"name": name, "policy": policy, **extra}}
    response = api.request("POST", GROUPS, "2.64", json=body)
    assert response.status_code == 200, response.text
    group: dict[str, Any] = response.json()["server_group"]
    return group


def _boot(api: Api, name: str, group: str | None = None, **extra: Any) -> str:
    body: dict[str, Any] = {
        "server": {
            "name": name,
            "imageRef": api.image_id("cirros"),
            "flavorRef": extra.pop("flavor", "1"),
            "networks": "auto",
            **extra,
        }
    }
    if group is not None:
        body["os:scheduler_hints"] = {"group": group}
    response = api.request("POST", SERVERS, "2.37", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["server"]["id"])


def _show(api: Api, server_id: str, version: str = "2.100") -> dict[str, Any]:
    response = api.request("GET", f"{SERVERS}/{server_id}", version)
    assert response.status_code == 200, response.text
    server: dict[str, Any] = response.json()["server"]
    return server


def _settled(api: Api, server_id: str, status: str) -> dict[str, Any]:
    """The server once it shows `status` with no task running."""

    def reached() -> dict[str, Any] | None:
        server = _show(api, server_id)
        done = server["status"] == status and server["OS-EXT-STS:task_state"] is None
        return server if done else None

    return wait_until(reached, f"{server_id} to settle in {status}")


def _action(api: Api, server_id: str, body: dict[str, Any], version: str = "2.1") -> Any:
    return api.request("POST", f"{SERVERS}/{server_id}/action", version, json=body)


def _message(response: requests.Response) -> str:
    (fault,) = response.json().values()
    return str(fault["message"])


# ---- hosts and the admin view ----------------------------------------------------------------


def test_three_hosts_by_default_in_the_admin_view(api: Api, admin: Api) -> None:
    legacy = admin.request("GET", "/compute/v2.1/os-hypervisors", "2.1").json()["hypervisors"]
    assert legacy == [
        {"id": i, "hypervisor_hostname": name, "state": "up", "status": "enabled"}
        for i, name in enumerate(
            ["localcloud-compute", "localcloud-compute-2", "localcloud-compute-3"], start=1
        )
    ]
    server = _boot(api, "placed")
    host = _settled(admin, server, "ACTIVE")["OS-EXT-SRV-ATTR:host"]
    detail = admin.request("GET", "/compute/v2.1/os-hypervisors/detail", "2.53").json()
    by_name = {h["hypervisor_hostname"]: h for h in detail["hypervisors"]}
    assert set(by_name) == {h["hypervisor_hostname"] for h in legacy}
    used = by_name[host]
    assert (used["vcpus_used"], used["memory_mb_used"], used["local_gb_used"]) == (1, 640, 1)
    assert (used["running_vms"], used["free_ram_mb"], used["vcpus"]) == (1, 800000 - 640, 1000)
    assert isinstance(used["cpu_info"], dict) and used["service"]["host"] == host
    idle = by_name[next(n for n in by_name if n != host)]
    assert (idle["running_vms"], idle["memory_mb_used"]) == (0, 512)

    shown = admin.request("GET", f"/compute/v2.1/os-hypervisors/{used['id']}", "2.53")
    assert shown.json()["hypervisor"]["hypervisor_hostname"] == host
    assert isinstance(
        admin.request("GET", "/compute/v2.1/os-hypervisors/1", "2.27").json()["hypervisor"][
            "cpu_info"
        ],
        str,
    )
    with_servers = admin.request(
        "GET", "/compute/v2.1/os-hypervisors?with_servers=true", "2.75"
    ).json()["hypervisors"]
    assert {h["hypervisor_hostname"]: h["servers"] for h in with_servers}[host] == [
        {"name": "placed", "uuid": server}
    ]
    assert [] in [h["servers"] for h in with_servers]
    new = admin.request("GET", "/compute/v2.1/os-hypervisors/detail", "2.88").json()
    assert "vcpus" not in new["hypervisors"][0] and new["hypervisors"][0]["uptime"] is None
    stats = admin.request("GET", "/compute/v2.1/os-hypervisors/statistics", "2.1").json()
    assert stats["hypervisor_statistics"]["count"] == 3
    assert stats["hypervisor_statistics"]["running_vms"] == 1


def test_hypervisor_errors_paging_and_policy(api: Api, admin: Api) -> None:
    base = "/compute/v2.1/os-hypervisors"
    page = admin.request("GET", f"{base}?limit=1", "2.53").json()
    first = page["hypervisors"][0]["id"]
    assert page["hypervisors_links"][0]["href"].endswith(f"os-hypervisors?limit=1&marker={first}")
    rest = admin.request("GET", f"{base}?marker={first}", "2.53").json()["hypervisors"]
    assert [h["hypervisor_hostname"] for h in rest] == [
        "localcloud-compute-2",
        "localcloud-compute-3",
    ]
    for path, version, status, message in (
        (f"{base}/1", "2.53", 400, "Invalid uuid 1"),
        (f"{base}/abc", "2.1", 404, "Hypervisor with ID 'abc' could not be found."),
        (f"{base}/99", "2.1", 404, "Hypervisor with ID '99' could not be found."),
        (
            f"{base}?hypervisor_hostname_pattern=nomatch",
            "2.53",
            404,
            "No hypervisor matching 'nomatch' could be found.",
        ),
        (f"{base}?marker=nope", "2.53", 400, "marker [nope] not found"),
    ):
        response = admin.request("GET", path, version)
        assert (response.status_code, _message(response)) == (status, message), path
    matching = admin.request("GET", f"{base}?hypervisor_hostname_pattern=compute-3", "2.53")
    assert [h["hypervisor_hostname"] for h in matching.json()["hypervisors"]] == [
        "localcloud-compute-3"
    ]
    for path, policy in (
        (base, "os-hypervisors:list"),
        (f"{base}/detail", "os-hypervisors:list-detail"),
        ("/compute/v2.1/os-services", "os-services:list"),
    ):
        refused = api.request("GET", path, "2.53")
        assert refused.status_code == 403
        assert _message(refused) == f"Policy doesn't allow os_compute_api:{policy} to be performed."


def test_services_list_one_compute_per_host(admin: Api) -> None:
    services = admin.request("GET", "/compute/v2.1/os-services", "2.53").json()["services"]
    assert [(s["binary"], s["host"], s["zone"]) for s in services] == [
        ("nova-scheduler", "localcloud-compute", "internal"),
        ("nova-conductor", "localcloud-compute", "internal"),
        ("nova-compute", "localcloud-compute", "nova"),
        ("nova-compute", "localcloud-compute-2", "nova"),
        ("nova-compute", "localcloud-compute-3", "nova"),
    ]
    assert all(s["state"] == "up" and s["forced_down"] is False for s in services)
    legacy = admin.request("GET", "/compute/v2.1/os-services?binary=nova-compute", "2.1")
    assert [s["id"] for s in legacy.json()["services"]] == [3, 4, 5]
    hypervisors = admin.request("GET", "/compute/v2.1/os-hypervisors/detail", "2.53").json()
    assert [h["service"]["id"] for h in hypervisors["hypervisors"]] == [
        s["id"] for s in services if s["binary"] == "nova-compute"
    ]


def test_only_admins_see_where_a_server_runs(api: Api, admin: Api) -> None:
    server = _boot(api, "where")
    mine = _settled(api, server, "ACTIVE")
    assert not [
        k for k in mine if k.startswith("OS-EXT-SRV-ATTR:") and k != "OS-EXT-SRV-ATTR:hostname"
    ]
    assert "host_status" not in mine and len(mine["hostId"]) == 56
    seen = _show(admin, server)
    assert seen["OS-EXT-SRV-ATTR:host"] == seen["OS-EXT-SRV-ATTR:hypervisor_hostname"]
    assert seen["OS-EXT-SRV-ATTR:host"].startswith("localcloud-compute")
    assert seen["OS-EXT-SRV-ATTR:instance_name"].startswith("instance-")
    assert seen["OS-EXT-SRV-ATTR:root_device_name"] == "/dev/sda"
    assert seen["host_status"] == "UP"
    old = _show(admin, server, "2.1")
    assert {k for k in old if k.startswith("OS-EXT-SRV-ATTR:")} == {
        "OS-EXT-SRV-ATTR:host",
        "OS-EXT-SRV-ATTR:instance_name",
        "OS-EXT-SRV-ATTR:hypervisor_hostname",
    }
    listed = admin.request("GET", f"{SERVERS}/detail?all_tenants=1", "2.1").json()["servers"]
    assert listed[0]["OS-EXT-SRV-ATTR:host"] == seen["OS-EXT-SRV-ATTR:host"]


def test_host_count_and_capacity_are_options(tmp_path: Path) -> None:
    capacity = HostCapacity(vcpus=1, memory_mb=512 + 1024, local_gb=100)
    with (
        LocalCloud(
            state_path=tmp_path / "small.sqlite",
            boot_seconds=0.2,
            hosts=2,
            host_capacity=capacity,
        ) as cloud,
        requests.Session() as session,
    ):
        api = Api(cloud, issue_token(cloud), session)
        admin = Api(cloud, issue_token(cloud, "admin", "admin-secret"), session)
        hosts = admin.request("GET", "/compute/v2.1/os-hypervisors", "2.53").json()
        assert len(hosts["hypervisors"]) == 2
        # 1 GB of RAM each: two m1.tiny (512 MB) per host, then no room anywhere
        servers = [_boot(api, f"fill-{i}", flavor="2") for i in range(5)]
        placed = [_settled(admin, s, "ACTIVE" if i < 4 else "ERROR") for i, s in enumerate(servers)]
        assert Counter(s["OS-EXT-SRV-ATTR:host"] for s in placed[:4]) == {
            "localcloud-compute": 2,
            "localcloud-compute-2": 2,
        }
        assert placed[4]["fault"]["message"] == "No valid host was found. "
        assert placed[4]["OS-EXT-SRV-ATTR:host"] is None
        assert api.request("DELETE", f"{SERVERS}/{servers[0]}").status_code == 204
        wait_until(lambda: api.request("GET", f"{SERVERS}/{servers[0]}").status_code == 404, "gone")
        refill = _boot(api, "refill", flavor="2")
        assert (
            _settled(admin, refill, "ACTIVE")["OS-EXT-SRV-ATTR:host"]
            == placed[0]["OS-EXT-SRV-ATTR:host"]
        )
    for hosts_value in (0, 1001, True, 2.5):
        with pytest.raises(LocalCloudError, match="hosts must be a whole number"):
            LocalCloud(state_path=tmp_path / "bad.sqlite", hosts=hosts_value)  # type: ignore[arg-type]
    with pytest.raises(LocalCloudError, match=r"host_capacity\.vcpus"):
        LocalCloud(state_path=tmp_path / "bad.sqlite", host_capacity=HostCapacity(vcpus=0))


def test_serve_takes_the_number_of_hosts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stopping = threading.Event()
    clouds_yaml = tmp_path / "clouds.yaml"
    thread = threading.Thread(
        target=serve.run,
        args=("127.0.0.1", 0, tmp_path / "s.sqlite", clouds_yaml, "lc", 0.1, stopping),
        kwargs={"hosts": 1},
        daemon=True,
    )
    thread.start()
    try:
        wait_until(
            lambda: clouds_yaml.exists() and "Stop with Ctrl-C" in capsys.readouterr().out,
            "serving",
        )
        config = yaml.safe_load(clouds_yaml.read_text())["clouds"]["lc-admin"]
        conn = openstack.connect(auth_type="password", **config)
        assert [h.name for h in conn.compute.hypervisors()] == ["localcloud-compute"]
        conn.close()
    finally:
        stopping.set()
        thread.join(timeout=10)
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "declstack_localcloud",
            "serve",
            "--hosts",
            "0",
            "--port",
            "0",
            "--state",
            str(tmp_path / "t.sqlite"),
            "--clouds-yaml",
            str(tmp_path / "t.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1
    assert (
        "error: hosts must be a whole number of compute hosts from 1 to 1000, not 0"
        in refused.stderr
    )


# ---- server groups ---------------------------------------------------------------------------


def test_server_group_shapes_by_microversion(api: Api) -> None:
    old = api.request(
        "POST", GROUPS, "2.1", json={"server_group": {"name": "a", "policies": ["anti-affinity"]}}
    )
    assert old.status_code == 200
    body = old.json()["server_group"]
    assert set(body) == {"id", "name", "policies", "metadata", "members"}
    assert (body["policies"], body["metadata"], body["members"]) == (["anti-affinity"], {}, [])
    soft = api.request(
        "POST", GROUPS, "2.15", json={"server_group": {"name": "s", "policies": ["soft-affinity"]}}
    )
    assert set(soft.json()["server_group"]) == {
        "id",
        "name",
        "policies",
        "metadata",
        "members",
        "project_id",
        "user_id",
    }
    new = _group(api, "anti-affinity", "n", rules={"max_server_per_host": 2})
    assert set(new) == {"id", "name", "policy", "rules", "members", "project_id", "user_id"}
    assert new["rules"] == {"max_server_per_host": 2}
    listed = api.request("GET", GROUPS, "2.64").json()["server_groups"]
    assert [(g["name"], g["policy"], g["rules"]) for g in listed] == [
        ("a", "anti-affinity", {}),
        ("s", "soft-affinity", {}),
        ("n", "anti-affinity", {"max_server_per_host": 2}),
    ]
    paged = api.request("GET", f"{GROUPS}?limit=1&offset=1", "2.64").json()["server_groups"]
    assert [g["name"] for g in paged] == ["s"]
    shown = api.request("GET", f"{GROUPS}/{new['id']}", "2.13").json()["server_group"]
    assert shown["policies"] == ["anti-affinity"] and "rules" not in shown
    limits = api.request("GET", "/compute/v2.1/limits", "2.57").json()["limits"]["absolute"]
    assert (limits["totalServerGroupsUsed"], limits["maxServerGroups"]) == (3, 10)
    assert api.request("DELETE", f"{GROUPS}/{new['id']}", "2.64").status_code == 204
    gone = api.request("DELETE", f"{GROUPS}/{new['id']}", "2.64")
    assert (gone.status_code, _message(gone)) == (
        404,
        f"Instance group {new['id']} could not be found.",
    )


@pytest.mark.parametrize(
    ("version", "group", "message"),
    [
        (
            "2.1",
            {"name": "x", "policies": ["soft-affinity"]},
            "Invalid input for field/attribute 0. Value: soft-affinity. 'soft-affinity' is not"
            " one of ['anti-affinity', 'affinity']",
        ),
        (
            "2.1",
            {"policies": ["affinity"]},
            "Invalid input for field/attribute server_group. Value: {'policies': ['affinity']}."
            " 'name' is a required property",
        ),
        (
            "2.1",
            {"name": "", "policies": ["affinity"]},
            "Invalid input for field/attribute name. Value: . '' should be non-empty",
        ),
        (
            "2.64",
            {"name": "x", "policy": "affinity", "rules": {"max_server_per_host": 2}},
            "Only anti-affinity policy supports rules.",
        ),
        (
            "2.64",
            {"name": "x", "policies": ["affinity"]},
            "Invalid input for field/attribute server_group. Value: {'name': 'x', 'policies':"
            " ['affinity']}. Additional properties are not allowed ('policies' was unexpected)",
        ),
        (
            "2.64",
            {"name": "x", "policy": "bogus"},
            "Invalid input for field/attribute policy. Value: bogus. 'bogus' is not one of"
            " ['anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity']",
        ),
        (
            "2.64",
            {"name": "x", "policy": "anti-affinity", "rules": {"max_server_per_host": 0}},
            "Invalid input for field/attribute max_server_per_host. Value: 0. 0 is less than the"
            " minimum of 1",
        ),
    ],
)
def test_server_group_create_refusals(
    api: Api, version: str, group: dict[str, Any], message: str
) -> None:
    response = api.request("POST", GROUPS, version, json={"server_group": group})
    assert (response.status_code, _message(response)) == (400, message)


def test_server_group_quota_query_and_policy(api: Api, admin: Api, cloud: LocalCloud) -> None:
    cloud.set_faults(quota_server_groups=2)
    first = _group(api, "affinity", "one")
    _group(api, "affinity", "two")
    over = api.request(
        "POST", GROUPS, "2.64", json={"server_group": {"name": "3", "policy": "affinity"}}
    )
    assert (over.status_code, _message(over)) == (403, "Quota exceeded, too many server groups.")
    strict = api.request("GET", f"{GROUPS}?foo=1", "2.75")
    assert (strict.status_code, _message(strict)) == (
        400,
        "Additional properties are not allowed ('foo' was unexpected)",
    )
    assert api.request("GET", f"{GROUPS}?foo=1", "2.74").status_code == 200
    assert api.request("GET", f"{GROUPS}/{first['id']}?foo=1", "2.102").status_code == 400
    # admins list everyone's with all_projects, a tenant only its own either way
    theirs = _group(admin, "affinity", "admins")
    assert len(api.request("GET", f"{GROUPS}?all_projects=1", "2.64").json()["server_groups"]) == 2
    everyone = admin.request("GET", f"{GROUPS}?all_projects=1", "2.64").json()["server_groups"]
    assert len(everyone) == 3
    assert [g["name"] for g in admin.request("GET", GROUPS, "2.64").json()["server_groups"]] == [
        "admins"
    ]
    refused = api.request("GET", f"{GROUPS}/{theirs['id']}", "2.64")
    assert (refused.status_code, _message(refused)) == (
        403,
        "Policy doesn't allow os_compute_api:os-server-groups:show to be performed.",
    )
    assert api.request("DELETE", f"{GROUPS}/{theirs['id']}", "2.64").status_code == 403


def test_anti_affinity_spreads_and_a_fourth_member_fails_with_nova_fault(
    api: Api, admin: Api
) -> None:
    group = _group(api, "anti-affinity")
    servers = [_boot(api, f"anti-{i}", group["id"]) for i in range(4)]
    shown = [_settled(admin, s, "ACTIVE" if i < 3 else "ERROR") for i, s in enumerate(servers)]
    assert len({s["OS-EXT-SRV-ATTR:host"] for s in shown[:3]}) == 3
    assert len({s["hostId"] for s in shown[:3]}) == 3  # what a tenant can compare
    failed = shown[3]
    assert failed["fault"]["message"] == NO_HOSTS and failed["fault"]["code"] == 500
    assert (failed["OS-EXT-SRV-ATTR:host"], failed["hostId"], failed["addresses"]) == (None, "", {})
    assert failed["OS-EXT-AZ:availability_zone"] == ""
    assert failed["scheduler_hints"] == {"group": [group["id"]]}
    members = api.request("GET", f"{GROUPS}/{group['id']}", "2.64").json()["server_group"]
    assert members["members"] == servers  # the one in ERROR too
    assert _show(api, servers[0], "2.71")["server_groups"] == [group["id"]]
    # a never-scheduled server is "not ready" for stop and never launched for rebuild
    stop = _action(api, servers[3], {"os-stop": None})
    assert (stop.status_code, _message(stop)) == (409, f"Instance {servers[3]} is not ready")
    rebuild = _action(api, servers[3], {"rebuild": {"imageRef": api.image_id("cirros")}})
    assert (rebuild.status_code, _message(rebuild)) == (
        409,
        f"Instance {servers[3]} is in an invalid state for 'rebuild'",
    )
    resize = _action(api, servers[3], {"resize": {"flavorRef": "2"}})
    assert (
        _message(resize) == f"Cannot 'resize' instance {servers[3]} while it is in vm_state error"
    )
    # deleting the group keeps its servers, outside any group
    assert api.request("DELETE", f"{GROUPS}/{group['id']}", "2.64").status_code == 204
    alone = _show(api, servers[0])
    assert (alone["status"], alone["server_groups"], alone["scheduler_hints"]) == ("ACTIVE", [], {})


def test_a_multi_create_that_cannot_all_be_placed_fails_whole(api: Api, admin: Api) -> None:
    group = _group(api, "anti-affinity")
    body = {
        "server": {
            "name": "multi",
            "imageRef": api.image_id("cirros"),
            "flavorRef": "1",
            "networks": "auto",
            "min_count": 4,
        },
        "os:scheduler_hints": {"group": group["id"]},
    }
    assert api.request("POST", SERVERS, "2.37", json=body).status_code == 202
    servers = api.request("GET", f"{SERVERS}?name=multi", "2.1").json()["servers"]
    assert len(servers) == 4
    for server in servers:
        assert _settled(admin, server["id"], "ERROR")["fault"]["message"] == NO_HOSTS


def test_rules_affinity_and_soft_policies(api: Api, admin: Api, cloud: LocalCloud) -> None:
    two_per_host = _group(api, "anti-affinity", "two", rules={"max_server_per_host": 2})
    pairs = [_boot(api, f"pair-{i}", two_per_host["id"]) for i in range(7)]
    placed = [_settled(admin, s, "ACTIVE" if i < 6 else "ERROR") for i, s in enumerate(pairs)]
    assert sorted(Counter(s["OS-EXT-SRV-ATTR:host"] for s in placed[:6]).values()) == [2, 2, 2]

    together = _group(api, "affinity", "together")
    hosts = {
        _settled(admin, _boot(api, f"tog-{i}", together["id"]), "ACTIVE")["OS-EXT-SRV-ATTR:host"]
        for i in range(3)
    }
    assert len(hosts) == 1

    spread = _group(api, "soft-anti-affinity", "spread")
    soft = [_boot(api, f"soft-{i}", spread["id"]) for i in range(4)]
    counts = Counter(_settled(admin, s, "ACTIVE")["OS-EXT-SRV-ATTR:host"] for s in soft)
    assert sorted(counts.values()) == [1, 1, 2]  # never an ERROR: soft policies only weigh

    near = _group(api, "soft-affinity", "near")
    hosts = {
        _settled(admin, _boot(api, f"near-{i}", near["id"]), "ACTIVE")["OS-EXT-SRV-ATTR:host"]
        for i in range(3)
    }
    assert len(hosts) == 1

    cloud.set_faults(quota_server_group_members=1)
    over = api.request(
        "POST",
        SERVERS,
        "2.37",
        json={
            "server": {
                "name": "over",
                "imageRef": api.image_id("cirros"),
                "flavorRef": "1",
                "networks": "auto",
            },
            "os:scheduler_hints": {"group": near["id"]},
        },
    )
    assert (over.status_code, _message(over)) == (403, "Quota exceeded, too many servers in group")


def test_group_hint_refusals_and_different_host(api: Api, admin: Api) -> None:
    base = {"name": "h", "imageRef": api.image_id("cirros"), "flavorRef": "1", "networks": "auto"}
    unknown = "00000000-0000-0000-0000-000000000000"
    for hints, message in (
        ({"group": unknown}, f"Instance group {unknown} could not be found."),
        (
            {"group": "not-a-uuid"},
            "Invalid input for field/attribute group. Value: not-a-uuid. 'not-a-uuid' is not"
            " valid under any of the given schemas",
        ),
    ):
        response = api.request(
            "POST", SERVERS, "2.37", json={"server": base, "os:scheduler_hints": hints}
        )
        assert (response.status_code, _message(response)) == (400, message)
    first = _boot(api, "first")
    host = _settled(admin, first, "ACTIVE")["OS-EXT-SRV-ATTR:host"]
    elsewhere = api.request(
        "POST",
        SERVERS,
        "2.37",
        json={
            "server": {**base, "name": "other"},
            "OS-SCH-HNT:scheduler_hints": {"different_host": [first]},
        },
    ).json()["server"]["id"]
    apart = _settled(admin, elsewhere, "ACTIVE")
    assert apart["OS-EXT-SRV-ATTR:host"] != host
    assert apart["scheduler_hints"] == {"different_host": [first]}


# ---- start and stop --------------------------------------------------------------------------


def test_stop_and_start_states_and_conflicts(api: Api) -> None:
    server = _boot(api, "power")
    _settled(api, server, "ACTIVE")
    started = _action(api, server, {"os-start": None})
    assert _message(started) == f"Cannot 'start' instance {server} while it is in vm_state active"
    assert _action(api, server, {"os-stop": None}).status_code == 202
    during = _show(api, server)
    assert (during["status"], during["OS-EXT-STS:task_state"]) == ("ACTIVE", "powering-off")
    again = _action(api, server, {"os-stop": None})
    assert (again.status_code, _message(again)) == (
        409,
        f"Cannot 'stop' instance {server} while it is in task_state powering-off",
    )
    stopped = _settled(api, server, "SHUTOFF")
    assert (stopped["OS-EXT-STS:vm_state"], stopped["OS-EXT-STS:power_state"]) == ("stopped", 4)
    twice = _action(api, server, {"os-stop": None})
    assert (twice.status_code, _message(twice)) == (
        409,
        f"Cannot 'stop' instance {server} while it is in vm_state stopped",
    )
    assert _action(api, server, {"os-start": None}).status_code == 202
    starting = _show(api, server)
    assert (starting["status"], starting["OS-EXT-STS:task_state"]) == ("SHUTOFF", "powering-on")
    assert _settled(api, server, "ACTIVE")["OS-EXT-STS:power_state"] == 1


# ---- resize ----------------------------------------------------------------------------------


def test_resize_confirm_keeps_id_and_addresses(conn: Any, admin: Api, api: Api) -> None:
    image = conn.image.find_image("cirros")
    network = conn.network.find_network("private")
    server = conn.compute.create_server(
        name="grow", image_id=image.id, flavor_id="1", networks=[{"uuid": network.id}]
    )
    server = conn.compute.wait_for_server(server, wait=30, interval=0.1)
    before = _show(admin, server.id)
    conn.compute.resize_server(server, "2")
    resizing = _show(admin, server.id)
    assert (resizing["status"], resizing["flavor"]["original_name"]) == ("RESIZE", "m1.nano")
    verify = conn.compute.wait_for_server(server, status="VERIFY_RESIZE", wait=30, interval=0.1)
    assert verify.flavor.original_name == "m1.tiny"
    moved = _show(admin, server.id)
    assert moved["addresses"] == before["addresses"]
    destination = moved["OS-EXT-SRV-ATTR:host"]
    source = before["OS-EXT-SRV-ATTR:host"]
    # both hosts hold the server until the resize is confirmed
    usage = {
        h["hypervisor_hostname"]: h["memory_mb_used"]
        for h in admin.request("GET", "/compute/v2.1/os-hypervisors/detail", "2.1").json()[
            "hypervisors"
        ]
    }
    assert usage[source] - 512 >= 128 and usage[destination] - 512 >= 512
    for body, message in (
        (
            {"os-start": None},
            f"Cannot 'start' instance {server.id} while it is in vm_state resized",
        ),
        (
            {"resize": {"flavorRef": "3"}},
            f"Cannot 'resize' instance {server.id} while it is in vm_state resized",
        ),
    ):
        response = _action(api, server.id, body)
        assert (response.status_code, _message(response)) == (409, message)
    confirm = _action(api, server.id, {"confirmResize": None})
    assert confirm.status_code == 204
    again = _action(api, server.id, {"confirmResize": None})
    assert (again.status_code, _message(again)) == (400, "Instance has not been resized.")
    done = _settled(admin, server.id, "ACTIVE")
    assert (done["id"], done["flavor"]["original_name"]) == (server.id, "m1.tiny")
    assert done["OS-EXT-SRV-ATTR:host"] == destination
    if source != destination:
        freed = admin.request("GET", "/compute/v2.1/os-hypervisors/detail", "2.1").json()
        assert {h["hypervisor_hostname"]: h["memory_mb_used"] for h in freed["hypervisors"]}[
            source
        ] == 512


def test_revert_resize_goes_back_to_the_old_flavor_and_host(api: Api, admin: Api) -> None:
    server = _boot(api, "back")
    before = _settled(admin, server, "ACTIVE")
    assert _action(api, server, {"resize": {"flavorRef": "2"}}).status_code == 202
    resized = _settled(admin, server, "VERIFY_RESIZE")
    assert resized["flavor"]["original_name"] == "m1.tiny"
    assert _action(api, server, {"revertResize": None}).status_code == 202
    reverting = _show(admin, server)
    assert (reverting["status"], reverting["OS-EXT-STS:task_state"]) == (
        "REVERT_RESIZE",
        "resize_reverting",
    )
    twice = _action(api, server, {"revertResize": None})
    assert _message(twice) == (
        f"Cannot 'revertResize' instance {server} while it is in task_state resize_reverting"
    )
    back = _settled(admin, server, "ACTIVE")
    assert back["flavor"]["original_name"] == "m1.nano"
    assert back["OS-EXT-SRV-ATTR:host"] == before["OS-EXT-SRV-ATTR:host"]
    assert back["addresses"] == before["addresses"]
    confirm = _action(api, server, {"confirmResize": None})
    assert _message(confirm) == (
        f"Cannot 'confirmResize' instance {server} while it is in vm_state active"
    )


def test_a_stopped_server_resizes_and_stays_stopped(api: Api) -> None:
    server = _boot(api, "cold")
    _settled(api, server, "ACTIVE")
    _action(api, server, {"os-stop": None})
    _settled(api, server, "SHUTOFF")
    assert _action(api, server, {"resize": {"flavorRef": "2"}}).status_code == 202
    verify = _settled(api, server, "VERIFY_RESIZE")
    assert verify["OS-EXT-STS:power_state"] == 4
    assert _action(api, server, {"confirmResize": None}).status_code == 204
    stopped = _settled(api, server, "SHUTOFF")
    assert stopped["flavor"]["original_name"] == "m1.tiny"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"resize": {"flavorRef": "1"}}, "When resizing, instances must change flavor!"),
        ({"resize": {"flavorRef": "999"}}, "Flavor 999 could not be found."),
        (
            {"resize": {}},
            "Invalid input for field/attribute resize. Value: {}. 'flavorRef' is a required"
            " property",
        ),
    ],
)
def test_resize_refusals(api: Api, body: dict[str, Any], message: str) -> None:
    server = _boot(api, "refused")
    _settled(api, server, "ACTIVE")
    response = _action(api, server, body)
    assert (response.status_code, _message(response)) == (400, message)


def test_a_resize_no_host_can_take_changes_nothing(tmp_path: Path) -> None:
    capacity = HostCapacity(vcpus=1, memory_mb=512 + 1024, local_gb=100)
    with (
        LocalCloud(
            state_path=tmp_path / "one.sqlite", boot_seconds=0.8, hosts=1, host_capacity=capacity
        ) as cloud,
        requests.Session() as session,
    ):
        api = Api(cloud, issue_token(cloud), session)
        server = _boot(api, "stuck")
        _settled(api, server, "ACTIVE")
        assert _action(api, server, {"resize": {"flavorRef": "3"}}).status_code == 202
        prep = _show(api, server)
        assert (prep["status"], prep["OS-EXT-STS:task_state"]) == ("RESIZE", "resize_prep")
        after = _settled(api, server, "ACTIVE")
        assert after["flavor"]["original_name"] == "m1.nano"
        # on one host with room, the resize stays there (allow_resize_to_same_host)
        assert _action(api, server, {"resize": {"flavorRef": "2"}}).status_code == 202
        assert _settled(api, server, "VERIFY_RESIZE")["flavor"]["original_name"] == "m1.tiny"
        cloud.set_faults(quota_ram=500)
        _action(api, server, {"revertResize": None})
        _settled(api, server, "ACTIVE")
        over = _action(api, server, {"resize": {"flavorRef": "2"}})
        assert (over.status_code, _message(over)) == (
            403,
            "Quota exceeded for ram: Requested 384, but already used 128 of 500 ram",
        )


# ---- rebuild ---------------------------------------------------------------------------------


def test_rebuild_keeps_id_and_addresses_with_a_new_image(conn: Any, api: Api) -> None:
    image = conn.image.find_image("cirros")
    other = conn.image.find_image("debian-12")
    network = conn.network.find_network("private")
    server = conn.compute.create_server(
        name="old-name",
        image_id=image.id,
        flavor_id="1",
        networks=[{"uuid": network.id}],
        metadata={"a": "1"},
    )
    server = conn.compute.wait_for_server(server, wait=30, interval=0.1)
    rebuilt = conn.compute.rebuild_server(
        server, other.id, name="new-name", metadata={"b": "2"}, admin_password="s3cret"
    )
    assert rebuilt.status == "REBUILD" and rebuilt.admin_password == "s3cret"
    phases = {_show(api, server.id)["OS-EXT-STS:task_state"]}
    done = conn.compute.wait_for_server(server, wait=30, interval=0.1)
    assert phases <= {"rebuilding", "rebuild_block_device_mapping", "rebuild_spawning", None}
    assert (done.id, done.image.id, done.name, done.metadata) == (
        server.id,
        other.id,
        "new-name",
        {"b": "2"},
    )
    assert done.addresses == server.addresses


def test_rebuild_answers_and_refusals(api: Api, admin: Api) -> None:
    server = _boot(api, "rb")
    _settled(api, server, "ACTIVE")
    image = api.image_id("cirros")
    short = _action(api, server, {"rebuild": {"imageRef": image}}, "2.1")
    assert short.status_code == 202
    assert short.headers["Location"].endswith(f"/servers/{server}")
    body = short.json()["server"]
    assert body["status"] == "REBUILD" and len(body["adminPass"]) == 12
    assert "OS-EXT-STS:task_state" not in body and "key_name" not in body
    assert all(set(a) == {"version", "addr"} for a in body["addresses"]["private"])
    busy = _action(api, server, {"rebuild": {"imageRef": image}})
    assert (busy.status_code, _message(busy)) == (
        409,
        f"Cannot 'rebuild' instance {server} while it is in task_state rebuilding",
    )
    _settled(api, server, "ACTIVE")
    full = _action(admin, server, {"rebuild": {"imageRef": image}}, "2.100").json()["server"]
    assert full["OS-EXT-STS:task_state"] == "rebuilding" and full["server_groups"] == []
    assert "OS-EXT-SRV-ATTR:host" in full and "OS-EXT-SRV-ATTR:user_data" not in full
    assert full["user_data"] is None
    _settled(api, server, "ACTIVE")
    for rebuild, message in (
        ({"imageRef": "00000000-0000-0000-0000-000000000000"}, "Cannot find image for rebuild"),
        (
            {},
            "Invalid input for field/attribute rebuild. Value: {}. 'imageRef' is a required"
            " property",
        ),
        (
            {"imageRef": image, "bogus": 1},
            f"Invalid input for field/attribute rebuild. Value: {{'imageRef': '{image}', 'bogus':"
            " 1}. Additional properties are not allowed ('bogus' was unexpected)",
        ),
    ):
        response = _action(api, server, {"rebuild": rebuild})
        assert (response.status_code, _message(response)) == (400, message)
    keyed = _action(api, server, {"rebuild": {"imageRef": image, "key_name": "nope"}}, "2.54")
    assert (keyed.status_code, _message(keyed)) == (400, "Invalid key_name provided.")
    # a stopped server is rebuilt stopped
    _action(api, server, {"os-stop": None})
    _settled(api, server, "SHUTOFF")
    assert _action(api, server, {"rebuild": {"imageRef": image}}).status_code == 202
    during = _show(api, server)
    assert (during["status"], during["OS-EXT-STS:vm_state"]) == ("REBUILD", "stopped")
    assert _settled(api, server, "SHUTOFF")["OS-EXT-STS:power_state"] == 4


# ---- the openstack CLI -----------------------------------------------------------------------


def _openstack(clouds_yaml: Path, cloud: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml)
    result = subprocess.run(
        [str(OPENSTACK_CLI), "--os-cloud", cloud, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result


def test_the_openstack_cli_schedules_resizes_and_rebuilds(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    clouds_yaml = tmp_path / "clouds.yaml"
    clouds_yaml.write_text(
        yaml.safe_dump(
            {"clouds": {"local": cloud.cloud_config(), "local-admin": cloud.admin_cloud_config()}}
        )
    )

    def run(*args: str, admin: bool = False) -> str:
        return _openstack(clouds_yaml, "local-admin" if admin else "local", *args).stdout

    group = run(
        "server", "group", "create", "--policy", "anti-affinity", "web", "-f", "value", "-c", "id"
    ).strip()
    for name in ("web-1", "web-2"):
        run(
            "server",
            "create",
            "--image",
            "cirros",
            "--flavor",
            "m1.nano",
            "--network",
            "private",
            "--hint",
            f"group={group}",
            "--wait",
            name,
        )
    hosts = yaml.safe_load(
        run(
            "server",
            "list",
            "--all-projects",
            "--long",
            "-c",
            "Name",
            "-c",
            "Host",
            "-f",
            "yaml",
            admin=True,
        )
    )
    assert len({h["Host"] for h in hosts}) == 2
    hypervisors = yaml.safe_load(run("hypervisor", "list", "-f", "yaml", admin=True))
    assert [h["Hypervisor Hostname"] for h in hypervisors] == [
        "localcloud-compute",
        "localcloud-compute-2",
        "localcloud-compute-3",
    ]
    members = yaml.safe_load(run("server", "group", "show", "web", "-f", "yaml"))["members"]
    assert len(members) == 2
    run("server", "resize", "--flavor", "m1.tiny", "--wait", "web-1")
    assert run("server", "show", "web-1", "-f", "value", "-c", "status").strip() == "VERIFY_RESIZE"
    run("server", "resize", "confirm", "web-1")
    run("server", "rebuild", "--image", "debian-12", "--wait", "web-2")
    shown = yaml.safe_load(run("server", "show", "web-2", "-f", "yaml"))
    assert shown["status"] == "ACTIVE" and shown["image"].startswith("debian-12")
