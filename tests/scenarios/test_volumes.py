"""Data volumes and boot volumes (issue 10 item 1), on the local cloud and the real services.

A data volume outlives its server: a replacement (image change) gets the same volume,
a bigger `size` extends it in place (and a resize keeps it attached), destroy removes
every volume the stack owns and none it does not; bad input (size 0, a shrink, an
unknown type) is refused before anything changes. `boot_volume:` boots a server from a
volume of that size and type, deleted with the server.
"""

from __future__ import annotations

import json
import time
from typing import Any

import yaml

from tests.scenarios.conftest import Stack, assert_exited
from tests.scenarios.test_in_place import other_image


def owned_volumes(stack: Stack) -> dict[str, Any]:
    """name -> volume, of every volume the stack owns (seen through openstacksdk)."""
    conn = stack.target.connection()
    return {
        v.name: v
        for v in conn.block_storage.volumes(details=True)
        if (v.metadata or {}).get("declstack:stack") == stack.name
    }


def attached_to(volume: Any) -> list[str]:
    return [a["server_id"] for a in volume.attachments or []]


def settle(stack: Stack, timeout: float = 60) -> dict[str, Any]:
    """The stack's volumes once none is on its way (a delete's detach can trail it)."""
    deadline = time.monotonic() + timeout
    while True:
        found = owned_volumes(stack)
        if all(v.status in ("available", "in-use") for v in found.values()):
            return found
        assert time.monotonic() < deadline, {n: v.status for n, v in found.items()}
        time.sleep(0.3)


DATA = [{"name": "data", "size": 1}]


def test_a_replaced_server_gets_the_same_data_volume(stack: Stack) -> None:
    image = other_image(stack.target)
    stack.write([{"name": "db", "volumes": DATA}])
    created = stack.ok("apply", "--yes")
    assert "volume.db-data has been created (1 GB) and attached to server.db" in created.stdout
    first = stack.servers()["db"]
    volume = owned_volumes(stack)["db-data"]
    assert (volume.size, volume.status, attached_to(volume)) == (1, "in-use", [first.id])
    assert "No changes" in stack.ok("plan", "--detailed-exitcode").stdout

    stack.write([{"name": "db", "image": image, "volumes": DATA}])
    planned = stack.ok("plan", "--detailed-exitcode", code=2)
    assert "-/+ server.db" in planned.stdout
    assert f"  ~ volume.db-data (id {volume.id}): moves to the new server.db" in planned.stdout
    replaced = stack.ok("apply", "--yes")
    assert "volume.db-data has been moved to server.db" in replaced.stdout
    second = stack.servers()["db"]
    assert second.id != first.id
    moved = owned_volumes(stack)["db-data"]
    assert (moved.id, moved.status, attached_to(moved)) == (volume.id, "in-use", [second.id])
    assert "No changes" in stack.ok("plan", "--detailed-exitcode").stdout


def test_a_bigger_size_extends_in_place_and_a_resize_keeps_the_volume(stack: Stack) -> None:
    target = stack.target
    resize = {"flavor_change": "resize"}
    stack.write([{"name": "db", "volumes": DATA, "lifecycle": resize}])
    stack.ok("apply", "--yes")
    server = stack.servers()["db"]
    volume = owned_volumes(stack)["db-data"]

    stack.write([{"name": "db", "volumes": [{"name": "data", "size": 2}], "lifecycle": resize}])
    planned = json.loads(stack.ok("plan", "--output", "json").stdout)
    (change,) = [c for c in planned["changes"] if c["kind"] == "volume"]
    assert (change["action"], change["patch"]["extend_to"]) == ("update", 2)
    grown = stack.ok("apply", "--yes")
    assert "volume.db-data has been extended to 2 GB" in grown.stdout
    after = owned_volumes(stack)["db-data"]
    assert (after.id, after.size, attached_to(after)) == (volume.id, 2, [server.id])

    stack.write(
        [
            {
                "name": "db",
                "flavor": target.other_flavor,
                "volumes": [{"name": "data", "size": 2}],
                "lifecycle": resize,
            }
        ]
    )
    resized = stack.ok("apply", "--yes")
    assert f'server.db has been resized to "{target.other_flavor}" in place' in resized.stdout
    same = stack.servers()["db"]
    assert (same.id, same.flavor.original_name) == (server.id, target.other_flavor)
    kept = settle(stack)["db-data"]
    assert (kept.id, kept.status, attached_to(kept)) == (volume.id, "in-use", [server.id])


