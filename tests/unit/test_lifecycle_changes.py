"""Change in place on request: resize, rebuild, ignore_changes and state (issue 10 item 3).

Spec validation, the planner's decisions, resolve, the views, and apply on the strict
fake cloud (which refuses what Nova refuses: a resize to the flavor a server has, an
action on a server that is busy).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from declstack import ownership
from declstack.cloud import CloudError, OpenStackCloud
from declstack.engine import make_plan
from declstack.model import (
    Action,
    Catalog,
    Change,
    DesiredServer,
    Lifecycle,
    NamedResource,
    ObservedServer,
    Plan,
    Spec,
)
from declstack.planner import plan
from declstack.reconciler import ApplyReport, Event, Reconciler, Settings
from declstack.render import plan_to_dict, render_text
from declstack.resolve import resolve
from declstack.spec import SPEC_VERSION, SpecError, parse_spec, spec_schema
from declstack.waiting import Clock
from tests.fakes import FakeCloud
from tests.unit.builders import desired
from tests.unit.builders import server as built

pytestmark = pytest.mark.unit

CATALOG = Catalog(
    images=(
        NamedResource("img-1", "cirros", "active"),
        NamedResource("img-2", "debian-12", "active"),
        NamedResource("img-3", "uploading", "queued"),
    ),
    flavors=(NamedResource("1", "m1.tiny"), NamedResource("2", "m1.small")),
    networks=(NamedResource("net-1", "private"),),
)
RESIZE = Lifecycle(flavor_change="resize")
REBUILD = Lifecycle(image_change="rebuild")


def ignoring(*names: str, **fields: Any) -> Lifecycle:
    return Lifecycle(ignore_changes=names, **fields)


# --- the spec ----------------------------------------------------------------------


def parse(text: str, tmp_path: Path) -> Spec:
    return parse_spec(text, "spec.yaml", environ={}, base_dir=tmp_path)


def problems(text: str, tmp_path: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse(text, tmp_path)
    return [str(p) for p in caught.value.problems]


HEADER = f"version: {SPEC_VERSION}\nstack: demo\ndefaults: {{image: cirros, flavor: m1.tiny}}\n"


def test_lifecycle_and_state_are_read_and_merged_over_defaults(tmp_path: Path) -> None:
    spec = parse(
        f"version: {SPEC_VERSION}\nstack: demo\n"
        "defaults:\n  image: cirros\n  flavor: m1.tiny\n"
        "  lifecycle: {flavor_change: resize, ignore_changes: [tags]}\n"
        "servers:\n"
        "  - {name: web, count: 2, state: shutoff, lifecycle: {image_change: rebuild}}\n"
        "  - name: db\n",
        tmp_path,
    )
    web1, web2, db = spec.servers
    assert web1.state == web2.state == "shutoff" and db.state == "active"
    assert web1.lifecycle == Lifecycle(
        flavor_change="resize", image_change="rebuild", ignore_changes=("tags",)
    )
    assert db.lifecycle == Lifecycle(flavor_change="resize", ignore_changes=("tags",))


def test_a_spec_without_them_keeps_replace_and_active(tmp_path: Path) -> None:
    (web,) = parse(HEADER + "servers:\n  - name: web\n", tmp_path).servers
    assert web.state == "active"
    assert web.lifecycle == Lifecycle(flavor_change="replace", image_change="replace")


@pytest.mark.parametrize(
    ("servers", "expected"),
    [
        (
            "  - {name: web, lifecycle: {ignore_changes: [imag]}}\n",
            "spec.yaml:5:46: servers[0].lifecycle.ignore_changes[0]: not an attribute "
            "declstack compares; ignore_changes takes image, flavor, key_name, networks, "
            "security_groups, user_data, availability_zone, config_drive, boot_volume, "
            'metadata, tags, description or state; got the string "imag" (did you mean '
            "'image'?)",
        ),
        (
            "  - {name: web, lifecycle: {ignore_changes: [image, image]}}\n",
            'spec.yaml:5:53: servers[0].lifecycle.ignore_changes[1]: "image" is listed twice '
            "(first at spec.yaml:5:46)",
        ),
        (
            "  - {name: web, lifecycle: {flavor_change: resize, ignore_changes: [flavor]}}\n",
            "spec.yaml:5:44: servers[0].lifecycle.flavor_change: flavor_change: resize never "
            "happens while ignore_changes lists 'flavor' (a change of flavor is then only "
            "reported); drop one of the two",
        ),
        (
            "  - {name: web, lifecycle: {image_change: rebuild, ignore_changes: [image]}}\n",
            "spec.yaml:5:43: servers[0].lifecycle.image_change: image_change: rebuild never "
            "happens while ignore_changes lists 'image' (a change of image is then only "
            "reported); drop one of the two",
        ),
        (
            "  - {name: web, lifecycle: {flavor_change: resise}}\n",
            'spec.yaml:5:44: servers[0].lifecycle.flavor_change: must be "replace" (the '
            'default: a new server) or "resize" (Nova\'s resize of the same server); got the '
            "string \"resise\" (did you mean 'resize'?)",
        ),
        (
            "  - {name: web, lifecycle: {image_change: resize}}\n",
            'spec.yaml:5:43: servers[0].lifecycle.image_change: must be "replace" (the default: '
            'a new server) or "rebuild" (Nova\'s rebuild of the same server); got the string '
            '"resize"',
        ),
        (
            "  - {name: web, state: stopped}\n",
            'spec.yaml:5:24: servers[0].state: must be "active" (running) or "shutoff" '
            '(stopped); got the string "stopped"',
        ),
    ],
    ids=["unknown", "twice", "resize-ignored", "rebuild-ignored", "typo", "wrong", "state"],
)
def test_bad_lifecycle_and_state_are_spec_errors_at_their_place(
    servers: str, expected: str, tmp_path: Path
) -> None:
    assert problems(HEADER + "servers:\n" + servers, tmp_path) == [expected]


def test_the_schema_lists_exactly_the_attributes_the_planner_compares() -> None:
    lifecycle = spec_schema()["$defs"]["lifecycle"]["properties"]
    assert tuple(lifecycle["ignore_changes"]["items"]["enum"]) == (ownership.IGNORABLE_ATTRIBUTES)
    message = lifecycle["ignore_changes"]["items"]["x-hint"]
    assert all(name in message for name in ownership.IGNORABLE_ATTRIBUTES)


# --- the planner -------------------------------------------------------------------


def planned(spec_server: DesiredServer, observed: ObservedServer) -> Change:
    (change,) = plan(Spec("demo", (spec_server,)), [observed]).changes
    return change


def recorded(change: Change, name: str) -> str | None:
    """The hash of `name` in the fingerprint the change writes (None: not rewritten)."""
    assert change.patch is not None
    text = change.patch.set_metadata.get(ownership.FINGERPRINT_KEY)
    parsed = ownership.parse_fingerprint(text)
    return None if parsed is None else parsed.get(name)


def hashes(server: DesiredServer) -> dict[str, str]:
    parsed = ownership.parse_fingerprint(ownership.fingerprint(server))
    assert parsed is not None
    return parsed


def test_a_flavor_change_with_resize_is_an_update_that_keeps_the_server() -> None:
    old = desired()
    change = planned(desired(flavor="m1.large", lifecycle=RESIZE), built(old, flavor_name="x"))
    assert change.action is Action.UPDATE and change.replaced_by == ()
    assert change.patch is not None and change.patch.resize_to == "m1.large"
    assert change.patch.rebuild_with is None and change.patch.power is None
    assert change.reason == (
        'flavor changed (spec now "m1.large", server has "x"): resize in place'
    )
    assert recorded(change, "flavor") == hashes(desired(flavor="m1.large"))["flavor"]


def test_an_image_change_with_rebuild_is_an_update_that_keeps_the_server() -> None:
    change = planned(desired(image="debian-12", lifecycle=REBUILD), built(desired()))
    assert change.action is Action.UPDATE
    assert change.patch is not None and change.patch.rebuild_with == "debian-12"
    assert change.reason.startswith('image changed (spec now "debian-12"): rebuild in place')
    assert recorded(change, "image") == hashes(desired(image="debian-12"))["image"]


def test_replace_stays_the_default_for_flavor_and_image() -> None:
    for changed in (desired(flavor="m1.large"), desired(image="debian-12")):
        change = planned(changed, built(desired()))
        assert change.action is Action.DELETE_THEN_CREATE, change


def test_another_create_time_change_still_replaces_and_only_it_forces() -> None:
    spec_server = desired(flavor="m1.large", key_name="ops", lifecycle=RESIZE)
    change = planned(spec_server, built(desired(), flavor_name="m1.small"))
    assert change.action is Action.DELETE_THEN_CREATE
    assert change.replaced_by == ("key_name",)
    assert 'flavor changed (spec now "m1.large"' in change.reason
    assert 'key_name changed (spec now "ops")' in change.reason


def test_resize_and_rebuild_together_are_one_update() -> None:
    both = Lifecycle(flavor_change="resize", image_change="rebuild")
    change = planned(
        desired(image="debian-12", flavor="m1.large", lifecycle=both), built(desired())
    )
    assert change.action is Action.UPDATE and change.patch is not None
    assert (change.patch.resize_to, change.patch.rebuild_with) == ("m1.large", "debian-12")
    assert ownership.parse_fingerprint(
        change.patch.set_metadata[ownership.FINGERPRINT_KEY]
    ) == hashes(desired(image="debian-12", flavor="m1.large"))


def test_ignored_image_change_is_reported_never_acted_on() -> None:
    change = planned(desired(image="debian-12", lifecycle=ignoring("image")), built(desired()))
    assert change.action is Action.NOOP
    assert change.ignored == ("image",)
    assert change.reason == (
        'up to date; ignored by lifecycle.ignore_changes: image changed (spec now "debian-12")'
    )


def test_an_in_place_change_next_to_an_ignored_one_records_only_its_own_attribute() -> None:
    """The fingerprint keeps the old image, so the ignored difference stays reported."""
    spec_server = desired(
        image="debian-12", flavor="m1.large", lifecycle=ignoring("image", flavor_change="resize")
    )
    change = planned(spec_server, built(desired()))
    assert change.action is Action.UPDATE and change.ignored == ("image",)
    assert recorded(change, "image") == hashes(desired())["image"]
    assert recorded(change, "flavor") == hashes(desired(flavor="m1.large"))["flavor"]
    assert change.reason.endswith(
        'ignored by lifecycle.ignore_changes: image changed (spec now "debian-12")'
    )
    # Once that is done, the next plan still reports the image and does nothing.
    assert change.patch is not None
    after = dataclasses.replace(
        built(desired()),
        metadata={**built(desired()).metadata, **change.patch.set_metadata},
        flavor_name="m1.large",
    )
    again = planned(spec_server, after)
    assert (again.action, again.ignored) == (Action.NOOP, ("image",))


def test_a_security_group_change_records_only_the_groups_when_an_image_is_ignored() -> None:
    spec_server = desired(image="debian-12", security_groups=("web",), lifecycle=ignoring("image"))
    change = planned(spec_server, built(desired(), security_groups=("default",)))
    assert change.action is Action.UPDATE
    assert recorded(change, "image") == hashes(desired())["image"]
    assert recorded(change, "security_groups") == hashes(spec_server)["security_groups"]


def test_a_replacement_builds_from_the_spec_even_for_ignored_attributes() -> None:
    spec_server = desired(image="debian-12", key_name="ops", lifecycle=ignoring("image"))
    change = planned(spec_server, built(desired()))
    assert change.action is Action.DELETE_THEN_CREATE and change.replaced_by == ("key_name",)
    assert 'image changed (spec now "debian-12") too (lifecycle.ignore_changes lists it' in (
        change.reason
    )


@pytest.mark.parametrize(
    ("ignored", "spec_server", "note"),
    [
        ("metadata", desired(metadata={"role": "api"}), 'metadata role: "web" -> "api"'),
        ("tags", desired(tags=("blue", "green")), "tag +green"),
        ("description", desired(description="new"), 'description: "old" -> "new"'),
        ("state", desired(state="shutoff"), "state: ACTIVE -> shutoff (stop)"),
        ("security_groups", desired(security_groups=("web",)), "security groups:"),
    ],
)
def test_each_ignorable_attribute_is_only_noted(
    ignored: str, spec_server: DesiredServer, note: str
) -> None:
    observed = built(desired(), description="old", security_groups=("default",))
    acting = planned(spec_server, observed)
    assert acting.action is Action.UPDATE, "without ignore_changes it is acted on"
    change = planned(dataclasses.replace(spec_server, lifecycle=ignoring(ignored)), observed)
    assert change.action is Action.NOOP
    assert change.ignored == (ignored,)
    assert note in change.reason and "ignored by lifecycle.ignore_changes" in change.reason


@pytest.mark.parametrize(
    ("state", "status", "power"),
    [
        ("active", "SHUTOFF", "start"),
        ("shutoff", "ACTIVE", "stop"),
        ("active", "ACTIVE", None),
        ("shutoff", "SHUTOFF", None),
    ],
)
def test_state_starts_or_stops_in_place(state: str, status: str, power: str | None) -> None:
    change = planned(desired(state=state), built(desired(), status=status))
    if power is None:
        assert (change.action, change.reason) == (Action.NOOP, "up to date")
        return
    assert change.action is Action.UPDATE and change.patch is not None
    assert change.patch.power == power
    assert change.reason == f"state: {status} -> {state} ({power})"
    assert ownership.FINGERPRINT_KEY not in change.patch.set_metadata


def test_a_stopped_server_with_a_changed_image_is_replaced_by_a_server_built_to_the_state() -> None:
    change = planned(
        desired(image="debian-12", state="shutoff"), built(desired(), status="SHUTOFF")
    )
    assert change.action is Action.DELETE_THEN_CREATE
    assert change.after is not None and change.after.state == "shutoff"


# --- resolve -----------------------------------------------------------------------


def resolved(spec_server: DesiredServer, observed: ObservedServer) -> Plan:
    return resolve(plan(Spec("demo", (spec_server,)), [observed]), CATALOG)


def test_resolve_gives_the_ids_to_resize_to_and_rebuild_from() -> None:
    both = Lifecycle(flavor_change="resize", image_change="rebuild")
    result = resolved(
        desired(image="debian-12", flavor="m1.small", lifecycle=both),
        built(desired(flavor="m1.tiny"), flavor_name="m1.tiny", image_id="img-1"),
    )
    (change,) = result.changes
    assert not result.diagnostics and change.patch is not None
    assert (change.patch.resize_flavor_id, change.patch.rebuild_image_id) == ("2", "img-2")


def test_a_flavor_written_as_its_id_is_no_change() -> None:
    """Nova refuses a resize to the flavor a server has; it is no change anyway: a no-op
    that says why, and the server's record is left as it is."""
    result = resolved(
        desired(flavor="1", lifecycle=RESIZE),
        built(desired(flavor="m1.tiny"), flavor_name="m1.tiny"),
    )
    (change,) = result.changes
    assert not result.diagnostics
    assert (change.action, change.patch) == (Action.NOOP, None)
    assert change.reason == (
        'up to date; flavor written "1": the flavor the server has (m1.tiny), so no resize'
    )


