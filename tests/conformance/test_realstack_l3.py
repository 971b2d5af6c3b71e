"""Neutron L3 on realstack: the bootstrap (`public`, `router1`) and the floating IP and
security group facts that docs/real-nova-facts.md states and the local cloud copies.

Real services only: these pin what the local cloud is to copy. Every resource made here
is named `l3c-<hex>` and removed at the end.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conformance.rawcloud import RawCloud, Response

pytestmark = pytest.mark.conformance

RUN = "l3c-" + uuid.uuid4().hex[:6]
FIP_KEYS = {
    "created_at",
    "description",
    "fixed_ip_address",
    "floating_ip_address",
    "floating_network_id",
    "id",
    "port_details",
    "port_id",
    "project_id",
    "revision_number",
    "router_id",
    "status",
    "tags",
    "tenant_id",
    "updated_at",
}


def _ok(resp: Response, status: int) -> Any:
    assert resp.status == status, (resp.status, resp.body)
    return resp.body


def _error(resp: Response, status: int, kind: str) -> str:
    assert resp.status == status, (resp.status, resp.body)
    assert resp.body["NeutronError"]["type"] == kind, resp.body
    return str(resp.body["NeutronError"]["message"])


def _until(fn: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _one(cloud: RawCloud, path: str, key: str) -> dict[str, Any]:
    items = _ok(cloud.request("network", "GET", path), 200)[key]
    assert len(items) == 1, items
    return dict(items[0])


@pytest.fixture(scope="module")
def nets(realstack: RawCloud) -> dict[str, dict[str, Any]]:
    """`public` and `private` as the tenant sees them."""
    return {
        n: _one(realstack, f"/v2.0/networks?name={n}", "networks") for n in ("public", "private")
    }


@pytest.fixture(scope="module")
def server(realstack: RawCloud, nets: dict[str, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """An ACTIVE server on `private` and its port."""
    image = _ok(realstack.request("image", "GET", "/v2/images?name=cirros"), 200)["images"][0]
    body = {
        "server": {
            "name": RUN + "-srv",
            "imageRef": image["id"],
            "flavorRef": "1",
            "networks": [{"uuid": nets["private"]["id"]}],
        }
    }
    sid = _ok(realstack.request("compute", "POST", "/servers", body, "2.52"), 202)["server"]["id"]
    try:
        srv = _until(
            lambda: realstack.request("compute", "GET", f"/servers/{sid}", microversion="2.100"),
            lambda r: r.body["server"]["status"] in ("ACTIVE", "ERROR"),
            90,
        )
        assert srv.body["server"]["status"] == "ACTIVE", srv.body
        port = _one(realstack, f"/v2.0/ports?device_id={sid}", "ports")
        yield {"id": sid, "port": port}
    finally:
        realstack.request("compute", "DELETE", f"/servers/{sid}")
        _until(
            lambda: realstack.request("compute", "GET", f"/servers/{sid}"),
            lambda r: r.status == 404,
            60,
        )


def _floating_addrs(cloud: RawCloud, sid: str) -> list[str]:
    resp = cloud.request("compute", "GET", f"/servers/{sid}", microversion="2.100")
    return [
        a["addr"]
        for addrs in resp.body["server"]["addresses"].values()
        for a in addrs
        if a["OS-EXT-IPS:type"] == "floating"
    ]


def test_public_and_router1_are_bootstrapped(
    realstack: RawCloud, realstack_admin: RawCloud, nets: dict[str, dict[str, Any]]
) -> None:
    """public: external, not shared, 203.0.113.0/24 without DHCP; router1: demo's, gateway
    on public, interface 10.0.0.1 on private."""
    public = nets["public"]
    assert (public["router:external"], public["shared"]) == (True, False)
    assert public["project_id"] != realstack.project_id
    sub = _one(realstack, f"/v2.0/subnets?network_id={public['id']}", "subnets")
    assert (sub["cidr"], sub["gateway_ip"], sub["enable_dhcp"]) == (
        "203.0.113.0/24",
        "203.0.113.1",
        False,
    )
    assert sub["allocation_pools"] == [{"start": "203.0.113.10", "end": "203.0.113.250"}]
    router = _one(realstack, "/v2.0/routers?name=router1", "routers")
    assert router["project_id"] == realstack.project_id
    assert router["status"] == "ACTIVE"
    gw = router["external_gateway_info"]
    assert gw["network_id"] == public["id"]
    assert gw["enable_snat"] is True
    assert gw["external_fixed_ips"][0]["subnet_id"] == sub["id"]
    ports = _ok(realstack.request("network", "GET", f"/v2.0/ports?device_id={router['id']}"), 200)
    # The tenant sees only the interface port; the gateway port has project_id "".
    assert [
        (p["device_owner"], p["status"], p["fixed_ips"][0]["ip_address"]) for p in ports["ports"]
    ] == [("network:router_interface", "DOWN", "10.0.0.1")]
    exts = _ok(realstack.request("network", "GET", "/v2.0/extensions"), 200)
    aliases = {e["alias"] for e in exts["extensions"]}
    assert {
        "router",
        "external-net",
        "standard-attr-tag",
        "fip-port-details",
        "extraroute",
    } <= aliases


def test_floating_ip_lifecycle(
    realstack: RawCloud, nets: dict[str, dict[str, Any]], server: dict[str, Any]
) -> None:
    """Allocate (201, DOWN), associate (200, still DOWN), Nova shows it as `floating`,
    disassociate, delete (204), then 404."""
    public, port = nets["public"], server["port"]
    fip = _ok(
        realstack.request(
            "network",
            "POST",
            "/v2.0/floatingips",
            {"floatingip": {"floating_network_id": public["id"]}},
        ),
        201,
    )["floatingip"]
    try:
        assert set(fip) == FIP_KEYS
        assert (fip["status"], fip["port_id"], fip["router_id"], fip["port_details"]) == (
            "DOWN",
            None,
            None,
            None,
        )
        assert fip["floating_ip_address"].startswith("203.0.113.")
        path = f"/v2.0/floatingips/{fip['id']}"
        assoc = _ok(
            realstack.request("network", "PUT", path, {"floatingip": {"port_id": port["id"]}}), 200
        )["floatingip"]
        router = _one(realstack, "/v2.0/routers?name=router1", "routers")
        assert assoc["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]
        assert (assoc["router_id"], assoc["status"]) == (router["id"], "DOWN")
        assert assoc["port_details"]["device_id"] == server["id"]
        by_port = _ok(
            realstack.request("network", "GET", f"/v2.0/floatingips?port_id={port['id']}"), 200
        )
        assert [f["id"] for f in by_port["floatingips"]] == [fip["id"]]
        shown = _until(
            lambda: _floating_addrs(realstack, server["id"]),
            lambda addrs: addrs == [fip["floating_ip_address"]],
        )
        assert shown == [fip["floating_ip_address"]], "Nova never showed the floating IP"

        # A second floating IP for the same fixed IP is refused.
        _error(
            realstack.request(
                "network",
                "POST",
                "/v2.0/floatingips",
                {"floatingip": {"floating_network_id": public["id"], "port_id": port["id"]}},
            ),
            409,
            "FloatingIPPortAlreadyAssociated",
        )
        # Tags (standard-attr-tag): 201 on every PUT, ?tags= filters.
        tag = f"stack={RUN}"
        assert realstack.request("network", "PUT", f"{path}/tags/{tag}").status == 201
        assert realstack.request("network", "PUT", f"{path}/tags/{tag}").status == 201
        tagged = _ok(realstack.request("network", "GET", f"/v2.0/floatingips?tags={tag}"), 200)
        assert [f["id"] for f in tagged["floatingips"]] == [fip["id"]]

        gone = _ok(
            realstack.request("network", "PUT", path, {"floatingip": {"port_id": None}}), 200
        )
        assert (gone["floatingip"]["port_id"], gone["floatingip"]["router_id"]) == (None, None)
        assert _until(lambda: _floating_addrs(realstack, server["id"]), lambda a: a == []) == []
        by_port = _ok(
            realstack.request("network", "GET", f"/v2.0/floatingips?port_id={port['id']}"), 200
        )
        assert by_port == {"floatingips": []}
    finally:
        realstack.request("network", "DELETE", f"/v2.0/floatingips/{fip['id']}")
    _error(
        realstack.request("network", "GET", f"/v2.0/floatingips/{fip['id']}"),
        404,
        "FloatingIPNotFound",
    )


def test_floating_ip_errors(realstack: RawCloud, nets: dict[str, dict[str, Any]]) -> None:
    """Not an external network: 400; a given address as a tenant: 403 (policy)."""
    msg = _error(
        realstack.request(
            "network",
            "POST",
            "/v2.0/floatingips",
            {"floatingip": {"floating_network_id": nets["private"]["id"]}},
        ),
        400,
        "BadRequest",
    )
    assert msg == (
        f"Bad floatingip request: Network {nets['private']['id']} is not a valid external network."
    )
    _error(
        realstack.request(
            "network",
            "POST",
            "/v2.0/floatingips",
            {
                "floatingip": {
                    "floating_network_id": nets["public"]["id"],
                    "floating_ip_address": "203.0.113.77",
                }
            },
        ),
        403,
        "PolicyNotAuthorized",
    )


def test_security_group_rules(realstack: RawCloud) -> None:
    """201 for a rule, 409 SecurityGroupRuleExists for the same again, 400 for min > max,
    a remote_group_id rule has no prefix; rules cannot be updated."""
    sg = _ok(
        realstack.request(
            "network", "POST", "/v2.0/security-groups", {"security_group": {"name": RUN + "-sg"}}
        ),
        201,
    )["security_group"]
    try:
        assert [(r["direction"], r["ethertype"]) for r in sg["security_group_rules"]] in (
            [("egress", "IPv4"), ("egress", "IPv6")],
            [("egress", "IPv6"), ("egress", "IPv4")],
        )
        rule = {
            "security_group_id": sg["id"],
            "direction": "ingress",
            "ethertype": "IPv4",
            "protocol": "tcp",
            "port_range_min": 22,
            "port_range_max": 22,
            "remote_ip_prefix": "0.0.0.0/0",
        }
        url = "/v2.0/security-group-rules"
        made = _ok(realstack.request("network", "POST", url, {"security_group_rule": rule}), 201)
        rid = made["security_group_rule"]["id"]
        msg = _error(
            realstack.request("network", "POST", url, {"security_group_rule": rule}),
            409,
            "SecurityGroupRuleExists",
        )
        assert msg == f"Security group rule already exists. Rule id is {rid}."
        bad = dict(rule, port_range_min=90, port_range_max=80)
        msg = _error(
            realstack.request("network", "POST", url, {"security_group_rule": bad}),
            400,
            "SecurityGroupInvalidPortRange",
        )
        assert msg == "For TCP/UDP protocols, port_range_min must be <= port_range_max"
        remote = dict(rule, remote_ip_prefix=None, remote_group_id=sg["id"], port_range_min=5432)
        remote["port_range_max"] = 5432
        got = _ok(realstack.request("network", "POST", url, {"security_group_rule": remote}), 201)
        r = got["security_group_rule"]
        assert (r["remote_group_id"], r["remote_ip_prefix"], r["normalized_cidr"]) == (
            sg["id"],
            None,
            None,
        )
        upd = {"security_group_rule": {"port_range_min": 1}}
        _error(realstack.request("network", "PUT", f"{url}/{rid}", upd), 400, "HTTPBadRequest")
        assert realstack.request("network", "DELETE", f"{url}/{rid}").status == 204
        _error(
            realstack.request("network", "DELETE", f"{url}/{rid}"), 404, "SecurityGroupRuleNotFound"
        )
    finally:
        realstack.request("network", "DELETE", f"/v2.0/security-groups/{sg['id']}")


def test_server_security_group_actions(realstack: RawCloud, server: dict[str, Any]) -> None:
    """addSecurityGroup / removeSecurityGroup on an ACTIVE server: 202, then 400 / 404 again;
    a group in use cannot be deleted (409)."""
    sg = _ok(
        realstack.request(
            "network", "POST", "/v2.0/security-groups", {"security_group": {"name": RUN + "-web"}}
        ),
        201,
    )["security_group"]
    action = f"/servers/{server['id']}/action"
    try:
        add = {"addSecurityGroup": {"name": RUN + "-web"}}
        assert realstack.request("compute", "POST", action, add).status == 202
        srv = realstack.request("compute", "GET", f"/servers/{server['id']}", microversion="2.100")
        assert sorted(g["name"] for g in srv.body["server"]["security_groups"]) == [
            "default",
            RUN + "-web",
        ]
        port = _ok(realstack.request("network", "GET", f"/v2.0/ports/{server['port']['id']}"), 200)
        assert sg["id"] in port["port"]["security_groups"]
        again = realstack.request("compute", "POST", action, add)
        assert again.status == 400, again.body
        assert "Duplicate items in the list" in again.body["badRequest"]["message"]
        _error(
            realstack.request("network", "DELETE", f"/v2.0/security-groups/{sg['id']}"),
            409,
            "SecurityGroupInUse",
        )
        remove = {"removeSecurityGroup": {"name": sg["id"]}}
        assert realstack.request("compute", "POST", action, remove).status == 202
        again = realstack.request("compute", "POST", action, remove)
        assert again.status == 404, again.body
        assert again.body["itemNotFound"]["message"] == (
            f"Security group {sg['id']} not associated with the instance {server['id']}"
        )
    finally:
        realstack.request("compute", "POST", action, {"removeSecurityGroup": {"name": sg["id"]}})
        realstack.request("network", "DELETE", f"/v2.0/security-groups/{sg['id']}")
