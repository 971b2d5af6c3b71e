"""Server groups (issue 10 item 2): `placement:` on the local cloud and the real services.

Three anti-affinity replicas land on three hosts (read from the admin view, as only
an admin sees `OS-EXT-SRV-ATTR:host`) and a fourth on a three-host cloud fails with
Nova's fault, built once; a policy change replaces the group and its servers with
that reason; destroy removes the stack's groups and no other; an unknown policy is
refused at its place in the file before anything changes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.scenarios.conftest import Stack, assert_exited

ANTI = {"policy": "anti-affinity"}


def hosts(stack: Stack) -> dict[str, str | None]:
    """Server name -> the compute host it runs on, as the admin sees it."""
    admin = stack.target.connection(admin=True)
    return {
        name: admin.compute.get_server(server.id).compute_host
        for name, server in stack.servers().items()
    }


def owned_groups(stack: Stack) -> list[Any]:
    """The server groups named with this stack's marker, as the tenant lists them."""
    prefix = f"declstack:stack={stack.name}:entry="
    return [
        g for g in stack.target.connection().compute.server_groups() if g.name.startswith(prefix)
    ]


def test_three_anti_affinity_replicas_land_on_three_hosts_and_a_fourth_fails(
    stack: Stack,
) -> None:
    stack.write([{"name": "web", "count": 3, "placement": ANTI}])
    applied = stack.ok("apply", "--yes")
    assert "server_group.web has been created" in applied.stdout
    placed = hosts(stack)
    assert sorted(placed) == ["web-1", "web-2", "web-3"]
    assert None not in placed.values() and len(set(placed.values())) == 3, placed
    (group,) = owned_groups(stack)
    assert (group.name, group.policy) == (
        f"declstack:stack={stack.name}:entry=web",
        "anti-affinity",
    )
    assert sorted(group.member_ids) == sorted(s.id for s in stack.servers().values())

    stack.write([{"name": "web", "count": 4, "placement": ANTI}])
    result = stack.run("apply", "--yes")
    assert_exited(result, 1)
    output = result.stdout + result.stderr
    assert "server.web-4 went to ERROR: No valid host was found" in output, output
    assert 'placement policy "anti-affinity"' in output and "not built again" in output
    assert "building it again" not in output
    servers = stack.servers()
    assert servers["web-4"].status == "ERROR"
    assert {name: host for name, host in hosts(stack).items() if name != "web-4"} == placed


def test_a_policy_change_replaces_the_group_and_its_servers_with_that_reason(
    stack: Stack,
) -> None:
    stack.write([{"name": "web", "count": 2, "placement": ANTI}])
    stack.ok("apply", "--yes")
    (old_group,) = owned_groups(stack)
    old_ids = {s.id for s in stack.servers().values()}

    stack.write([{"name": "web", "count": 2, "placement": {"policy": "affinity"}}])
    planned = stack.ok("plan", "--detailed-exitcode", code=2)
    assert f"+/- server_group.web (id {old_group.id}): policy changed from " in planned.stdout
    assert "Nova cannot change a group's policy" in planned.stdout
    assert "-/+ server.web-1" in planned.stdout
    assert 'placement changed (spec now "affinity")' in planned.stdout
    data = json.loads(stack.ok("plan", "--output", "json").stdout)
    actions = {c["address"]: (c["action"], c["replaced_by"]) for c in data["changes"]}
    assert actions == {
        "server_group.web": ("create-then-delete", ["placement"]),
        "server.web-1": ("delete-then-create", ["placement"]),
        "server.web-2": ("delete-then-create", ["placement"]),
    }

    applied = stack.ok("apply", "--yes")
    assert 'server_group.web has been replaced (policy "anti-affinity" -> "affinity")' in (
        applied.stdout
    )
    (new_group,) = owned_groups(stack)
    servers = stack.servers()
    assert new_group.id != old_group.id and new_group.policy == "affinity"
    assert sorted(new_group.member_ids) == sorted(s.id for s in servers.values())
    assert not old_ids & {s.id for s in servers.values()}
    assert len(set(hosts(stack).values())) == 1  # affinity: one host for both
    assert "No changes" in stack.ok("plan", "--detailed-exitcode").stdout


def test_destroy_removes_every_owned_group_and_no_other(stack: Stack) -> None:
    conn = stack.target.connection()
    strangers = [
        conn.compute.create_server_group(name=name, policy="affinity")
        for name in (
            f"web-{stack.name}",
            f"declstack:stack={stack.name}-other:entry=web",  # a stack named like ours
        )
    ]
    try:
        stack.write(
            [
                {"name": "web", "count": 2, "placement": ANTI},
                {"name": "db", "placement": {"policy": "soft-affinity"}},
            ]
        )
        stack.ok("apply", "--yes")
        assert sorted(g.policy for g in owned_groups(stack)) == ["anti-affinity", "soft-affinity"]

        destroyed = stack.ok("destroy", "--yes")
        assert "server_group.web has been destroyed" in destroyed.stdout
        assert "server_group.db has been destroyed" in destroyed.stdout
        assert owned_groups(stack) == [] and stack.servers() == {}
        left = {g.id for g in conn.compute.server_groups()}
        assert {g.id for g in strangers} <= left
    finally:
        for group in strangers:
            conn.compute.delete_server_group(group.id, ignore_missing=True)


def test_an_unknown_policy_is_refused_before_anything_changes(stack: Stack) -> None:
    stack.write([{"name": "web", "count": 2, "placement": {"policy": "anti-afinity"}}])
    result = stack.run("apply", "--yes")
    assert_exited(result, 1)
    output = result.stdout + result.stderr
    where = re.escape(str(stack.path))
    assert re.search(rf"{where}:\d+:\d+: servers\[0\]\.placement\.policy: must be", output)
    assert "did you mean 'anti-affinity'?" in output and "Traceback" not in output
    assert stack.servers() == {} and owned_groups(stack) == []

    # Nova's default quota: 10 servers per group (the local cloud's and realstack's).
    stack.write([{"name": "web", "count": 11, "placement": ANTI}])
    result = stack.run("apply", "--yes")
    assert_exited(result, 1)
    assert 'entry "web" puts 11 servers into its server group' in result.stdout + result.stderr
    assert stack.servers() == {} and owned_groups(stack) == []
    stack.write([])  # a spec the fixture's destroy can read
