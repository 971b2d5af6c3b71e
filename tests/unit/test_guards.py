"""Guards for CI: prevent_destroy recorded on the server, --max-deletions and the spec's
max_deletions, and --target; all decided in the pure core and carried by the plan."""

from __future__ import annotations

import dataclasses
import json

import pytest

from declstack import ownership
from declstack.engine import make_destroy_plan, make_plan
from declstack.model import (
    Action,
    Change,
    DesiredKeypair,
    DesiredSecurityGroup,
    DesiredServer,
    FloatingIpRequest,
    Lifecycle,
    ObservedServer,
    Plan,
    PlanOptions,
    Rule,
    Spec,
)
from declstack.planner import limit_deletions, plan, target
from declstack.reconciler import Reconciler, Settings
from declstack.render import plan_to_dict, render_markdown, render_text
from tests.fakes import FakeCloud
from tests.unit.builders import STACK, desired, server
from tests.unit.test_reconciler import CATALOG, Instant
from tests.unit.test_reconciler import server as cloud_server

pytestmark = pytest.mark.unit

PROTECTED = Lifecycle(prevent_destroy=True)
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa me@laptop"


def web(count: int, *, protected: bool = True, **kw: object) -> tuple[DesiredServer, ...]:
    """The servers of a `web` entry with `count`, as the spec loader expands them."""
    lifecycle = PROTECTED if protected else Lifecycle()
    return tuple(
        desired(f"web-{n}", entry="web", lifecycle=lifecycle, **kw) for n in range(1, count + 1)
    )


def built(servers: tuple[DesiredServer, ...]) -> list[ObservedServer]:
    """The servers declstack created from `servers` (marker included when protected)."""
    return [server(s, id=f"id-{s.name}") for s in servers]


def actions(result: Plan) -> dict[str, str]:
    return {c.address: c.action.value for c in result.changes}


def errors(result: Plan) -> list[str]:
    return [d.message for d in result.errors]


# --- prevent_destroy recorded on the server -------------------------------------------


def test_the_marker_is_stored_under_its_documented_name() -> None:
    assert ownership.PREVENT_DESTROY_KEY == "declstack:prevent-destroy"
    marker = ownership.marker_metadata(STACK, desired(lifecycle=PROTECTED))
    assert marker[ownership.PREVENT_DESTROY_KEY] == "true"
    assert ownership.PREVENT_DESTROY_KEY not in ownership.marker_metadata(STACK, desired())


def test_the_create_request_carries_the_marker() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    the_spec = Spec(STACK, (cloud_server("a", lifecycle=PROTECTED), cloud_server("b")))
    change = {c.name: c for c in make_plan(the_spec, cloud).changes}
    assert change["a"].create is not None and change["b"].create is not None
    assert change["a"].create.metadata[ownership.PREVENT_DESTROY_KEY] == "true"
    assert ownership.PREVENT_DESTROY_KEY not in change["b"].create.metadata


@pytest.mark.parametrize(
    ("wanted", "has", "set_", "deleted", "reason"),
    [
        (True, {}, {ownership.PREVENT_DESTROY_KEY: "true"}, (), "recorded on the server"),
        (False, {ownership.PREVENT_DESTROY_KEY: "true"}, {}, ("declstack:prevent-destroy",), ""),
        (False, {ownership.PREVENT_DESTROY_KEY: "no"}, {}, ("declstack:prevent-destroy",), ""),
    ],
    ids=["flag added: marker set", "flag dropped: marker removed", "odd value: removed"],
)
def test_the_flag_changes_the_marker_in_place(
    wanted: bool, has: dict[str, str], set_: dict[str, str], deleted: tuple[str, ...], reason: str
) -> None:
    observed = server(desired(), extra_metadata=has)
    result = plan(Spec(STACK, (desired(lifecycle=Lifecycle(prevent_destroy=wanted)),)), [observed])
    (change,) = result.changes
    assert change.action is Action.UPDATE, "never a replacement"
    assert change.patch is not None
    assert dict(change.patch.set_metadata) == set_
    assert change.patch.delete_metadata == deleted
    assert reason in change.reason and "prevent_destroy" in change.reason
    assert not result.errors


def test_a_recorded_marker_in_any_case_needs_no_update() -> None:
    observed = server(desired(), extra_metadata={ownership.PREVENT_DESTROY_KEY: "True"})
    result = plan(Spec(STACK, (desired(lifecycle=PROTECTED),)), [observed])
    assert actions(result) == {"server.web-1": "no-op"}


