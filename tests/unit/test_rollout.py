"""Rolling replacement (`rollout:`): the batches the plan carries, and apply running them.

The planner side is table-driven over `rollout.batched`; apply runs against the strict
fake cloud with an injected health runner and an instant clock, and an observer on
the fake that counts the servers in service after every request and every poll.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from declstack.capacity import peak_instances
from declstack.engine import make_plan
from declstack.health import Probe, Verdict
from declstack.model import (
    Action,
    DesiredServer,
    FloatingIpRequest,
    HealthCheck,
    Lifecycle,
    ObservedServer,
    Plan,
    PlanOptions,
    Rollout,
    Spec,
)
from declstack.ownership import HEALTH_KEY
from declstack.reconciler import ApplyInterrupted, ApplyReport, Event, Reconciler, Settings
from declstack.render import plan_to_dict, render_markdown, render_text
from declstack.spec import SpecError, parse_spec
from tests.fakes import FakeCloud, FakeCloudError
from tests.unit.test_reconciler import CATALOG, Instant

CHECK = HealthCheck('test "$DECLSTACK_SERVER_NAME" != web-3', timeout=30)


def entry(
    count: int,
    rollout: Rollout | None,
    image: str = "cirros",
    name: str = "web",
    **changes: Any,
) -> list[DesiredServer]:
    return [
        DesiredServer(
            f"{name}-{n}",
            image,
            "m1.tiny",
            networks=("private",),
            entry=name,
            rollout=rollout,
            **changes,
        )
        for n in range(1, count + 1)
    ]


def spec(*servers: DesiredServer) -> Spec:
    return Spec("demo", servers)


class Health:
    """A health runner that answers from a table, and remembers what it was asked."""

    def __init__(self, sick: Sequence[str] = ()) -> None:
        self.sick = set(sick)
        self.asked: list[tuple[str, float, list[str]]] = []

    def __call__(
        self, command: str, timeout: float, probes: Sequence[Probe], parallelism: int
    ) -> dict[int, Verdict]:
        self.asked.append((command, timeout, [p.name for p in probes]))
        return {
            p.key: Verdict(False, "exit status 1", 0.1)
            if p.name in self.sick
            else Verdict(True, "exit status 0 after 0.1s", 0.1)
            for p in probes
        }


class Watched(FakeCloud):
    """The fake cloud, counting the servers in service (ACTIVE, not being deleted) of
    each name prefix after every request and every poll: an independent observer."""

    def __init__(self) -> None:
        super().__init__(boot_polls=2, delete_polls=2, catalog=CATALOG)
        self.in_service: list[int] = []

    def _count(self) -> None:
        self.in_service.append(
            sum(
                1
                for s in self.servers.values()
                if s.status == "ACTIVE" and s.task_state != "deleting"
            )
        )

    def list_stack_servers(self, stack: str) -> list[ObservedServer]:
        found = super().list_stack_servers(stack)
        self._count()
        return found

    def delete_server(self, server_id: str) -> None:
        super().delete_server(server_id)
        self._count()

    def create_server(self, request: Any) -> str:
        made = super().create_server(request)
        self._count()
        return made


def apply(
    cloud: FakeCloud,
    the_spec: Spec,
    health: Health | None = None,
    events: list[Event] | None = None,
    clock: Instant | None = None,
) -> tuple[Plan, ApplyReport]:
    plan = make_plan(the_spec, cloud)
    assert not plan.errors, plan.errors
    reconciler = Reconciler(
        cloud,
        Settings(parallelism=4, create_timeout=60, delete_timeout=60),
        clock=(clock or Instant()).clock(),
        on_event=events.append if events is not None else None,
        health=health or Health(),
    )
    return plan, reconciler.apply(plan)


def ids(cloud: FakeCloud) -> dict[str, str]:
    return {s.name: s.id for s in cloud.servers.values()}


def batches(plan: Plan) -> dict[str, int | None]:
    return {c.name: c.batch.number if c.batch else None for c in plan.changes}


# --- the plan: which change goes in which batch ---------------------------------------


@pytest.mark.parametrize(
    ("rollout", "count", "expected"),
    [
        (Rollout(batch=2), 6, [1, 1, 2, 2, 3, 3]),
        (Rollout(batch=4), 6, [1, 1, 1, 1, 2, 2]),
        (Rollout(batch=10), 3, [1, 1, 1]),
        (Rollout(batch=1), 3, [1, 2, 3]),
        (Rollout(batch=25, percent=True), 8, [1, 1, 2, 2, 3, 3, 4, 4]),
        (Rollout(batch=25, percent=True), 6, [1, 2, 3, 4, 5, 6]),  # 1.5 rounds down
        (Rollout(batch=10, percent=True), 3, [1, 2, 3]),  # never below one
        (Rollout(batch=50, percent=True), 5, [1, 1, 2, 2, 3]),
        (Rollout(batch=100, percent=True), 4, [1, 1, 1, 1]),
    ],
)
def test_replacements_are_split_into_batches_of_the_rollout_size(
    rollout: Rollout, count: int, expected: list[int]
) -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(*entry(count, rollout)))
    plan = make_plan(spec(*entry(count, rollout, image="debian-12")), cloud)
    assert batches(plan) == {f"web-{i}": n for i, n in enumerate(expected, 1)}
    assert {c.batch.of for c in plan.changes if c.batch} == {max(expected)}


def test_batches_follow_the_spec_order_of_the_servers_not_the_plan_order() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(*entry(11, Rollout(batch=5))))
    plan = make_plan(spec(*entry(11, Rollout(batch=5), image="debian-12")), cloud)
    assert [c.name for c in plan.changes][:3] == ["web-1", "web-10", "web-11"]
    assert batches(plan)["web-10"] == 2 and batches(plan)["web-11"] == 3
    assert sorted(name for name, b in batches(plan).items() if b == 1) == [
        f"web-{n}" for n in (1, 2, 3, 4, 5)
    ]


def test_only_replacements_resizes_and_rebuilds_are_rolled() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    rolling = Rollout(batch=1)
    resize = Lifecycle(flavor_change="resize")
    rebuild = Lifecycle(image_change="rebuild")
    apply(
        cloud,
        spec(
            *entry(2, rolling),
            *entry(1, rolling, name="db", lifecycle=resize),
            *entry(1, rolling, name="app", lifecycle=rebuild),
            *entry(1, rolling, name="tag"),
            *entry(1, None, name="plain"),
        ),
    )
    plan = make_plan(
        spec(
            *entry(3, rolling, image="debian-12"),  # web-3 is a new replica: a create
            *[
                DesiredServer(
                    "db-1",
                    "cirros",
                    "m1.small",
                    networks=("private",),
                    entry="db",
                    rollout=rolling,
                    lifecycle=resize,
                )
            ],
            *entry(1, rolling, image="debian-12", name="app", lifecycle=rebuild),
            *entry(1, rolling, name="tag", tags=("new",)),  # metadata only: an update
            *entry(1, None, image="debian-12", name="plain"),  # no rollout
        ),
        cloud,
    )
    actions = {c.name: (c.action, c.batch.number if c.batch else None) for c in plan.changes}
    assert actions == {
        "web-1": (Action.DELETE_THEN_CREATE, 1),
        "web-2": (Action.DELETE_THEN_CREATE, 2),
        "web-3": (Action.CREATE, None),
        "db-1": (Action.UPDATE, 1),
        "app-1": (Action.UPDATE, 1),
        "tag-1": (Action.UPDATE, None),
        "plain-1": (Action.DELETE_THEN_CREATE, None),
    }


def test_a_resize_to_the_flavor_the_server_has_is_no_rolled_change() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    resize = Lifecycle(flavor_change="resize")
    apply(cloud, spec(*entry(2, Rollout(), lifecycle=resize)))
    # "1" is m1.tiny's id: the flavor the servers have, written another way, so no resize
    # (resolve finds that out; the batches are given after it).
    same = [dataclasses.replace(s, flavor="1") for s in entry(2, Rollout(), lifecycle=resize)]
    plan = make_plan(spec(*same), cloud)
    assert [(c.action, c.batch) for c in plan.changes] == [(Action.NOOP, None)] * 2


def test_the_plan_shows_the_batches_in_text_json_and_markdown() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    rollout = Rollout(batch=2, pause=30, health=CHECK)
    apply(cloud, spec(*entry(4, rollout)))
    plan = make_plan(spec(*entry(4, rollout, image="debian-12")), cloud)
    text = render_text(plan)
    assert text.count("rollout: batch 1 of 2") == 2 and text.count("rollout: batch 2 of 2") == 2
    assert (
        '"web": 4 server(s) in 2 batch(es), 2 at a time; a batch starts once every server of '
        'the one before is ACTIVE and has passed the health command "test '
        '\\"$DECLSTACK_SERVER_NAME\\" != web-3" (within 30s), then a 30s pause' in text
    )
    data = plan_to_dict(plan)
    web3 = next(c for c in data["changes"] if c["name"] == "web-3")
    assert web3["batch"] == {"entry": "web", "number": 2, "of": 2}
    assert web3["after"]["rollout"] == {
        "batch": 2,
        "pause": 30.0,
        "health": {"command": CHECK.command, "timeout": 30.0},
    }
    assert "| delete-then-create (batch 2/2) | `server.web-3`" in render_markdown(plan)
    json.dumps(data)


def test_a_targeted_plan_batches_only_what_it_targets() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    rollout = Rollout(batch=2, pause=10)
    apply(cloud, spec(*entry(6, rollout)))
    plan = make_plan(
        spec(*entry(6, rollout, image="debian-12")),
        cloud,
        options=PlanOptions(targets=("web-5", "web-6")),
    )
    assert batches(plan) == {"web-5": 1, "web-6": 1}
    assert '"web": 2 server(s) in 1 batch(es), 2 at a time; a batch starts' in render_text(plan)
    assert "pause" not in render_text(plan), "one batch: no pause to speak of"


def test_a_percentage_is_shown_as_written() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    rollout = Rollout(batch=50, percent=True)
    apply(cloud, spec(*entry(2, rollout)))
    plan = make_plan(spec(*entry(2, rollout, image="debian-12")), cloud)
    (change, *_) = plan_to_dict(plan)["changes"]
    assert change["after"]["rollout"]["batch"] == "50%"
    assert "50% at a time" in render_text(plan)


def test_create_before_destroy_in_a_rollout_needs_room_for_one_batch_only() -> None:
    cbd = Lifecycle(create_before_destroy=True)
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(*entry(6, Rollout(batch=2), lifecycle=cbd)))
    rolled = make_plan(spec(*entry(6, Rollout(batch=2), image="debian-12", lifecycle=cbd)), cloud)
    at_once = make_plan(spec(*entry(6, None, image="debian-12", lifecycle=cbd)), cloud)
    assert peak_instances(rolled, used=6) == 8
    assert peak_instances(at_once, used=6) == 12


# --- apply: batch by batch ------------------------------------------------------------


def test_a_rolling_image_change_keeps_all_but_one_batch_in_service() -> None:
    cloud = Watched()
    apply(cloud, spec(*entry(6, Rollout(batch=2))))
    before = ids(cloud)
    cloud.in_service.clear()
    cloud.calls.clear()
    health = Health()
    events: list[Event] = []
    _, report = apply(
        cloud, spec(*entry(6, Rollout(batch=2, health=CHECK), "debian-12")), health, events
    )
    assert report.converged, report.failures
    assert all(before[name] != new for name, new in ids(cloud).items())
    assert min(cloud.in_service) == 4, "never fewer than 6 - 2 servers in service"
    assert cloud.in_service.count(4) > 0
    # The health command ran once per new server, batch by batch.
    assert [names for _, _, names in health.asked] == [
        ["web-1", "web-2"],
        ["web-3", "web-4"],
        ["web-5", "web-6"],
    ]
    # Batch 2 began only after batch 1 was up: its first delete follows web-2's create.
    requests = [c for c in cloud.calls if c.startswith(("create", "delete"))]
    assert sorted(requests[:2]) == [f"delete {before['web-1']}", f"delete {before['web-2']}"]
    assert sorted(requests[2:4]) == ["create web-1", "create web-2"]
    assert sorted(requests[4:6]) == [f"delete {before['web-3']}", f"delete {before['web-4']}"]
    milestones = [e.message for e in events if e.milestone]
    assert milestones == [
        'rollout of "web": batch 1 of 3 (server.web-1, server.web-2)',
        'rollout of "web": batch 2 of 3 (server.web-3, server.web-4)',
        'rollout of "web": batch 3 of 3 (server.web-5, server.web-6)',
    ]
    finals = [e.message for e in events if e.final]
    assert finals[0].startswith("server.web-1 has been replaced (ACTIVE after")
    assert finals[0].endswith("; rollout batch 1 of 3, healthy (exit status 0 after 0.1s)")
    assert not make_plan(spec(*entry(6, Rollout(batch=2), "debian-12")), cloud).has_changes


def test_a_failed_health_check_stops_the_rollout_and_says_where() -> None:
    cloud = Watched()
    apply(cloud, spec(*entry(6, Rollout(batch=2))))
    before = ids(cloud)
    events: list[Event] = []
    rollout = Rollout(batch=2, health=CHECK)
    _, report = apply(cloud, spec(*entry(6, rollout, "debian-12")), Health(["web-3"]), events)

    assert not report.converged
    after = ids(cloud)
    replaced = sorted(n for n in before if after[n] != before[n])
    assert replaced == ["web-1", "web-2", "web-3", "web-4"], "delete-then-create cannot go back"
    assert [after["web-5"], after["web-6"]] == [before["web-5"], before["web-6"]]
    outcome = {r.address: r for r in report.results}
    assert outcome["server.web-3"].ok is False
    assert "but its health check failed (exit status 1); rollout batch 2 of 3" in (
        outcome["server.web-3"].message
    )
    assert outcome["server.web-4"].ok
    for name in ("web-5", "web-6"):
        assert not outcome[f"server.{name}"].ok
        assert outcome[f"server.{name}"].message == (
            'was left untouched: the rollout of "web" stopped at batch 2 of 3 '
            "(server.web-3 failed its health check: exit status 1); "
            "the next apply goes on from there"
        )
    assert (
        'rollout of "web" stopped at batch 2 of 3: server.web-3 failed its health check: '
        "exit status 1; left untouched: server.web-5, server.web-6"
    ) in [e.message for e in events if e.milestone and not e.ok]
    assert f"delete {before['web-5']}" not in cloud.calls

    # web-3 stays (there is no old server to go back to), marked with how it failed.
    marks = {s.name: s.metadata.get(HEALTH_KEY) for s in cloud.servers.values()}
    assert marks == {f"web-{n}": "exit status 1" if n == 3 else None for n in range(1, 7)}

    # The next apply goes on from there: web-3 is checked again, alone and first; still
    # failing, the rollout stops before anything else changes.
    plan = make_plan(spec(*entry(6, rollout, "debian-12")), cloud)
    rolled = {c.name: (c.action, c.batch.number, c.batch.of) for c in plan.changes if c.batch}
    assert rolled == {
        "web-3": (Action.UPDATE, 1, 2),
        "web-5": (Action.DELETE_THEN_CREATE, 2, 2),
        "web-6": (Action.DELETE_THEN_CREATE, 2, 2),
    }
    web3 = next(c for c in plan.changes if c.name == "web-3")
    assert "its last health check failed (exit status 1): checked again, first" in web3.reason
    assert "health: the last check failed (exit status 1)   # checked again, first" in (
        render_text(plan)
    )
    assert plan_to_dict(plan)["changes"][2]["patch"]["recheck_health"] is True
    still = ids(cloud)
    _, report = apply(cloud, spec(*entry(6, rollout, "debian-12")), Health(["web-3"]))
    assert ids(cloud) == still
    outcome = {r.address: r.message for r in report.results}
    assert outcome["server.web-3"] == (
        "has been checked again, but its health check failed (exit status 1); rollout batch 1 of 2"
    )
    assert outcome["server.web-5"].startswith("was left untouched")

    # Healthy now: the mark comes off, and the rest is rolled.
    _, report = apply(cloud, spec(*entry(6, rollout, "debian-12")))
    assert report.converged
    assert all(HEALTH_KEY not in s.metadata for s in cloud.servers.values())
    assert all(ids(cloud)[n] != still[n] for n in ("web-5", "web-6"))
    assert not make_plan(spec(*entry(6, rollout, "debian-12")), cloud).has_changes


def test_the_mark_of_a_failed_check_comes_off_when_no_check_is_asked_any_more() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(*entry(2, Rollout(batch=1))))
    rollout = Rollout(batch=1, health=HealthCheck("check"))
    apply(cloud, spec(*entry(2, rollout, "debian-12")), Health(["web-1"]))
    marks = {s.name: s.metadata.get(HEALTH_KEY) for s in cloud.servers.values()}
    assert marks == {"web-1": "exit status 1", "web-2": None}

    plan, report = apply(cloud, spec(*entry(2, Rollout(batch=1), "debian-12")))
    (web1, web2) = plan.changes
    assert (web1.action, web1.batch) == (Action.UPDATE, None)
    assert web1.patch is not None and web1.patch.delete_metadata == (HEALTH_KEY,)
    assert "no health check to pass any more: the mark of a failed one is taken off" in web1.reason
    assert web2.batch is not None and web2.batch.number == 1
    assert report.converged
    assert all(HEALTH_KEY not in s.metadata for s in cloud.servers.values())


def test_create_before_destroy_undoes_a_failed_batch_and_keeps_its_old_servers() -> None:
    cbd = Lifecycle(create_before_destroy=True)
    cloud = Watched()
    apply(cloud, spec(*entry(6, Rollout(batch=2), lifecycle=cbd)))
    before = ids(cloud)
    cloud.in_service.clear()
    rollout = Rollout(batch=2, health=CHECK)
    _, report = apply(
        cloud, spec(*entry(6, rollout, "debian-12", lifecycle=cbd)), Health(["web-3"])
    )

    after = ids(cloud)
    assert len(cloud.servers) == 6
    assert all(HEALTH_KEY not in s.metadata for s in cloud.servers.values()), "nothing stays"
    assert sorted(n for n in before if after[n] != before[n]) == ["web-1", "web-2"]
    assert min(cloud.in_service) == 6
    outcome = {r.address: r for r in report.results}
    assert outcome["server.web-3"].message == (
        "not replaced: the new server failed its health check: exit status 1; the new server "
        "was deleted, the old one kept; rollout batch 2 of 3"
    )
    assert outcome["server.web-4"].message.startswith(
        "not replaced: its batch failed (server.web-3 failed its health check: exit status 1)"
    )
    assert [r.address for r in report.failures] == [f"server.web-{n}" for n in (3, 4, 5, 6)]

    # The next apply starts again at web-3, and checks it again.
    health = Health()
    _, report = apply(cloud, spec(*entry(6, rollout, "debian-12", lifecycle=cbd)), health)
    assert report.converged
    assert [names for _, _, names in health.asked] == [["web-3", "web-4"], ["web-5", "web-6"]]


def test_a_server_that_does_not_come_up_stops_the_rollout_too() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(*entry(4, Rollout(batch=1))))
    cloud.fail_boot.add("web-1")
    health = Health()
    _, report = apply(cloud, spec(*entry(4, Rollout(batch=1, health=CHECK), "debian-12")), health)
    assert health.asked == [], "a server in ERROR is not health-checked"
    outcome = {r.address: r.message for r in report.results}
    assert "No valid host was found" in outcome["server.web-1"]
    assert outcome["server.web-2"].startswith(
        'was left untouched: the rollout of "web" stopped at batch 1 of 4 (server.web-1 did '
        "not come up: went to ERROR: No valid host was found."
    )


def test_the_pause_comes_between_batches_not_after_the_last() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(*entry(3, Rollout(batch=1))))
    clock = Instant()
    slept: list[float] = []
    original = clock.sleep

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        original(seconds)

    clock.sleep = sleep  # type: ignore[method-assign]
    events: list[Event] = []
    apply(
        cloud, spec(*entry(3, Rollout(batch=1, pause=45), "debian-12")), events=events, clock=clock
    )
    assert slept.count(45) == 2
    assert [e.message for e in events if e.milestone and "pausing" in e.message] == [
        "rollout: batch 1 is healthy; pausing 45s",
        "rollout: batch 2 is healthy; pausing 45s",
    ]


def test_two_entries_roll_side_by_side_and_a_failure_stops_only_its_own() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(*entry(2, Rollout()), *entry(2, Rollout(), name="api")))
    check = HealthCheck("true")
    _, report = apply(
        cloud,
        spec(
            *entry(2, Rollout(health=check), "debian-12"),
            *entry(2, Rollout(health=check), "debian-12", name="api"),
        ),
        Health(["api-1"]),
    )
    outcome = {r.address: r.ok for r in report.results}
    assert outcome == {
        "server.web-1": True,
        "server.web-2": True,
        "server.api-1": False,
        "server.api-2": False,
    }


def test_a_stopped_server_is_not_asked_for_its_health() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(*entry(1, Rollout(), state="shutoff")))
    health = Health()
    _, report = apply(
        cloud, spec(*entry(1, Rollout(health=CHECK), "debian-12", state="shutoff")), health
    )
    assert report.converged and health.asked == []


def test_an_interrupt_during_a_health_check_says_which_batches_were_not_requested() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(*entry(4, Rollout(batch=2))))

    def interrupted(
        command: str, timeout: float, probes: Sequence[Probe], parallelism: int
    ) -> dict[int, Verdict]:
        raise KeyboardInterrupt

    plan = make_plan(spec(*entry(4, Rollout(batch=2, health=CHECK), "debian-12")), cloud)
    reconciler = Reconciler(cloud, clock=Instant().clock(), health=interrupted)
    with pytest.raises(ApplyInterrupted) as caught:
        reconciler.apply(plan)
    assert caught.value.requested == (
        "server.web-1 (delete-then-create)",
        "server.web-2 (delete-then-create)",
    )
    assert caught.value.not_requested == (
        "server.web-3 (delete-then-create)",
        "server.web-4 (delete-then-create)",
    )


# --- the spec ---------------------------------------------------------------------------

HEADER = "version: 1\nstack: demo\ndefaults: {image: cirros, flavor: m1.tiny}\n"


def parse(text: str, tmp_path: Path) -> Spec:
    return parse_spec(HEADER + text, "spec.yaml", environ={}, base_dir=tmp_path)


def problems(text: str, tmp_path: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse(text, tmp_path)
    return [str(p) for p in caught.value.problems]


def test_rollout_is_read_from_the_entry_over_the_defaults(tmp_path: Path) -> None:
    parsed = parse_spec(
        "version: 1\nstack: demo\n"
        "defaults:\n  image: cirros\n  flavor: m1.tiny\n"
        "  rollout: {batch: 2, health: {command: 'true', timeout: 20}}\n"
        "servers:\n"
        "  - {name: web, count: 2, rollout: {batch: '25%', pause: 1.5}}\n"
        "  - {name: db, rollout: null}\n"
        "  - {name: api}\n"
        "  - {name: job, rollout: {}}\n",
        "spec.yaml",
        environ={},
        base_dir=tmp_path,
    )
    rollouts = {s.name: s.rollout for s in parsed.servers}
    assert rollouts == {
        "web-1": Rollout(25, True, 1.5, HealthCheck("true", 20.0)),
        "web-2": Rollout(25, True, 1.5, HealthCheck("true", 20.0)),
        "db": None,
        "api": Rollout(2, False, 0.0, HealthCheck("true", 20.0)),
        "job": Rollout(2, False, 0.0, HealthCheck("true", 20.0)),
    }
    assert parse("servers: [{name: a, rollout: {}}]\n", tmp_path).servers[0].rollout == Rollout()


@pytest.mark.parametrize(
    ("rollout", "expected"),
    [
        (
            "{batch: 0}",
            "spec.yaml:5:34: servers[0].rollout.batch: must be 1 or more: a batch holds at "
            "least one server",
        ),
        (
            "{batch: '0%'}",
            "spec.yaml:5:34: servers[0].rollout.batch: must be a percentage from 1% to 100%, "
            'such as "25%"; got the string "0%"',
        ),
        (
            "{batch: '150%'}",
            "spec.yaml:5:34: servers[0].rollout.batch: must be a percentage from 1% to 100%, "
            'such as "25%"; got the string "150%"',
        ),
        (
            "{batch: 1.5}",
            "spec.yaml:5:34: servers[0].rollout.batch: must be a whole number of servers (1 or "
            'more) or a percentage such as "25%"; got the number 1.5',
        ),
        ("{pause: -1}", "spec.yaml:5:34: servers[0].rollout.pause: must be 0 or more, got -1"),
        (
            "{health: {timeout: 5}}",
            "spec.yaml:5:35: servers[0].rollout.health: missing required key 'command'",
        ),
        (
            "{health: {command: declstack-no-such-program --check}}",
            "spec.yaml:5:45: servers[0].rollout.health.command: the health command runs "
            "'declstack-no-such-program', which is neither a shell builtin nor in PATH on this "
            "machine; a rollout could never pass its check",
        ),
        (
            "{health: {command: /no/such/check}}",
            "spec.yaml:5:45: servers[0].rollout.health.command: the health command runs "
            "'/no/such/check', which is not an executable file on this machine; a rollout "
            "could never pass its check",
        ),
        (
            "{health: {command: 'if true'}}",
            "spec.yaml:5:45: servers[0].rollout.health.command: the health command is not valid "
            'shell (sh: 1: Syntax error: end of file unexpected (expecting "then")); a rollout '
            "could never pass its check",
        ),
        (
            "{batches: 2}",
            "spec.yaml:5:27: servers[0].rollout.batches: unknown key 'batches' (did you mean "
            "'batch'?)",
        ),
    ],
)
def test_bad_rollout_is_a_spec_error_at_its_place(
    rollout: str, expected: str, tmp_path: Path
) -> None:
    assert problems(f"servers:\n  - {{name: web, rollout: {rollout}}}\n", tmp_path) == [expected]


@pytest.mark.parametrize(
    "command",
    [
        'test "$DECLSTACK_SERVER_NAME" != web-3',
        "until true; do sleep 1; done",
        "$CHECK_COMMAND",
        "FOO=1 sh -c 'exit 0'",
        "curl -fs http://$DECLSTACK_SERVER_ADDRESS/ || exit 1",
    ],
)
def test_health_commands_the_shell_can_run_are_accepted(command: str, tmp_path: Path) -> None:
    quoted = json.dumps(command)
    spec = parse(
        f"servers:\n  - {{name: web, rollout: {{health: {{command: {quoted}}}}}}}\n", tmp_path
    )
    assert spec.servers[0].rollout == Rollout(health=HealthCheck(command))


class Logged(Health):
    """A health runner that also writes into the fake cloud's call log, to see the order."""

    def __init__(self, cloud: FakeCloud, sick: Sequence[str] = ()) -> None:
        super().__init__(sick)
        self.cloud = cloud
        self.addresses: dict[str, str] = {}

    def __call__(
        self, command: str, timeout: float, probes: Sequence[Probe], parallelism: int
    ) -> dict[int, Verdict]:
        for probe in probes:
            self.cloud.calls.append(f"health {probe.name}")
            self.addresses[probe.name] = probe.address
        return super().__call__(command, timeout, probes, parallelism)


