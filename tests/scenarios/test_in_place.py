"""Change in place on request (issue 10 item 3): resize, rebuild, ignore_changes, state.

Each journey runs on the local cloud and on the real services: the server keeps its
id and addresses through a resize or a rebuild, `state:` stops and starts it, an
ignored image change replaces nothing, and bad input changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from tests.scenarios.conftest import Stack, Target, assert_exited

RESIZE = {"flavor_change": "resize"}
REBUILD = {"image_change": "rebuild"}


def other_image(target: Target) -> str:
    """A second active image to rebuild from (realstack ships only cirros: upload one)."""
    if target.local is not None:
        return "debian-12"
    name = "declstack-rebuild"
    admin = target.connection(admin=True)
    if admin.image.find_image(name) is None:
        data = b"declstack rebuild image\n" + b"\0" * (1024 * 1024 - 24)
        admin.image.create_image(
            name=name,
            data=data,
            disk_format="raw",
            container_format="bare",
            visibility="public",
        )
    return name


def addresses(server: Any) -> list[tuple[str, str]]:
    return sorted(
        (network, entry["addr"])
        for network, entries in (server.addresses or {}).items()
        for entry in entries
    )


def plan_json(stack: Stack) -> dict[str, Any]:
    return json.loads(stack.ok("plan", "--output", "json").stdout)  # type: ignore[no-any-return]


def test_a_flavor_change_with_resize_keeps_the_server_id_and_addresses(stack: Stack) -> None:
    target = stack.target
    stack.write([{"name": "db", "lifecycle": RESIZE}])
    stack.ok("apply", "--yes")
    before = stack.servers()["db"]
    assert before.flavor.original_name == target.flavor

    stack.write([{"name": "db", "flavor": target.other_flavor, "lifecycle": RESIZE}])
    planned = stack.ok("plan", "--detailed-exitcode", code=2)
    assert "~ server.db" in planned.stdout and "resize in place" in planned.stdout
    assert "0 to replace" in planned.stdout
    (change,) = plan_json(stack)["changes"]
    assert change["action"] == "update" and change["patch"]["resize_to"] == target.other_flavor
    assert change["patch"]["resize_flavor_id"] == (
        target.connection().compute.find_flavor(target.other_flavor).id
    )

    applied = stack.ok("apply", "--yes")
    assert f'server.db has been resized to "{target.other_flavor}" in place' in applied.stdout
    after = stack.servers()["db"]
    assert after.id == before.id
    assert addresses(after) == addresses(before) != []
    assert (after.status, after.flavor.original_name) == ("ACTIVE", target.other_flavor)
    assert "No changes" in stack.ok("plan", "--detailed-exitcode").stdout


def test_an_image_change_with_rebuild_keeps_the_server_id_and_addresses(stack: Stack) -> None:
    target = stack.target
    image = other_image(target)
    stack.write([{"name": "app", "lifecycle": REBUILD}])
    stack.ok("apply", "--yes")
    before = stack.servers()["app"]

    stack.write([{"name": "app", "image": image, "lifecycle": REBUILD}])
    planned = stack.ok("plan", "--detailed-exitcode", code=2)
    assert "~ server.app" in planned.stdout and "rebuild in place" in planned.stdout
    applied = stack.ok("apply", "--yes")
    assert f'server.app has been rebuilt from "{image}" in place' in applied.stdout
    after = stack.servers()["app"]
    assert after.id == before.id
    assert addresses(after) == addresses(before) != []
    wanted = target.connection().image.find_image(image).id
    assert (after.status, after.image.id) == ("ACTIVE", wanted)
    assert "No changes" in stack.ok("plan", "--detailed-exitcode").stdout


def test_state_shutoff_stops_and_a_plain_apply_after_an_outside_stop_starts_it(
    stack: Stack,
) -> None:
    conn = stack.target.connection()
    stack.write([{"name": "web", "state": "shutoff"}])
    created = stack.ok("apply", "--yes")
    assert "server.web has been created (ACTIVE after" in created.stdout
    assert "and stopped" in created.stdout
    first = stack.servers()["web"]
    assert first.status == "SHUTOFF"
    assert "No changes" in stack.ok("plan", "--detailed-exitcode").stdout

    stack.write([{"name": "web"}])
    started = stack.ok("apply", "--yes")
    assert "server.web has been started in place" in started.stdout
    assert stack.servers()["web"].status == "ACTIVE"

    # Stopped behind declstack's back: no longer "in sync"; a plain apply starts it.
    conn.compute.stop_server(first.id)
    conn.compute.wait_for_server(conn.compute.get_server(first.id), status="SHUTOFF", wait=120)
    drift = stack.ok("plan", "--detailed-exitcode", code=2)
    assert "server.web (id " in drift.stdout and "state: SHUTOFF -> active (start)" in drift.stdout
    status = json.loads(stack.ok("status", "--output", "json").stdout)
    (row,) = status["servers"]
    assert row["drift"] == "update" and row["status"] == "SHUTOFF"
    stack.ok("apply", "--yes")
    after = stack.servers()["web"]
    assert (after.id, after.status) == (first.id, "ACTIVE")


def test_an_ignored_image_change_replaces_nothing_and_the_plan_says_so(stack: Stack) -> None:
    target = stack.target
    image = other_image(target)
    ignore = {"ignore_changes": ["image"]}
    stack.write([{"name": "app", "lifecycle": ignore}])
    stack.ok("apply", "--yes")
    before = stack.servers()["app"]

    stack.write([{"name": "app", "image": image, "lifecycle": ignore}])
    planned = stack.ok("plan", "--detailed-exitcode")
    assert "ignored by lifecycle.ignore_changes: image changed" in planned.stdout
    assert "matches the spec, except in attributes lifecycle.ignore_changes lists: 1 server(s)" in (
        planned.stdout
    )
    (change,) = plan_json(stack)["changes"]
    assert (change["action"], change["ignored"]) == ("no-op", ["image"])
    stack.ok("apply", "--yes")
    after = stack.servers()["app"]
    assert (after.id, after.image.id) == (before.id, before.image.id)


def test_bad_input_is_refused_before_anything_changes(stack: Stack) -> None:
    stack.write([{"name": "app", "lifecycle": {"ignore_changes": ["imag"]}}])
    result = stack.run("apply", "--yes")
    assert_exited(result, 1)
    output = result.stdout + result.stderr
    assert f"{stack.path}:" in output
    assert "servers[0].lifecycle.ignore_changes[0]: not an attribute declstack compares" in output
    assert "did you mean 'image'?" in output and "Traceback" not in output

    stack.write([{"name": "app", "lifecycle": {**RESIZE, "ignore_changes": ["flavor"]}}])
    result = stack.run("plan")
    assert_exited(result, 1)
    assert "flavor_change: resize never happens while ignore_changes lists 'flavor'" in (
        result.stdout + result.stderr
    )
    assert stack.servers() == {}


def test_a_resize_to_the_flavor_the_server_has_is_no_change(stack: Stack) -> None:
    """The spec now names the same flavor by its id: no change (and no resize, which
    Nova refuses for the flavor a server has)."""
    target = stack.target
    stack.write([{"name": "db", "lifecycle": RESIZE}])
    stack.ok("apply", "--yes")
    before = stack.servers()["db"]
    same = target.connection().compute.find_flavor(target.flavor).id

    stack.write([{"name": "db", "flavor": same, "lifecycle": RESIZE}])
    assert "No changes" in stack.ok("plan", "--detailed-exitcode").stdout
    (change,) = plan_json(stack)["changes"]
    assert (change["action"], change["patch"]) == ("no-op", None)
    assert change["reason"] == (
        f'up to date; flavor written "{same}": the flavor the server has ({target.flavor}), '
        "so no resize"
    )
    stack.ok("apply", "--yes")
    after = stack.servers()["db"]
    assert (after.id, after.flavor.original_name) == (before.id, target.flavor)
