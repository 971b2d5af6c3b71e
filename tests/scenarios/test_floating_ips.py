"""Floating IPs: one per replica, the same address after a replacement, released on
scale-down and destroy; a claimed address is associated and never released."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.scenarios.conftest import Stack, Target, floating_address


@pytest.fixture
def unowned_ip(target: Target) -> Iterator[Any]:
    """A floating IP allocated by hand (request it before `stack`: released after)."""
    conn = target.connection()
    public = conn.network.find_network("public")
    fip = conn.network.create_ip(floating_network_id=public.id)
    yield fip
    conn.network.delete_ip(fip, ignore_missing=True)


def owned_ips(stack: Stack) -> dict[str, Any]:
    """Owned floating IPs by the server name in their tag."""
    conn = stack.target.connection()
    found = conn.network.ips(tags=f"declstack:stack={stack.name}")
    return {
        next(t for t in fip.tags if t.startswith("declstack:server="))[17:]: fip for fip in found
    }


def test_floating_ips_follow_their_servers(unowned_ip: Any, stack: Stack) -> None:
    web = {"name": "web", "count": 2, "floating_ip": True}
    claimer = {"name": "claimer", "floating_ip": {"address": unowned_ip.floating_ip_address}}
    stack.write([web, claimer])
    stack.ok("apply", "--yes")
    owned = owned_ips(stack)
    assert set(owned) == {"web-1", "web-2"}
    assert floating_address(stack, "web-1") == owned["web-1"].floating_ip_address
    assert floating_address(stack, "claimer") == unowned_ip.floating_ip_address
    assert stack.ok("plan", "--detailed-exitcode").exit_code == 0

    # Replace the web servers (another flavor): each new one gets the same address.
    old = {name: s.id for name, s in stack.servers().items()}
    resized = {**web, "flavor": stack.target.other_flavor}
    stack.write([resized, claimer])
    plan = stack.ok("plan", code=0)
    assert "floating_ip.web-1" in plan.stdout and "moves to the new server" in plan.stdout
    stack.ok("apply", "--yes")
    for name in ("web-1", "web-2"):
        assert stack.servers()[name].id != old[name]
        assert floating_address(stack, name) == owned[name].floating_ip_address

    # Scale down: web-2's address is released; the claimed one stays with claimer.
    stack.write([{**resized, "count": 1}, claimer])
    stack.ok("apply", "--yes")
    assert set(owned_ips(stack)) == {"web-1"}
    conn = stack.target.connection()
    assert conn.network.find_ip(owned["web-2"].floating_ip_address) is None

    stack.ok("destroy", "--yes")
    assert owned_ips(stack) == {}
    kept = conn.network.get_ip(unowned_ip.id)
    assert kept.floating_ip_address == unowned_ip.floating_ip_address, "never released"