def test_the_same_flavor_next_to_another_change_keeps_its_record() -> None:
    both = Lifecycle(flavor_change="resize", image_change="rebuild")
    observed = built(desired(flavor="m1.tiny"), flavor_name="m1.tiny", image_id="img-1")
    result = resolved(desired(flavor="1", image="debian-12", lifecycle=both), observed)
    (change,) = result.changes
    assert change.action is Action.UPDATE and change.patch is not None
    assert (change.patch.resize_to, change.patch.rebuild_image_id) == (None, "img-2")
    assert recorded(change, "flavor") == hashes(desired(flavor="m1.tiny"))["flavor"]
    assert recorded(change, "image") == hashes(desired(image="debian-12"))["image"]
    assert change.reason.startswith(
        'flavor written "1": the flavor the server has (m1.tiny), so no resize; image changed'
    )


def test_an_image_named_by_the_id_it_was_built_from_is_no_rebuild() -> None:
    result = resolved(desired(image="img-1", lifecycle=REBUILD), built(desired(), image_id="img-1"))
    (change,) = result.changes
    assert (change.action, change.patch) == (Action.NOOP, None)
    assert change.reason == (
        'up to date; image written "img-1": the image the server was built from (id img-1), '
        "so no rebuild"
    )


@pytest.mark.parametrize(
    ("spec_server", "message"),
    [
        (desired(flavor="m1.huge", lifecycle=RESIZE), 'flavor "m1.huge" not found'),
        (desired(image="uploading", lifecycle=REBUILD), 'image "uploading" (id img-3) is not'),
        (desired(image="debain-12", lifecycle=REBUILD), 'did you mean "debian-12"'),
    ],
)
def test_what_resolve_cannot_find_is_an_error(spec_server: DesiredServer, message: str) -> None:
    result = resolved(spec_server, built(desired(), flavor_name="m1.small", image_id="img-1"))
    assert [d.address for d in result.errors] == ["server.web-1"]
    assert message in result.errors[0].message


