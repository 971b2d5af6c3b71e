"""`declstack inventory` on a real cloud: the stack's own servers, their addresses as the cloud
reports them, the same facts in `status --output json`; on the local cloud and on realstack."""

from __future__ import annotations

import json
import time
from typing import Any

import yaml

from tests.scenarios.conftest import Stack, assert_exited


def _first_address(server: Any) -> str:
    return str(next(e["addr"] for entries in server.addresses.values() for e in entries))


def test_inventory_of_the_stack_as_the_cloud_reports_it(stack: Stack) -> None:
    target = stack.target
    conn = target.connection()
    web = {"name": "web", "count": 2, "metadata": {"role": "web"}, "tags": ["frontend"]}
    cache = {"name": "cache", "networks": "none", "metadata": {"port": "6379"}, "tags": ["backend"]}
    stranger = conn.compute.create_server(
        name=f"{stack.name}-stranger",
        image_id=conn.image.find_image(target.image).id,
        flavor_id=conn.compute.find_flavor(target.flavor).id,
        networks="none",
    )
    try:
        stack.write([web, cache])
        stack.ok("apply", "--yes")
        servers = stack.servers()
        assert sorted(servers) == ["cache", "web-1", "web-2"]
        ip = {name: _first_address(servers[name]) for name in ("web-1", "web-2")}

        def host_vars(name: str, metadata: dict[str, str]) -> dict[str, Any]:
            address = {"ansible_host": ip[name]} if name in ip else {}
            return {
                **address,
                "declstack_id": servers[name].id,
                "declstack_status": "ACTIVE",
                "declstack_addresses": {target.network: [ip[name]]} if name in ip else {},
                "declstack_floating_ips": [],
                "declstack_metadata": metadata,
            }

        hostvars = {
            "cache": host_vars("cache", {"port": "6379"}),
            "web-1": host_vars("web-1", {"role": "web"}),
            "web-2": host_vars("web-2", {"role": "web"}),
        }
        expected = {
            "_meta": {"hostvars": hostvars},
            "all": {"children": ["cache", "tag_backend", "tag_frontend", "web"]},
            "cache": {"hosts": ["cache"]},
            "tag_backend": {"hosts": ["cache"]},
            "tag_frontend": {"hosts": ["web-1", "web-2"]},
            "web": {"hosts": ["web-1", "web-2"]},
        }
        listed = stack.ok("inventory", "--output", "json")
        assert listed.stdout == json.dumps(expected, indent=2) + "\n"
        assert listed.stderr == ""  # the stranger is not the stack's: not even a note

        as_yaml = yaml.safe_load(stack.ok("inventory").stdout)["all"]["children"]
        assert as_yaml["web"]["hosts"]["web-2"] == hostvars["web-2"]
        assert as_yaml["tag_frontend"]["hosts"] == {"web-1": {}, "web-2": {}}

        on_network = stack.ok("inventory", "-o", "json", "--address-network", target.network)
        assert on_network.stdout == listed.stdout

        typo = stack.run("inventory", "--address-network", "no-such-net")
        assert_exited(typo, 1)
        assert typo.stdout == ""
        assert (
            f"error: no server of stack '{stack.name}' has an address on network 'no-such-net'"
            in typo.stderr
        )

        status = json.loads(stack.ok("status", "--all", "--output", "json").stdout)["servers"]
        ours = {server.id for server in servers.values()} | {stranger.id}
        # The project may hold other stacks' servers with the same names: match by id.
        facts = {row["name"]: row["inventory"] for row in status if row["id"] in ours}
        assert facts == {
            stranger.name: None,
            "cache": {
                "groups": ["cache", "tag_backend"],
                "host_vars": hostvars["cache"],
            },
            "web-1": {
                "groups": ["web", "tag_frontend"],
                "host_vars": hostvars["web-1"],
            },
            "web-2": {
                "groups": ["web", "tag_frontend"],
                "host_vars": hostvars["web-2"],
            },
        }

        # Scaled down in the spec, not yet applied: web-2 is about to go, so it is left out.
        stack.write([{**web, "count": 1}, cache])
        shrunk = stack.ok("inventory", "-o", "json")
        assert sorted(json.loads(shrunk.stdout)["_meta"]["hostvars"]) == ["cache", "web-1"]
        assert shrunk.stderr == (
            "note: left out 1 server(s) the spec no longer has (apply deletes them) (web-2)\n"
        )
    finally:
        conn.compute.delete_server(stranger.id, ignore_missing=True)


def test_a_floating_address_is_ansible_host_unless_a_network_is_named(stack: Stack) -> None:
    """A floating IP associated behind declstack's back (as a user or a later declstack
    would): Nova lists it among the addresses, typed floating; Ansible connects to it."""
    target = stack.target
    conn = target.connection()
    stack.write([{"name": "edge"}])
    stack.ok("apply", "--yes")
    edge = stack.servers()["edge"]
    fixed = _first_address(edge)
    port = next(iter(conn.network.ports(device_id=edge.id)))
    public = conn.network.find_network("public", ignore_missing=False)
    floating = conn.network.create_ip(floating_network_id=public.id, port_id=port.id)
    try:
        deadline = time.monotonic() + 60  # Nova learns of it from Neutron's event
        while floating.floating_ip_address not in _all_addresses(conn, edge.id):
            assert time.monotonic() < deadline, "Nova never listed the floating IP"
            time.sleep(0.5)

        hostvars = json.loads(stack.ok("inventory", "-o", "json").stdout)["_meta"]["hostvars"]
        assert hostvars["edge"]["ansible_host"] == floating.floating_ip_address
        assert hostvars["edge"]["declstack_floating_ips"] == [floating.floating_ip_address]
        assert hostvars["edge"]["declstack_addresses"] == {
            target.network: [fixed, floating.floating_ip_address]
        }

        named = stack.ok("inventory", "-o", "ini", "--address-network", target.network)
        assert named.stdout.startswith(f"[edge]\nedge ansible_host={fixed} ")

        row = json.loads(stack.ok("status", "-o", "json").stdout)["servers"][0]
        assert row["inventory"]["host_vars"] == hostvars["edge"]
    finally:
        conn.network.delete_ip(floating.id, ignore_missing=True)


def _all_addresses(conn: Any, server_id: str) -> list[str]:
    server = conn.compute.get_server(server_id)
    return [str(e["addr"]) for entries in (server.addresses or {}).values() for e in entries]
