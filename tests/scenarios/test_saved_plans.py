"""Saved plans (`plan --out FILE`, `apply FILE`, `show FILE`) and the JSON result of
apply and destroy, end to end on both clouds.

A saved plan is applied only while it still holds: the scenarios change the cloud
(through openstacksdk, behind declstack's back) or the spec between plan and apply,
and check that apply refuses and that nothing changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import Result

from declstack.cli import app
from tests.scenarios.conftest import Stack, assert_exited

USER_DATA = "#!/bin/sh\necho saved-plan-user-data-text\n"


def saved(stack: Stack, *args: str) -> Path:
    """`plan SPEC --out FILE` (exit 0 or 2 with --detailed-exitcode), and FILE."""
    file = stack.path.parent / "saved.plan.json"
    stack.ok("plan", "--out", str(file), *args)
    assert file.exists()
    return file


def with_file(stack: Stack, command: str, file: Path, *args: str) -> Result:
    """A command given a plan file (no spec path, no --cloud unless in `args`)."""
    return stack.runner.invoke(app, [command, str(file), *args], env=stack.target.env())


def names(stack: Stack) -> list[str]:
    return sorted(stack.servers())


def web(stack: Stack, count: int = 2, **fields: Any) -> dict[str, Any]:
    """A count group with names of this stack's own (no stranger shares them)."""
    return {"name": f"{stack.name}-web", "count": count, "networks": "none", **fields}


def test_plan_out_then_apply_file_converges(stack: Stack) -> None:
    stack.write([web(stack, user_data=USER_DATA, metadata={"role": "web"})])
    file = saved(stack)
    assert "saved-plan-user-data-text" not in file.read_text()
    assert names(stack) == []  # plan changed nothing

    result = with_file(stack, "apply", file, "--yes")
    assert_exited(result, 0)
    assert "The saved plan" in result.stderr and "still holds" in result.stderr
    assert names(stack) == [f"{stack.name}-web-1", f"{stack.name}-web-2"]
    stack.ok("plan", "--detailed-exitcode")  # converged: no changes

    # A plan saved with no changes applies as a no-op.
    unchanged = saved(stack)
    assert_exited(with_file(stack, "apply", unchanged, "--yes"), 0)


def test_a_plan_is_refused_after_one_of_its_servers_was_deleted(stack: Stack) -> None:
    stack.write([web(stack, metadata={"role": "web"})])
    stack.ok("apply", "--yes")
    stack.write([web(stack, metadata={"role": "api"})])  # an update of both servers
    file = saved(stack)
    conn = stack.target.connection()
    victim = stack.servers()[f"{stack.name}-web-1"]
    conn.compute.delete_server(victim.id)
    conn.compute.wait_for_delete(victim, wait=120)

    result = with_file(stack, "apply", file, "--yes")
    assert_exited(result, 1)
    assert "the spec or the cloud changed since the plan was made" in result.stderr
    assert f"server.{stack.name}-web-1: planned update of {victim.id}; now create" in (
        result.stderr
    )
    assert "nothing was changed" in result.stderr
    # Nothing changed: web-1 was not built again and web-2 was not updated.
    servers = stack.servers()
    assert sorted(servers) == [f"{stack.name}-web-2"]
    assert servers[f"{stack.name}-web-2"].metadata["role"] == "web"


def test_a_plan_is_refused_when_a_server_it_would_create_now_exists(stack: Stack) -> None:
    stack.write([web(stack, count=1)])
    file = saved(stack)
    stack.ok("apply", "--yes")  # another run got there first
    (server,) = stack.servers().values()

    result = with_file(stack, "apply", file, "--yes")
    assert_exited(result, 1)
    assert f"server.{stack.name}-web-1: planned create; now no-op of {server.id}" in (result.stderr)
    assert [s.id for s in stack.servers().values()] == [server.id]