# --- the views ---------------------------------------------------------------------


def test_text_and_json_show_the_actions_and_what_is_ignored() -> None:
    both = Lifecycle(flavor_change="resize", image_change="rebuild")
    spec = Spec(
        "demo",
        (
            desired("web-1", image="debian-12", flavor="m1.small", lifecycle=both),
            desired("web-2", state="shutoff"),
            desired("web-3", image="debian-12", lifecycle=ignoring("image")),
        ),
    )
    observed = [
        built(desired("web-1", flavor="m1.tiny"), id="id-1", image_id="img-1"),
        built(desired("web-2"), id="id-2"),
        built(desired("web-3"), id="id-3"),
    ]
    the_plan = resolve(plan(spec, observed), CATALOG)
    text = render_text(the_plan)
    assert '      flavor: "m1.tiny" -> "m1.small" (id 2)   # resize in place' in text
    assert '      image: (id img-1) -> "debian-12" (id img-2)   # rebuild in place' in text
    assert "      state: ACTIVE -> SHUTOFF   # stop" in text
    assert "    server.web-3 (id id-3): up to date; ignored by lifecycle.ignore_changes" in text
    assert "1 server(s) differ from the spec in attributes lifecycle.ignore_changes lists" in text

    data = plan_to_dict(the_plan)
    assert data["format_version"] == "2.2"
    web1, web2, web3 = data["changes"]
    assert {k: web1["patch"][k] for k in ("resize_to", "resize_flavor_id", "power")} == {
        "resize_to": "m1.small",
        "resize_flavor_id": "2",
        "power": None,
    }
    assert (web1["patch"]["rebuild_with"], web1["patch"]["rebuild_image_id"]) == (
        "debian-12",
        "img-2",
    )
    assert (web2["patch"]["power"], web2["after"]["state"]) == ("stop", "shutoff")
    assert (web3["action"], web3["ignored"], web3["patch"]) == ("no-op", ["image"], None)
    json.dumps(data)


