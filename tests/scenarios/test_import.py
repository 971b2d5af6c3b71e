"""`declstack import`: servers built by hand (with openstacksdk, as a user would) are taken
into a stack without being rebuilt; the next plan is a no-op when they were built as the
spec asks and replaces them naming the attribute when not. On the local cloud and on
realstack.

Server names carry the stack's unique name: `--match-names` takes every unowned server of
a spec name in the project, and other tests share the project.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any

import pytest
from openstack.exceptions import SDKException

from tests.scenarios.conftest import Stack, Target, assert_exited

Build = Callable[..., Any]


@pytest.fixture
def hand_built(target: Target) -> Iterator[Build]:
    """Builds servers behind declstack's back (ACTIVE on return); deletes them all after
    the test (request it after `stack`, so this runs before the stack's destroy)."""
    conn = target.connection()
    made: list[Any] = []

    def build(name: str, flavor: str | None = None) -> Any:
        server = conn.compute.create_server(
            name=name,
            image_id=conn.image.find_image(target.image).id,
            flavor_id=conn.compute.find_flavor(flavor or target.flavor).id,
            networks=[{"uuid": conn.network.find_network(target.network).id}],
        )
        made.append(server)
        return conn.compute.wait_for_server(server, wait=300)

    yield build
    for server in made:
        with suppress(SDKException):
            conn.compute.delete_server(server.id, ignore_missing=True)


def metadata_of(stack: Stack, server_id: str) -> dict[str, str]:
    server = stack.target.connection().compute.get_server(server_id)
    return dict(server.metadata or {})


def test_import_of_a_matching_server_gives_a_noop_plan(stack: Stack, hand_built: Build) -> None:
    name = f"{stack.name}-app"
    server = hand_built(name)
    stack.write([{"name": name, "metadata": {"role": "app"}, "tags": ["imported"]}])

    unconfirmed = stack.run("import", f"{name}={server.id}")  # not a terminal, no --yes
    assert_exited(unconfirmed, 1)
    assert "refusing to change the cloud without confirmation" in unconfirmed.stderr
    assert "declstack:stack" not in metadata_of(stack, server.id)

    result = stack.ok("import", f"{name}={server.id}", "--yes")
    assert (
        f"import server.{name} (id {server.id}): adds marker and fingerprint; "
        'metadata role: (unset) -> "app"; tag +imported'
    ) in result.stdout
    assert "the next plan leaves it as it is" in result.stdout
    assert "user_data cannot be read back" in result.stdout
    assert f"server.{name} (id {server.id}) has been imported" in result.stdout

    assert stack.ok("plan", "--detailed-exitcode").exit_code == 0
    live = stack.servers()[name]
    assert live.id == server.id and live.metadata["role"] == "app"
    assert "imported" in live.tags

    again = stack.ok("import", f"{name}={server.id}", "--yes")
    assert f'server.{name} (id {server.id}) is already in stack "{stack.name}"' in again.stdout


def test_import_of_a_server_with_another_flavor_plans_its_replacement(
    stack: Stack, hand_built: Build
) -> None:
    target = stack.target
    name = f"{stack.name}-app"
    server = hand_built(name, flavor=target.other_flavor)
    stack.write([{"name": name}])

    result = stack.ok("import", f"{name}={server.id}", "--yes")
    assert (
        f'flavor differs: server has "{target.other_flavor}", spec asks "{target.flavor}"'
    ) in result.stdout
    assert "the next plan replaces it (flavor differs)" in result.stdout
    assert stack.servers()[name].id == server.id  # imported, not rebuilt

    plan = stack.ok("plan", "--output", "json", "--detailed-exitcode", code=2)
    (change,) = [c for c in json.loads(plan.stdout)["changes"] if c["name"] == name]
    assert change["action"] == "delete-then-create"
    assert change["replaced_by"] == ["flavor"]


def test_match_names_takes_the_unowned_servers_of_the_specs_names(
    stack: Stack, hand_built: Build
) -> None:
    web = f"{stack.name}-web"
    first, second = hand_built(f"{web}-1"), hand_built(f"{web}-2")
    stranger = hand_built(f"{stack.name}-db")
    stack.write([{"name": web, "count": 2}])

    result = stack.ok("import", "--match-names", "--yes")
    assert f"server.{web}-1 (id {first.id}) has been imported" in result.stdout
    assert f"server.{web}-2 (id {second.id}) has been imported" in result.stdout
    assert stack.ok("plan", "--detailed-exitcode").exit_code == 0
    assert {s.id for s in stack.servers().values()} == {first.id, second.id}
    assert "declstack:stack" not in metadata_of(stack, stranger.id)

    twins = [hand_built(f"{web}-3"), hand_built(f"{web}-3")]
    stack.write([{"name": web, "count": 3}])
    refused = stack.run("import", "--match-names", "--yes")
    assert_exited(refused, 1)
    assert f'--match-names: 2 servers are named "{web}-3"' in refused.stderr
    assert "nothing was changed" in refused.stderr
    assert all("declstack:stack" not in metadata_of(stack, s.id) for s in twins)


def test_another_stacks_server_is_refused_and_taken_with_steal(
    stack: Stack, hand_built: Build, tmp_path: Any
) -> None:
    other = Stack(stack.target, f"t-{uuid.uuid4().hex[:8]}", tmp_path / "other.yaml")
    name = f"{stack.name}-app"
    server = hand_built(name)
    try:
        other.write([{"name": name}])
        other.ok("import", f"{name}={server.id}", "--yes")
        stack.write([{"name": name}])

        refused = stack.run("import", f"{name}={server.id}", "--yes")
        assert_exited(refused, 1)
        assert f'server {name} ({server.id}) belongs to stack "{other.name}"' in refused.stderr
        assert "--steal" in refused.stderr
        assert metadata_of(stack, server.id)["declstack:stack"] == other.name

        taken = stack.ok("import", f"{name}={server.id}", "--steal", "--yes")
        assert f'takes it from stack "{other.name}"' in taken.stdout
        assert metadata_of(stack, server.id)["declstack:stack"] == stack.name
        assert stack.ok("plan", "--detailed-exitcode").exit_code == 0
        assert other.live() == []  # the other stack's tag went with it
    finally:
        other.run("destroy", "--yes")


def test_import_of_a_server_id_that_does_not_exist(stack: Stack) -> None:
    name = f"{stack.name}-app"
    stack.write([{"name": name}])
    missing = str(uuid.uuid4())

    result = stack.run("import", f"{name}={missing}", "--yes")
    assert_exited(result, 1)
    assert f"error: no server with id {missing} (given for {name}); nothing was changed" in (
        result.stderr
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert stack.live() == []

    unknown = stack.run("import", f"nosuch={missing}", "--yes")
    assert_exited(unknown, 1)
    assert 'no server named "nosuch" in the spec' in unknown.stderr
