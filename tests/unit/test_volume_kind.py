"""The volume kind (issue 10 item 1): one owned Cinder volume per `volumes:` entry per
replica, kept across a replacement, grown in place, never shrunk, deleted only when its
entry leaves the spec or on destroy; `boot_volume:` boots a server from a volume made
from the image. The spec, the pure planner, apply on the strict fake, and the adapter."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from declstack import ownership
from declstack.cloud import CloudError, OpenStackCloud, to_observed_volume
from declstack.engine import make_destroy_plan, make_plan
from declstack.errors import classify
from declstack.health import Probe, Verdict
from declstack.kinds import volume as volume_kind
from declstack.model import (
    Action,
    BootVolume,
    Change,
    CreateRequest,
    DesiredServer,
    DesiredVolume,
    HealthCheck,
    Kind,
    Lifecycle,
    NamedResource,
    ObservedServer,
    ObservedVolume,
    Plan,
    Rollout,
    Spec,
    VolumeRequest,
    frozen_map,
)
from declstack.reconciler import Reconciler, Settings
from declstack.render import plan_to_dict, render_text
from declstack.spec import SpecError, parse_spec
from tests.fakes import FakeCloud

from .test_cloud_keypairs import Compute, Conn, Sent
from .test_cloud_security_groups import response
from .test_reconciler import CATALOG, Instant, server

pytestmark = pytest.mark.unit

TYPES = (NamedResource("type-1", "standard"), NamedResource("type-2", "fast"))


def data(size: int = 1, kind: str | None = None, name: str = "data") -> tuple[VolumeRequest, ...]:
    return (VolumeRequest(name, size, kind),)


def spec(*servers: DesiredServer) -> Spec:
    return Spec("demo", servers)


def plan_of(cloud: FakeCloud, the_spec: Spec) -> Plan:
    return make_plan(the_spec, cloud)


def apply(cloud: FakeCloud, the_spec: Spec, *, destroy: bool = False) -> list[str]:
    """Plan and apply; returns the outcome lines."""
    plan = (make_destroy_plan if destroy else make_plan)(the_spec, cloud)
    assert not plan.errors, plan.errors
    lines: list[str] = []
    reconciler = Reconciler(
        cloud,
        Settings(),
        clock=Instant().clock(),
        on_event=lambda e: lines.append(e.message) if e.final else None,
    )
    report = reconciler.apply(plan)
    assert report.converged, report.failures
    return lines


def volumes(cloud: FakeCloud) -> dict[str, ObservedVolume]:
    return {v.name: v for v in cloud.volumes.values()}


def server_id(cloud: FakeCloud, name: str) -> str:
    (found,) = [s.id for s in cloud.servers.values() if s.name == name]
    return found


def volume_changes(plan: Plan) -> list[Change]:
    return list(plan.of_kind(Kind.VOLUME))


# --- the spec -------------------------------------------------------------------------

HEADER = "version: 1\nstack: demo\ndefaults: {image: cirros, flavor: m1.tiny}\n"


def problems(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as raised:
        parse_spec(text, str(path.name), environ={}, base_dir=tmp_path)
    return [str(p) for p in raised.value.problems]


def test_volumes_and_boot_volume_are_read_per_replica_and_from_defaults(tmp_path: Path) -> None:
    text = (
        "version: 1\nstack: demo\n"
        "defaults: {image: cirros, flavor: m1.tiny, volumes: [{name: logs, size: 1}]}\n"
        "servers:\n"
        "  - name: db\n"
        "    count: 2\n"
        "    volumes: [{name: data, size: 10, type: fast}, {name: wal, size: 2}]\n"
        "    boot_volume: {size: 5, type: standard, delete_on_termination: false}\n"
        "  - {name: web}\n"
    )
    parsed = parse_spec(text, "spec.yaml", environ={}, base_dir=tmp_path)
    db1, db2, web = parsed.servers
    wanted = (VolumeRequest("data", 10, "fast"), VolumeRequest("wal", 2))
    assert db1.volumes == db2.volumes == wanted
    assert db1.boot_volume == BootVolume(5, "standard", delete_on_termination=False)
    assert web.volumes == (VolumeRequest("logs", 1),) and web.boot_volume is None
    names = [v.name for v in volume_kind.desired_volumes(parsed)]
    assert names == ["db-1-data", "db-1-wal", "db-2-data", "db-2-wal", "web-logs"]


def test_delete_on_termination_defaults_to_true(tmp_path: Path) -> None:
    text = HEADER + "servers:\n  - {name: a, boot_volume: {size: 3}}\n"
    (a,) = parse_spec(text, "spec.yaml", environ={}, base_dir=tmp_path).servers
    assert a.boot_volume == BootVolume(3, None, delete_on_termination=True)


@pytest.mark.parametrize(
    ("servers", "expected"),
    [
        (
            "  - {name: db, volumes: [{name: data, size: 0}]}\n",
            "spec.yaml:5:45: servers[0].volumes[0].size: must be 1 or more, got 0",
        ),
        (
            "  - {name: db, boot_volume: {size: 0}}\n",
            "spec.yaml:5:36: servers[0].boot_volume.size: must be 1 or more, got 0",
        ),
        (
            "  - {name: db, volumes: [{name: data}]}\n",
            "spec.yaml:5:26: servers[0].volumes[0]: missing required key 'size'",
        ),
        (
            "  - {name: db, volumes: [{name: data, size: 1}, {name: data, size: 2}]}\n",
            'spec.yaml:5:56: servers[0].volumes[1].name: volume "data" is listed twice (first '
            "at spec.yaml:5:33); give each volume of a server its own name",
        ),
        (
            "  - {name: web, volumes: [{name: 1-data, size: 1}]}\n"
            "  - {name: web-1, volumes: [{name: data, size: 1}]}\n",
            'spec.yaml:6:36: servers[1].volumes[0].name: volume "data" of server web-1 would be '
            "named web-1-data, the name of a volume of server web (at servers[0].volumes[0]."
            "name); rename one of the two",
        ),
        (
            "  - {name: db, boot_volume: {size: 1}, lifecycle: {image_change: rebuild}}\n",
            "spec.yaml:5:29: servers[0].boot_volume: a server that boots from a volume is not "
            "rebuilt in place (Nova rebuilds a local root disk, not a root volume): drop "
            "image_change: rebuild, and an image change replaces the server, or drop boot_volume",
        ),
        (
            "  - {name: db, volumes: [{name: data, size: 1, kind: ssd}]}\n",
            "spec.yaml:5:48: servers[0].volumes[0].kind: unknown key 'kind' (expected one of: "
            "name, size, type)",
        ),
    ],
    ids=["size-0", "boot-size-0", "no-size", "twice", "clash", "rebuild", "unknown-key"],
)
def test_bad_volumes_are_spec_errors_at_their_place(
    servers: str, expected: str, tmp_path: Path
) -> None:
    assert problems(HEADER + "servers:\n" + servers, tmp_path) == [expected]


def test_boot_volume_is_fingerprinted_so_a_change_replaces_and_old_servers_still_match() -> None:
    plain = server("a")
    booted = dataclasses.replace(plain, boot_volume=BootVolume(2))
    assert ownership.fingerprint(plain) == ownership.fingerprint(
        dataclasses.replace(plain, boot_volume=None)
    )
    assert "boot_volume=" in ownership.fingerprint(booted)
    assert "boot_volume=" not in ownership.fingerprint(plain), "old fingerprints still match"
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(booted))
    bigger = dataclasses.replace(plain, boot_volume=BootVolume(3))
    (change,) = plan_of(cloud, spec(bigger)).of_kind(Kind.SERVER)
    assert change.action is Action.DELETE_THEN_CREATE
    assert change.replaced_by == ("boot_volume",)
    assert change.reason == (
        'boot_volume changed (spec now {"size": 3, "type": null, "delete_on_termination": true})'
    )


# --- the planner (pure) ---------------------------------------------------------------


def observed(
    name: str,
    *,
    size: int = 1,
    status: str = "in-use",
    on: tuple[str, ...] = ("id-web",),
    server: str | None = None,
    volume: str = "data",
    kind: str = "standard",
    stack: str = "demo",
    id: str | None = None,
) -> ObservedVolume:
    owner = server or name.rsplit("-", 1)[0]
    return ObservedVolume(
        id=id or f"vol-{name}",
        name=name,
        size=size,
        status=status,
        volume_type=kind,
        metadata=frozen_map(
            {"declstack:stack": stack, "declstack:server": owner, "declstack:volume": volume}
        ),
        attached_to=on,
    )


def live(desired: DesiredServer, server_id: str = "id-web", **fields: Any) -> ObservedServer:
    metadata = {**ownership.marker_metadata("demo", desired), **fields.pop("metadata", {})}
    return ObservedServer(
        server_id,
        desired.name,
        fields.pop("status", "ACTIVE"),
        metadata=frozen_map(metadata),
        tags=(ownership.stack_tag("demo"),),
        **fields,
    )


def planned_list(
    the_spec: Spec,
    found: list[ObservedVolume],
    servers: list[ObservedServer],
    types: tuple[NamedResource, ...] | None = None,
    action: Action = Action.NOOP,
) -> tuple[list[Change], list[str]]:
    """The volume changes and error messages for `found`, with every server of the spec
    in the plan as `action` (its observed server as `before`), the others deleted."""
    by_name = {s.name: s for s in servers}
    server_changes = [
        Change(s.name, action if s.name in by_name else Action.CREATE, "", by_name.get(s.name), s)
        for s in the_spec.servers
    ]
    server_changes += [
        Change(s.name, Action.DELETE, "", s)
        for s in servers
        if s.name not in {d.name for d in the_spec.servers}
    ]
    changes, diagnostics = volume_kind.plan_volumes(the_spec, found, server_changes, servers, types)
    return changes, [d.message for d in diagnostics]


def planned(
    the_spec: Spec,
    found: list[ObservedVolume],
    servers: list[ObservedServer],
    types: tuple[NamedResource, ...] | None = None,
    action: Action = Action.NOOP,
) -> tuple[dict[str, Change], list[str]]:
    """As `planned_list`, by address."""
    changes, errors = planned_list(the_spec, found, servers, types, action)
    return {c.address: c for c in changes}, errors


WEB = server("web", volumes=data(2))


def test_a_missing_volume_is_created_and_attached_once_its_server_is_up() -> None:
    changes, errors = planned(spec(WEB), [], [])
    (change,) = changes.values()
    assert (change.address, change.action, errors) == ("volume.web-data", Action.CREATE, [])
    assert change.reason == "not in the cloud; 2 GB, attached to server.web once it is ACTIVE"
    assert change.volume is not None and change.volume.attach
    assert change.volume.after == DesiredVolume("web", "data", 2)


def test_a_volume_on_its_server_at_its_size_is_a_no_op() -> None:
    changes, errors = planned(spec(WEB), [observed("web-data", size=2)], [live(WEB)])
    change = changes["volume.web-data"]
    assert (change.action, change.reason, errors) == (
        Action.NOOP,
        "up to date (2 GB, attached to server.web)",
        [],
    )


def test_a_bigger_size_extends_in_place_and_a_smaller_one_is_an_error() -> None:
    grown, errors = planned(spec(WEB), [observed("web-data", size=1)], [live(WEB)])
    change = grown["volume.web-data"]
    assert change.action is Action.UPDATE and not errors
    assert change.volume is not None and change.volume.extend_to == 2
    assert change.reason == "size 1 -> 2 GB: extend in place"

    _, errors = planned(spec(WEB), [observed("web-data", size=5)], [live(WEB)])
    assert errors == [
        "volume.web-data: size 2 GB is smaller than the volume's 5 GB: Cinder cannot shrink a "
        "volume"
    ]


def test_an_unknown_type_and_a_type_change_are_errors() -> None:
    fast = server("web", volumes=data(2, "fats"))
    _, errors = planned(spec(fast), [], [], TYPES)
    assert errors == ['volume.web-data: volume type "fats" not found; did you mean "fast"?']
    fast = server("web", volumes=data(2, "fast"))
    _, errors = planned(spec(fast), [observed("web-data", size=2)], [live(fast)], TYPES)
    assert errors == [
        'volume.web-data: volume type changed (spec now "fast", the volume is "standard"): '
        "declstack does not change the type of a volume"
    ]
    by_id = server("web", volumes=data(2, "type-1"))
    _, errors = planned(spec(by_id), [observed("web-data", size=2)], [live(by_id)], TYPES)
    assert errors == [], "the type written by its id is the type the volume has"


def test_a_replaced_server_s_volume_moves_to_the_new_one_without_a_detach() -> None:
    for action in (Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE):
        changes, errors = planned(
            spec(WEB), [observed("web-data", size=2)], [live(WEB)], action=action
        )
        change = changes["volume.web-data"]
        assert change.action is Action.UPDATE and not errors
        assert change.volume is not None
        assert (change.volume.attach, change.volume.detach_from) == (True, None)
        assert change.reason == (
            "moves to the new server.web once it is ACTIVE (the delete of the old server "
            "detaches it)"
        )


def test_a_volume_on_another_server_of_the_stack_is_detached_from_it_first() -> None:
    other = server("other")
    changes, _ = planned(
        spec(WEB, other),
        [observed("web-data", size=2, on=("id-other",))],
        [live(WEB), live(other, "id-other")],
    )
    change = changes["volume.web-data"]
    assert change.volume is not None and change.volume.detach_from == "id-other"
    assert (
        change.reason
        == "on server.other (id id-other): detached from it, then attached to server.web"
    )


def test_a_volume_on_a_server_the_stack_does_not_own_is_never_detached() -> None:
    changes, errors = planned(
        spec(WEB), [observed("web-data", size=2, on=("id-theirs",))], [live(WEB)]
    )
    assert changes["volume.web-data"].action is Action.NOOP
    assert errors == [
        "volume.web-data: attached to server id-theirs, which stack 'demo' does not own: "
        "declstack never detaches a volume from a server it does not own"
    ]


def test_an_entry_that_leaves_the_spec_deletes_its_volume_after_a_detach() -> None:
    bare = server("web")
    changes, errors = planned(spec(bare), [observed("web-data")], [live(bare)])
    change = changes["volume.web-data"]
    assert (change.action, errors) == (Action.DELETE, [])
    assert change.reason == "no longer in the spec; detached from server.web first"
    assert change.volume is not None and change.volume.detach_from == "id-web"
    gone, _ = planned(spec(), [observed("web-data")], [live(bare)])
    assert (
        gone["volume.web-data"].reason == "its server left the spec; detached from server.web first"
    )


def test_prevent_destroy_protects_a_server_s_volumes() -> None:
    kept = server("web", lifecycle=Lifecycle(prevent_destroy=True))
    changes, errors = planned(spec(kept), [observed("web-data")], [live(kept)])
    assert changes["volume.web-data"].action is Action.NOOP
    assert errors == [
        "volume.web-data: prevent_destroy protects server.web and its volumes; refusing to "
        "delete it (no longer in the spec)"
    ]
    # Recorded on the server: its volumes stay protected when its entry goes too.
    marked = live(server("web"), metadata={ownership.PREVENT_DESTROY_KEY: "true"})
    _, errors = planned(spec(), [observed("web-data")], [marked])
    assert len(errors) == 1 and "prevent_destroy protects server.web" in errors[0]


def test_duplicates_keep_the_attached_one_and_volumes_of_other_stacks_are_not_seen() -> None:
    found = [
        observed("web-data", size=2, status="available", on=(), id="vol-late"),
        observed("web-data", size=2, id="vol-on"),
        observed("web-data", size=2, stack="other", id="vol-theirs"),
    ]
    changes, _ = planned_list(spec(WEB), found, [live(WEB)])
    decided = [
        (c.action, c.volume.before.id, c.reason) for c in changes if c.volume and c.volume.before
    ]
    assert sorted(decided) == [
        (Action.DELETE, "vol-late", "duplicate of vol-on (left by an interrupted run)"),
        (Action.NOOP, "vol-on", "up to date (2 GB, attached to server.web)"),
    ]


def test_a_volume_in_error_is_made_again_and_one_in_progress_is_waited_for() -> None:
    changes, _ = planned(
        spec(WEB), [observed("web-data", size=2, status="error", on=())], [live(WEB)]
    )
    assert changes["volume.web-data"].action is Action.DELETE_THEN_CREATE
    changes, _ = planned(
        spec(WEB), [observed("web-data", size=2, status="creating", on=())], [live(WEB)]
    )
    change = changes["volume.web-data"]
    assert change.action is Action.WAIT and change.volume is not None and change.volume.attach


def test_a_boot_volume_of_an_unknown_type_is_an_error_on_its_server() -> None:
    booted = server("web", boot_volume=BootVolume(1, "nope"))
    _, errors = planned(spec(booted), [], [], TYPES)
    assert errors == ['server.web: boot_volume: volume type "nope" not found']


# --- apply on the strict fake ---------------------------------------------------------


def test_a_data_volume_is_made_attached_and_then_in_sync() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    lines = apply(cloud, spec(server("db", volumes=data(1))))
    assert "volume.db-data has been created (1 GB) and attached to server.db" in lines
    vol = volumes(cloud)["db-data"]
    assert (vol.status, vol.attached_to) == ("in-use", (server_id(cloud, "db"),))
    assert vol.metadata == {
        "declstack:stack": "demo",
        "declstack:server": "db",
        "declstack:volume": "data",
    }
    again = plan_of(cloud, spec(server("db", volumes=data(1))))
    assert not again.has_changes, render_text(again)
    assert cloud.calls.count("list-volumes") >= 2 and "list-volume-types" not in cloud.calls


def test_an_image_change_attaches_the_same_volume_to_the_new_server() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(server("db", volumes=data(1))))
    before = volumes(cloud)["db-data"].id
    old = server_id(cloud, "db")
    lines = apply(cloud, spec(server("db", image="debian-12", volumes=data(1))))
    new = server_id(cloud, "db")
    assert new != old and old not in cloud.servers
    assert "volume.db-data has been moved to server.db" in lines
    vol = volumes(cloud)["db-data"]
    assert (vol.id, vol.attached_to, vol.status) == (before, (new,), "in-use")
    assert not any(c.startswith("detach volume") for c in cloud.calls), "the delete detached it"


def test_create_before_destroy_keeps_the_volume_on_the_old_server_until_it_goes() -> None:
    cbd = Lifecycle(create_before_destroy=True)
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(server("db", volumes=data(1), lifecycle=cbd)))
    old = server_id(cloud, "db")
    apply(cloud, spec(server("db", image="debian-12", volumes=data(1), lifecycle=cbd)))
    new_built = cloud.calls.index("create db", cloud.calls.index("create db") + 1)
    old_gone = cloud.calls.index(f"delete {old}")
    attached = next(
        i for i, c in enumerate(cloud.calls) if c.startswith("attach volume") and i > new_built
    )
    assert new_built < old_gone < attached
    assert volumes(cloud)["db-data"].attached_to == (server_id(cloud, "db"),)


def test_growing_size_extends_the_attached_volume_in_place() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(server("db", volumes=data(1))))
    before = volumes(cloud)["db-data"]
    lines = apply(cloud, spec(server("db", volumes=data(2))))
    assert "volume.db-data has been extended to 2 GB" in lines
    after = volumes(cloud)["db-data"]
    assert (after.id, after.size, after.attached_to) == (before.id, 2, before.attached_to)
    assert not any(c.startswith(("detach", "attach volume")) for c in cloud.calls[-6:])


def test_a_resize_in_place_keeps_the_volume_attached() -> None:
    resize = Lifecycle(flavor_change="resize")
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(server("db", volumes=data(1), lifecycle=resize)))
    on = volumes(cloud)["db-data"].attached_to
    plan = plan_of(cloud, spec(server("db", flavor="m1.small", volumes=data(1), lifecycle=resize)))
    assert [c.action for c in volume_changes(plan)] == [Action.NOOP]
    apply(cloud, spec(server("db", flavor="m1.small", volumes=data(1), lifecycle=resize)))
    assert volumes(cloud)["db-data"].attached_to == on


def test_scaling_down_deletes_the_volumes_of_the_servers_that_go() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(server("db-1", volumes=data(1)), server("db-2", volumes=data(1))))
    lines = apply(cloud, spec(server("db-1", volumes=data(1))))
    assert "volume.db-2-data has been destroyed" in lines
    assert sorted(volumes(cloud)) == ["db-1-data"]


def test_destroy_removes_every_owned_volume_and_none_it_does_not_own() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    theirs = cloud.add_volume(ObservedVolume("vol-theirs", "db-data", 1, "available", "standard"))
    other_stack = cloud.add_volume(observed("db-data", on=(), status="available", stack="other"))
    the_spec = spec(server("db", volumes=(VolumeRequest("data", 1), VolumeRequest("logs", 1))))
    apply(cloud, the_spec)
    lines = apply(cloud, the_spec, destroy=True)
    assert (
        "volume.db-data has been destroyed" in lines
        and "volume.db-logs has been destroyed" in lines
    )
    assert sorted(cloud.volumes) == sorted([theirs.id, other_stack.id])
    assert not cloud.servers


def test_destroy_refuses_volumes_prevent_destroy_protects() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    the_spec = spec(server("db", volumes=data(1), lifecycle=Lifecycle(prevent_destroy=True)))
    apply(cloud, the_spec)
    plan = make_destroy_plan(the_spec, cloud)
    assert {d.address for d in plan.errors} == {"server.db", "volume.db-data"}
    assert not any(c.action is Action.DELETE for c in plan.changes)


def test_a_volume_quota_error_fails_the_volume_and_nothing_else() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    cloud.volume_quota_gb = 1
    plan = plan_of(cloud, spec(server("db", volumes=data(2))))
    report = Reconciler(cloud, Settings(), clock=Instant().clock()).apply(plan)
    (failure,) = report.failures
    assert failure.address == "volume.db-data"
    assert failure.message == "creating: FakeCloudError: 413 VolumeSizeExceedsAvailableQuota"
    assert server_id(cloud, "db")


def test_a_boot_volume_goes_in_the_create_request() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    boot = BootVolume(3, "fast", delete_on_termination=True)
    apply(cloud, spec(server("db", boot_volume=boot)))
    assert cloud.boot_volumes == {server_id(cloud, "db"): boot}
    plan = plan_of(cloud, spec(server("db", boot_volume=boot)))
    assert not plan.has_changes
    json_after = plan_to_dict(plan_of(cloud, spec(server("db", boot_volume=BootVolume(4)))))
    (change,) = json_after["changes"]
    assert change["after"]["boot_volume"] == {
        "size": 4,
        "type": None,
        "delete_on_termination": True,
    }
    assert change["resolved"] is not None


def test_targeting_a_server_brings_its_volume_changes() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(server("a", volumes=data(1)), server("b", volumes=data(1))))
    grown = spec(server("a", volumes=data(2)), server("b", volumes=data(2)))
    from declstack.model import PlanOptions

    plan = make_plan(grown, cloud, options=PlanOptions(targets=("a",)))
    assert [c.address for c in plan.changes if c.action is not Action.NOOP] == ["volume.a-data"]
    assert plan.left_out == ("volume.b-data",)


def test_the_plan_json_of_a_volume_change() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(server("db", volumes=data(1))))
    plan = plan_of(cloud, spec(server("db", volumes=data(3))))
    (change,) = [c for c in plan_to_dict(plan)["changes"] if c["kind"] == "volume"]
    change.pop("batch", None)  # rollouts' (issue 10 item 4), none here
    vol = volumes(cloud)["db-data"]
    assert change == {
        "address": "volume.db-data",
        "kind": "volume",
        "name": "db-data",
        "action": "update",
        "reason": "size 1 -> 3 GB: extend in place",
        "replaced_by": [],
        "ignored": [],
        "id": vol.id,
        "server": "db",
        "before": {
            "id": vol.id,
            "name": "db-data",
            "size": 1,
            "status": "in-use",
            "volume_type": "standard",
            "attached_to": list(vol.attached_to),
        },
        "after": {"name": "db-data", "volume": "data", "size": 3, "type": None},
        "patch": {"extend_to": 3, "detach_from": None, "attach": False},
    }
    text = render_text(plan)
    assert f"  ~ volume.db-data (id {vol.id}): size 1 -> 3 GB: extend in place" in text
    assert "      size: 1 -> 3 GB   # extend in place" in text


# --- the adapter ----------------------------------------------------------------------


class BlockStorage(Compute):
    """The block-storage proxy: as the compute stub, microversion optional."""

    def _answer(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("microversion", None)
        return super()._answer(method, path, **kwargs)


class Both(Conn):
    def __init__(self, compute: Compute, block_storage: BlockStorage) -> None:
        super().__init__(compute)
        self.block_storage = block_storage


def adapter(block: BlockStorage, compute: Compute | None = None) -> OpenStackCloud:
    from .test_cloud_security_groups import Instant as Clock

    cloud = OpenStackCloud(Both(compute or Compute([]), block), clock=Clock().clock())
    cloud._version = "2.100"
    cloud._volume_version = "3.42"
    return cloud


QUOTA = {
    "overLimit": {
        "code": 413,
        "message": "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds "
        "allowed gigabytes quota. Requested 2G, quota is 5G and 4G has been consumed.",
        "retryAfter": "0",
    }
}


def test_cinder_s_quota_413_is_final_not_a_rate_limit() -> None:
    answer = response(413, QUOTA)
    answer.headers["Retry-After"] = "0"
    from openstack import exceptions

    try:
        exceptions.raise_from_response(answer)
    except exceptions.HttpException as exc:
        info = classify(exc)
    assert (info.retryable, info.not_processed, info.status) == (False, False, 413)
    rate = response(413, {"overLimit": {"code": 413, "message": "rate limited", "retryAfter": "2"}})
    try:
        exceptions.raise_from_response(rate)
    except exceptions.HttpException as exc:
        assert classify(exc).retryable, "Nova's rate limit 413 still is"

    block = BlockStorage([answer])
    with pytest.raises(CloudError) as raised:
        adapter(block).create_volume("demo", DesiredVolume("db", "data", 2))
    assert len(block.sent) == 1, "sent once"
    assert raised.value.message == (
        "create volume db-data: over the project's volume quota: "
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
        "gigabytes quota. Requested 2G, quota is 5G and 4G has been consumed. (HTTP 413)"
    )
    assert raised.value.hint is not None and "quota" in raised.value.hint


def test_the_adapter_s_volume_requests() -> None:
    made = response(202, {"volume": {"id": "vol-1", "status": "creating"}})
    block = BlockStorage(
        [
            made,
            response(202),
            response(202),
            response(200, {"volume_types": [{"id": "t1", "name": "standard"}]}),
        ]
    )
    cloud = adapter(block)
    assert cloud.create_volume("demo", DesiredVolume("db", "data", 2, "fast")) == "vol-1"
    cloud.extend_volume("vol-1", 3)
    cloud.delete_volume("vol-1")
    assert cloud.list_volume_types() == [NamedResource("t1", "standard")]
    assert block.sent[:3] == [
        Sent(
            "POST",
            "/volumes",
            None,
            {
                "volume": {
                    "size": 2,
                    "name": "db-data",
                    "metadata": {
                        "declstack:stack": "demo",
                        "declstack:server": "db",
                        "declstack:volume": "data",
                    },
                    "volume_type": "fast",
                }
            },
            None,
        ),
        Sent("POST", "/volumes/vol-1/action", None, {"os-extend": {"new_size": 3}}, "3.42"),
        Sent("DELETE", "/volumes/vol-1", None, None, None),
    ]
    compute = Compute([response(200, {"volumeAttachment": {}}), response(404, {})])
    cloud = adapter(BlockStorage([]), compute)
    cloud.attach_volume("srv-1", "vol-1")
    cloud.detach_volume("srv-1", "vol-1")  # 404: not attached any more, so done
    assert [(s.method, s.path, s.body) for s in compute.sent] == [
        (
            "POST",
            "/servers/srv-1/os-volume_attachments",
            {"volumeAttachment": {"volumeId": "vol-1"}},
        ),
        ("DELETE", "/servers/srv-1/os-volume_attachments/vol-1", None),
    ]


def test_the_stack_s_volumes_are_listed_by_metadata_and_checked_again() -> None:
    mine = {
        "id": "v1",
        "name": "db-data",
        "size": 2,
        "status": "in-use",
        "volume_type": "standard",
        "metadata": {
            "declstack:stack": "demo",
            "declstack:server": "db",
            "declstack:volume": "data",
        },
        "attachments": [{"server_id": "srv-1", "volume_id": "v1"}],
        "created_at": "2026-11-29T12:00:00.000000",
    }
    theirs = {**mine, "id": "v2", "metadata": {"declstack:stack": "other"}}
    block = BlockStorage([response(200, {"volumes": [mine, theirs]})])
    (found,) = adapter(block).list_stack_volumes("demo")
    assert found == to_observed_volume(mine)
    assert (found.size, found.attached_to, found.status) == (2, ("srv-1",), "in-use")
    (sent,) = block.sent
    assert (sent.path, json.loads((sent.params or {})["metadata"])) == (
        "/volumes/detail",
        {"declstack:stack": "demo"},
    )


def test_a_boot_volume_is_a_block_device_mapping_without_image_ref() -> None:
    created: dict[str, Any] = {}

    class Proxy:
        def create_server(self, **attrs: Any) -> Any:
            created.update(attrs)
            return type("S", (), {"id": "srv-1"})()

    cloud = OpenStackCloud(type("C", (), {"compute": Proxy()})())
    request = CreateRequest(
        name="db",
        image_id="img-1",
        flavor_id="1",
        networks="auto",
        metadata=frozen_map(),
        tags=(),
        boot_volume=BootVolume(5, "fast", delete_on_termination=False),
    )
    assert cloud.create_server(request) == "srv-1"
    assert "image_id" not in created
    assert created["block_device_mapping"] == [
        {
            "boot_index": 0,
            "uuid": "img-1",
            "source_type": "image",
            "destination_type": "volume",
            "volume_size": 5,
            "delete_on_termination": False,
            "volume_type": "fast",
        }
    ]


# --- with a rollout: each batch's servers get their volumes before their health check --


def rolled(count: int, image: str, cbd: bool = False) -> Spec:
    check = HealthCheck("true", timeout=30)
    return spec(
        *(
            server(
                f"db-{n}",
                image=image,
                entry="db",
                volumes=data(1),
                rollout=Rollout(batch=1, health=check),
                lifecycle=Lifecycle(create_before_destroy=cbd),
            )
            for n in range(1, count + 1)
        )
    )


class SeesVolumes:
    """A health runner that notes, for each server it checks, the server its volume is
    on; it fails the servers named in `sick`."""

    def __init__(self, cloud: FakeCloud, sick: tuple[str, ...] = ()) -> None:
        self.cloud = cloud
        self.sick = sick
        self.seen: dict[str, tuple[str, ...]] = {}

    def __call__(
        self, command: str, timeout: float, probes: Sequence[Probe], parallelism: int
    ) -> dict[int, Verdict]:
        for probe in probes:
            self.seen[probe.name] = volumes(self.cloud)[f"{probe.name}-data"].attached_to
        return {p.key: Verdict(p.name not in self.sick, "checked", 0.1) for p in probes}


def test_a_rolled_replacement_attaches_each_batch_s_volumes_before_its_health_check() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, rolled(2, "cirros"))
    before = {name: v.id for name, v in volumes(cloud).items()}
    health = SeesVolumes(cloud)
    plan = plan_of(cloud, rolled(2, "debian-12"))
    report = Reconciler(cloud, Settings(), clock=Instant().clock(), health=health).apply(plan)
    assert report.converged, report.failures
    ids = {s.name: s.id for s in cloud.servers.values()}
    assert health.seen == {"db-1": (ids["db-1"],), "db-2": (ids["db-2"],)}
    assert {name: v.id for name, v in volumes(cloud).items()} == before


def test_a_failed_batch_leaves_the_later_servers_volumes_where_they_are() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, rolled(2, "cirros", cbd=True))
    old = {s.name: s.id for s in cloud.servers.values()}
    health = SeesVolumes(cloud, sick=("db-1",))
    plan = plan_of(cloud, rolled(2, "debian-12", cbd=True))
    report = Reconciler(cloud, Settings(), clock=Instant().clock(), health=health).apply(plan)
    failures = {r.address: r.message for r in report.failures}
    assert failures["volume.db-1-data"] == "was left on the old server.db-1: its batch failed"
    assert failures["volume.db-2-data"] == (
        "was left as it is: its rollout did not reach server.db-2"
    )
    on = {name: v.attached_to for name, v in volumes(cloud).items()}
    assert on == {"db-1-data": (old["db-1"],), "db-2-data": (old["db-2"],)}


def test_a_cloud_without_block_storage_has_no_volumes_to_plan() -> None:
    from openstack import exceptions
    from openstack.service_description import _ServiceDisabledProxyShim

    shim = _ServiceDisabledProxyShim(
        "block-storage",
        "The service is not present in the service catalog: Could not find requested "
        "endpoint in Service Catalog.",
    )
    with pytest.raises(exceptions.ServiceDisabledException):
        shim.get  # noqa: B018 - what openstacksdk hands out for a service it lacks
    cloud = OpenStackCloud(type("C", (), {"compute": None, "block_storage": shim})())
    assert cloud.list_stack_volumes("demo") == []


def test_a_volume_another_run_left_creating_is_waited_for_then_attached() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(server("db")))
    cloud.volume_polls = 3
    left = cloud.create_volume("demo", DesiredVolume("db", "data", 1))  # its run was killed
    plan = plan_of(cloud, spec(server("db", volumes=data(1))))
    (change,) = volume_changes(plan)
    assert (change.action, change.reason) == (
        Action.WAIT,
        "in status creating; waiting for it, then attached to server.db",
    )
    lines = apply(cloud, spec(server("db", volumes=data(1))))
    assert "volume.db-data has been waited for and attached to server.db" in lines
    assert volumes(cloud)["db-data"].id == left
    assert volumes(cloud)["db-data"].attached_to == (server_id(cloud, "db"),)
    assert cloud.calls.count(f"attach volume {left} {server_id(cloud, 'db')}") == 1
