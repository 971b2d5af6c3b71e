"""Table-driven tests of the pure planner: one row per situation, action and reason."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import pytest

from declstack import ownership
from declstack.model import (
    Action,
    DesiredServer,
    Lifecycle,
    ObservedServer,
    Plan,
    ServerPatch,
    Spec,
    frozen_map,
)
from declstack.planner import plan
from tests.unit.builders import STACK, desired, server

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Row:
    """One planning situation and what the plan must say about it."""

    id: str
    spec: tuple[DesiredServer, ...]
    observed: tuple[ObservedServer, ...]
    expected: tuple[tuple[str, Action, str], ...]  # (address, action, reason substring)
    conflicts: tuple[tuple[str, str], ...] = ()
    diagnostics: tuple[tuple[str, str], ...] = ()  # (severity, message substring)
    deleted_ids: tuple[str, ...] = field(default=())


ROWS = [
    Row(
        "missing server is created",
        spec=(desired(),),
        observed=(),
        expected=(("web-1", Action.CREATE, "not in the cloud"),),
    ),
    Row(
        "unmanaged server with the same name: create anyway and warn",
        spec=(desired(),),
        observed=(),
        conflicts=(("foreign-1", "web-1"), ("foreign-2", "web-10")),
        expected=(("web-1", Action.CREATE, "not in the cloud"),),
        diagnostics=(
            (
                "warning",
                'a server named "web-1" (id foreign-1) exists but is not managed by stack '
                '"demo"; it is left untouched',
            ),
        ),
    ),
    Row(
        "several strangers with one name: one warning listing them",
        spec=(desired(),),
        observed=(),
        conflicts=(("foreign-2", "web-1"), ("foreign-1", "web-1")),
        expected=(("web-1", Action.CREATE, "not in the cloud"),),
        diagnostics=(
            (
                "warning",
                '2 servers named "web-1" (ids foreign-1, foreign-2) exist but are not managed by '
                'stack "demo"; they are left untouched',
            ),
        ),
    ),
    Row(
        "many clashing names: one summary warning, not a line per server",
        spec=tuple(desired(name=f"web-{n}") for n in range(1, 9)),
        observed=(),
        conflicts=tuple((f"other-{n}-{k}", f"web-{n}") for n in range(1, 9) for k in (1, 2)),
        expected=tuple((f"web-{n}", Action.CREATE, "not in the cloud") for n in range(1, 9)),
        diagnostics=(
            (
                "warning",
                '16 servers not managed by stack "demo" carry names this plan creates '
                "(web-1, web-2, web-3, web-4, web-5 and 3 more); they are left untouched",
            ),
        ),
    ),
    Row(
        "server of another stack passed in is ignored",
        spec=(),
        observed=(server(desired(), stack="other"),),
        expected=(),
    ),
    Row(
        "server without any marker passed in is ignored",
        spec=(desired(),),
        observed=(
            ObservedServer(id="x", name="web-1", status="ACTIVE"),
            server(desired(), id="ours"),
        ),
        expected=(("web-1", Action.NOOP, "up to date"),),
    ),
    Row(
        "gone servers are ignored, so the name is created again",
        spec=(desired(),),
        observed=(
            server(desired(), status="DELETED"),
            server(desired(), id="id-2", status="SOFT_DELETED"),
            server(desired(), id="id-3", task_state="deleting"),
        ),
        expected=(("web-1", Action.CREATE, "not in the cloud"),),
    ),
    Row(
        "BUILD is in progress, never created twice",
        spec=(desired(image="ubuntu"),),
        observed=(server(desired(), status="BUILD"),),
        expected=(
            ("web-1", Action.WAIT, "being built (BUILD); waiting for it, not creating it again"),
        ),
    ),
    Row(
        "REBUILD is in progress too",
        spec=(desired(),),
        observed=(server(desired(), status="REBUILD"),),
        expected=(("web-1", Action.WAIT, "in progress (REBUILD)"),),
    ),
    Row(
        "ERROR is replaced, with Nova's fault",
        spec=(desired(),),
        observed=(server(desired(), status="ERROR", fault="No valid host was found."),),
        expected=(("web-1", Action.DELETE_THEN_CREATE, "in ERROR: No valid host was found."),),
    ),
    Row(
        "ERROR without a fault still says so",
        spec=(desired(),),
        observed=(server(desired(), status="error"),),
        expected=(("web-1", Action.DELETE_THEN_CREATE, "in ERROR: Nova gave no fault message"),),
    ),
    Row(
        "image changed: replace, naming the new value",
        spec=(desired(image="ubuntu-22.04"),),
        observed=(server(desired()),),
        expected=(("web-1", Action.DELETE_THEN_CREATE, 'image changed (spec now "ubuntu-22.04")'),),
    ),
    Row(
        "flavor changed: replace, showing the server's flavor",
        spec=(desired(flavor="m1.large"),),
        observed=(server(desired()),),
        expected=(
            (
                "web-1",
                Action.DELETE_THEN_CREATE,
                'flavor changed (spec now "m1.large", server has "m1.small")',
            ),
        ),
    ),
    Row(
        "several create-time attributes: all named, user_data without its text",
        spec=(desired(key_name="ops", user_data="#!/bin/sh\nsecret", networks=("private",)),),
        observed=(server(desired()),),
        expected=(
            (
                "web-1",
                Action.DELETE_THEN_CREATE,
                'key_name changed (spec now "ops"); networks changed (spec now ["private"]); '
                "user_data changed",
            ),
        ),
    ),
    Row(
        "security groups compared as a set",
        spec=(desired(security_groups=("b", "a")),),
        observed=(server(desired(security_groups=("a", "b"))),),
        expected=(("web-1", Action.NOOP, "up to date"),),
    ),
    Row(
        "security groups changed in the spec: updated in place, not replaced",
        spec=(desired(security_groups=("web", "ssh")),),
        observed=(server(desired(security_groups=("web",)), security_groups=("web",)),),
        expected=(("web-1", Action.UPDATE, 'security groups: ["web"] -> ["ssh", "web"]'),),
    ),
    Row(
        "a group removed behind declstack's back: put back in place",
        spec=(desired(security_groups=("web", "ssh")),),
        observed=(server(desired(security_groups=("web", "ssh")), security_groups=("web",)),),
        expected=(("web-1", Action.UPDATE, 'security groups: ["web"] -> ["ssh", "web"]'),),
    ),
    Row(
        "no groups in the spec: Nova's choice and later additions are left alone",
        spec=(desired(),),
        observed=(server(desired(), security_groups=("default", "added-by-hand")),),
        expected=(("web-1", Action.NOOP, "up to date"),),
    ),
    Row(
        "groups by id cannot be compared by name: only the fingerprint counts",
        spec=(desired(security_groups=("0f0e2a1c-6a52-4c1e-9d0b-3f2b8d7c6e5a",)),),
        observed=(
            server(
                desired(security_groups=("0f0e2a1c-6a52-4c1e-9d0b-3f2b8d7c6e5a",)),
                security_groups=("web",),
            ),
        ),
        expected=(("web-1", Action.NOOP, "up to date"),),
    ),
    Row(
        "no fingerprint: replace, and say why",
        spec=(desired(),),
        observed=(server(desired(), drop_metadata=(ownership.FINGERPRINT_KEY,)),),
        expected=(("web-1", Action.DELETE_THEN_CREATE, "no readable declstack fingerprint"),),
    ),
    Row(
        "unreadable fingerprint: replace",
        spec=(desired(),),
        observed=(server(desired(), extra_metadata={ownership.FINGERPRINT_KEY: "v0;junk"}),),
        expected=(("web-1", Action.DELETE_THEN_CREATE, "no readable declstack fingerprint"),),
    ),
    Row(
        "everything equal: no-op",
        spec=(desired(),),
        observed=(server(desired()),),
        expected=(("web-1", Action.NOOP, "up to date"),),
    ),
    Row(
        "SHUTOFF is settled: it is compared like ACTIVE",
        spec=(desired(metadata={"role": "api"}, state="shutoff"),),
        observed=(server(desired(), status="SHUTOFF"),),
        expected=(("web-1", Action.UPDATE, 'metadata role: "web" -> "api"'),),
    ),
    Row(
        "metadata value and a tag changed: one update listing both",
        spec=(desired(metadata={"role": "api"}, tags=("blue", "green")),),
        observed=(server(desired()),),
        expected=(("web-1", Action.UPDATE, 'metadata role: "web" -> "api"; tag +green'),),
    ),
    Row(
        "metadata key added",
        spec=(desired(metadata={"role": "web", "env": "prod"}),),
        observed=(server(desired()),),
        expected=(("web-1", Action.UPDATE, 'metadata env: (unset) -> "prod"'),),
    ),
    Row(
        "managed key removed from the spec is deleted, foreign keys are kept",
        spec=(desired(metadata={}),),
        observed=(server(desired(), extra_metadata={"owner": "someone-else"}),),
        expected=(("web-1", Action.UPDATE, "metadata role: removed"),),
    ),
    Row(
        "managed tag removed from the spec, foreign tag kept",
        spec=(desired(tags=()),),
        observed=(server(desired(), extra_tags=("theirs",)),),
        expected=(("web-1", Action.UPDATE, "tag -blue"),),
    ),
    Row(
        "foreign keys and tags alone never cause an update",
        spec=(desired(),),
        observed=(server(desired(), extra_metadata={"x": "y"}, extra_tags=("theirs",)),),
        expected=(("web-1", Action.NOOP, "up to date"),),
    ),
    Row(
        "description changed",
        spec=(desired(description="new"),),
        observed=(server(desired(description="old")),),
        expected=(("web-1", Action.UPDATE, 'description: "old" -> "new"'),),
    ),
    Row(
        "description not in the spec is left alone",
        spec=(desired(),),
        observed=(server(desired(description="someone wrote this")),),
        expected=(("web-1", Action.NOOP, "up to date"),),
    ),
    Row(
        "server not in the spec is deleted",
        spec=(),
        observed=(server(desired("old-1")),),
        expected=(("old-1", Action.DELETE, "no longer in the spec"),),
    ),
    Row(
        "duplicates: keep ACTIVE over BUILD and older, delete the rest",
        spec=(desired(),),
        observed=(
            server(desired(), id="b-build", status="BUILD", created="2024-01-01T00:00:00Z"),
            server(desired(), id="c-new", created="2024-01-03T00:00:00Z"),
            server(desired(), id="d-old", created="2024-01-02T00:00:00Z"),
            server(desired(), id="a-err", status="ERROR", created="2023-01-01T00:00:00Z"),
        ),
        expected=(
            ("web-1", Action.NOOP, "up to date"),
            ("web-1", Action.DELETE, "duplicate of d-old (left by an interrupted run)"),
            ("web-1", Action.DELETE, "duplicate of d-old (left by an interrupted run)"),
            ("web-1", Action.DELETE, "duplicate of d-old (left by an interrupted run)"),
        ),
        deleted_ids=("a-err", "b-build", "c-new"),
    ),
    Row(
        "interrupted create-before-destroy: the ACTIVE server built from today's spec is kept",
        spec=(desired(image="debian-12"),),
        observed=(
            server(desired(), id="old", created="2024-01-01T00:00:00Z"),
            server(desired(image="debian-12"), id="new", created="2024-01-02T00:00:00Z"),
        ),
        expected=(
            ("web-1", Action.NOOP, "up to date"),
            ("web-1", Action.DELETE, "duplicate of new (left by an interrupted run)"),
        ),
        deleted_ids=("old",),
    ),
    Row(
        "duplicates with equal status and time: lowest id kept",
        spec=(desired(),),
        observed=(server(desired(), id="id-2"), server(desired(), id="id-1")),
        expected=(
            ("web-1", Action.NOOP, "up to date"),
            ("web-1", Action.DELETE, "duplicate of id-1"),
        ),
        deleted_ids=("id-2",),
    ),
    Row(
        "duplicates without ACTIVE: BUILD kept",
        spec=(desired(),),
        observed=(
            server(desired(), id="id-1", status="ERROR"),
            server(desired(), id="id-2", status="BUILD"),
        ),
        expected=(
            ("web-1", Action.WAIT, "being built (BUILD)"),
            ("web-1", Action.DELETE, "duplicate of id-2"),
        ),
        deleted_ids=("id-1",),
    ),
    Row(
        "prevent_destroy blocks a replace: no-op plus an error",
        spec=(desired(image="ubuntu", lifecycle=Lifecycle(prevent_destroy=True)),),
        observed=(server(desired()),),
        expected=(
            (
                "web-1",
                Action.NOOP,
                "prevent_destroy is set; refusing to replace it "
                '(image changed (spec now "ubuntu"))',
            ),
        ),
        diagnostics=(("error", "web-1: prevent_destroy is set; refusing to replace it"),),
    ),
    Row(
        "prevent_destroy blocks replacing an ERROR server",
        spec=(desired(lifecycle=Lifecycle(prevent_destroy=True)),),
        observed=(server(desired(), status="ERROR", fault="boom"),),
        expected=(("web-1", Action.NOOP, "refusing to replace it (in ERROR: boom)"),),
        diagnostics=(("error", "refusing to replace it (in ERROR: boom)"),),
    ),
    Row(
        "prevent_destroy blocks deleting a duplicate",
        spec=(desired(lifecycle=Lifecycle(prevent_destroy=True)),),
        observed=(server(desired(), id="id-1"), server(desired(), id="id-2")),
        expected=(
            ("web-1", Action.NOOP, "refusing to delete it (duplicate of id-1"),
            # Built before the marker existed: the kept one gets it in place.
            ("web-1", Action.UPDATE, "prevent_destroy: recorded on the server"),
        ),
        diagnostics=(("error", "web-1: prevent_destroy is set; refusing to delete it"),),
    ),
    Row(
        "prevent_destroy does not block updates",
        spec=(desired(metadata={"role": "db"}, lifecycle=Lifecycle(prevent_destroy=True)),),
        observed=(server(desired()),),
        expected=(("web-1", Action.UPDATE, 'metadata role: "web" -> "db"'),),
    ),
    Row(
        "unknown status: no-op naming the status",
        spec=(desired(image="ubuntu"),),
        observed=(server(desired(), status="RESCUE"),),
        expected=(("web-1", Action.NOOP, "in status RESCUE"),),
    ),
    Row(
        "made-up status word never crashes",
        spec=(desired(),),
        observed=(server(desired(), status="SOMETHING_NEW"),),
        expected=(("web-1", Action.NOOP, "in status SOMETHING_NEW"),),
    ),
    Row(
        "a mixed stack is ordered by address, then action",
        spec=(desired("web-b"), desired("web-a"), desired("web-c", image="ubuntu")),
        observed=(server(desired("web-c"), id="c"), server(desired("old"), id="o")),
        expected=(
            ("old", Action.DELETE, "no longer in the spec"),
            ("web-a", Action.CREATE, "not in the cloud"),
            ("web-b", Action.CREATE, "not in the cloud"),
            ("web-c", Action.DELETE_THEN_CREATE, "image changed"),
        ),
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_planner_rules(row: Row) -> None:
    result = plan(Spec(stack=STACK, servers=row.spec), row.observed, row.conflicts)

    assert all(c.address == f"server.{c.name}" for c in result.changes)
    got = [(c.name, c.action) for c in result.changes]
    assert got == [(address, action) for address, action, _ in row.expected]
    for change, (_, _, reason) in zip(result.changes, row.expected, strict=True):
        assert reason in change.reason
    assert len(result.diagnostics) == len(row.diagnostics)
    for diagnostic, (severity, message) in zip(result.diagnostics, row.diagnostics, strict=True):
        assert diagnostic.severity == severity
        assert message in diagnostic.message
    if row.deleted_ids:
        deleted = sorted(
            c.before.id
            for c in result.changes
            if c.before and (c.action is Action.DELETE or "refusing to delete" in c.reason)
        )
        assert deleted == list(row.deleted_ids)


def only_change(result: Plan) -> ServerPatch:
    (change,) = result.changes
    assert change.action is Action.UPDATE
    assert change.patch is not None
    return change.patch


def test_update_patch_touches_only_managed_keys_and_tags() -> None:
    old = desired(metadata={"role": "web", "gone": "1"}, tags=("blue", "old-tag"))
    new = desired(metadata={"role": "api", "env": "prod"}, tags=("blue", "green"))
    observed = server(old, extra_metadata={"foreign": "keep"}, extra_tags=("theirs",))

    patch = only_change(plan(Spec(STACK, (new,)), [observed]))

    assert dict(patch.set_metadata) == {
        "role": "api",
        "env": "prod",
        ownership.MANAGED_METADATA_KEY: '["env","role"]',
        ownership.MANAGED_TAGS_KEY: '["blue","green"]',
    }
    assert patch.delete_metadata == ("gone",)
    assert patch.add_tags == ("green",)
    assert patch.remove_tags == ("old-tag",)
    assert not patch.change_description


def test_bookkeeping_not_rewritten_when_key_sets_are_unchanged() -> None:
    observed = server(desired())
    patch = only_change(plan(Spec(STACK, (desired(metadata={"role": "db"}),)), [observed]))
    assert dict(patch.set_metadata) == {"role": "db"}


def test_managed_key_already_removed_by_hand_only_updates_bookkeeping() -> None:
    observed = server(desired(), drop_metadata=("role",))
    patch = only_change(plan(Spec(STACK, (desired(metadata={}),)), [observed]))
    assert patch.delete_metadata == ()
    assert dict(patch.set_metadata) == {ownership.MANAGED_METADATA_KEY: "[]"}


def test_description_patch_carries_the_new_value() -> None:
    observed = server(desired())
    patch = only_change(plan(Spec(STACK, (desired(description="hello"),)), [observed]))
    assert patch.change_description
    assert patch.description == "hello"


def test_changes_carry_before_and_after() -> None:
    want = desired(image="ubuntu")
    have = server(desired(), id="abc")
    (change,) = plan(Spec(STACK, (want,)), [have]).changes
    assert change.before is have
    assert change.after is want


def test_plan_is_deterministic_whatever_the_input_order() -> None:
    spec = Spec(
        STACK, tuple(desired(f"web-{i}", image="ubuntu" if i % 2 else "cirros") for i in range(6))
    )
    observed = [server(desired(f"web-{i}"), id=f"id-{i}") for i in range(6)]
    observed += [server(desired("web-1"), id="dup", created="2030-01-01")]
    first = plan(spec, observed, [("f", "web-9")])
    second = plan(Spec(STACK, spec.servers[::-1]), observed[::-1], [("f", "web-9")])
    assert first == second


def test_the_ownership_tag_is_never_removed_even_if_bookkeeping_lists_it() -> None:
    """A spec can no longer list a declstack: tag, but old bookkeeping might."""
    marker = ownership.stack_tag(STACK)
    observed = server(desired(tags=("blue",)), extra_tags=(marker,))
    forged = dict(observed.metadata)
    forged[ownership.MANAGED_TAGS_KEY] = json.dumps(["blue", marker])
    observed = dataclasses.replace(observed, metadata=frozen_map(forged))
    the_plan = plan(Spec(STACK, (desired(tags=()),)), [observed])
    (change,) = the_plan.changes
    assert change.patch is not None
    assert change.patch.remove_tags == ("blue",)
