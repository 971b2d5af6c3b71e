"""openstacksdk's proxy layer against the local cloud."""

from __future__ import annotations

from typing import Any

import pytest
from openstack import exceptions

pytestmark = pytest.mark.integration


def _boot(conn: Any, name: str, **extra: Any) -> Any:
    image = conn.image.find_image("cirros", ignore_missing=False)
    network = conn.network.find_network("private", ignore_missing=False)
    return conn.compute.create_server(
        name=name, image_id=image.id, flavor_id="1", networks=[{"uuid": network.id}], **extra
    )


def test_create_with_tags_and_metadata_then_delete(conn: Any) -> None:
    server = _boot(conn, "sdk-1", tags=["team-a", "web"], metadata={"owner": "declstack"})
    server = conn.compute.wait_for_server(server, interval=0.1, wait=10)
    assert server.status == "ACTIVE"
    assert sorted(server.tags) == ["team-a", "web"]
    assert server.metadata == {"owner": "declstack"}
    assert server.flavor.original_name == "m1.nano"
    assert server.security_groups == [{"name": "default"}]
    (address,) = server.addresses["private"]
    ports = list(conn.network.ports(device_id=server.id))
    assert [p.fixed_ips[0]["ip_address"] for p in ports] == [address["addr"]]

    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, interval=0.1, wait=10)
    with pytest.raises(exceptions.NotFoundException):
        conn.compute.get_server(server.id)
    assert list(conn.network.ports(device_id=server.id)) == []


def test_paging_with_limit_and_marker(conn: Any) -> None:
    created = [_boot(conn, f"page-{i}").id for i in range(7)]
    first = conn.compute.get("/servers/detail?limit=3").json()
    assert [s["id"] for s in first["servers"]] == created[::-1][:3]
    assert "marker=" in first["servers_links"][0]["href"]
    seen = [s.id for s in conn.compute.servers(details=True, limit=3)]
    assert seen == created[::-1]
    last_page = conn.compute.get(f"/servers?limit=3&marker={created[1]}").json()
    assert [s["id"] for s in last_page["servers"]] == [created[0]]
    assert "servers_links" not in last_page


def test_name_filter_is_a_regex_and_tags_filter_server_side(conn: Any) -> None:
    for name, tags in (("nodes-1", ["a"]), ("nodes-10", ["a", "b"]), ("nodes-2", ["b"])):
        _boot(conn, name, tags=tags)
    assert sorted(s.name for s in conn.compute.servers(name="nodes-1")) == ["nodes-1", "nodes-10"]
    assert [s.name for s in conn.compute.servers(name="^nodes-1$")] == ["nodes-1"]
    assert sorted(s.name for s in conn.compute.servers(tags="a")) == ["nodes-1", "nodes-10"]
    assert [s.name for s in conn.compute.servers(tags="a,b")] == ["nodes-10"]
    assert sorted(s.name for s in conn.compute.servers(any_tags="a,b")) == [
        "nodes-1",
        "nodes-10",
        "nodes-2",
    ]
    assert [s.name for s in conn.compute.servers(not_any_tags="a")] == ["nodes-2"]
