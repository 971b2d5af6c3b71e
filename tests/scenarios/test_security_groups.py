"""A server's security groups are changed in place (Nova's add/removeSecurityGroup),
never by replacing the server; a group removed by hand is put back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.scenarios.conftest import Stack, Target, when_free


@pytest.fixture
def extra_group(target: Target) -> Iterator[str]:
    """A second group of the project, made behind declstack's back and removed after
    the stack (request it before `stack`): until the server's port is gone, Neutron
    answers 409 "in use", so the removal waits for that."""
    conn = target.connection()
    name = f"t-sg-{uuid.uuid4().hex[:8]}"
    group = conn.network.create_security_group(name=name, description="declstack test")
    yield name
    when_free(lambda: conn.network.delete_security_group(group, ignore_missing=True))


def groups_of(stack: Stack, name: str) -> set[str]:
    server = stack.target.connection().compute.get_server(stack.servers()[name].id)
    return {group["name"] for group in server.security_groups or []}


def test_security_groups_change_in_place_and_drift_is_put_back(
    extra_group: str, stack: Stack
) -> None:
    stack.write([{"name": "guarded", "security_groups": ["default"]}])
    stack.ok("apply", "--yes")
    first = stack.servers()["guarded"].id
    assert groups_of(stack, "guarded") == {"default"}

    stack.write([{"name": "guarded", "security_groups": ["default", extra_group]}])
    plan = stack.ok("plan", "--detailed-exitcode", code=2)
    assert "~ server.guarded" in plan.stdout
    assert "0 to replace" in plan.stdout
    stack.ok("apply", "--yes")
    assert stack.servers()["guarded"].id == first, "updated in place, not replaced"
    assert groups_of(stack, "guarded") == {"default", extra_group}
    assert stack.ok("plan", "--detailed-exitcode").exit_code == 0

    # Somebody removes a group by hand: the next plan puts it back, in place.
    conn = stack.target.connection()
    conn.compute.remove_security_group_from_server(first, {"name": extra_group})
    drift = stack.ok("plan", "--detailed-exitcode", code=2)
    assert f'security groups: ["default"] -> ["default", "{extra_group}"]' in drift.stdout
    stack.ok("apply", "--yes")
    assert groups_of(stack, "guarded") == {"default", extra_group}
    assert stack.servers()["guarded"].id == first
