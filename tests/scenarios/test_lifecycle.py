"""The user's journeys, end to end over HTTP: each runs on the local cloud and on real OpenStack."""

from __future__ import annotations

import base64
import json
import re

from tests.scenarios.conftest import Stack, assert_exited


def test_old_script_scenario(stack: Stack) -> None:
    """What the original script did: one server by image and flavor name with a key
    pair, wait for ACTIVE, find it by name, delete it."""
    target = stack.target
    stack.write([{"name": "legacy", "key_name": target.keypair, "security_groups": ["default"]}])

    result = stack.ok("apply", "--yes")
    assert "server.legacy has been created (ACTIVE" in result.stdout

    (server,) = stack.servers().values()
    assert server.name == "legacy" and server.status == "ACTIVE"
    assert server.key_name == target.keypair
    assert server.flavor.original_name == target.flavor

    status = stack.ok("status", "--output", "json")
    (row,) = json.loads(status.stdout)["servers"]
    assert row["name"] == "legacy" and row["id"] == server.id and row["status"] == "ACTIVE"
    assert row["drift"] == "no-op"

    destroyed = stack.ok("destroy", "--yes")
    assert "server.legacy has been destroyed" in destroyed.stdout
    assert stack.servers() == {}


def test_converge_drift_scale_update_replace_destroy(stack: Stack) -> None:
    target = stack.target
    web = {"name": "web", "count": 2, "metadata": {"role": "web"}, "tags": ["web"]}
    stack.write([web])
    stack.ok("apply", "--yes")
    first = stack.servers()
    assert sorted(first) == ["web-1", "web-2"]

    again = stack.ok("plan", "--detailed-exitcode")
    assert "No changes" in again.stdout

    # Drift: a server deleted behind declstack's back comes back.
    target.connection().compute.delete_server(first["web-1"].id)
    target.connection().compute.wait_for_delete(first["web-1"], wait=60)
    drift = stack.ok("plan", "--detailed-exitcode", code=2)
    assert "+ server.web-1" in drift.stdout
    stack.ok("apply", "--yes")
    assert sorted(stack.servers()) == ["web-1", "web-2"]

    # Scale up then down: names are stable, only the tail changes.
    stack.write([{**web, "count": 3}])
    stack.ok("apply", "--yes")
    before_down = stack.servers()
    assert sorted(before_down) == ["web-1", "web-2", "web-3"]
    stack.write([{**web, "count": 2}])
    down = stack.ok("apply", "--yes")
    assert "server.web-3 has been destroyed" in down.stdout
    after_down = stack.servers()
    assert sorted(after_down) == ["web-1", "web-2"]
    assert after_down["web-2"].id == before_down["web-2"].id

    # Metadata and tags change in place; keys somebody else set are kept.
    conn = target.connection()
    conn.compute.set_server_metadata(after_down["web-1"].id, owner="ops")
    stack.write([{**web, "metadata": {"role": "api"}, "tags": ["api"]}])
    update = stack.ok("apply", "--yes")
    assert "server.web-1 has been updated in place" in update.stdout
    updated = stack.servers()
    assert updated["web-1"].id == after_down["web-1"].id
    assert updated["web-1"].metadata["role"] == "api"
    assert updated["web-1"].metadata["owner"] == "ops"
    assert "api" in updated["web-1"].tags and "web" not in updated["web-1"].tags

    # A create-time attribute (flavor) changes: replace.
    stack.write(
        [{**web, "metadata": {"role": "api"}, "tags": ["api"], "flavor": target.other_flavor}]
    )
    plan = stack.ok("plan", "--output", "json", "--detailed-exitcode", code=2)
    actions = {c["address"]: c["action"] for c in json.loads(plan.stdout)["changes"]}
    assert actions == {"server.web-1": "delete-then-create", "server.web-2": "delete-then-create"}
    stack.ok("apply", "--yes")
    replaced = stack.servers()
    assert replaced["web-1"].id != updated["web-1"].id
    assert replaced["web-1"].flavor.original_name == target.other_flavor
    assert stack.ok("plan", "--detailed-exitcode").exit_code == 0

    stack.ok("destroy", "--yes")
    assert stack.servers() == {}


def test_unmanaged_servers_are_never_touched(stack: Stack) -> None:
    target = stack.target
    conn = target.connection()
    image = conn.image.find_image(target.image)
    flavor = conn.compute.find_flavor(target.flavor)
    strangers = []
    try:
        for name in (f"{stack.name}-app", f"{stack.name}-other"):
            strangers.append(
                conn.compute.create_server(
                    name=name, image_id=image.id, flavor_id=flavor.id, networks="none"
                )
            )
        stack.write([{"name": f"{stack.name}-app"}])
        result = stack.ok("apply", "--yes")
        assert "not managed by stack" in result.stdout + result.stderr
        managed = stack.servers()
        assert list(managed) == [f"{stack.name}-app"]
        assert managed[f"{stack.name}-app"].id != strangers[0].id

        listed = json.loads(stack.ok("status", "--all", "--output", "json").stdout)["servers"]
        drift = {row["id"]: row["drift"] for row in listed}
        assert drift[managed[f"{stack.name}-app"].id] == "no-op"
        assert all(drift[server.id] == "unmanaged" for server in strangers)

        stack.ok("destroy", "--yes")
        for server in strangers:
            still = conn.compute.get_server(server.id)
            assert still.name == server.name and still.status != "DELETED"
            assert "declstack:stack" not in (still.metadata or {})
    finally:
        for server in strangers:
            conn.compute.delete_server(server.id, ignore_missing=True)