# --- apply on the fake cloud -------------------------------------------------------


class Instant:
    def __init__(self) -> None:
        self.t = 0.0

    def clock(self) -> Clock:
        return Clock(now=lambda: self.t, sleep=self.sleep)

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def server(name: str, **fields: Any) -> DesiredServer:
    fields.setdefault("image", "cirros")
    fields.setdefault("flavor", "m1.tiny")
    return DesiredServer(name=name, networks=("private",), **fields)


def apply(
    cloud: FakeCloud, *servers: DesiredServer, events: list[Event] | None = None
) -> tuple[Plan, ApplyReport]:
    the_plan = make_plan(Spec("demo", servers), cloud)
    assert not the_plan.errors, the_plan.errors
    cloud.calls.clear()  # from here on, only what apply asks
    reconciler = Reconciler(
        cloud,
        Settings(parallelism=4, create_timeout=60, delete_timeout=60),
        clock=Instant().clock(),
        on_event=events.append if events is not None else None,
    )
    return the_plan, reconciler.apply(the_plan)


def converged(cloud: FakeCloud, *servers: DesiredServer) -> dict[str, ObservedServer]:
    _, report = apply(cloud, *servers)
    assert report.converged, report.failures
    return {s.name: s for s in cloud.servers.values()}


def test_resize_confirms_keeps_the_server_and_then_the_plan_is_clean() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    first = converged(cloud, server("db", lifecycle=RESIZE), server("app", lifecycle=RESIZE))
    cloud.calls.clear()
    cloud.action_polls = 3
    bigger = (
        server("db", flavor="m1.small", lifecycle=RESIZE),
        server("app", flavor="m1.small", lifecycle=RESIZE),
    )
    the_plan, report = apply(cloud, *bigger)
    assert report.converged, report.failures
    assert [c.action for c in the_plan.changes] == [Action.UPDATE, Action.UPDATE]
    after = {s.name: s for s in cloud.servers.values()}
    for name in ("db", "app"):
        assert after[name].id == first[name].id
        assert (after[name].status, after[name].flavor_name) == ("ACTIVE", "m1.small")
    assert {r.message for r in report.results} == {'has been resized to "m1.small" in place'}
    ids = sorted(s.id for s in first.values())
    actions = [c for c in cloud.calls if c != "list"]
    assert sorted(actions[:2]) == [f"resize {i}" for i in ids]
    assert sorted(actions[2:4]) == [f"confirmResize {i}" for i in ids]
    assert sorted(actions[4:]) == [f"update {i}" for i in ids]
    # One list call per round for both servers: 3 rounds to VERIFY_RESIZE, 3 to ACTIVE.
    assert cloud.calls.count("list") == 6
    again = make_plan(Spec("demo", bigger), cloud)
    assert [c.action for c in again.changes] == [Action.NOOP, Action.NOOP]