@pytest.mark.parametrize(
    ("spec_servers", "observed", "refused", "says"),
    [
        (web(2), built(web(3)), "server.web-3", "recorded on the server; refusing to delete it"),
        ((), built(web(1)), "server.web-1", "recorded on the server; refusing to delete it"),
        (
            web(2, protected=False),
            built(web(3)),
            "server.web-3",
            "recorded on the server; refusing to delete it (no longer in the spec)",
        ),
        (
            web(1, protected=False, image="ubuntu"),
            built(web(1)),
            "server.web-1",
            "recorded on the server; refusing to replace it (image changed",
        ),
        (
            web(2),
            built(web(3, protected=False)),
            "server.web-3",
            "prevent_destroy is set; refusing to delete it (no longer in the spec)",
        ),
    ],
    ids=[
        "count lowered under the flag",
        "entry removed with its flag",
        "flag dropped in the same change as the count",
        "flag dropped in the same change as a replacement",
        "count lowered before the marker existed: the entry still protects",
    ],
)
def test_a_protected_server_is_never_planned_away(
    spec_servers: tuple[DesiredServer, ...],
    observed: list[ObservedServer],
    refused: str,
    says: str,
) -> None:
    result = plan(Spec(STACK, spec_servers), observed)
    assert actions(result)[refused] == "no-op"
    assert not any(c.action is Action.DELETE or c.action.is_replace for c in result.changes)
    (error,) = result.errors
    assert error.address == refused and says in error.message
    assert error.hint


def test_the_way_out_drop_the_flag_apply_then_lower_the_count() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    entry = tuple(cloud_server(f"web-{n}", entry="web", lifecycle=PROTECTED) for n in range(1, 4))
    apply(cloud, Spec(STACK, entry))
    assert all(ownership.is_protected(s) for s in cloud.servers.values())

    lowered = Spec(STACK, entry[:2])
    refused = make_plan(lowered, cloud)
    assert errors(refused) and not refused.count(Action.DELETE)

    unprotected = tuple(dataclasses.replace(s, lifecycle=Lifecycle()) for s in entry)
    first = make_plan(Spec(STACK, unprotected), cloud)
    assert set(actions(first).values()) == {"update"}, "the flag alone changes only the marker"
    apply(cloud, Spec(STACK, unprotected))
    assert not any(ownership.is_protected(s) for s in cloud.servers.values())

    later = make_plan(Spec(STACK, unprotected[:2]), cloud)
    assert actions(later)["server.web-3"] == "delete" and not later.errors


def test_destroy_honours_the_marker_when_the_spec_no_longer_says_so() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, Spec(STACK, (cloud_server("a", lifecycle=PROTECTED), cloud_server("b"))))
    destroy = make_destroy_plan(Spec(STACK, (cloud_server("a"), cloud_server("b"))), cloud)
    assert actions(destroy) == {"server.a": "no-op", "server.b": "delete"}
    (error,) = destroy.errors
    assert error.address == "server.a" and "recorded on the server" in error.message


def apply(cloud: FakeCloud, the_spec: Spec) -> None:
    the_plan = make_plan(the_spec, cloud)
    assert not the_plan.errors, the_plan.errors
    report = Reconciler(cloud, Settings(), clock=Instant().clock()).apply(the_plan)
    assert report.converged, report.failures


# --- max_deletions -------------------------------------------------------------------


def deletions(*names: str, replace: tuple[str, ...] = ()) -> Plan:
    changes = [Change(n, Action.DELETE, "no longer in the spec") for n in names]
    changes += [Change(n, Action.DELETE_THEN_CREATE, "image changed") for n in replace]
    changes.append(Change("keep", Action.UPDATE, "tags"))
    return Plan(STACK, tuple(changes))


@pytest.mark.parametrize(
    ("the_plan", "limit", "refused"),
    [
        (deletions("a", "b"), 1, True),
        (deletions("a", "b"), 2, False),
        (deletions("a", replace=("b",)), 1, True),
        (deletions(replace=("a",)), 0, True),
        (deletions(), 0, False),
        (deletions("a", "b", "c"), None, False),
    ],
    ids=["2 over 1", "2 at 2", "a replace counts", "0 allows none", "0 with none", "no limit"],
)
def test_limit_deletions(the_plan: Plan, limit: int | None, refused: bool) -> None:
    result = limit_deletions(the_plan, limit, "--max-deletions")
    assert result.changes == the_plan.changes
    assert bool(result.errors) is refused
    if refused:
        count = the_plan.count(Action.DELETE) + the_plan.replacements
        (error,) = result.errors
        assert f"deletes or replaces {count} servers" in error.message
        assert f"more than the limit of {limit} (--max-deletions)" in error.message


