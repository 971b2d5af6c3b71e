"""The adapter's floating IP calls on a stub network proxy: paging, the mapping (the
server from port_details), tags after the create, and which answers count as success."""

from __future__ import annotations

from typing import Any

import pytest

from declstack.cloud import CloudError, to_observed_floating_ip
from declstack.model import NamedResource, ObservedFloatingIp
from declstack.ownership import stack_tag

from .test_cloud_security_groups import (
    NEXT,
    PREVIOUS,
    Instant,
    Network,
    Sent,
    adapter,
    neutron_error,
    response,
)

pytestmark = pytest.mark.unit

TAGS = [stack_tag("demo"), "declstack:server=web-1"]


def fip(fip_id: str, **extra: Any) -> dict[str, Any]:
    """A floating IP body as real Neutron answers it (15 keys)."""
    body: dict[str, Any] = {
        "created_at": "2026-11-29T10:00:00Z",
        "description": "",
        "fixed_ip_address": None,
        "floating_ip_address": "203.0.113.176",
        "floating_network_id": "public",
        "id": fip_id,
        "port_details": None,
        "port_id": None,
        "project_id": "p1",
        "revision_number": 0,
        "router_id": None,
        "status": "DOWN",
        "tags": [],
        "tenant_id": "p1",
        "updated_at": "2026-11-29T10:00:00Z",
    }
    return {**body, **extra}


def details(device_id: str, owner: str = "compute:nova") -> dict[str, Any]:
    return {
        "admin_state_up": True,
        "device_id": device_id,
        "device_owner": owner,
        "mac_address": "fa:16:3e:ba:f6:b9",
        "name": "",
        "network_id": "private",
        "status": "ACTIVE",
    }


def test_the_list_follows_next_links_with_markers() -> None:
    network = Network(
        [
            response(200, {"floatingips": [fip("a"), fip("b")], "floatingips_links": NEXT}),
            # The last page links back only: no further request.
            response(200, {"floatingips": [fip("c")], "floatingips_links": PREVIOUS}),
        ]
    )
    found = adapter(network).list_floating_ips()
    assert [f.id for f in found] == ["a", "b", "c"]
    assert [(s.method, s.path) for s in network.sent] == [("GET", "/floatingips")] * 2
    assert [s.params for s in network.sent] == [
        {"limit": "1000"},
        {"limit": "1000", "marker": "b"},
    ]


def test_the_list_stops_with_an_error_when_the_marker_repeats() -> None:
    page = {"floatingips": [fip("a"), fip("b")], "floatingips_links": NEXT}
    network = Network([response(200, page)])
    with pytest.raises(CloudError) as caught:
        adapter(network).list_floating_ips()
    assert "marker 'b' repeated" in caught.value.message
    assert len(network.sent) == 2


def test_an_empty_project_lists_nothing_in_one_request() -> None:
    network = Network([response(200, {"floatingips": []})])
    assert adapter(network).list_floating_ips() == []
    assert len(network.sent) == 1


def test_an_associated_ip_maps_its_server_from_port_details() -> None:
    body = fip(
        "f1",
        port_id="port1",
        fixed_ip_address="10.0.0.244",
        router_id="router1",
        port_details=details("server1"),
        tags=TAGS,
    )
    assert to_observed_floating_ip(body) == ObservedFloatingIp(
        id="f1",
        address="203.0.113.176",
        network_id="public",
        port_id="port1",
        server_id="server1",
        fixed_ip="10.0.0.244",
        tags=tuple(sorted(TAGS)),
        status="DOWN",
    )


def test_only_a_servers_port_gives_a_server() -> None:
    on_router = fip("f1", port_id="p", port_details=details("router1", "network:router_gateway"))
    assert to_observed_floating_ip(on_router).server_id is None
    assert to_observed_floating_ip(on_router).port_id == "p"
    other_zone = fip("f2", port_id="p", port_details=details("s2", "compute:az-2"))
    assert to_observed_floating_ip(other_zone).server_id == "s2"
    # Without the fip-port-details extension: the port, but no server.
    bare = {k: v for k, v in fip("f3", port_id="p").items() if k != "port_details"}
    assert to_observed_floating_ip(bare).server_id is None
    unassociated = to_observed_floating_ip(fip("f4", status="active"))
    assert (unassociated.port_id, unassociated.fixed_ip, unassociated.status) == (
        None,
        None,
        "ACTIVE",
    )


