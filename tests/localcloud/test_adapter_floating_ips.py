"""The adapter's floating IP calls over HTTP against the local cloud's Neutron: a server
on `private`, an IP from `public` tagged for it, associated (Nova shows it as floating),
disassociated and released."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from declstack import credentials
from declstack.cloud import CloudError, OpenStackCloud
from declstack.model import ObservedFloatingIp, ObservedServer
from declstack.ownership import stack_tag
from declstack_localcloud import LocalCloud

from .conftest import Api, wait_until

pytestmark = pytest.mark.integration

TAGS = {stack_tag("demo"), "declstack:server=web-1"}


@pytest.fixture
def adapter(cloud: LocalCloud) -> Iterator[OpenStackCloud]:
    conn = credentials.connect_with_config(cloud.cloud_config())
    yield OpenStackCloud(conn, retry_budget=10.0)
    conn.close()


def _net(api: Api, method: str, path: str, **kwargs: Any) -> Any:
    return api.request(method, f"/network/v2.0/{path}", **kwargs)


def _network_id(api: Api, name: str) -> str:
    return str(_net(api, "GET", f"networks?name={name}").json()["networks"][0]["id"])


def _server(adapter: OpenStackCloud, server_id: str) -> ObservedServer:
    (found,) = [s for s in adapter.list_all_servers() if s.id == server_id]
    return found


def _listed(adapter: OpenStackCloud, fip_id: str) -> ObservedFloatingIp:
    (found,) = [f for f in adapter.list_floating_ips() if f.id == fip_id]
    return found


def test_an_ip_made_tagged_associated_disassociated_and_released(
    api: Api, adapter: OpenStackCloud
) -> None:
    private = _network_id(api, "private")
    server_id = str(api.boot("web-1", networks=[{"uuid": private}])["id"])
    wait_until(lambda: _server(adapter, server_id).status == "ACTIVE", "web-1 ACTIVE")

    (public,) = adapter.external_networks()
    assert public.name == "public"
    created = adapter.create_floating_ip("demo", "web-1", public.id)
    assert created.address.startswith("203.0.113.")
    assert (created.network_id, created.port_id, created.server_id) == (public.id, None, None)
    assert set(created.tags) == TAGS
    assert _listed(adapter, created.id) == created

    port_id = adapter.server_ports().get(server_id)
    assert port_id is not None
    adapter.associate_floating_ip(created.id, port_id)
    adapter.associate_floating_ip(created.id, port_id)  # again: same answer
    on = _listed(adapter, created.id)
    fixed = [ip for _, ip in _server(adapter, server_id).addresses if ip != created.address]
    assert (on.port_id, on.server_id, on.fixed_ip) == (port_id, server_id, fixed[0])
    assert set(on.tags) == TAGS
    shown = wait_until(
        lambda: _server(adapter, server_id).floating_ips or None, "the floating IP in Nova"
    )
    assert shown == (created.address,)
    assert ("private", created.address) in _server(adapter, server_id).addresses

    adapter.disassociate_floating_ip(created.id)
    adapter.disassociate_floating_ip(created.id)  # on no port already: success
    off = _listed(adapter, created.id)
    assert (off.port_id, off.server_id, off.fixed_ip, off.status) == (None, None, None, "DOWN")
    wait_until(lambda: _server(adapter, server_id).floating_ips == (), "Nova dropping it")

    adapter.delete_floating_ip(created.id)
    adapter.delete_floating_ip(created.id)  # gone already: success
    adapter.disassociate_floating_ip(created.id)  # gone: on no port
    assert adapter.list_floating_ips() == []


def test_a_port_nothing_routes_to_public_cannot_get_the_ip(
    api: Api, adapter: OpenStackCloud
) -> None:
    made = _net(api, "POST", "networks", json={"network": {"name": "island"}})
    island = made.json()["network"]["id"]
    subnet = {"network_id": island, "cidr": "192.168.77.0/24", "ip_version": 4}
    assert _net(api, "POST", "subnets", json={"subnet": subnet}).status_code == 201
    port = _net(api, "POST", "ports", json={"port": {"network_id": island}}).json()["port"]
    (public,) = adapter.external_networks()
    fip = adapter.create_floating_ip("demo", "web-1", public.id)
    with pytest.raises(CloudError) as caught:
        adapter.associate_floating_ip(fip.id, port["id"])
    assert caught.value.status == 404
    assert "is not reachable from subnet" in caught.value.message
    assert caught.value.hint is not None and "router" in caught.value.hint
    adapter.delete_floating_ip(fip.id)


def test_the_list_pages(adapter: OpenStackCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("declstack.cloud.PAGE_SIZE", 2)
    (public,) = adapter.external_networks()
    made = [adapter.create_floating_ip("demo", f"web-{i}", public.id).id for i in range(5)]
    assert sorted(f.id for f in adapter.list_floating_ips()) == sorted(made)


def test_no_ip_from_a_network_that_is_not_external(api: Api, adapter: OpenStackCloud) -> None:
    with pytest.raises(CloudError) as caught:
        adapter.create_floating_ip("demo", "web-1", _network_id(api, "private"))
    assert caught.value.status == 400
    assert "is not a valid external network" in caught.value.message
    assert adapter.list_floating_ips() == []


def test_neutron_refuses_tags_in_a_floating_ips_post(api: Api) -> None:
    body = {"floatingip": {"floating_network_id": _network_id(api, "public"), "tags": ["t"]}}
    answer = _net(api, "POST", "floatingips", json=body)
    assert (answer.status_code, answer.json()["NeutronError"]["type"]) == (400, "HTTPBadRequest")