def test_a_resize_nova_rolls_back_fails_and_leaves_the_record_so_the_next_plan_retries() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    converged(cloud, server("db", lifecycle=RESIZE))
    cloud.fail_resize["db"] = "back"
    bigger = server("db", flavor="m1.small", lifecycle=RESIZE)
    _, report = apply(cloud, bigger)
    (result,) = report.failures
    assert result.message.startswith(
        "resize failed: is back on its old flavor: Nova did not resize it"
    )
    assert not any(c.startswith("confirmResize") or c.startswith("update") for c in cloud.calls)
    (change,) = make_plan(Spec("demo", (bigger,)), cloud).changes
    assert change.action is Action.UPDATE and change.patch is not None
    assert change.patch.resize_to == "m1.small"


def test_a_resize_that_goes_to_error_carries_novas_fault() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    converged(cloud, server("db", lifecycle=RESIZE))
    cloud.fail_resize["db"] = "error"
    _, report = apply(cloud, server("db", flavor="m1.small", lifecycle=RESIZE))
    (result,) = report.failures
    assert result.message == "resize failed: went to ERROR: No valid host was found."


def test_a_resize_refused_by_nova_is_a_failure_of_that_change_only() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    converged(cloud, server("db", lifecycle=RESIZE), server("web"))
    # Nova answers 409: somebody started another action on it meanwhile.
    db = next(s for s in cloud.servers.values() if s.name == "db")
    original = cloud.resize_server

    def busy(server_id: str, flavor_id: str) -> None:
        cloud.servers[db.id] = dataclasses.replace(db, task_state="migrating")
        original(server_id, flavor_id)

    cloud.resize_server = busy  # type: ignore[method-assign]
    _, report = apply(
        cloud,
        server("db", flavor="m1.small", lifecycle=RESIZE),
        server("web", metadata={"role": "x"}),
    )
    (failure,) = report.failures
    assert failure.address == "server.db" and failure.message.startswith("resize failed:")
    assert [r.address for r in report.results if r.ok] == ["server.web"]


