"""Guards for CI, end to end on both clouds: prevent_destroy recorded on the server,
--max-deletions and the spec's max_deletions, --target."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.scenarios.conftest import Stack

MARKER = "declstack:prevent-destroy"
PROTECTED = {"prevent_destroy": True}


@pytest.fixture(autouse=True)
def unprotected_on_teardown(stack: Stack) -> Iterator[None]:
    """Take the marker off every server the test left, so the stack fixture's destroy
    can clean up even after a failure (its spec no longer protects them, the marker
    still would)."""
    yield
    conn = stack.target.connection()
    for server in stack.live():
        if MARKER in (server.metadata or {}):
            conn.compute.delete_server_metadata(server, keys=[MARKER])


def set_top_level(stack: Stack, **keys: Any) -> None:
    doc = yaml.safe_load(stack.path.read_text())
    doc.update(keys)
    stack.path.write_text(yaml.safe_dump(doc, sort_keys=False))


def ids(stack: Stack) -> dict[str, str]:
    return {name: server.id for name, server in stack.servers().items()}


def metadata(stack: Stack) -> dict[str, dict[str, str]]:
    return {name: dict(server.metadata) for name, server in stack.servers().items()}


def test_prevent_destroy_holds_when_count_shrinks_and_the_entry_goes(stack: Stack) -> None:
    stack.write([{"name": "web", "count": 2, "lifecycle": PROTECTED}])
    stack.ok("apply", "--yes")
    built = ids(stack)
    assert sorted(built) == ["web-1", "web-2"]
    assert {name: meta.get(MARKER) for name, meta in metadata(stack).items()} == {
        "web-1": "true",
        "web-2": "true",
    }, "the flag is recorded on each server by the create request"

    # count lowered under the flag: refused, nothing changed.
    stack.write([{"name": "web", "count": 1, "lifecycle": PROTECTED}])
    refused = stack.ok("apply", "--yes", code=1)
    assert "server.web-2: prevent_destroy is recorded on the server; refusing to delete it" in (
        refused.stdout
    )
    assert "the plan has errors; nothing was changed" in refused.stderr
    assert ids(stack) == built

    # The entry removed together with its flag: the marker on the servers still says no.
    stack.write([])
    gone = stack.ok("plan", "--output", "json", code=1)
    refusals = {d["address"] for d in json.loads(gone.stdout)["diagnostics"]}
    assert refusals == {"server.web-1", "server.web-2"}
    stack.ok("apply", "--yes", code=1)
    stack.ok("destroy", "--yes", code=1)
    assert ids(stack) == built

    # Dropping the flag alone is an update in place that takes the marker off ...
    stack.write([{"name": "web", "count": 2}])
    dropped = stack.ok("apply", "--yes")
    assert "server.web-1 has been updated in place" in dropped.stdout
    assert ids(stack) == built, "no replacement"
    assert all(MARKER not in meta for meta in metadata(stack).values())

    # ... after which a lower count deletes.
    stack.write([{"name": "web", "count": 1}])
    lowered = stack.ok("apply", "--yes")
    assert "server.web-2 has been destroyed" in lowered.stdout
    assert ids(stack) == {"web-1": built["web-1"]}


def test_setting_the_flag_later_records_it_in_place(stack: Stack) -> None:
    stack.write([{"name": "db"}])
    stack.ok("apply", "--yes")
    before = ids(stack)
    stack.write([{"name": "db", "lifecycle": PROTECTED}])
    plan = json.loads(stack.ok("plan", "--output", "json", "--detailed-exitcode", code=2).stdout)
    (change,) = plan["changes"]
    assert change["action"] == "update" and change["patch"]["set_metadata"] == {MARKER: "true"}
    stack.ok("apply", "--yes")
    assert ids(stack) == before
    assert metadata(stack)["db"][MARKER] == "true"


def test_max_deletions_refuses_a_plan_deleting_more(stack: Stack) -> None:
    stack.write([{"name": "web", "count": 3}])
    stack.ok("apply", "--yes")
    built = ids(stack)

    stack.write([{"name": "web", "count": 1}])
    refused = stack.ok("apply", "--yes", "--max-deletions", "1", code=1)
    assert (
        "this plan deletes or replaces 2 servers (web-2, web-3), more than the limit of 1 "
        "(--max-deletions)" in refused.stdout
    )
    assert ids(stack) == built

    set_top_level(stack, max_deletions=1)
    by_spec = stack.ok("apply", "--yes", code=1)
    assert "more than the limit of 1 (max_deletions in the spec)" in by_spec.stdout
    assert ids(stack) == built

    # The flag overrides the spec's key for one run; destroy (the fixture's cleanup)
    # ignores the key.
    allowed = stack.ok("apply", "--yes", "--max-deletions", "2")
    assert "server.web-3 has been destroyed" in allowed.stdout
    assert sorted(ids(stack)) == ["web-1"]


def test_a_target_applies_only_it_and_an_unknown_one_changes_nothing(stack: Stack) -> None:
    stack.write([{"name": "web", "count": 2}, {"name": "db"}])

    unknown = stack.ok("apply", "--yes", "--target", "web-2", "--target", "web-9", code=1)
    assert '--target "web-9" matches nothing in the spec or among the resources of stack' in (
        unknown.stdout
    )
    assert "nothing was changed" in unknown.stderr
    assert stack.servers() == {}

    only = stack.ok("apply", "--yes", "--target", "web-2")
    assert "server.web-2 has been created" in only.stdout
    assert "2 change(s) outside --target left out." in only.stdout
    assert sorted(stack.servers()) == ["web-2"]

    rest = json.loads(stack.ok("plan", "--output", "json", "--detailed-exitcode", code=2).stdout)
    pending = {c["address"]: c["action"] for c in rest["changes"] if c["action"] != "no-op"}
    assert pending == {"server.web-1": "create", "server.db": "create"}

    pattern = stack.ok("plan", "--target", "web-*", "--detailed-exitcode", code=2)
    assert "+ server.web-1" in pattern.stdout and "server.db" not in pattern.stdout
