"""The adapter's security group calls over HTTP against the local cloud's Neutron,
and the Neutron answers they rely on (bulk rules, tags only after the create)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from declstack import credentials
from declstack.cloud import CloudError, OpenStackCloud
from declstack.model import ObservedSecurityGroup, Rule
from declstack.ownership import stack_tag
from declstack_localcloud import LocalCloud

from .conftest import Api

pytestmark = pytest.mark.integration

SSH = Rule(protocol="tcp", port_min=22, port_max=22, remote_ip_prefix="0.0.0.0/0")
DNS = Rule(
    direction="egress", protocol="udp", port_min=53, port_max=53, remote_ip_prefix="10.1.2.3/8"
)
PING6 = Rule(ethertype="IPv6", protocol="ipv6-icmp", port_min=128, port_max=0)


@pytest.fixture
def adapter(cloud: LocalCloud) -> Iterator[OpenStackCloud]:
    conn = credentials.connect_with_config(cloud.cloud_config())
    yield OpenStackCloud(conn, retry_budget=10.0)
    conn.close()


def _net(api: Api, method: str, path: str, **kwargs: Any) -> Any:
    return api.request(method, f"/network/v2.0/{path}", **kwargs)


def _error(response: Any) -> tuple[int, str, str]:
    body = response.json()["NeutronError"]
    return response.status_code, body["type"], body["message"]


def _named(groups: list[ObservedSecurityGroup], name: str) -> ObservedSecurityGroup:
    (found,) = [g for g in groups if g.name == name]
    return found


def test_a_group_made_tagged_given_rules_and_deleted(adapter: OpenStackCloud) -> None:
    group_id = adapter.create_security_group("demo", "web", "web tier")
    db_id = adapter.create_security_group("demo", "db", "")
    peers = Rule(protocol="tcp", port_min=5432, port_max=5432, remote_group=group_id)

    made = adapter.create_rules(group_id, [SSH, DNS, PING6])
    assert len(made) == 3
    assert adapter.create_rules(db_id, [peers]) != []

    groups = adapter.list_security_groups()
    assert {g.name for g in groups} == {"default", "web", "db"}
    web = _named(groups, "web")
    assert (web.id, web.description, web.tags) == (group_id, "web tier", (stack_tag("demo"),))
    assert web.project_id
    assert _named(groups, "default").tags == ()
    # The two egress rules Neutron gives every new group, then ours, listed in the
    # canonical form the planner compares (0.0.0.0/0 is "anyone": no prefix).
    assert [r.rule for r in web.rules] == [
        Rule(direction="egress"),
        Rule(direction="egress", ethertype="IPv6"),
        dataclasses.replace(SSH, remote_ip_prefix=None),
        Rule(
            direction="egress",
            protocol="udp",
            port_min=53,
            port_max=53,
            remote_ip_prefix="10.0.0.0/8",
        ),
        PING6,
    ]
    assert [r.id for r in web.rules][2:] == made
    assert [r.rule for r in _named(groups, "db").rules][2:] == [peers]

    # Again: each rule is already there, so the same ids come back and nothing is added.
    assert adapter.create_rules(group_id, [SSH, DNS, PING6]) == made
    assert (
        adapter.create_rules(group_id, [SSH, Rule(protocol="udp", port_min=9, port_max=9)])[0]
        == made[0]
    )

    adapter.update_security_group(group_id, "front end")
    adapter.delete_rule(made[0])
    adapter.delete_rule(made[0])  # gone already: success
    web = _named(adapter.list_security_groups(), "web")
    assert web.description == "front end"
    assert made[0] not in [r.id for r in web.rules] and len(web.rules) == 5

    # db's rule naming web as its remote group goes with web, as in Neutron (FK cascade).
    adapter.delete_security_group(group_id)
    adapter.delete_security_group(group_id)  # gone already: success
    groups = adapter.list_security_groups()
    assert {g.name for g in groups} == {"default", "db"}
    assert [r.rule for r in _named(groups, "db").rules] == [
        Rule(direction="egress"),
        Rule(direction="egress", ethertype="IPv6"),
    ]
    adapter.delete_security_group(db_id)


def test_the_list_pages(adapter: OpenStackCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("declstack.cloud.PAGE_SIZE", 2)
    for name in ("a", "b", "c", "d"):
        adapter.create_security_group("demo", name, "")
    names = [g.name for g in adapter.list_security_groups()]
    assert sorted(names) == ["a", "b", "c", "d", "default"]


def test_a_group_a_port_uses_cannot_be_deleted(api: Api, adapter: OpenStackCloud) -> None:
    group_id = adapter.create_security_group("demo", "web", "")
    network = _net(api, "GET", "networks?name=private").json()["networks"][0]["id"]
    port = _net(
        api, "POST", "ports", json={"port": {"network_id": network, "security_groups": [group_id]}}
    )
    assert port.status_code == 201, port.text
    fast = OpenStackCloud(adapter._conn, retry_budget=2.5)
    with pytest.raises(CloudError) as caught:
        fast.delete_security_group(group_id)
    assert caught.value.message == (
        f"delete security group {group_id}: security group {group_id} is still in use after"
        " 2 tries (HTTP 409)"
    )
    assert _net(api, "DELETE", f"ports/{port.json()['port']['id']}").status_code == 204
    adapter.delete_security_group(group_id)


def test_neutron_refuses_tags_in_a_groups_post(api: Api) -> None:
    body = {"security_group": {"name": "web", "tags": ["t1"]}}
    assert _error(_net(api, "POST", "security-groups", json=body)) == (
        400,
        "HTTPBadRequest",
        "Attribute 'tags' not allowed in POST",
    )


def test_bulk_rules_are_all_or_nothing(api: Api) -> None:
    made = _net(api, "POST", "security-groups", json={"security_group": {"name": "web"}})
    group_id = made.json()["security_group"]["id"]
    ssh = {
        "security_group_id": group_id,
        "direction": "ingress",
        "protocol": "tcp",
        "port_range_min": 22,
        "port_range_max": 22,
        "remote_ip_prefix": "10.1.2.3/8",
    }
    web = {**ssh, "port_range_min": 80, "port_range_max": 80}
    both = _net(
        api,
        "POST",
        "security-group-rules",
        json={"security_group_rules": [ssh, {"security_group_rule": web}]},
    )
    assert both.status_code == 201, both.text
    rules = both.json()["security_group_rules"]
    assert [r["port_range_min"] for r in rules] == [22, 80]
    # Kept as given, the network beside it.
    assert (rules[0]["remote_ip_prefix"], rules[0]["normalized_cidr"]) == (
        "10.1.2.3/8",
        "10.0.0.0/8",
    )

    # One rule already there: none of the batch is made.
    https = {**ssh, "port_range_min": 443, "port_range_max": 443}
    same_ssh = {**ssh, "protocol": "6"}  # a protocol's number is the same rule as its name
    assert _error(
        _net(api, "POST", "security-group-rules", json={"security_group_rules": [https, same_ssh]})
    ) == (
        409,
        "SecurityGroupRuleExists",
        f"Security group rule already exists. Rule id is {rules[0]['id']}.",
    )
    assert _error(
        _net(api, "POST", "security-group-rules", json={"security_group_rules": [https, https]})
    ) == (409, "DuplicateSecurityGroupRuleInPost", "Duplicate Security Group Rule in POST.")
    # An egress rule to 0.0.0.0/0 is the default egress rule (null remote) again.
    anywhere = {
        "security_group_id": group_id,
        "direction": "egress",
        "remote_ip_prefix": "0.0.0.0/0",
    }
    status, kind, _ = _error(
        _net(api, "POST", "security-group-rules", json={"security_group_rule": anywhere})
    )
    assert (status, kind) == (409, "SecurityGroupRuleExists")

    other = _net(api, "POST", "security-groups", json={"security_group": {"name": "db"}})
    elsewhere = {**https, "security_group_id": other.json()["security_group"]["id"]}
    assert _error(
        _net(api, "POST", "security-group-rules", json={"security_group_rules": [https, elsewhere]})
    )[:2] == (400, "SecurityGroupNotSingleGroupRules")
    assert _error(_net(api, "POST", "security-group-rules", json={"security_group_rules": []})) == (
        400,
        "HTTPBadRequest",
        "Resources required",
    )
    listed = _net(api, "GET", f"security-group-rules?security_group_id={group_id}").json()
    assert sorted(r["port_range_min"] or 0 for r in listed["security_group_rules"]) == [
        0,
        0,
        22,
        80,
    ]
