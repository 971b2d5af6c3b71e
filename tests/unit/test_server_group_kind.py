"""The server group kind (`placement:`): one owned group per entry, named with the
stack's marker; a policy change makes a new group and replaces its servers; a hard
policy's "No valid host" is not built again; destroy removes only owned groups."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import requests

from declstack import ownership
from declstack.cloud import CloudError, OpenStackCloud, to_observed_server_group
from declstack.engine import make_destroy_plan, make_plan
from declstack.kinds import server_group
from declstack.kinds.server_group import name_for, owner_entry, plan_server_groups
from declstack.model import (
    Action,
    CreateRequest,
    DesiredServer,
    HealthCheck,
    Kind,
    Lifecycle,
    Limits,
    ObservedServerGroup,
    Placement,
    Plan,
    PlanOptions,
    Rollout,
    Spec,
)
from declstack.planner import target
from declstack.reconciler import ApplyReport, Reconciler, Settings
from declstack.render import plan_to_dict, render_text
from declstack.spec import SpecError, parse_spec
from tests.fakes import FakeCloud
from tests.unit.test_reconciler import CATALOG, Instant
from tests.unit.test_rollout import Health

from .test_cloud_security_groups import response

pytestmark = pytest.mark.unit

ANTI = Placement("anti-affinity")


def replicas(entry: str, count: int, placement: Placement | None = ANTI, **kw: Any) -> tuple:  # type: ignore[type-arg]
    return tuple(
        DesiredServer(
            name=f"{entry}-{n}",
            image="cirros",
            flavor="m1.tiny",
            networks=("private",),
            entry=entry,
            placement=placement,
            **kw,
        )
        for n in range(1, count + 1)
    )


def spec(*servers: DesiredServer, stack: str = "demo") -> Spec:
    return Spec(stack, servers)


def group(entry: str, policy: str = "anti-affinity", *members: str, id: str = "") -> Any:
    return ObservedServerGroup(
        id or f"sg-{entry}-{policy}", name_for("demo", entry), policy, members
    )


def apply(cloud: FakeCloud, plan: Plan) -> ApplyReport:
    assert not plan.errors, plan.errors
    return Reconciler(cloud, Settings(), clock=Instant().clock()).apply(plan)


# --- ownership by name ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "name", "entry"),
    [
        ("demo", "declstack:stack=demo:entry=web", "web"),
        ("demo", "declstack:stack=demo:entry=web-db.1", "web-db.1"),
        # Another stack whose name starts like this one's: not ours.
        ("a", "declstack:stack=a-b:entry=c", None),
        ("a-b", "declstack:stack=a-b:entry=c", "c"),
        ("demo", "declstack:stack=demo:entry=", None),
        ("demo", "declstack-demo-web", None),
        ("demo", "web", None),
    ],
)
def test_a_group_belongs_to_the_stack_and_entry_its_name_says(
    stack: str, name: str, entry: str | None
) -> None:
    assert owner_entry(stack, ObservedServerGroup("g", name, "affinity")) == entry


def test_the_name_round_trips_and_fits_novas_255_characters() -> None:
    name = name_for("s" * 40, "e" * 63)
    assert len(name) <= 255
    assert owner_entry("s" * 40, ObservedServerGroup("g", name, "affinity")) == "e" * 63


# --- the plan of the kind (pure) -----------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: str
    servers: tuple  # type: ignore[type-arg]
    observed: tuple[ObservedServerGroup, ...]
    expected: list[tuple[str, Action, str | None]]  # (entry, action, id of before)
    reason: str = ""


ROWS = [
    Row(
        "absent: created",
        replicas("web", 3),
        (),
        [("web", Action.CREATE, None)],
        "not in the cloud",
    ),
    Row(
        "same policy: kept",
        replicas("web", 3),
        (group("web", "anti-affinity", "a", "b"),),
        [("web", Action.NOOP, "sg-web-anti-affinity")],
        "up to date",
    ),
    Row(
        "another policy: a new group, the old one after its servers",
        replicas("web", 2, Placement("affinity")),
        (group("web", "anti-affinity", "a"),),
        [("web", Action.CREATE_THEN_DELETE, "sg-web-anti-affinity")],
        'policy changed from "anti-affinity" to "affinity": Nova cannot change a group\'s '
        'policy, so a new group is made, the servers of "web" are replaced into it',
    ),
    Row(
        "the entry left the spec",
        replicas("db", 1),
        (group("web"),),
        [("db", Action.CREATE, None), ("web", Action.DELETE, "sg-web-anti-affinity")],
        "no longer in the spec",
    ),
    Row(
        "the entry no longer asks for placement",
        replicas("web", 2, None),
        (group("web"),),
        [("web", Action.DELETE, "sg-web-anti-affinity")],
        "the entry no longer asks for placement",
    ),
    Row(
        "count 0: no servers, no group",
        replicas("web", 0),
        (group("web"),),
        [("web", Action.DELETE, "sg-web-anti-affinity")],
    ),
    Row(
        "duplicates of an interrupted run: the one with members is kept",
        replicas("web", 2),
        (group("web", id="sg-1"), group("web", "anti-affinity", "a", id="sg-2")),
        [("web", Action.NOOP, "sg-2"), ("web", Action.DELETE, "sg-1")],
    ),
    Row(
        "an interrupted policy change: the new group is kept, the old one goes",
        replicas("web", 2, Placement("affinity")),
        (group("web", "anti-affinity", "a", "b"), group("web", "affinity", "c")),
        [("web", Action.NOOP, "sg-web-affinity"), ("web", Action.DELETE, "sg-web-anti-affinity")],
    ),
    Row(
        "groups the stack does not own are not in the plan",
        replicas("web", 1),
        (
            ObservedServerGroup("x1", "web", "anti-affinity"),
            ObservedServerGroup("x2", "declstack:stack=other:entry=web", "affinity"),
            ObservedServerGroup("x3", "declstack:stack=demo-2:entry=web", "affinity"),
        ),
        [("web", Action.CREATE, None)],
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_plan(row: Row) -> None:
    changes, problems = plan_server_groups(spec(*row.servers), row.observed)
    assert problems == []
    got = [
        (
            c.name,
            c.action,
            c.server_group.before.id if c.server_group and c.server_group.before else None,
        )
        for c in changes
    ]
    assert sorted(got, key=str) == sorted(row.expected, key=str)
    assert all(c.kind is Kind.SERVER_GROUP for c in changes)
    if row.reason:
        assert any(row.reason in c.reason for c in changes)


def test_the_new_group_carries_the_name_and_policy_to_create() -> None:
    (change,), _ = plan_server_groups(spec(*replicas("web", 2, Placement("soft-affinity"))), ())
    assert change.server_group is not None and change.server_group.after is not None
    after = change.server_group.after
    assert (after.entry, after.name, after.policy) == (
        "web",
        "declstack:stack=demo:entry=web",
        "soft-affinity",
    )
    assert change.address == "server_group.web"


def test_servers_are_scheduled_into_the_group_or_the_placeholder_of_a_new_one() -> None:
    the_spec = spec(*replicas("web", 1), *replicas("db", 1, Placement("affinity")))
    changes, _ = plan_server_groups(the_spec, (group("web"),))
    assert server_group.group_ids(changes) == {
        "web": "sg-web-anti-affinity",
        "db": "server_group.db",
    }


def test_a_destroy_keeps_the_groups_of_protected_entries() -> None:
    changes, _ = plan_server_groups(spec(), (group("web"), group("db")), keep={"web"})
    assert {(c.name, c.action) for c in changes} == {
        ("web", Action.NOOP),
        ("db", Action.DELETE),
    }


# --- the fingerprint: placement is a later attribute ------------------------------------


def test_servers_built_before_placement_existed_still_match() -> None:
    (plain,) = replicas("web", 1, None)
    assert "placement" not in ownership.fingerprint(plain)
    (placed,) = replicas("web", 1)
    assert ownership.fingerprint(placed).endswith(
        ";placement=" + ownership._digest("anti-affinity")
    )
    assert "placement" in ownership.REPLACING_ATTRIBUTES
    assert "placement" not in ownership.IGNORABLE_ATTRIBUTES


# --- plan and apply through the port (the strict fake) -----------------------------------


def test_three_replicas_are_created_into_one_new_group() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    the_spec = spec(*replicas("web", 3))
    plan = make_plan(the_spec, cloud)
    creates = [c for c in plan.changes if c.kind is Kind.SERVER]
    assert {c.create.server_group for c in creates if c.create} == {"server_group.web"}
    report = apply(cloud, plan)
    assert report.converged, report.failures
    (made,) = cloud.server_groups.values()
    assert (made.name, made.policy) == ("declstack:stack=demo:entry=web", "anti-affinity")
    assert sorted(made.members) == sorted(s.id for s in cloud.servers.values())
    assert cloud.calls.index("create server group declstack:stack=demo:entry=web") < (
        cloud.calls.index("create web-1")
    )
    again = make_plan(the_spec, cloud)
    assert not again.has_changes
    assert cloud.calls.count("list-server-groups") == 2  # one list per plan


def test_a_fourth_anti_affinity_member_on_three_hosts_fails_once_with_novas_fault() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    cloud.hosts = 3
    report = apply(cloud, make_plan(spec(*replicas("web", 4)), cloud))
    (failure,) = report.failures
    assert failure.address == "server.web-4" and failure.in_error
    assert failure.message.startswith("went to ERROR: No valid host was found.")
    assert 'placement policy "anti-affinity"' in failure.message
    assert "it is not built again" in failure.message
    assert cloud.calls.count("create web-4") == 1  # not healed by building it again
    assert len([s for s in cloud.servers.values() if s.status == "ACTIVE"]) == 3


def test_a_soft_policy_or_another_fault_is_built_again_as_before() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    cloud.fail_boots["web-1"] = 1
    report = apply(
        cloud, make_plan(spec(*replicas("web", 1, Placement("soft-anti-affinity"))), cloud)
    )
    assert report.converged, report.failures
    assert cloud.calls.count("create web-1") == 2


def test_a_policy_change_replaces_the_group_and_its_servers_with_that_reason() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    assert apply(cloud, make_plan(spec(*replicas("web", 2)), cloud)).converged
    old_ids = set(cloud.servers)
    (old_group,) = cloud.server_groups.values()

    changed = spec(*replicas("web", 2, Placement("soft-anti-affinity")))
    plan = make_plan(changed, cloud)
    actions = {c.address: c.action for c in plan.changes}
    assert actions == {
        "server_group.web": Action.CREATE_THEN_DELETE,
        "server.web-1": Action.DELETE_THEN_CREATE,
        "server.web-2": Action.DELETE_THEN_CREATE,
    }
    web1 = next(c for c in plan.changes if c.address == "server.web-1")
    assert web1.replaced_by == ("placement",)
    assert web1.reason.startswith('placement changed (spec now "soft-anti-affinity")')
    assert "Nova cannot change a group's policy" in web1.reason
    text = render_text(plan)
    assert "+/- server_group.web (id " in text
    assert 'policy: "anti-affinity" -> "soft-anti-affinity"   # forces replacement' in text
    assert 'placement: "soft-anti-affinity" (in server_group.web)   # forces replacement' in text

    report = apply(cloud, plan)
    assert report.converged, report.failures
    (new_group,) = cloud.server_groups.values()
    assert new_group.id != old_group.id and new_group.policy == "soft-anti-affinity"
    assert sorted(new_group.members) == sorted(cloud.servers) and not old_ids & set(cloud.servers)
    said = {r.address: r.message for r in report.results}
    assert said["server_group.web"] == (
        'has been replaced (policy "anti-affinity" -> "soft-anti-affinity")'
    )
    assert cloud.calls.index(f"delete server group {old_group.id}") > max(
        cloud.calls.index(f"create web-{n}") for n in (1, 2)
    )
    assert not make_plan(changed, cloud).has_changes


def test_the_old_group_stays_while_a_server_of_its_entry_was_not_replaced() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    assert apply(cloud, make_plan(spec(*replicas("web", 2)), cloud)).converged
    (old_group,) = cloud.server_groups.values()
    cloud.fail_create.add("web-2")
    report = apply(cloud, make_plan(spec(*replicas("web", 2, Placement("affinity"))), cloud))
    said = {r.address: r for r in report.results}
    assert not said["server_group.web"].ok
    assert "the old group is kept" in said["server_group.web"].message
    assert old_group.id in cloud.server_groups and len(cloud.server_groups) == 2


def test_adding_placement_replaces_the_servers_and_removing_it_drops_the_group() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    assert apply(cloud, make_plan(spec(*replicas("web", 1, None)), cloud)).converged
    plan = make_plan(spec(*replicas("web", 1)), cloud)
    (server,) = plan.of_kind(Kind.SERVER)
    assert server.action is Action.DELETE_THEN_CREATE and server.replaced_by == ("placement",)
    assert apply(cloud, plan).converged

    plan = make_plan(spec(*replicas("web", 1, None)), cloud)
    assert {c.address: c.action for c in plan.changes} == {
        "server_group.web": Action.DELETE,
        "server.web-1": Action.DELETE_THEN_CREATE,
    }
    (server,) = plan.of_kind(Kind.SERVER)
    assert server.reason.startswith("placement changed (spec now unset)")
    assert apply(cloud, plan).converged
    assert cloud.server_groups == {}


def test_destroy_removes_owned_groups_only_and_keeps_a_protected_servers_group() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    kept = replicas("db", 1, Placement("affinity"), lifecycle=Lifecycle(prevent_destroy=True))
    the_spec = spec(*replicas("web", 2), *kept)
    assert apply(cloud, make_plan(the_spec, cloud)).converged
    for group_id, name in (("u1", "web"), ("u2", "declstack:stack=other:entry=web")):
        cloud.server_groups[group_id] = ObservedServerGroup(group_id, name, "affinity")

    plan = make_destroy_plan(the_spec, cloud)
    groups = {c.address: c.action for c in plan.of_kind(Kind.SERVER_GROUP)}
    assert groups == {"server_group.web": Action.DELETE, "server_group.db": Action.NOOP}
    plan = replace(plan, diagnostics=())  # the protected server's refusal, tested elsewhere
    assert apply(cloud, plan).converged
    assert sorted(g.name for g in cloud.server_groups.values()) == [
        "declstack:stack=demo:entry=db",
        "declstack:stack=other:entry=web",
        "web",
    ]


@pytest.mark.parametrize(
    ("limits", "count", "policy_change", "expected"),
    [
        (Limits(max_server_group_members=10), 10, False, []),
        (
            Limits(max_server_group_members=10),
            11,
            False,
            [
                'entry "web" puts 11 servers into its server group, and the project\'s quota '
                "allows 10 per group (Nova's maxServerGroupMembers)"
            ],
        ),
        (Limits(max_server_groups=10, used_server_groups=9), 2, False, []),
        (
            Limits(max_server_groups=10, used_server_groups=10),
            2,
            False,
            ["applying this plan needs 11 server groups, but the project's quota is 10"],
        ),
        (
            Limits(max_server_groups=1, used_server_groups=1),
            2,
            True,
            ["applying this plan needs 2 server groups, but the project's quota is 1"],
        ),
        (Limits(), 100, True, []),
    ],
)
def test_server_group_quotas_are_checked_before_anything_changes(
    limits: Limits, count: int, policy_change: bool, expected: list[str]
) -> None:
    cloud = FakeCloud(catalog=replace(CATALOG, limits=limits))
    if policy_change:
        cloud.server_groups["g1"] = group("web", "affinity", id="g1")
    plan = make_plan(spec(*replicas("web", count)), cloud)
    messages = [d.message for d in plan.errors]
    assert len(messages) == len(expected)
    for message, start in zip(messages, expected, strict=True):
        assert message.startswith(start), message


def test_the_adapter_reads_the_server_group_quotas_from_limits() -> None:
    absolute = {
        "maxTotalInstances": 20,
        "totalInstancesUsed": 3,
        "maxServerGroups": 10,
        "maxServerGroupMembers": 10,
        "totalServerGroupsUsed": 4,
    }
    compute = Compute(response(200, {"limits": {"absolute": absolute, "rate": []}}))
    assert adapter(compute, "2.100")._limits() == Limits(20, 3, 10, 10, 4)
    unlimited = {**absolute, "maxServerGroups": -1}
    compute = Compute(response(200, {"limits": {"absolute": unlimited}}))
    assert adapter(compute, "2.100")._limits().max_server_groups is None


def test_a_targeted_server_brings_the_create_of_its_group() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    the_spec = spec(*replicas("web", 2))
    plan = make_plan(the_spec, cloud, options=PlanOptions(targets=("web-1",)))
    assert sorted(c.address for c in plan.changes) == ["server.web-1", "server_group.web"]
    only_group = target(make_plan(the_spec, cloud), the_spec, ["server_group.web"])
    assert [c.address for c in only_group.changes] == ["server_group.web"]


def test_the_json_plan_carries_the_placement_and_the_group() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    data = plan_to_dict(make_plan(spec(*replicas("web", 1)), cloud))
    assert data["format_version"] == "2.2"
    by_address = {c["address"]: c for c in data["changes"]}
    created = by_address["server_group.web"]
    assert (created["kind"], created["action"], created["before"]) == (
        "server_group",
        "create",
        None,
    )
    assert created["after"] == {
        "entry": "web",
        "name": "declstack:stack=demo:entry=web",
        "policy": "anti-affinity",
    }
    web = by_address["server.web-1"]
    assert web["after"]["placement"] == {"policy": "anti-affinity", "server_group": "web"}
    assert web["resolved"]["server_group"] == "server_group.web"


# --- the spec ------------------------------------------------------------------------

HEADER = "version: 1\nstack: demo\ndefaults: {image: cirros, flavor: m1.tiny}\n"


def test_placement_on_an_entry_and_from_defaults_one_group_per_entry(tmp_path: Path) -> None:
    text = (
        "version: 1\nstack: demo\n"
        "defaults: {image: cirros, flavor: m1.tiny, placement: {policy: anti-affinity}}\n"
        "servers:\n"
        "  - {name: web, count: 2}\n"
        "  - {name: db, placement: {policy: soft-affinity}}\n"
        "  - {name: cache, placement: null}\n"
    )
    parsed = parse_spec(text, str(tmp_path / "spec.yaml"))
    assert [(s.name, s.entry, s.placement) for s in parsed.servers] == [
        ("web-1", "web", ANTI),
        ("web-2", "web", ANTI),
        ("db", "db", Placement("soft-affinity")),
        ("cache", "cache", None),
    ]
    assert [g.entry for g in server_group.desired_groups(parsed)] == ["db", "web"]


@pytest.mark.parametrize(
    ("servers", "expected"),
    [
        (
            "  - {name: web, placement: {policy: anti-afinity}}\n",
            'spec.yaml:5:37: servers[0].placement.policy: must be "anti-affinity", "affinity", '
            '"soft-anti-affinity" or "soft-affinity" (Nova\'s server group policies); got the '
            "string \"anti-afinity\" (did you mean 'anti-affinity'?)",
        ),
        (
            "  - {name: web, placement: {}}\n",
            "spec.yaml:5:28: servers[0].placement: missing required key 'policy'",
        ),
        (
            "  - {name: web, placement: anti-affinity}\n",
            "spec.yaml:5:28: servers[0].placement: must be {policy: anti-affinity} (or affinity, "
            'soft-anti-affinity, soft-affinity), or null; got the string "anti-affinity"',
        ),
        (
            "  - {name: web, lifecycle: {ignore_changes: [placement]}}\n",
            "spec.yaml:5:46: servers[0].lifecycle.ignore_changes[0]: not an attribute",
        ),
    ],
)
def test_bad_placement_is_a_spec_error_at_its_place(
    servers: str, expected: str, tmp_path: Path
) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(HEADER + "servers:\n" + servers, "spec.yaml")
    (problem,) = caught.value.problems
    assert str(problem).startswith(expected), str(problem)


# --- the adapter -----------------------------------------------------------------------


class Compute:
    """A stub compute proxy: canned answers in order; what was sent is kept."""

    def __init__(self, *answers: requests.Response) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, str, Any, Any]] = []
        self.created: dict[str, Any] = {}

    def _answer(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        self.sent.append((method, path, kwargs.get("params"), kwargs.get("json")))
        return self.answers.pop(0)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self._answer("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self._answer("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self._answer("DELETE", path, **kwargs)

    def create_server(self, **attrs: Any) -> Any:
        self.created = attrs

        @dataclass
        class Made:
            id: str = "srv-1"

        return Made()


@dataclass
class Conn:
    compute: Compute


def adapter(compute: Compute, version: str) -> OpenStackCloud:
    cloud = OpenStackCloud(Conn(compute), clock=Instant().clock())
    cloud._version = version  # no version discovery against the stub
    return cloud


def body(n: int, start: int = 0) -> dict[str, Any]:
    return {
        "server_groups": [
            {"id": f"g{i}", "name": f"n{i}", "policy": "affinity", "members": [f"s{i}"]}
            for i in range(start, start + n)
        ]
    }


def test_the_list_pages_by_offset_until_a_short_page() -> None:
    compute = Compute(response(200, body(1000)), response(200, body(3, 1000)))
    found = adapter(compute, "2.100").list_server_groups()
    assert len(found) == 1003 and found[-1] == ObservedServerGroup(
        "g1002", "n1002", "affinity", ("s1002",)
    )
    assert [(m, p, q) for m, p, q, _ in compute.sent] == [
        ("GET", "/os-server-groups", {"limit": "1000", "offset": "0"}),
        ("GET", "/os-server-groups", {"limit": "1000", "offset": "1000"}),
    ]


def test_a_full_page_of_known_groups_ends_the_list_instead_of_looping() -> None:
    compute = Compute(response(200, body(1000)), response(200, body(1000)))
    assert len(adapter(compute, "2.100").list_server_groups()) == 1000
    assert len(compute.sent) == 2


@pytest.mark.parametrize(
    ("version", "sent"),
    [
        ("2.64", {"name": "n", "policy": "soft-affinity"}),
        ("2.63", {"name": "n", "policies": ["soft-affinity"]}),
        ("2.15", {"name": "n", "policies": ["soft-affinity"]}),
    ],
)
def test_create_sends_policy_from_2_64_and_policies_before(version: str, sent: Any) -> None:
    compute = Compute(response(200, {"server_group": {"id": "g1", "name": "n"}}))
    assert adapter(compute, version).create_server_group("n", "soft-affinity") == "g1"
    assert compute.sent == [("POST", "/os-server-groups", None, {"server_group": sent})]


def test_a_soft_policy_before_2_15_is_refused_without_a_request() -> None:
    compute = Compute()
    with pytest.raises(CloudError) as caught:
        adapter(compute, "2.14").create_server_group("n", "soft-anti-affinity")
    assert "'soft-anti-affinity' needs compute API 2.15; this cloud offers 2.14" in str(
        caught.value
    )
    assert compute.sent == []


def test_delete_of_a_gone_group_is_success() -> None:
    compute = Compute(response(404, {"itemNotFound": {"code": 404, "message": "gone"}}))
    adapter(compute, "2.100").delete_server_group("g1")
    assert compute.sent == [("DELETE", "/os-server-groups/g1", None, None)]


def test_the_mapping_reads_policy_and_the_older_policies() -> None:
    new = {"id": "g", "name": "n", "policy": "affinity", "rules": {}, "members": ["a"]}
    old = {"id": "g", "name": "n", "policies": ["anti-affinity"], "members": [], "metadata": {}}
    assert to_observed_server_group(new) == ObservedServerGroup("g", "n", "affinity", ("a",))
    assert to_observed_server_group(old) == ObservedServerGroup("g", "n", "anti-affinity")


def test_a_create_request_with_a_group_sends_the_group_hint() -> None:
    compute = Compute()
    request = CreateRequest("web-1", "img", "1", "none", {}, (), server_group="g1")
    assert adapter(compute, "2.100").create_server(request) == "srv-1"
    assert compute.created["scheduler_hints"] == {"group": "g1"}
    adapter(compute, "2.100").create_server(replace(request, server_group=None))
    assert "scheduler_hints" not in compute.created


# --- with a rollout ---------------------------------------------------------------------


def test_a_rolled_policy_change_keeps_the_old_group_while_a_batch_is_left() -> None:
    """The new group comes first; a batch whose health fails stops the rollout, and the
    old group stays for the servers not yet moved; the next apply moves them and drops it."""
    cloud = FakeCloud(catalog=CATALOG)
    assert apply(cloud, make_plan(spec(*replicas("web", 3)), cloud)).converged
    (old_group,) = cloud.server_groups.values()
    check = HealthCheck('test "$DECLSTACK_SERVER_NAME" != web-2', timeout=30)
    rolled = spec(
        *replicas("web", 3, Placement("soft-anti-affinity"), rollout=Rollout(health=check))
    )
    plan = make_plan(rolled, cloud)
    assert [c.batch.number for c in plan.of_kind(Kind.SERVER) if c.batch] == [1, 2, 3]
    sick = Health(sick=["web-2"])
    report = Reconciler(cloud, Settings(), clock=Instant().clock(), health=sick).apply(plan)
    said = {r.address: r for r in report.results}
    assert not said["server_group.web"].ok
    assert "the old group is kept" in said["server_group.web"].message
    assert old_group.id in cloud.server_groups
    new_group = next(g for g in cloud.server_groups.values() if g.id != old_group.id)
    assert len(new_group.members) == 2  # web-1 and the unhealthy web-2
    by_name = {s.name: s.id for s in cloud.servers.values()}
    assert by_name["web-3"] in old_group.members

    report = Reconciler(cloud, Settings(), clock=Instant().clock(), health=Health()).apply(
        make_plan(rolled, cloud)
    )
    assert report.converged, report.failures
    (only,) = cloud.server_groups.values()
    assert only.id == new_group.id and sorted(only.members) == sorted(cloud.servers)