def test_rebuild_keeps_the_server_and_its_addresses() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    first = converged(cloud, server("db", lifecycle=REBUILD))["db"]
    cloud.servers[first.id] = dataclasses.replace(first, addresses=(("private", "10.0.0.7"),))
    _, report = apply(cloud, server("db", image="debian-12", lifecycle=REBUILD))
    assert report.converged, report.failures
    (result,) = report.results
    assert result.message == 'has been rebuilt from "debian-12" in place'
    assert result.addresses == (("private", "10.0.0.7"),)
    after = cloud.servers[first.id]
    assert (after.image_id, after.status) == ("img-2", "ACTIVE")
    assert [
        c.action
        for c in make_plan(
            Spec("demo", (server("db", image="debian-12", lifecycle=REBUILD),)), cloud
        ).changes
    ] == [Action.NOOP]


def test_a_rebuild_that_goes_to_error_fails_with_the_fault() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    converged(cloud, server("db", lifecycle=REBUILD))
    cloud.fail_rebuild.add("db")
    _, report = apply(cloud, server("db", image="debian-12", lifecycle=REBUILD))
    (result,) = report.failures
    assert result.message == "rebuild failed: went to ERROR: Build of instance aborted"


def test_state_shutoff_stops_and_a_plain_apply_after_an_outside_stop_starts_again() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    first = converged(cloud, server("web"))["web"]
    _, report = apply(cloud, server("web", state="shutoff"))
    assert [r.message for r in report.results] == ["has been stopped in place"]
    assert cloud.servers[first.id].status == "SHUTOFF"
    assert not make_plan(Spec("demo", (server("web", state="shutoff"),)), cloud).has_changes

    _, report = apply(cloud, server("web"))
    assert [r.message for r in report.results] == ["has been started in place"]
    assert cloud.servers[first.id].status == "ACTIVE"

    cloud.servers[first.id] = dataclasses.replace(cloud.servers[first.id], status="SHUTOFF")
    (change,) = make_plan(Spec("demo", (server("web"),)), cloud).changes
    assert (change.action, change.reason) == (Action.UPDATE, "state: SHUTOFF -> active (start)")
    converged(cloud, server("web"))
    assert cloud.servers[first.id].status == "ACTIVE" and cloud.servers[first.id].id == first.id