def test_a_replaced_server_is_checked_at_its_floating_ip_which_moves_first() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    rollout = Rollout(batch=1, health=CHECK)
    apply(cloud, spec(*entry(2, rollout, floating_ip=FloatingIpRequest())))
    ips = {f.address for f in cloud.fips.values()}
    health = Logged(cloud)
    cloud.calls.clear()
    _, report = apply(
        cloud, spec(*entry(2, rollout, "debian-12", floating_ip=FloatingIpRequest())), health
    )
    assert report.converged
    assert set(health.addresses.values()) == ips
    web1 = next(f for f in cloud.fips.values() if f.tags[-1].endswith("web-1"))
    assert cloud.calls.index(f"associate {web1.id}") < cloud.calls.index("health web-1")


def test_with_create_before_destroy_the_floating_ip_moves_once_the_batch_is_healthy() -> None:
    cbd = Lifecycle(create_before_destroy=True)
    cloud = FakeCloud(catalog=CATALOG)
    rollout = Rollout(batch=1, health=CHECK)
    apply(cloud, spec(*entry(2, rollout, lifecycle=cbd, floating_ip=FloatingIpRequest())))
    old = ids(cloud)
    health = Logged(cloud)
    cloud.calls.clear()
    _, report = apply(
        cloud,
        spec(*entry(2, rollout, "debian-12", lifecycle=cbd, floating_ip=FloatingIpRequest())),
        health,
    )
    assert report.converged
    assert health.addresses == {"web-1": "", "web-2": ""}, "the fake's servers have no fixed IP"
    web1 = next(f for f in cloud.fips.values() if f.tags[-1].endswith("web-1"))
    calls = cloud.calls
    assert calls.index("health web-1") < calls.index(f"delete {old['web-1']}")
    assert calls.index(f"delete {old['web-1']}") < calls.index(f"associate {web1.id}")
    assert calls.index(f"associate {web1.id}") < calls.index("create web-2")