def test_a_long_list_of_deletions_is_summed_up() -> None:
    (error,) = limit_deletions(deletions(*"abcdefg"), 3, "x").errors
    assert "7 servers (a, b, c, d, e and 2 more)" in error.message


def scaled(count: int, max_deletions: int | None = None) -> Spec:
    servers = tuple(cloud_server(f"s-{n}") for n in range(1, count + 1))
    return Spec(STACK, servers, max_deletions=max_deletions)


def test_the_spec_key_refuses_and_the_flag_overrides_it() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, scaled(3))
    shrunk = scaled(1, max_deletions=1)

    refused = make_plan(shrunk, cloud)
    (error,) = refused.errors
    assert "deletes or replaces 2 servers" in error.message
    assert "limit of 1 (max_deletions in the spec)" in error.message

    assert not make_plan(shrunk, cloud, options=PlanOptions(max_deletions=2)).errors
    flagged = make_plan(scaled(1), cloud, options=PlanOptions(max_deletions=0))
    assert "limit of 0 (--max-deletions)" in errors(flagged)[0]


def test_refused_protected_deletes_do_not_count() -> None:
    the_plan = plan(Spec(STACK, web(1)), [*built(web(3)), server(desired("old"), id="id-old")])
    assert len(the_plan.errors) == 2  # web-2 and web-3 refused; old is deleted
    limited = limit_deletions(the_plan, 0, "--max-deletions")
    assert len(limited.errors) == 3
    assert "deletes or replaces 1 servers (old)" in limited.errors[0].message
    assert limit_deletions(the_plan, 1, "--max-deletions") == the_plan


def test_destroy_ignores_the_spec_key_but_not_the_flag() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, scaled(2))
    assert not make_destroy_plan(scaled(2, max_deletions=0), cloud).errors
    limited = make_destroy_plan(scaled(2), cloud, options=PlanOptions(max_deletions=1))
    assert "deletes or replaces 2 servers" in errors(limited)[0]


def test_the_refusal_is_in_every_view() -> None:
    refused = limit_deletions(deletions("a", "b"), 1, "--max-deletions")
    text = render_text(refused)
    assert "x this plan deletes or replaces 2 servers" in text
    assert "Apply is blocked by 1 error(s)." in text
    assert "deletes or replaces 2 servers" in render_markdown(refused)
    (diagnostic,) = plan_to_dict(refused)["diagnostics"]
    assert diagnostic["severity"] == "error" and "limit of 1" in diagnostic["message"]


# --- --target --------------------------------------------------------------------------


def graph_spec() -> Spec:
    """web-1..3 with floating IPs, a group and a key pair of the spec; db alone."""
    group = DesiredSecurityGroup("web", rules=(Rule(protocol="tcp", port_min=80, port_max=80),))
    servers = tuple(
        cloud_server(
            f"web-{n}",
            entry="web",
            security_groups=("web",),
            key_name="deploy",
            floating_ip=FloatingIpRequest(),
        )
        for n in range(1, 4)
    )
    return Spec(
        STACK,
        (*servers, cloud_server("db")),
        security_groups=(group,),
        keypairs=(DesiredKeypair("deploy", KEY),),
    )


def targeted(cloud: FakeCloud, *targets: str, the_spec: Spec | None = None) -> Plan:
    return make_plan(the_spec or graph_spec(), cloud, options=PlanOptions(targets=targets))


def test_a_targeted_server_brings_its_floating_ip_group_and_key_pair_creates() -> None:
    result = targeted(FakeCloud(catalog=CATALOG), "web-2")
    assert actions(result) == {
        "floating_ip.web-2": "create",
        "keypair.deploy": "create",
        "security_group.web": "create",
        "server.web-2": "create",
    }
    assert result.left_out == (
        "floating_ip.web-1",
        "floating_ip.web-3",
        "server.db",
        "server.web-1",
        "server.web-3",
    )
    assert not result.errors


WEB_NEEDS = {"security_group.web", "keypair.deploy"}


