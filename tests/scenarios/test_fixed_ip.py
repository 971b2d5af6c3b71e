"""A fixed IP and a config drive asked for in the spec: the server gets them, a
second plan is a no-op, and a change of address replaces the server.

Neutron's default policy lets only a network's owner (or an admin) choose a fixed
IP, so the scenario uses a network of the test's own project, as a user would.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.scenarios.conftest import Stack, Target, when_free


@pytest.fixture
def own_network(target: Target) -> Iterator[str]:
    """A network and subnet of the project; removed after the stack (request it first)."""
    conn = target.connection()
    network = conn.network.create_network(name=f"t-net-{uuid.uuid4().hex[:8]}")
    subnet = conn.network.create_subnet(
        network_id=network.id, ip_version=4, cidr="192.168.77.0/24", enable_dhcp=False
    )
    yield network.name
    when_free(
        lambda: (
            conn.network.delete_subnet(subnet, ignore_missing=True),
            conn.network.delete_network(network, ignore_missing=True),
        )
    )


def addresses(stack: Stack, name: str) -> list[str]:
    server = stack.target.connection().compute.get_server(stack.servers()[name].id)
    return [a["addr"] for entries in server.addresses.values() for a in entries]


def test_fixed_ip_and_config_drive(own_network: str, stack: Stack) -> None:
    pinned = {
        "name": "pinned",
        "config_drive": True,
        "networks": [{"network": own_network, "fixed_ip": "192.168.77.10"}],
    }
    stack.write([pinned])
    stack.ok("apply", "--yes")
    assert addresses(stack, "pinned") == ["192.168.77.10"]
    server = stack.target.connection().compute.get_server(stack.servers()["pinned"].id)
    assert server.has_config_drive in (True, "True")
    assert stack.ok("plan", "--detailed-exitcode").exit_code == 0

    moved = {**pinned, "networks": [{"network": own_network, "fixed_ip": "192.168.77.11"}]}
    stack.write([moved])
    plan = stack.ok("plan", "--output", "json", "--detailed-exitcode", code=2)
    (change,) = [c for c in json.loads(plan.stdout)["changes"] if c["name"] == "pinned"]
    assert change["action"] == "delete-then-create" and change["replaced_by"] == ["networks"]
    stack.ok("apply", "--yes")
    assert addresses(stack, "pinned") == ["192.168.77.11"]

    outside = {**pinned, "networks": [{"network": own_network, "fixed_ip": "10.99.0.1"}]}
    stack.write([outside])
    refused = stack.ok("plan", code=1)
    assert (
        f'fixed IP 10.99.0.1 is not in any subnet of network "{own_network}" (192.168.77.0/24)'
        in refused.stdout
    )
