"""Neutron's write side as real Neutron answers it, through raw HTTP, openstacksdk and the CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openstack import exceptions

from .conftest import Api, Cli, wait_until

pytestmark = pytest.mark.integration


def _net(api: Api, method: str, path: str, **kwargs: Any) -> Any:
    return api.request(method, f"/network/v2.0/{path}", **kwargs)


def _error(response: Any) -> tuple[int, str, str]:
    body = response.json()["NeutronError"]
    return response.status_code, body["type"], body["message"]


def test_seeded_public_network_and_router(api: Api) -> None:
    public = _net(api, "GET", "networks?name=public").json()["networks"][0]
    assert public["router:external"] is True and public["shared"] is False
    (subnet,) = _net(api, "GET", f"subnets?network_id={public['id']}").json()["subnets"]
    assert subnet["name"] == "public-subnet" and subnet["cidr"] == "203.0.113.0/24"
    assert subnet["gateway_ip"] == "203.0.113.1" and subnet["enable_dhcp"] is False
    assert subnet["allocation_pools"] == [{"start": "203.0.113.10", "end": "203.0.113.250"}]
    (router,) = _net(api, "GET", "routers?name=router1").json()["routers"]
    assert router["external_gateway_info"]["network_id"] == public["id"]
    ports = _net(api, "GET", f"ports?device_id={router['id']}").json()["ports"]
    assert [p["fixed_ips"][0]["ip_address"] for p in ports] == ["10.0.0.1"]


def test_port_fixed_ips_conflicts_and_subnet_in_use(api: Api) -> None:
    net = _net(api, "POST", "networks", json={"network": {"name": "n1"}}).json()["network"]
    sub = _net(
        api,
        "POST",
        "subnets",
        json={"subnet": {"network_id": net["id"], "cidr": "192.168.5.0/24", "ip_version": 4}},
    )
    assert sub.status_code == 201, sub.text
    subnet_id = sub.json()["subnet"]["id"]
    wanted = {
        "network_id": net["id"],
        "fixed_ips": [{"subnet_id": subnet_id, "ip_address": "192.168.5.20"}],
    }
    first = _net(api, "POST", "ports", json={"port": wanted})
    assert first.status_code == 201
    assert first.json()["port"]["fixed_ips"][0]["ip_address"] == "192.168.5.20"
    assert _error(_net(api, "POST", "ports", json={"port": wanted})) == (
        409,
        "IpAddressAlreadyAllocated",
        f"IP address 192.168.5.20 already allocated in subnet {subnet_id}",
    )
    outside = {**wanted, "fixed_ips": [{"subnet_id": subnet_id, "ip_address": "10.9.9.9"}]}
    assert _error(_net(api, "POST", "ports", json={"port": outside}))[:2] == (
        400,
        "InvalidIpForSubnet",
    )
    status, kind, _ = _error(_net(api, "DELETE", f"subnets/{subnet_id}"))
    assert (status, kind) == (409, "SubnetInUse")
    assert _net(api, "DELETE", f"ports/{first.json()['port']['id']}").status_code == 204
    assert _net(api, "DELETE", f"subnets/{subnet_id}").status_code == 204
    assert _net(api, "DELETE", f"networks/{net['id']}").status_code == 204


def test_security_groups_and_rules(api: Api) -> None:
    made = _net(api, "POST", "security-groups", json={"security_group": {"name": "web"}})
    assert made.status_code == 201
    group = made.json()["security_group"]
    rules = group["security_group_rules"]
    assert sorted((r["direction"], r["ethertype"]) for r in rules) == [
        ("egress", "IPv4"),
        ("egress", "IPv6"),
    ]
    rule = {
        "security_group_id": group["id"],
        "direction": "ingress",
        "protocol": "tcp",
        "port_range_min": 22,
        "port_range_max": 22,
        "remote_ip_prefix": "0.0.0.0/0",
    }
    created = _net(api, "POST", "security-group-rules", json={"security_group_rule": rule})
    assert created.status_code == 201
    rule_id = created.json()["security_group_rule"]["id"]
    assert _error(
        _net(api, "POST", "security-group-rules", json={"security_group_rule": rule})
    ) == (
        409,
        "SecurityGroupRuleExists",
        f"Security group rule already exists. Rule id is {rule_id}.",
    )
    for bad, kind in (
        ({"port_range_min": 30, "port_range_max": 20}, "SecurityGroupInvalidPortRange"),
        ({"protocol": "bogus"}, "SecurityGroupRuleInvalidProtocol"),
        ({"remote_ip_prefix": "300.1.1.1/8"}, "InvalidInput"),
    ):
        answer = _net(
            api, "POST", "security-group-rules", json={"security_group_rule": {**rule, **bad}}
        )
        assert _error(answer)[:2] == (400, kind)
    port = _net(
        api,
        "POST",
        "ports",
        json={"port": {"network_id": _private(api), "security_groups": [group["id"]]}},
    ).json()["port"]
    assert _error(_net(api, "DELETE", f"security-groups/{group['id']}")) == (
        409,
        "SecurityGroupInUse",
        f"Security Group {group['id']} in use.",
    )
    _net(api, "DELETE", f"ports/{port['id']}")
    assert _net(api, "DELETE", f"security-group-rules/{rule_id}").status_code == 204
    assert _net(api, "DELETE", f"security-groups/{group['id']}").status_code == 204
    assert _error(_net(api, "GET", f"security-groups/{group['id']}"))[:2] == (
        404,
        "SecurityGroupNotFound",
    )


def _private(api: Api) -> str:
    return str(_net(api, "GET", "networks?name=private").json()["networks"][0]["id"])


def test_tags_on_neutron_resources(api: Api) -> None:
    group = _net(api, "POST", "security-groups", json={"security_group": {"name": "t"}}).json()
    group_id = group["security_group"]["id"]
    assert _net(api, "PUT", f"security-groups/{group_id}/tags/a").status_code == 201
    replaced = _net(api, "PUT", f"security-groups/{group_id}/tags", json={"tags": ["b", "c"]})
    assert replaced.json() == {"tags": ["b", "c"]}
    assert _net(api, "GET", f"security-groups/{group_id}").json()["security_group"]["tags"] == [
        "b",
        "c",
    ]

    def names(query: str) -> list[str]:
        found = _net(api, "GET", f"security-groups?{query}").json()["security_groups"]
        return [g["name"] for g in found]

    assert names("tags=b,c") == ["t"]
    assert names("tags=b,x") == []
    assert names("tags-any=x,c") == ["t"]
    assert names("not-tags=b") == ["default"]
    assert _net(api, "DELETE", f"security-groups/{group_id}/tags/b").status_code == 204
    assert _error(_net(api, "DELETE", f"security-groups/{group_id}/tags/b"))[:2] == (
        404,
        "TagNotFound",
    )
    net_id = _private(api)
    assert _net(api, "PUT", f"networks/{net_id}/tags/x").status_code == 201


def test_floating_ip_through_sdk(conn: Any) -> None:
    public = conn.network.find_network("public", ignore_missing=False)
    private = conn.network.find_network("private", ignore_missing=False)
    with pytest.raises(exceptions.BadRequestException, match="not a valid external network"):
        conn.network.create_ip(floating_network_id=private.id)
    fip = conn.network.create_ip(floating_network_id=public.id)
    assert fip.status == "DOWN" and fip.floating_ip_address.startswith("203.0.113.")
    with pytest.raises(exceptions.ConflictException):
        conn.network.create_ip(
            floating_network_id=public.id, floating_ip_address=fip.floating_ip_address
        )
    image = conn.image.find_image("cirros", ignore_missing=False)
    server = conn.compute.create_server(
        name="fip-vm", image_id=image.id, flavor_id="1", networks=[{"uuid": private.id}]
    )
    server = conn.compute.wait_for_server(server, interval=0.1, wait=10)
    (port,) = conn.network.ports(device_id=server.id)
    fip = conn.network.update_ip(fip, port_id=port.id)
    assert fip.status == "ACTIVE" and fip.fixed_ip_address == port.fixed_ips[0]["ip_address"]
    addresses = conn.compute.get_server(server.id).addresses["private"]
    assert [a["OS-EXT-IPS:type"] for a in addresses] == ["fixed", "floating"]
    assert addresses[1]["addr"] == fip.floating_ip_address
    fip = conn.network.update_ip(fip, port_id=None)
    assert fip.status == "DOWN" and fip.port_id is None
    conn.network.delete_ip(fip)
    with pytest.raises(exceptions.NotFoundException):
        conn.network.get_ip(fip.id)


def test_cli_floating_ip_and_rules(cli: Cli) -> None:
    def run_json(*args: str) -> Any:
        return json.loads(cli.run(*args, "-f", "json").stdout)

    run_json("security", "group", "create", "ssh")
    rule = run_json(
        "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "ssh"
    )
    assert rule["port_range_min"] == 22 and rule["port_range_max"] == 22
    fip = run_json("floating", "ip", "create", "public")
    address = fip["floating_ip_address"]
    run_json(
        "server",
        "create",
        "--image",
        "cirros",
        "--flavor",
        "m1.nano",
        "--network",
        "private",
        "--security-group",
        "ssh",
        "--wait",
        "cli-fip",
    )
    cli.run("server", "add", "floating", "ip", "cli-fip", address)
    shown = wait_until(
        lambda: (
            (s := run_json("server", "show", "cli-fip"))
            and address in json.dumps(s["addresses"])
            and s
        ),
        "floating IP in addresses",
    )
    assert "ssh" in json.dumps(shown["security_groups"])
    cli.run("server", "remove", "security", "group", "cli-fip", "ssh")
    cli.run("server", "add", "security", "group", "cli-fip", "default")
    cli.run("server", "remove", "floating", "ip", "cli-fip", address)
    listed = run_json("floating", "ip", "list")
    assert [f["Port"] for f in listed] == [None]