def test_external_networks_in_one_filtered_call() -> None:
    nets = {
        "networks": [
            {"id": "n1", "name": "public", "status": "ACTIVE", "router:external": True},
            # A cloud that ignored the filter must not offer a tenant network.
            {"id": "n2", "name": "private", "status": "ACTIVE", "router:external": False},
        ]
    }
    network = Network([response(200, nets)])
    assert adapter(network).external_networks() == [
        NamedResource(id="n1", name="public", status="ACTIVE")
    ]
    assert network.sent == [Sent("GET", "/networks", {"router:external": "True"}, None)]


def test_create_posts_then_tags_with_stack_and_server() -> None:
    made = response(201, {"floatingip": fip("f1")})
    tagged = response(200, {"tags": TAGS})
    network = Network([made, tagged])
    created = adapter(network).create_floating_ip("demo", "web-1", "public")
    assert created == ObservedFloatingIp(
        id="f1", address="203.0.113.176", network_id="public", tags=tuple(sorted(TAGS))
    )
    assert network.sent == [
        Sent("POST", "/floatingips", None, {"floatingip": {"floating_network_id": "public"}}),
        Sent("PUT", "/floatingips/f1/tags", None, {"tags": TAGS}),
    ]


def test_a_create_is_not_resent_after_an_answer_that_may_have_made_the_ip() -> None:
    network = Network([neutron_error(500, "X", "boom")])
    with pytest.raises(CloudError) as caught:
        adapter(network).create_floating_ip("demo", "web-1", "public")
    assert caught.value.message == "create floating IP for web-1: boom (HTTP 500)"
    assert len(network.sent) == 1


def test_a_create_the_cloud_did_not_process_is_sent_again() -> None:
    busy = neutron_error(503, "ServiceUnavailable", "busy")
    network = Network([busy, response(201, {"floatingip": fip("f1")}), response(200, {})])
    instant = Instant()
    created = adapter(network, instant).create_floating_ip("demo", "web-1", "public")
    # No tags in the answer: the ones sent are the ones set.
    assert (created.id, created.tags) == ("f1", tuple(sorted(TAGS)))
    assert [s.method for s in network.sent] == ["POST", "POST", "PUT"]
    assert instant.slept == [0.5]


def test_an_ip_that_cannot_be_tagged_is_released_again() -> None:
    made = response(201, {"floatingip": fip("f1")})
    refused = neutron_error(403, "PolicyNotAuthorized", "no tags for you")
    network = Network([made, refused, response(204)])
    with pytest.raises(CloudError) as caught:
        adapter(network).create_floating_ip("demo", "web-1", "public")
    assert caught.value.message == "tag floating IP f1: no tags for you (HTTP 403)"
    assert [(s.method, s.path) for s in network.sent][-1] == ("DELETE", "/floatingips/f1")


def test_an_untagged_ip_that_cannot_be_released_is_named() -> None:
    made = response(201, {"floatingip": fip("f1")})
    refused = neutron_error(403, "PolicyNotAuthorized", "no tags for you")
    also_refused = neutron_error(403, "PolicyNotAuthorized", "no delete either")
    network = Network([made, refused, also_refused])
    with pytest.raises(CloudError) as caught:
        adapter(network).create_floating_ip("demo", "web-1", "public")
    message = caught.value.message
    assert "f1 (203.0.113.176) has no ownership tag" in message
    assert "no delete either" in message and "delete it by hand" in message
    assert caught.value.status == 403


