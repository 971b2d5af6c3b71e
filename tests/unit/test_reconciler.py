"""Apply against a strict fake cloud: order, batching, failures, idempotence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from declstack.engine import make_destroy_plan, make_plan
from declstack.model import (
    Action,
    Catalog,
    DesiredServer,
    Lifecycle,
    NamedResource,
    ObservedServer,
    Spec,
)
from declstack.reconciler import ApplyInterrupted, Event, Reconciler, Settings
from declstack.waiting import Clock
from tests.fakes import FakeCloud

CATALOG = Catalog(
    images=(
        NamedResource("img-1", "cirros", "active"),
        NamedResource("img-2", "debian-12", "active"),
    ),
    flavors=(NamedResource("1", "m1.tiny"), NamedResource("2", "m1.small")),
    networks=(NamedResource("net-1", "private"),),
    keypairs=(NamedResource("default", "default"),),
    security_groups=(
        NamedResource("sg-1", "default"),
        NamedResource("sg-2", "web"),
        NamedResource("sg-3", "ssh"),
    ),
)


class Instant:
    """A clock whose sleep only advances time."""

    def __init__(self) -> None:
        self.t = 0.0

    def clock(self) -> Clock:
        return Clock(now=lambda: self.t, sleep=self.sleep)

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def server(
    name: str, image: str = "cirros", flavor: str = "m1.tiny", **kw: object
) -> DesiredServer:
    return DesiredServer(name=name, image=image, flavor=flavor, networks=("private",), **kw)  # type: ignore[arg-type]


def spec(*servers: DesiredServer) -> Spec:
    return Spec(stack="demo", servers=servers)


def run(cloud: FakeCloud, the_spec: Spec, events: list[Event] | None = None, timeout: float = 60):
    plan = make_plan(the_spec, cloud)
    assert not plan.errors, plan.errors
    reconciler = Reconciler(
        cloud,
        Settings(parallelism=4, create_timeout=timeout, delete_timeout=timeout),
        clock=Instant().clock(),
        on_event=(events.append if events is not None else None),
    )
    return plan, reconciler.apply(plan)


def names(cloud: FakeCloud) -> list[str]:
    return sorted(s.name for s in cloud.servers.values())


def test_create_waits_for_active_with_batched_polling_and_second_apply_is_noop() -> None:
    cloud = FakeCloud(boot_polls=3, catalog=CATALOG)
    events: list[Event] = []
    plan, report = run(cloud, spec(server("a"), server("b"), server("c")), events)

    assert plan.count(Action.CREATE) == 3
    assert report.converged
    assert names(cloud) == ["a", "b", "c"]
    assert all(s.status == "ACTIVE" for s in cloud.servers.values())
    waits = cloud.calls.count("list") - 1  # the plan's own observation
    assert waits <= 4, "one list call per round for all servers, not one GET per server"
    assert [e.message.split()[0] for e in events if e.final] == ["server.a", "server.b", "server.c"]

    again = make_plan(spec(server("a"), server("b"), server("c")), cloud)
    assert not again.has_changes


def test_error_at_boot_is_reported_with_fault_then_replaced_next_time() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    cloud.fail_boot.add("bad")
    _, report = run(cloud, spec(server("good"), server("bad")))
    assert not report.converged
    (failure,) = report.failures
    assert failure.address == "server.bad" and "No valid host was found" in failure.message

    cloud.fail_boot.clear()
    plan, report = run(cloud, spec(server("good"), server("bad")))
    assert [(c.address, c.action) for c in plan.changes if c.action is not Action.NOOP] == [
        ("server.bad", Action.DELETE_THEN_CREATE)
    ]
    assert report.converged
    assert names(cloud) == ["bad", "good"]


def test_scale_down_deletes_and_waits_until_gone() -> None:
    cloud = FakeCloud(delete_polls=2, catalog=CATALOG)
    run(cloud, spec(server("a"), server("b")))
    plan, report = run(cloud, spec(server("a")))
    assert [c.action for c in plan.changes if c.address == "server.b"] == [Action.DELETE]
    assert report.converged and names(cloud) == ["a"]


def test_image_change_replaces_destroy_first_by_default() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    run(cloud, spec(server("a")))
    old_id = next(iter(cloud.servers))
    _, report = run(cloud, spec(server("a", image="debian-12")))
    assert report.converged
    assert old_id not in cloud.servers and names(cloud) == ["a"]
    creates = [i for i, call in enumerate(cloud.calls) if call == "create a"]
    assert len(creates) == 2
    assert cloud.calls.index(f"delete {old_id}") < creates[1], "old one goes before the new one"


def test_create_before_destroy_keeps_old_server_when_new_one_fails() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    keep = Lifecycle(create_before_destroy=True)
    run(cloud, spec(server("a", lifecycle=keep)))
    old_id = next(iter(cloud.servers))
    cloud.fail_boot.add("a")
    _, report = run(cloud, spec(server("a", image="debian-12", lifecycle=keep)))
    assert not report.converged
    assert old_id in cloud.servers, "the old server must survive a failed replacement"
    assert "old server kept" in report.failures[0].message


def test_failed_create_request_does_not_stop_the_others() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    cloud.fail_create.add("b")
    _, report = run(cloud, spec(server("a"), server("b"), server("c")))
    assert [r.address for r in report.failures] == ["server.b"]
    assert names(cloud) == ["a", "c"]


def test_unmanaged_server_with_same_name_is_never_touched() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    stranger = cloud.add(ObservedServer(id="theirs", name="a", status="ACTIVE"))
    plan, report = run(cloud, spec(server("a")))
    assert report.converged
    assert any("not managed" in d.message for d in plan.warnings)
    assert cloud.servers["theirs"] == stranger
    destroy = make_destroy_plan(spec(server("a")), cloud)
    Reconciler(cloud, clock=Instant().clock()).apply(destroy)
    assert names(cloud) == ["a"] and "theirs" in cloud.servers


def test_timeout_is_reported_separately_from_failure() -> None:
    cloud = FakeCloud(boot_polls=10_000, catalog=CATALOG)
    _, report = run(cloud, spec(server("slow")), timeout=5)
    (failure,) = report.failures
    assert "not ACTIVE after" in failure.message and "BUILD" in failure.message


def test_each_duplicate_delete_is_tracked_on_its_own() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    run(cloud, spec(server("old")))
    (first,) = cloud.servers.values()
    twins = [cloud.add(replace(first, id=f"twin-{n}")) for n in (1, 2)]
    cloud.fail_delete.add(twins[0].id)
    _, report = run(cloud, spec())
    assert len(report.results) == 3, "one result per server, even when they share a name"
    (failure,) = report.failures
    assert failure.address == "server.old" and "cannot delete" in failure.message
    assert not report.converged
    assert sorted(cloud.servers) == [twins[0].id]


def test_a_failed_tag_removal_is_retried_by_the_next_plan() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    run(cloud, spec(server("a", tags=("old",))))
    cloud.fail_tag_removal.add("old")
    _, report = run(cloud, spec(server("a", tags=("new",))))
    assert not report.converged
    cloud.fail_tag_removal.clear()
    plan = make_plan(spec(server("a", tags=("new",))), cloud)
    (change,) = plan.changes
    assert change.action is Action.UPDATE and change.patch and change.patch.remove_tags == ("old",)
    run(cloud, spec(server("a", tags=("new",))))
    (final,) = cloud.servers.values()
    assert "old" not in final.tags and "new" in final.tags


def test_a_server_that_goes_to_error_while_waited_for_is_built_again_in_the_same_apply() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    cloud.fail_boots["bad"] = 1
    events: list[Event] = []
    _, report = run(cloud, spec(server("good"), server("bad")), events)

    assert report.converged, report.failures
    bad = next(r for r in report.results if r.address == "server.bad")
    assert bad.message.startswith("has been created (ACTIVE after ")
    assert bad.message.endswith("build 2 of 3; the first went to ERROR: No valid host was found.)")
    assert cloud.calls.count("create bad") == 2
    assert names(cloud) == ["bad", "good"]
    assert all(s.status == "ACTIVE" for s in cloud.servers.values())
    assert any(
        e.message
        == "server.bad: went to ERROR: No valid host was found.; deleting it and building it "
        "again (build 2 of 3)"
        for e in events
    )


def test_rebuilds_after_error_are_bounded_and_the_last_fault_is_shown() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    cloud.fail_boot.add("bad")
    _, report = run(cloud, spec(server("bad")))

    (failure,) = report.failures
    assert failure.message == (
        "went to ERROR: No valid host was found. "
        "(build 3 of 3; the first went to ERROR: No valid host was found.)"
    )
    assert cloud.calls.count("create bad") == 3
    # The two earlier ERROR servers were deleted; the last one is left for the next plan.
    assert [s.status for s in cloud.servers.values()] == ["ERROR"]


def test_a_server_left_in_build_that_goes_to_error_is_rebuilt_not_left_failed() -> None:
    cloud = FakeCloud(boot_polls=2, catalog=CATALOG)
    the_spec = spec(server("a"))
    first = make_plan(the_spec, cloud)
    assert first.changes[0].create is not None
    left_id = cloud.create_server(first.changes[0].create)  # a killed run's request
    cloud.fail_boots["a"] = 1

    plan, report = run(cloud, the_spec)

    assert plan.changes[0].action is Action.WAIT
    assert plan.changes[0].create is not None, "a server in BUILD gets a fallback request"
    assert report.converged, report.failures
    assert left_id not in cloud.servers
    assert names(cloud) == ["a"] and cloud.calls.count("create a") == 2


def test_interrupt_cancels_queued_creates_and_says_what_was_and_was_not_requested() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    the_spec = spec(*(server(f"s{n}") for n in range(1, 7)))
    plan = make_plan(the_spec, cloud)

    def interrupt_on_first_request(event: Event) -> None:
        if "creating requested" in event.message or ": creating id-" in event.message:
            raise KeyboardInterrupt

    reconciler = Reconciler(
        cloud, Settings(parallelism=1), clock=Instant().clock(), on_event=interrupt_on_first_request
    )
    with pytest.raises(ApplyInterrupted) as caught:
        reconciler.apply(plan)

    stopped = caught.value
    creates = [call for call in cloud.calls if call.startswith("create ")]
    assert 1 <= len(creates) <= 2, creates  # the first, and at most the one on the wire
    assert len(stopped.requested) + len(stopped.unanswered) == len(creates)
    assert stopped.requested[0] == "server.s1 (create)"
    assert len(stopped.not_requested) == 6 - len(creates) >= 4
    everything = {*stopped.requested, *stopped.unanswered, *stopped.not_requested}
    assert everything == {f"server.s{n} (create)" for n in range(1, 7)}


def test_a_change_of_security_groups_is_made_in_place_on_the_same_server() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    run(cloud, spec(server("a", security_groups=("web",))))
    (before,) = cloud.servers.values()
    assert before.security_groups == ("web",)

    plan, report = run(cloud, spec(server("a", security_groups=("ssh", "default"))))

    (change,) = plan.changes
    assert change.action is Action.UPDATE and change.patch is not None
    assert change.patch.add_security_groups == ("sg-3", "sg-1")
    assert change.patch.remove_security_groups == ("sg-2",)
    assert report.converged
    (after,) = cloud.servers.values()
    assert after.id == before.id, "updated in place, not replaced"
    assert set(after.security_groups or ()) == {"ssh", "default"}
    assert not [call for call in cloud.calls if call.startswith(("create", "delete"))][1:]
    again = make_plan(spec(server("a", security_groups=("ssh", "default"))), cloud)
    assert not again.has_changes, "the fingerprint was rewritten with the new groups"