def test_error_at_boot_reported_with_fault_then_replaced(stack: Stack) -> None:
    target = stack.target
    flavor = target.boot_flavor()
    target.break_boots(flavor)
    try:
        stack.write([{"name": "fragile", "flavor": flavor, "networks": "none"}])
        failed = stack.run("apply", "--yes")
        assert_exited(failed, 1)
        assert "fragile went to ERROR" in failed.stdout
        assert "No valid host" in failed.stdout
    finally:
        target.heal_boots(flavor)
    plan = stack.ok("plan", "--output", "json", "--detailed-exitcode", code=2)
    (change,) = json.loads(plan.stdout)["changes"]
    assert change["action"] == "delete-then-create" and "ERROR" in change["reason"]
    stack.ok("apply", "--yes")
    assert stack.servers()["fragile"].status == "ACTIVE"


def test_plan_json_and_exit_codes(stack: Stack) -> None:
    stack.write([{"name": "db", "networks": "none", "metadata": {"tier": "data"}}])
    plan = stack.ok("plan", "--output", "json", "--detailed-exitcode", code=2)
    doc = json.loads(plan.stdout)
    assert doc["format_version"] == "2.2" and doc["stack"] == stack.name
    assert doc["summary"]["add"] == 1
    (change,) = doc["changes"]
    assert (
        change["address"] == "server.db"
        and change["action"] == "create"
        and change["before"] is None
    )
    assert change["after"]["metadata"] == {"tier": "data"}

    assert stack.ok("plan").exit_code == 0, "without --detailed-exitcode changes still exit 0"
    markdown = stack.ok("plan", "--output", "markdown")
    assert "| " in markdown.stdout and "db" in markdown.stdout

    stack.write([{"name": "db", "networks": "none", "image": "no-such-image"}])
    bad = stack.run("plan", "--detailed-exitcode")
    assert_exited(bad, 1)
    assert "no-such-image" in bad.stdout + bad.stderr


def test_debug_logs_requests_but_never_secrets(stack: Stack) -> None:
    user_data = "#!/bin/sh\necho db-password=SECRET-XYZ\n"
    stack.write([{"name": "quiet", "networks": "none", "user_data": user_data}])
    result = stack.ok("apply", "--yes", "--debug")
    logged = result.stderr
    assert "REQ: curl" in logged and "POST" in logged and "/servers" in logged
    encoded = base64.b64encode(user_data.encode()).decode()
    password = stack.target.connection().config.config["auth"]["password"]
    for secret in ("SECRET-XYZ", encoded, password):
        assert secret not in logged + result.stdout
    token = stack.target.connection().session.get_token()
    assert token not in logged
    # The create response carries adminPass: it is logged, redacted (not absent). Bodies
    # may be compact JSON (`"adminPass":"..."`), so the pattern allows no space too.
    assert re.search(r'"adminPass":\s*"<redacted>"', logged), "adminPass never logged"
    assert re.search(r'"adminPass":\s*"(?!<redacted>")', logged) is None
    token_lines = [line for line in logged.splitlines() if "X-Auth-Token:" in line]
    assert token_lines, "no request logged its token header: the masking check saw nothing"
    for line in token_lines:
        assert "X-Auth-Token: {SHA256}" in line, line


def test_plan_refuses_what_the_instance_quota_cannot_hold(stack: Stack) -> None:
    target = stack.target
    if target.local is not None:
        target.local.set_faults(quota_instances=10)
    try:
        absolute = target.connection().compute.get_limits().absolute
        free = absolute.instances - absolute.instances_used
        stack.write([{"name": "wide", "count": free + 1, "networks": "none"}])
        result = stack.run("plan")
        assert_exited(result, 1)
        assert f"needs {absolute.instances + 1} instances" in result.stdout
        assert stack.servers() == {}
    finally:
        if target.local is not None:
            target.local.set_faults(quota_instances=20_000)


def test_tags_and_keys_that_need_escaping_in_urls(stack: Stack) -> None:
    """openstacksdk puts tags into URLs unescaped: `team#ops` would address `team`."""
    odd = ["team#ops", "v1?beta", "50%"]
    stack.write([{"name": "odd", "networks": "none", "tags": ["team", *odd]}])
    stack.ok("apply", "--yes")
    conn = stack.target.connection()
    server = stack.servers()["odd"]
    conn.compute.set_server_metadata(server.id, **{"key with space": "theirs"})

    stack.write([{"name": "odd", "networks": "none", "tags": ["team"], "metadata": {"a b": "1"}}])
    stack.ok("apply", "--yes")
    tags = set(stack.servers()["odd"].tags)
    assert "team" in tags and not tags & set(odd)
    stack.write([{"name": "odd", "networks": "none", "tags": ["team"]}])
    stack.ok("apply", "--yes")
    metadata = stack.servers()["odd"].metadata
    assert "a b" not in metadata and metadata["key with space"] == "theirs"
    assert stack.ok("plan", "--detailed-exitcode").exit_code == 0