def test_an_answer_without_an_id_is_an_error() -> None:
    network = Network([response(201, {"floatingip": {}})])
    with pytest.raises(CloudError, match="no floating IP id"):
        adapter(network).create_floating_ip("demo", "web-1", "public")
    assert len(network.sent) == 1


def test_each_servers_first_port_from_one_list() -> None:
    ports = {
        "ports": [
            {"id": "p1", "device_id": "s1", "device_owner": "compute:nova"},
            {"id": "p2", "device_id": "s1", "device_owner": "compute:nova"},
            {"id": "p3", "device_id": "r1", "device_owner": "network:router_interface"},
        ]
    }
    network = Network([response(200, ports)])
    cloud = adapter(network)
    found = cloud.server_ports()
    assert found == {"s1": "p1"}, "the first port of each server; the router is no server"
    assert "s2" not in found
    assert network.sent == [Sent("GET", "/ports", {"limit": "1000"}, None)]


def test_associate_and_disassociate_put_the_port() -> None:
    network = Network([response(200, {"floatingip": fip("f1")})])
    cloud = adapter(network)
    cloud.associate_floating_ip("f1", "p1")
    cloud.disassociate_floating_ip("f1")
    assert network.sent == [
        Sent("PUT", "/floatingips/f1", None, {"floatingip": {"port_id": "p1"}}),
        Sent("PUT", "/floatingips/f1", None, {"floatingip": {"port_id": None}}),
    ]


def test_an_association_is_retried_on_a_busy_cloud() -> None:
    busy = neutron_error(503, "ServiceUnavailable", "busy")
    network = Network([busy, response(200, {"floatingip": fip("f1")})])
    adapter(network, Instant()).associate_floating_ip("f1", "p1")
    assert len(network.sent) == 2


def test_an_unreachable_network_is_an_error_with_a_hint() -> None:
    message = (
        "External network public is not reachable from subnet s1.  Therefore, cannot"
        " associate Port p1 with a Floating IP."
    )
    network = Network([neutron_error(404, "ExternalGatewayForFloatingIPNotFound", message)])
    with pytest.raises(CloudError) as caught:
        adapter(network).associate_floating_ip("f1", "p1")
    assert caught.value.message == f"associate floating IP f1 with port p1: {message} (HTTP 404)"
    assert caught.value.hint is not None and "router" in caught.value.hint
    assert len(network.sent) == 1


def test_associating_an_ip_that_is_gone_is_an_error() -> None:
    gone = neutron_error(404, "FloatingIPNotFound", "Floating IP f1 could not be found")
    network = Network([gone])
    with pytest.raises(CloudError, match="could not be found"):
        adapter(network).associate_floating_ip("f1", "p1")


def test_a_taken_fixed_ip_is_an_error_with_a_hint() -> None:
    taken = neutron_error(409, "FloatingIPPortAlreadyAssociated", "Cannot associate ...")
    with pytest.raises(CloudError) as caught:
        adapter(Network([taken])).associate_floating_ip("f1", "p1")
    assert caught.value.status == 409
    assert caught.value.hint is not None and "another floating IP" in caught.value.hint


def test_disassociating_or_deleting_an_ip_that_is_gone_is_success() -> None:
    gone = neutron_error(404, "FloatingIPNotFound", "Floating IP f1 could not be found")
    network = Network([gone])
    cloud = adapter(network)
    cloud.disassociate_floating_ip("f1")
    cloud.delete_floating_ip("f1")
    assert [(s.method, s.path) for s in network.sent] == [
        ("PUT", "/floatingips/f1"),
        ("DELETE", "/floatingips/f1"),
    ]


def test_delete_releases_the_ip() -> None:
    network = Network([response(204)])
    adapter(network).delete_floating_ip("f1")
    assert network.sent == [Sent("DELETE", "/floatingips/f1", None, None)]


def test_a_refused_delete_is_an_error() -> None:
    network = Network([neutron_error(403, "PolicyNotAuthorized", "not yours")])
    with pytest.raises(CloudError, match="delete floating IP f1: not yours"):
        adapter(network).delete_floating_ip("f1")