def test_a_plan_is_refused_when_a_stranger_takes_a_name_it_would_create(stack: Stack) -> None:
    stack.write([web(stack, count=1)])
    file = saved(stack)
    target = stack.target
    conn = target.connection()
    stranger = conn.compute.create_server(
        name=f"{stack.name}-web-1",
        image_id=conn.image.find_image(target.image).id,
        flavor_id=conn.compute.find_flavor(target.flavor).id,
        networks="none",
    )
    try:
        result = with_file(stack, "apply", file, "--yes")
        assert_exited(result, 1)
        assert f"new warning: server.{stack.name}-web-1: a server named" in result.stderr
        assert names(stack) == []
    finally:
        conn.compute.delete_server(stranger.id)
        conn.compute.wait_for_delete(stranger, wait=120)


def test_a_plan_is_refused_when_the_spec_was_edited(stack: Stack) -> None:
    stack.write([web(stack, count=1)])
    file = saved(stack)
    stack.write([web(stack, count=3)])
    result = with_file(stack, "apply", file, "--yes")
    assert_exited(result, 1)
    assert f"the spec {stack.path} changed since the plan was made" in result.stderr
    assert names(stack) == []


def test_a_plan_is_refused_on_another_cloud(stack: Stack) -> None:
    stack.write([web(stack, count=1)])
    file = saved(stack)
    result = with_file(stack, "apply", file, "--yes", "--cloud", "other")
    assert_exited(result, 1)
    assert f"was planned for cloud '{stack.target.cloud}', not 'other'" in result.stderr
    assert names(stack) == []
    # The plan's own cloud, named or not, is accepted.
    assert_exited(with_file(stack, "apply", file, "--yes", "--cloud", stack.target.cloud), 0)


