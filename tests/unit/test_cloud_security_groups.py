"""The adapter's security group calls on a stub network proxy: paging, the rule
mapping, and which Neutron answers count as success."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from declstack.cloud import CloudError, OpenStackCloud, to_observed_group
from declstack.model import ObservedRule, Rule
from declstack.ownership import stack_tag
from declstack.waiting import Clock

pytestmark = pytest.mark.unit


class Instant:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def clock(self) -> Clock:
        return Clock(now=lambda: self.t, sleep=self.sleep)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def response(status: int, body: dict[str, Any] | None = None) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = json.dumps(body).encode() if body is not None else b""
    return answer


def neutron_error(status: int, kind: str, message: str) -> requests.Response:
    return response(status, {"NeutronError": {"type": kind, "message": message, "detail": ""}})


@dataclass
class Sent:
    method: str
    path: str
    params: dict[str, str] | None
    body: dict[str, Any] | None


class Network:
    """Answers every request with the next canned response (the last one repeats)."""

    def __init__(self, answers: list[requests.Response]) -> None:
        self.answers = answers
        self.sent: list[Sent] = []

    def _answer(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        assert kwargs.pop("raise_exc") is False
        self.sent.append(Sent(method, path, kwargs.get("params"), kwargs.get("json")))
        return self.answers[min(len(self.sent), len(self.answers)) - 1]

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self._answer("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self._answer("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self._answer("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self._answer("DELETE", path, **kwargs)


class Conn:
    def __init__(self, network: Network) -> None:
        self.network = network


def adapter(
    network: Network, instant: Instant | None = None, budget: float = 300.0
) -> OpenStackCloud:
    clock = (instant or Instant()).clock()
    return OpenStackCloud(Conn(network), clock=clock, retry_budget=budget)


def group(group_id: str, *rules: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": group_id,
        "name": group_id,
        "description": "",
        "tags": [],
        "project_id": "p1",
        "security_group_rules": list(rules),
        **extra,
    }


def rule_body(rule_id: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": rule_id,
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": None,
        "port_range_min": None,
        "port_range_max": None,
        "remote_ip_prefix": None,
        "remote_group_id": None,
    }
    return {**body, **fields}


NEXT = [{"rel": "next", "href": "..."}]
PREVIOUS = [{"rel": "previous", "href": "..."}]


def test_the_list_follows_next_links_with_markers() -> None:
    network = Network(
        [
            response(
                200, {"security_groups": [group("a"), group("b")], "security_groups_links": NEXT}
            ),
            # The last page links back only: no further request.
            response(200, {"security_groups": [group("c")], "security_groups_links": PREVIOUS}),
        ]
    )
    found = adapter(network).list_security_groups()
    assert [g.id for g in found] == ["a", "b", "c"]
    assert [(s.method, s.path) for s in network.sent] == [("GET", "/security-groups")] * 2
    assert [s.params for s in network.sent] == [
        {"limit": "1000"},
        {"limit": "1000", "marker": "b"},
    ]


def test_the_list_stops_with_an_error_when_the_marker_repeats() -> None:
    page = {"security_groups": [group("a"), group("b")], "security_groups_links": NEXT}
    network = Network([response(200, page)])
    with pytest.raises(CloudError) as caught:
        adapter(network).list_security_groups()
    assert caught.value.message == (
        "list security groups: the cloud's paging does not advance (marker 'b' repeated)"
    )
    assert len(network.sent) == 2


def test_a_group_body_maps_rules_tags_and_project() -> None:
    body = group(
        "g1",
        rule_body("r1", direction="egress"),
        rule_body("r2", ethertype="IPv6", direction="egress", protocol="any"),
        rule_body(
            "r3", protocol="6", port_range_min=22, port_range_max=22, remote_ip_prefix="10.1.2.3/8"
        ),
        rule_body("r4", protocol="17", port_range_min=53, port_range_max=53),
        rule_body("r5", protocol="1", port_range_min=8, port_range_max=0),
        rule_body("r6", protocol="TCP", remote_group_id="g2"),
        rule_body("r7", protocol="132", remote_ip_prefix="192.0.2.7"),
        rule_body("r8", ethertype="IPv6", protocol="ipv6-icmp", remote_ip_prefix="2001:DB8::1/64"),
        name="web",
        description="web tier",
        tags=["declstack:stack=demo", "other"],
        project_id=None,
        tenant_id="p9",
    )
    observed = to_observed_group(body)
    assert (observed.id, observed.name, observed.description) == ("g1", "web", "web tier")
    assert observed.tags == ("declstack:stack=demo", "other")
    assert observed.project_id == "p9"
    assert observed.rules == (
        ObservedRule("r1", Rule(direction="egress")),
        ObservedRule("r2", Rule(direction="egress", ethertype="IPv6")),
        ObservedRule(
            "r3", Rule(protocol="tcp", port_min=22, port_max=22, remote_ip_prefix="10.0.0.0/8")
        ),
        ObservedRule("r4", Rule(protocol="udp", port_min=53, port_max=53)),
        ObservedRule("r5", Rule(protocol="icmp", port_min=8, port_max=0)),
        ObservedRule("r6", Rule(protocol="tcp", remote_group="g2")),
        ObservedRule("r7", Rule(protocol="132", remote_ip_prefix="192.0.2.7/32")),
        ObservedRule(
            "r8", Rule(ethertype="IPv6", protocol="ipv6-icmp", remote_ip_prefix="2001:db8::/64")
        ),
    )


def test_create_posts_the_group_then_tags_it() -> None:
    made = response(201, {"security_group": group("g1", name="web")})
    tagged = response(200, {"tags": [stack_tag("demo")]})
    network = Network([made, tagged])
    assert adapter(network).create_security_group("demo", "web", "web tier") == "g1"
    assert network.sent == [
        Sent(
            "POST",
            "/security-groups",
            None,
            {"security_group": {"name": "web", "description": "web tier"}},
        ),
        Sent("PUT", "/security-groups/g1/tags", None, {"tags": ["declstack:stack=demo"]}),
    ]


def test_a_create_is_not_resent_after_an_answer_that_may_have_made_the_group() -> None:
    network = Network([response(500, {"NeutronError": {"type": "X", "message": "boom"}})])
    with pytest.raises(CloudError) as caught:
        adapter(network).create_security_group("demo", "web", "")
    assert caught.value.message == "create security group web: boom (HTTP 500)"
    assert len(network.sent) == 1


def test_a_group_that_cannot_be_tagged_is_deleted_again() -> None:
    made = response(201, {"security_group": group("g1", name="web")})
    refused = neutron_error(403, "PolicyNotAuthorized", "no tags for you")
    network = Network([made, refused, response(204)])
    with pytest.raises(CloudError) as caught:
        adapter(network).create_security_group("demo", "web", "")
    assert caught.value.message == "tag security group web: no tags for you (HTTP 403)"
    assert [(s.method, s.path) for s in network.sent][-1] == ("DELETE", "/security-groups/g1")


SSH = Rule(protocol="tcp", port_min=22, port_max=22, remote_ip_prefix="0.0.0.0/0")
PEERS = Rule(protocol="tcp", port_min=5432, port_max=5432, remote_group="g2")


def test_rules_are_created_in_one_bulk_post() -> None:
    made = {"security_group_rules": [rule_body("r1"), rule_body("r2")]}
    network = Network([response(201, made)])
    assert adapter(network).create_rules("g1", [SSH, PEERS, SSH]) == ["r1", "r2"]
    (sent,) = network.sent
    assert (sent.method, sent.path) == ("POST", "/security-group-rules")
    assert sent.body == {
        "security_group_rules": [
            {
                "security_group_id": "g1",
                "direction": "ingress",
                "ethertype": "IPv4",
                "protocol": "tcp",
                "port_range_min": 22,
                "port_range_max": 22,
                "remote_ip_prefix": "0.0.0.0/0",
            },
            {
                "security_group_id": "g1",
                "direction": "ingress",
                "ethertype": "IPv4",
                "protocol": "tcp",
                "port_range_min": 5432,
                "port_range_max": 5432,
                "remote_group_id": "g2",
            },
        ]
    }


def test_a_rule_that_already_exists_counts_as_made() -> None:
    exists = neutron_error(
        409, "SecurityGroupRuleExists", "Security group rule already exists. Rule id is r-old."
    )
    network = Network(
        [
            exists,  # the bulk POST: all or nothing
            exists,  # SSH alone
            response(201, {"security_group_rule": rule_body("r-new")}),
        ]
    )
    assert adapter(network).create_rules("g1", [SSH, PEERS]) == ["r-old", "r-new"]
    assert [list(s.body or {}) for s in network.sent] == [
        ["security_group_rules"],
        ["security_group_rule"],
        ["security_group_rule"],
    ]


def test_another_conflict_on_a_rule_is_an_error() -> None:
    clash = neutron_error(409, "SecurityGroupRuleInUse", "no")
    network = Network([clash])
    with pytest.raises(CloudError) as caught:
        adapter(network).create_rules("g1", [SSH])
    assert caught.value.message == (
        "create rule ingress tcp 22 from 0.0.0.0/0 in security group g1: no (HTTP 409)"
    )


def test_no_rules_no_request() -> None:
    network = Network([])
    assert adapter(network).create_rules("g1", []) == []
    assert network.sent == []


def test_deletes_of_what_is_gone_are_success() -> None:
    gone = neutron_error(404, "SecurityGroupRuleNotFound", "Security group rule r1 does not exist")
    network = Network([gone, neutron_error(404, "SecurityGroupNotFound", "gone")])
    cloud = adapter(network)
    cloud.delete_rule("r1")
    cloud.delete_security_group("g1")
    assert [(s.method, s.path) for s in network.sent] == [
        ("DELETE", "/security-group-rules/r1"),
        ("DELETE", "/security-groups/g1"),
    ]


def test_a_group_in_use_is_tried_again_until_the_port_goes() -> None:
    in_use = neutron_error(409, "SecurityGroupInUse", "Security Group g1 in use.")
    network = Network([in_use, in_use, response(204)])
    instant = Instant()
    adapter(network, instant).delete_security_group("g1")
    assert len(network.sent) == 3
    assert instant.slept == [1.0, 2.0]


def test_a_group_still_in_use_ends_in_a_clear_error() -> None:
    in_use = neutron_error(409, "SecurityGroupInUse", "Security Group g1 in use.")
    network = Network([in_use])
    instant = Instant()
    with pytest.raises(CloudError) as caught:
        adapter(network, instant).delete_security_group("g1")
    assert caught.value.message == (
        "delete security group g1: security group g1 is still in use after 5 tries (HTTP 409)"
    )
    assert caught.value.hint is not None and "port" in caught.value.hint
    assert instant.slept == [1.0, 2.0, 4.0, 8.0]


def test_in_use_retries_stop_at_the_retry_budget() -> None:
    in_use = neutron_error(409, "SecurityGroupInUse", "Security Group g1 in use.")
    network = Network([in_use])
    instant = Instant()
    with pytest.raises(CloudError):
        adapter(network, instant, budget=5.0).delete_security_group("g1")
    assert instant.slept == [1.0, 2.0]  # waiting 4 s more would end at 7 s > 5 s


def test_the_default_group_is_not_retried() -> None:
    refused = neutron_error(
        409,
        "SecurityGroupCannotRemoveDefault",
        "Insufficient rights for removing default security group.",
    )
    network = Network([refused])
    with pytest.raises(CloudError) as caught:
        adapter(network).delete_security_group("g1")
    assert caught.value.message == (
        "delete security group g1: Insufficient rights for removing default security group."
        " (HTTP 409)"
    )
    assert len(network.sent) == 1


def test_update_sets_the_description_and_retries_a_busy_cloud() -> None:
    busy = neutron_error(503, "ServiceUnavailable", "busy")
    network = Network([busy, response(200, {"security_group": group("g1")})])
    instant = Instant()
    adapter(network, instant).update_security_group("g1", "new words")
    assert network.sent[-1] == Sent(
        "PUT", "/security-groups/g1", None, {"security_group": {"description": "new words"}}
    )
    assert len(network.sent) == 2 and instant.slept == [0.5]