def test_a_server_created_with_state_shutoff_is_stopped_once_active() -> None:
    cloud = FakeCloud(catalog=CATALOG, boot_polls=2)
    _, report = apply(cloud, server("web", state="shutoff"))
    assert report.converged, report.failures
    (result,) = report.results
    assert result.message.startswith("has been created (ACTIVE after")
    assert result.message.endswith(" and stopped")
    (made,) = cloud.servers.values()
    assert made.status == "SHUTOFF"
    assert [c.split()[0] for c in cloud.calls if c != "list"][-1] == "stop"


def test_stop_resize_update_in_one_change_then_the_record() -> None:
    """A stopped server resizes faster and safer; the fingerprint comes last."""
    cloud = FakeCloud(catalog=CATALOG)
    first = converged(cloud, server("db", lifecycle=RESIZE))["db"]
    wanted = server("db", flavor="m1.small", state="shutoff", lifecycle=RESIZE)
    events: list[Event] = []
    _, report = apply(cloud, wanted, events=events)
    assert report.converged, report.failures
    assert [c for c in cloud.calls if c != "list"] == [
        f"stop {first.id}",
        f"resize {first.id}",
        f"confirmResize {first.id}",
        f"update {first.id}",
    ]
    assert cloud.servers[first.id].status == "SHUTOFF"
    assert report.results[0].message == 'has been stopped and resized to "m1.small" in place'
    assert [e.message for e in events if e.final] == [
        'server.db has been stopped and resized to "m1.small" in place'
    ]


def test_a_resize_an_interrupted_apply_left_unconfirmed_is_confirmed_next_time() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    first = converged(cloud, server("db", lifecycle=RESIZE))["db"]
    cloud.servers[first.id] = dataclasses.replace(
        first, status="VERIFY_RESIZE", flavor_name="m1.small"
    )
    bigger = server("db", flavor="m1.small", lifecycle=RESIZE)
    (change,) = make_plan(Spec("demo", (bigger,)), cloud).changes
    assert change.action is Action.UPDATE and change.patch is not None
    assert change.patch.confirm_resize and change.patch.resize_to is None
    assert change.reason == (
        'in VERIFY_RESIZE on the spec\'s flavor "m1.small" (a resize an interrupted apply did '
        "not confirm): confirm it"
    )
    _, report = apply(cloud, bigger)
    assert [r.message for r in report.results] == ["has been confirmed on its new flavor in place"]
    assert [c for c in cloud.calls if c != "list"] == [
        f"confirmResize {first.id}",
        f"update {first.id}",
    ]
    assert not make_plan(Spec("demo", (bigger,)), cloud).has_changes


def test_somebody_elses_unconfirmed_resize_is_left_to_them() -> None:
    observed = built(desired(flavor="m1.tiny"), status="VERIFY_RESIZE", flavor_name="m1.large")
    change = planned(desired(flavor="m1.small", lifecycle=RESIZE), observed)
    assert change.action is Action.NOOP
    assert change.reason.startswith('in VERIFY_RESIZE on flavor "m1.large", not the spec\'s')
    without = planned(desired(flavor="m1.small"), observed)
    assert (without.action, without.reason.split(",")[0]) == (
        Action.NOOP,
        "in status VERIFY_RESIZE",
    )