@pytest.mark.parametrize(
    ("targets", "wanted"),
    [
        (("web-*",), {f"{k}.web-{n}" for k in ("server", "floating_ip") for n in (1, 2, 3)}),
        (("server.db",), {"server.db"}),
        (("db", "web-1"), {"server.db", "server.web-1", "floating_ip.web-1"}),
        (("security_group.web",), {"security_group.web"}),
        (("keypair.deploy",), {"keypair.deploy"}),
        (("floating_ip.web-3",), {"floating_ip.web-3", "server.web-3"}),
        (("web-[12]",), {f"{k}.web-{n}" for k in ("server", "floating_ip") for n in (1, 2)}),
        (("Web-1",), set()),  # names are matched exactly, case included
    ],
)
def test_targets_name_servers_patterns_and_addresses(
    targets: tuple[str, ...], wanted: set[str]
) -> None:
    """Every server brings the creates of its group and key pair (all three use them)."""
    result = targeted(FakeCloud(catalog=CATALOG), *targets)
    brings = WEB_NEEDS if any(a.startswith("server.web") for a in wanted) else set()
    assert set(actions(result)) == wanted | brings
    assert bool(result.errors) is (not wanted)


def test_targeting_on_a_built_stack_leaves_the_rest_alone() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, graph_spec())
    web1, web2, _, db = graph_spec().servers
    retagged = (dataclasses.replace(web1, tags=("new",)), dataclasses.replace(web2, tags=("new",)))
    changed = dataclasses.replace(graph_spec(), servers=(*retagged, db))
    result = targeted(cloud, "web-1", the_spec=changed)
    pending = {a: v for a, v in actions(result).items() if v != "no-op"}
    assert pending == {"server.web-1": "update"}
    assert "server.web-3" in result.left_out and "floating_ip.web-3" in result.left_out
    assert "server.web-2" in result.left_out

    removed = targeted(cloud, "web-3", the_spec=changed)
    assert {a: v for a, v in actions(removed).items() if v != "no-op"} == {
        "server.web-3": "delete",
        "floating_ip.web-3": "delete",
    }


def test_an_unknown_target_is_an_error_naming_it() -> None:
    result = targeted(FakeCloud(catalog=CATALOG), "web-2", "web-9", "volume.data")
    assert [e for e in errors(result) if "web-9" in e] == [
        '--target "web-9" matches nothing in the spec or among the resources of stack "demo"'
    ]
    assert any('"volume.data"' in e for e in errors(result))
    assert "server.web-2" in actions(result)


def test_a_target_only_in_the_cloud_is_known() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, scaled(2))
    result = make_plan(scaled(1), cloud, options=PlanOptions(targets=("s-2",)))
    assert actions(result) == {"server.s-2": "delete"} and not result.errors


def test_diagnostics_about_left_out_changes_are_left_out_too() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    the_spec = Spec(STACK, (cloud_server("a"), cloud_server("b", image="no-such-image")))
    assert make_plan(the_spec, cloud).errors
    result = make_plan(the_spec, cloud, options=PlanOptions(targets=("a",)))
    assert not result.errors and actions(result) == {"server.a": "create"}


def test_a_refusal_inside_the_targets_stays() -> None:
    the_plan = plan(Spec(STACK, web(1)), built(web(3)))
    assert target(the_plan, Spec(STACK, web(1)), ("web-1",)).errors == ()
    kept = target(the_plan, Spec(STACK, web(1)), ("web-*",))
    assert [e.address for e in kept.errors] == ["server.web-2", "server.web-3"]


def test_max_deletions_counts_only_the_targeted_changes() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, scaled(3))
    result = make_plan(scaled(0), cloud, options=PlanOptions(targets=("s-1",), max_deletions=1))
    assert actions(result) == {"server.s-1": "delete"} and not result.errors


def test_destroy_with_a_target_destroys_only_it() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, graph_spec())
    result = make_destroy_plan(graph_spec(), cloud, options=PlanOptions(targets=("web-2",)))
    assert actions(result) == {"floating_ip.web-2": "delete", "server.web-2": "delete"}


def test_the_summary_says_what_was_left_out() -> None:
    result = targeted(FakeCloud(catalog=CATALOG), "db")
    text = render_text(result)
    assert f"{len(result.left_out)} change(s) outside --target left out." in text
    assert "change(s) outside --target left out." in render_markdown(result)
    nothing = dataclasses.replace(result, changes=())
    assert "No changes to the targeted resources." in render_text(nothing)
    assert json.loads(json.dumps(plan_to_dict(result)))["summary"]["add"] == 1


def test_a_targeted_server_keeps_the_problems_of_its_floating_ip() -> None:
    claimed = cloud_server("a", floating_ip=FloatingIpRequest(address="198.51.100.7"))
    the_spec = Spec(STACK, (claimed, cloud_server("b")))
    result = make_plan(the_spec, FakeCloud(catalog=CATALOG), options=PlanOptions(targets=("a",)))
    (error,) = result.errors
    assert error.address == "floating_ip.a" and "not allocated" in error.message