def test_destroy_removes_every_owned_volume_and_none_it_does_not_own(stack: Stack) -> None:
    conn = stack.target.connection()
    stranger = conn.block_storage.create_volume(size=1, name="db-1-data")
    try:
        stack.write([{"name": "db", "count": 2, "volumes": [*DATA, {"name": "logs", "size": 1}]}])
        stack.ok("apply", "--yes")
        assert sorted(owned_volumes(stack)) == ["db-1-data", "db-1-logs", "db-2-data", "db-2-logs"]

        # Scaling down deletes the volumes of the server that goes, and only those.
        stack.write([{"name": "db", "count": 1, "volumes": [*DATA, {"name": "logs", "size": 1}]}])
        scaled = stack.ok("apply", "--yes")
        assert "volume.db-2-data has been destroyed" in scaled.stdout
        assert sorted(owned_volumes(stack)) == ["db-1-data", "db-1-logs"]

        destroyed = stack.ok("destroy", "--yes")
        for name in ("db-1-data", "db-1-logs"):
            assert f"volume.{name} has been destroyed" in destroyed.stdout
        assert owned_volumes(stack) == {} and stack.live() == []
        assert conn.block_storage.get_volume(stranger.id).name == "db-1-data"
    finally:
        conn.block_storage.wait_for_status(
            conn.block_storage.get_volume(stranger.id), "available", wait=60
        )
        conn.block_storage.delete_volume(stranger.id)


def test_bad_volume_input_changes_nothing(stack: Stack) -> None:
    stack.write([{"name": "db", "volumes": [{"name": "data", "size": 0}]}])
    zero = stack.run("apply", "--yes")
    assert_exited(zero, 1)
    assert "servers[0].volumes[0].size: must be 1 or more, got 0" in zero.stdout + zero.stderr
    assert stack.live() == [] and owned_volumes(stack) == {}

    stack.write([{"name": "db", "volumes": [{"name": "data", "size": 1, "type": "nope"}]}])
    unknown = stack.run("apply", "--yes")
    assert_exited(unknown, 1)
    assert 'volume.db-data: volume type "nope" not found' in unknown.stdout + unknown.stderr
    assert stack.live() == [] and owned_volumes(stack) == {}

    stack.write([{"name": "db", "volumes": [{"name": "data", "size": 2}]}])
    stack.ok("apply", "--yes")
    volume = owned_volumes(stack)["db-data"]
    stack.write([{"name": "db", "image": other_image(stack.target), "volumes": DATA}])
    shrink = stack.run("apply", "--yes")
    assert_exited(shrink, 1)
    said = shrink.stdout + shrink.stderr
    assert (
        "volume.db-data: size 1 GB is smaller than the volume's 2 GB: Cinder cannot shrink a "
        "volume" in said
    )
    assert "Traceback" not in said
    server = stack.servers()["db"]
    assert owned_volumes(stack)["db-data"].size == 2
    assert (
        server.image.id != stack.target.connection().image.find_image(other_image(stack.target)).id
    ), "nothing changed: the server was not replaced either"
    assert owned_volumes(stack)["db-data"].id == volume.id


def test_a_server_boots_from_a_volume_deleted_with_it(stack: Stack) -> None:
    stack.write([{"name": "app", "boot_volume": {"size": 2, "type": "standard"}}])
    planned = stack.ok("plan", "--detailed-exitcode", code=2)
    assert 'boot_volume: 2 GB, type "standard"' in planned.stdout
    stack.ok("apply", "--yes")
    conn = stack.target.connection()
    server = conn.compute.get_server(stack.servers()["app"].id)
    (root_id,) = [v["id"] for v in server.attached_volumes or []]
    root = conn.block_storage.get_volume(root_id)
    assert (root.size, root.volume_type, root.is_bootable) == (2, "standard", True)
    assert attached_to(root) == [server.id]
    assert "No changes" in stack.ok("plan", "--detailed-exitcode").stdout

    stack.ok("destroy", "--yes")
    deadline = time.monotonic() + 60
    while any(v.id == root_id for v in conn.block_storage.volumes()):
        assert time.monotonic() < deadline, "the root volume outlived its server"
        time.sleep(0.5)
    # Nothing left for the fixture's destroy.
    stack.path.write_text(yaml.safe_dump({"version": 1, "stack": stack.name, "servers": []}))