def test_a_failed_write_after_a_resize_says_the_resize_happened() -> None:
    """The fingerprint is not rewritten, but the next plan sees the server on the new
    flavor and sends no second resize (which Nova would refuse)."""
    cloud = FakeCloud(catalog=CATALOG)
    first = converged(cloud, server("db", tags=("old",), lifecycle=RESIZE))["db"]
    cloud.fail_tag_removal.add("old")
    bigger = server("db", flavor="m1.small", lifecycle=RESIZE)
    _, report = apply(cloud, bigger)
    (result,) = report.failures
    assert result.message.startswith(
        'has been resized to "m1.small" in place, but FakeCloudError: 500 removing tag old'
    )
    assert cloud.servers[first.id].flavor_name == "m1.small"
    cloud.fail_tag_removal.clear()
    (change,) = make_plan(Spec("demo", (bigger,)), cloud).changes
    assert change.patch is not None and change.patch.resize_to is None
    assert change.reason == (
        'tag -old; flavor written "m1.small": the flavor the server has (m1.small), so no resize'
    )
    converged(cloud, bigger)
    assert not make_plan(Spec("demo", (bigger,)), cloud).has_changes


def test_a_stopped_server_left_in_rebuild_is_waited_for_until_it_settles_stopped() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    first = converged(cloud, server("db", state="shutoff", lifecycle=REBUILD))["db"]
    cloud.action_polls = 3
    cloud.rebuild_server(first.id, "img-2")  # an apply interrupted after the request
    cloud.calls.clear()
    the_plan, report = apply(cloud, server("db", state="shutoff", lifecycle=REBUILD))
    assert [c.action for c in the_plan.changes] == [Action.WAIT]
    assert report.converged, report.failures
    assert cloud.servers[first.id].status == "SHUTOFF"
    assert [c for c in cloud.calls if c != "list"] == []


# --- the adapter's requests ----------------------------------------------------------


class ActionCompute:
    """A stub compute proxy that records each POST and answers with `status`."""

    def __init__(self, status: int = 202, body: dict[str, Any] | None = None) -> None:
        self.status, self.body = status, body or {}
        self.posts: list[tuple[str, Any]] = []

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        self.posts.append((path, kwargs.get("json")))
        answer = requests.Response()
        answer.status_code = self.status
        answer._content = json.dumps(self.body).encode()
        return answer


def stub_adapter(compute: ActionCompute) -> OpenStackCloud:
    cloud = OpenStackCloud(SimpleNamespace(compute=compute), clock=Instant().clock())
    cloud._version = "2.100"  # no version discovery against the stub
    return cloud


def test_the_adapter_sends_novas_action_bodies() -> None:
    compute = ActionCompute()
    cloud = stub_adapter(compute)
    cloud.resize_server("s 1", "2")
    cloud.confirm_resize("s1")
    cloud.rebuild_server("s1", "img-2")
    cloud.start_server("s1")
    cloud.stop_server("s1")
    assert compute.posts == [
        ("/servers/s%201/action", {"resize": {"flavorRef": "2"}}),
        ("/servers/s1/action", {"confirmResize": None}),
        ("/servers/s1/action", {"rebuild": {"imageRef": "img-2"}}),
        ("/servers/s1/action", {"os-start": None}),
        ("/servers/s1/action", {"os-stop": None}),
    ]


def test_an_action_nova_refuses_is_a_clear_error_sent_once() -> None:
    refusal = {
        "conflictingRequest": {
            "message": "Cannot 'resize' instance s1 while it is in task_state resize_prep",
            "code": 409,
        }
    }
    compute = ActionCompute(409, refusal)
    with pytest.raises(CloudError) as caught:
        stub_adapter(compute).resize_server("s1", "2")
    assert caught.value.message == (
        "resize: Cannot 'resize' instance s1 while it is in task_state resize_prep (HTTP 409)"
    )
    assert caught.value.hint is not None and "state" in caught.value.hint
    assert len(compute.posts) == 1
