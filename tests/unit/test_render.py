"""Golden tests of the text, JSON and Markdown views of one plan (UPDATE_GOLDEN=1 rewrites)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from declstack.model import (
    Action,
    Catalog,
    DesiredServer,
    Lifecycle,
    NamedResource,
    ObservedServer,
    Plan,
    Spec,
)
from declstack.planner import plan
from declstack.render import (
    FORMAT_VERSION,
    plan_to_dict,
    render_json,
    render_markdown,
    render_text,
)
from declstack.resolve import resolve
from tests.unit.builders import desired
from tests.unit.builders import server as managed_server

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).parent / "golden"
SECRET = "#!/bin/sh\necho password=hunter2"

CATALOG = Catalog(
    images=(
        NamedResource("img-cirros", "cirros", "active"),
        NamedResource("img-ubuntu", "ubuntu-22.04", "active"),
    ),
    flavors=(NamedResource("1", "m1.tiny"), NamedResource("2", "m1.small")),
    networks=(NamedResource("net-priv", "private"),),
    keypairs=(NamedResource("ops", "ops"),),
    security_groups=(NamedResource("sg-web", "web"),),
)


def server(built_from: DesiredServer, id: str, **fields: Any) -> ObservedServer:
    return managed_server(
        built_from,
        id=id,
        description=None,
        image_id="img-cirros",
        addresses=(("private", "10.0.0.5"),),
        **fields,
    )


def every_action_plan() -> Plan:
    """Create (with a secret user_data), update, both replacement orders, delete, wait,
    no-op, and diagnostics."""
    spec = Spec(
        "demo",
        (
            desired(
                "web-1",
                user_data=SECRET,
                networks=("private",),
                security_groups=("web",),
                key_name="ops",
                description="front | end",
            ),
            desired("web-2", metadata={"role": "api", "env": "prod"}, tags=("green",)),
            desired("web-3", image="ubuntu-22.04", flavor="m1.tiny"),
            desired("web-4"),
            desired("web-5", image="ubuntu-22.04", lifecycle=Lifecycle(prevent_destroy=True)),
            desired("web-6", image="cirros2"),
            desired(
                "web-7",
                image="ubuntu-22.04",
                lifecycle=Lifecycle(create_before_destroy=True),
            ),
            desired("web-8"),
        ),
    )
    observed = [
        server(desired("web-2", metadata={"role": "web", "old": "x"}), "id-web-2"),
        server(desired("web-3"), "id-web-3"),
        server(desired("web-4"), "id-web-4"),
        server(desired("web-4"), "id-web-4-dup", created="2030-01-01T00:00:00Z"),
        server(desired("web-5"), "id-web-5"),
        server(desired("old-1"), "id-old-1"),
        server(desired("web-7"), "id-web-7"),
        server(desired("web-8"), "id-web-8", status="BUILD", task_state="spawning"),
    ]
    return resolve(plan(spec, observed, [("id-foreign", "web-1")]), CATALOG)


def no_change_plan() -> Plan:
    return plan(Spec("demo", (desired("web-1"),)), [server(desired("web-1"), "id-web-1")])


VIEWS = {
    "all_actions.txt": lambda: render_text(every_action_plan()),
    "all_actions_noop.txt": lambda: render_text(every_action_plan(), show_noop=True),
    "all_actions.json": lambda: render_json(every_action_plan()),
    "all_actions.md": lambda: render_markdown(every_action_plan()),
    "no_changes.txt": lambda: render_text(no_change_plan()),
    "no_changes.json": lambda: render_json(no_change_plan()),
    "no_changes.md": lambda: render_markdown(no_change_plan()),
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_golden(name: str) -> None:
    got = VIEWS[name]()
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(got)
        # Comparing with what was just written could never fail: say so instead of passing.
        pytest.skip(f"rewrote {path}; review the diff and rerun without UPDATE_GOLDEN")
    assert got == path.read_text(), f"{name} differs; rerun with UPDATE_GOLDEN=1 if intended"


def test_user_data_text_is_never_rendered() -> None:
    p = every_action_plan()
    for output in (render_text(p, show_noop=True), render_json(p), render_markdown(p)):
        assert "hunter2" not in output
    digest = "sha256:b6ee6d415522f6f72f286edadb451325207e5bef49d4187a56d33068c2fa3974"
    assert digest in render_text(p)
    web1 = next(c for c in plan_to_dict(p)["changes"] if c["address"] == "server.web-1")
    assert web1["after"]["user_data"] == digest


def test_every_action_and_both_severities_are_in_the_fixture() -> None:
    p = every_action_plan()
    assert {c.action for c in p.changes} == set(Action)
    assert {d.severity for d in p.diagnostics} == {"error", "warning"}


def test_json_shape_and_summary() -> None:
    data = json.loads(render_json(every_action_plan()))
    assert data["format_version"] == FORMAT_VERSION == "2.2"
    assert data["summary"] == {
        "add": 2,
        "change": 1,
        "replace": 2,
        "destroy": 2,
        "wait": 1,
        "no_op": 2,
    }
    for change in data["changes"]:
        assert {"address", "kind", "name", "action", "reason", "replaced_by"} <= set(change)
        assert change["address"] == f"{change['kind']}.{change['name']}"
    web2 = next(c for c in data["changes"] if c["address"] == "server.web-2")
    assert web2["before"]["metadata"] == {"role": "web", "old": "x"}
    assert web2["before"]["tags"] == ["blue"]
    assert all(
        not key.startswith("declstack:")
        for c in data["changes"]
        if c["before"]
        for key in c["before"]["metadata"]
    )


@pytest.mark.parametrize(
    ("make", "golden"),
    [(every_action_plan, "all_actions.json"), (no_change_plan, "no_changes.json")],
)
def test_plan_to_dict_is_the_golden_json(make: Callable[[], Plan], golden: str) -> None:
    """plan_to_dict (what --output json documents) is pinned by the golden file, not by
    render_json, which is built from it and so could never disagree."""
    expected = json.loads((GOLDEN / golden).read_text())
    assert plan_to_dict(make()) == expected


def test_color_only_when_asked() -> None:
    p = every_action_plan()
    assert "\x1b[" not in render_text(p)
    colored = render_text(p, color=True)
    assert "\x1b[32m  + server.web-1" in colored
    assert "\x1b[31m  - server.old-1" in colored
    assert "\x1b[35m+/- server.web-7" in colored


def test_no_changes_sentence() -> None:
    assert render_text(no_change_plan()).strip() == 'No changes. The stack "demo" matches the spec.'


def test_no_changes_with_an_error_does_not_claim_the_stack_matches() -> None:
    blocked = desired("web-1", image="ubuntu-22.04", lifecycle=Lifecycle(prevent_destroy=True))
    p = plan(Spec("demo", (blocked,)), [server(desired("web-1"), "id-web-1")])
    text = render_text(p)
    assert "matches the spec" not in text
    assert text.endswith("No changes planned, but there are errors to fix.\n")
    assert "x server.web-1: prevent_destroy is set; refusing to replace it" in text
    assert "**No changes planned, but there are errors to fix.**" in render_markdown(p)


def test_text_shows_servers_being_built_even_without_show_noop() -> None:
    building = desired("web-1")
    settled = desired("web-2")
    the_plan = plan(
        Spec(stack="demo", servers=(building, settled)),
        [server(building, "id-1", status="BUILD"), server(settled, "id-2")],
    )
    text = render_text(the_plan)
    assert "web-1 (id id-1): being built (BUILD)" in text
    assert "web-2" not in text
    assert "matches the spec" not in text
    assert text.endswith(
        'No changes to make, but 1 server(s) of stack "demo" are still being built; '
        "apply would wait for them.\n"
    )