def test_a_failed_record_of_a_failed_check_is_said() -> None:
    class Refusing(FakeCloud):
        def update_server(self, server_id: str, patch: Any) -> None:
            if HEALTH_KEY in patch.set_metadata:
                raise FakeCloudError("503 metadata service unavailable")
            super().update_server(server_id, patch)

    cloud = Refusing(catalog=CATALOG)
    apply(cloud, spec(*entry(1, Rollout())))
    _, report = apply(cloud, spec(*entry(1, Rollout(health=CHECK), "debian-12")), Health(["web-1"]))
    (result,) = report.results
    assert not result.ok
    assert result.message.endswith(
        "but its health check failed (exit status 1); rollout batch 1 of 1; recording the "
        "failed health check on the server failed: FakeCloudError: 503 metadata service "
        "unavailable"
    )


def test_an_undone_batch_names_only_the_failures_of_its_own_entry() -> None:
    cbd = Lifecycle(create_before_destroy=True)
    cloud = FakeCloud(catalog=CATALOG)
    two = Rollout(batch=2, health=HealthCheck("true"))
    apply(cloud, spec(*entry(2, two, lifecycle=cbd), *entry(2, two, name="api", lifecycle=cbd)))
    _, report = apply(
        cloud,
        spec(
            *entry(2, two, "debian-12", lifecycle=cbd),
            *entry(2, two, "debian-12", name="api", lifecycle=cbd),
        ),
        Health(["web-1", "api-1"]),
    )
    outcome = {r.address: r.message for r in report.results}
    assert outcome["server.web-2"].startswith(
        "not replaced: its batch failed (server.web-1 failed its health check: exit status 1); "
    )
    assert outcome["server.api-2"].startswith(
        "not replaced: its batch failed (server.api-1 failed its health check: exit status 1); "
    )