def test_an_edited_or_truncated_plan_file_is_refused(stack: Stack) -> None:
    stack.write([web(stack, count=1)])
    file = saved(stack)
    text = file.read_text()
    file.write_text(text.replace('"action": "create"', '"action": "delete"', 1))
    edited = with_file(stack, "apply", file, "--yes")
    assert_exited(edited, 1)
    assert "the plan file was edited or damaged" in edited.stderr

    file.write_text(text[: len(text) // 2])
    truncated = with_file(stack, "apply", file, "--yes")
    assert_exited(truncated, 1)
    assert "the plan file is not complete JSON" in truncated.stderr
    assert names(stack) == []


def test_show_renders_a_saved_plan_in_three_formats_without_a_cloud(stack: Stack) -> None:
    stack.write([web(stack, count=1, user_data=USER_DATA)])
    file = saved(stack)
    no_cloud = {"OS_CLIENT_CONFIG_FILE": str(stack.path.parent / "absent.yaml"), "OS_CLOUD": ""}

    def show(*args: str) -> str:
        result = stack.runner.invoke(app, ["show", str(file), *args], env=no_cloud)
        assert_exited(result, 0)
        return result.stdout

    text = show()
    assert text.startswith(f"Saved plan of stack '{stack.name}' for cloud '{stack.target.cloud}'")
    assert f"  + server.{stack.name}-web-1: not in the cloud" in text
    assert "Plan: 1 to add, 0 to change, 0 to replace, 0 to destroy." in text

    plan = json.loads(show("--output", "json"))
    assert plan["format_version"] == "2.2" and plan["stack"] == stack.name
    assert [(c["action"], c["address"]) for c in plan["changes"]] == [
        ("create", f"server.{stack.name}-web-1")
    ]
    markdown = show("--output", "markdown")
    assert markdown.startswith(f"### declstack plan for stack `{stack.name}`")
    assert f"| create | `server.{stack.name}-web-1` |" in markdown
    for output in (text, json.dumps(plan), markdown):
        assert "saved-plan-user-data-text" not in output


def test_apply_and_destroy_write_one_json_result_on_stdout(stack: Stack) -> None:
    stack.write([web(stack, networks=[stack.target.network])])
    applied = stack.ok("apply", "--yes", "--output", "json")
    result = json.loads(applied.stdout)  # the whole of stdout is one document
    assert "Apply complete: 2 succeeded, 0 failed." in applied.stderr  # progress: stderr
    assert result["command"] == "apply" and result["outcome"] == "ok"
    assert result["stack"] == stack.name
    servers = stack.servers()
    assert sorted((c["address"], c["action"], c["outcome"]) for c in result["changes"]) == [
        (f"server.{stack.name}-web-1", "create", "ok"),
        (f"server.{stack.name}-web-2", "create", "ok"),
    ]
    for change in result["changes"]:
        server = servers[change["name"]]
        assert change["resource_id"] == server.id
        ips = [e["addr"] for entries in server.addresses.values() for e in entries]
        assert [a["ip"] for a in change["addresses"]] == ips
        assert change["addresses"][0]["network"] == stack.target.network
        assert change["seconds"] > 0
    assert result["totals"]["changes"] == 2 and result["totals"]["ok"] == 2
    assert result["totals"]["failed"] == 0 and result["totals"]["seconds"] > 0

    again = json.loads(stack.ok("apply", "--yes", "--output", "json").stdout)
    assert again["outcome"] == "no-changes" and again["changes"] == []

    destroyed = stack.ok("destroy", "--yes", "--output", "json")
    result = json.loads(destroyed.stdout)
    assert "Destroy complete: 2 succeeded, 0 failed." in destroyed.stderr
    assert result["command"] == "destroy" and result["outcome"] == "ok"
    assert sorted((c["action"], c["resource_id"]) for c in result["changes"]) == sorted(
        ("delete", s.id) for s in servers.values()
    )
    assert names(stack) == []


def test_a_refused_apply_still_writes_its_json_result(stack: Stack) -> None:
    stack.write([web(stack, count=1)])
    file = saved(stack)
    stack.write([web(stack, count=2)])
    refused = with_file(stack, "apply", file, "--yes", "--output", "json")
    assert_exited(refused, 1)
    result = json.loads(refused.stdout)
    assert result["outcome"] == "error" and result["changes"] == []
    assert "changed since the plan was made" in result["error"]["message"]
    assert result["error"]["hint"].startswith("review a new plan")


def test_secret_values_stay_out_of_the_plan_file_and_the_json_result(stack: Stack) -> None:
    """A name read from an allowed secret-looking variable: masked in the saved plan (and
    still checked, by hash) and in apply's JSON result."""
    secret = "tokenvalue42"
    stack.write([{"name": f"{stack.name}-${{DS_TOKEN}}", "networks": "none"}])
    env = {**stack.target.env(), "DS_TOKEN": secret}
    file = stack.path.parent / "secret.plan.json"

    def run(*args: str) -> Result:
        return stack.runner.invoke(app, list(args), env=env)

    where = (str(stack.path), "--cloud", stack.target.cloud, "--allow-env", "DS_TOKEN")
    planned = run("plan", *where, "--out", str(file))
    assert_exited(planned, 0)
    assert secret not in file.read_text()
    assert "(sensitive)" in file.read_text()

    other = stack.runner.invoke(
        app, ["apply", str(file), "--yes"], env={**env, "DS_TOKEN": "anothervalue7"}
    )
    assert_exited(other, 1)
    assert "differ from those the plan was made with" in other.stderr
    assert names(stack) == []

    applied = run("apply", str(file), "--yes", "--output", "json")
    assert_exited(applied, 0)
    assert secret not in applied.stdout + applied.stderr
    (change,) = json.loads(applied.stdout)["changes"]
    assert change["address"] == f"server.{stack.name}-(sensitive)"
    assert names(stack) == [f"{stack.name}-{secret}"]

    destroyed = run("destroy", *where, "--yes", "--output", "json")
    assert_exited(destroyed, 0)
    assert secret not in destroyed.stdout
    stack.write([])  # the fixture's own destroy reads the spec without --allow-env
