"""What apply reports per change for `--output json`: outcome, id, addresses, seconds;
and the result document built from it (docs/apply-result.md)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from declstack.engine import make_plan
from declstack.model import (
    Action,
    Catalog,
    DesiredServer,
    NamedResource,
    ObservedServer,
    Spec,
    frozen_map,
)
from declstack.progress import (
    RESULT_FORMAT_VERSION,
    outcome_of,
    render_result_json,
    result_document,
)
from declstack.reconciler import ApplyReport, Reconciler, Result, Settings
from tests.fakes import FakeCloud
from tests.unit.test_reconciler import Instant

pytestmark = pytest.mark.unit

CATALOG = Catalog(
    images=(NamedResource("img-1", "cirros", "active"),),
    flavors=(NamedResource("1", "m1.tiny"),),
    networks=(NamedResource("net-1", "private"),),
)


class AddressingCloud(FakeCloud):
    """A fake whose servers get an address on the private network once ACTIVE."""

    def list_stack_servers(self, stack: str) -> list[ObservedServer]:
        listed = []
        for server in super().list_stack_servers(stack):
            if server.status == "ACTIVE" and not server.addresses:
                number = int(server.id.rsplit("-", 1)[-1])
                server = dataclasses.replace(server, addresses=(("private", f"10.0.0.{number}"),))
                self.servers[server.id] = server
            listed.append(server)
        return listed


def desired(name: str, **fields: object) -> DesiredServer:
    base = DesiredServer(name=name, image="cirros", flavor="m1.tiny", networks=("private",))
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def apply(cloud: FakeCloud, spec: Spec, timeout: float = 60) -> ApplyReport:
    plan = make_plan(spec, cloud)
    settings = Settings(parallelism=4, create_timeout=timeout, delete_timeout=timeout)
    return Reconciler(cloud, settings, clock=Instant().clock()).apply(plan)


def test_created_servers_report_their_addresses_and_seconds() -> None:
    cloud = AddressingCloud(boot_polls=3, catalog=CATALOG)
    report = apply(cloud, Spec("demo", (desired("web-1"), desired("web-2"))))
    by_address = {r.address: r for r in report.results}
    ids = {s.name: s.id for s in cloud.servers.values()}
    for name in ("web-1", "web-2"):
        result = by_address[f"server.{name}"]
        assert result.ok and not result.timed_out
        assert result.resource_id == ids[name]
        assert result.addresses == cloud.servers[ids[name]].addresses != ()
        # Three polls of the instant clock: BUILD seen (progress: 0.4 s), BUILD again
        # (a quiet round: 0.5 s), then done.
        assert result.seconds == pytest.approx(0.9)


def test_updates_report_the_servers_addresses_and_deletes_none() -> None:
    cloud = AddressingCloud(delete_polls=3, catalog=CATALOG)
    apply(cloud, Spec("demo", (desired("web-1"), desired("old"))))
    changed = Spec("demo", (desired("web-1", metadata=frozen_map({"role": "api"})),))
    report = apply(cloud, changed)
    by_address = {r.address: r for r in report.results}
    web1 = next(s for s in cloud.servers.values() if s.name == "web-1")
    assert by_address["server.web-1"].action is Action.UPDATE
    assert by_address["server.web-1"].addresses == web1.addresses != ()
    assert by_address["server.web-1"].seconds == 0.0  # one request, no waiting
    assert by_address["server.old"].action is Action.DELETE
    assert by_address["server.old"].addresses == ()
    assert by_address["server.old"].seconds == pytest.approx(0.9)  # gone at the third poll


def test_a_server_still_building_at_the_timeout_is_timed_out_not_failed() -> None:
    cloud = FakeCloud(boot_polls=1000, catalog=CATALOG)
    (result,) = apply(cloud, Spec("demo", (desired("slow"),)), timeout=5).results
    assert not result.ok and result.timed_out
    assert outcome_of(result) == "timed-out"
    assert result.seconds is not None and result.seconds >= 5


def test_a_server_that_fails_to_build_is_failed() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    cloud.fail_boot.add("bad")
    (result,) = apply(cloud, Spec("demo", (desired("bad"),))).results
    assert not result.ok and not result.timed_out
    assert outcome_of(result) == "failed"


def test_the_result_document() -> None:
    results = (
        Result(
            "server.web-1",
            Action.CREATE,
            True,
            "has been created (ACTIVE after 1.0s)",
            "id-1",
            addresses=(("private", "10.0.0.1"),),
            seconds=1.25,
        ),
        Result("server.web-2", Action.CREATE, False, "went to ERROR: boom", "id-2", seconds=2.0),
        Result(
            "floating_ip.web-1",
            Action.CREATE,
            False,
            "not ACTIVE after 5s",
            None,
            seconds=5.0,
            timed_out=True,
        ),
    )
    document = result_document("apply", "demo", results, seconds=7.5)
    assert document["format_version"] == RESULT_FORMAT_VERSION == "1.0"
    assert document["outcome"] == "failed"
    assert document["totals"] == {
        "changes": 3,
        "ok": 1,
        "failed": 1,
        "timed_out": 1,
        "seconds": 7.5,
    }
    assert document["changes"][0] == {
        "address": "server.web-1",
        "kind": "server",
        "name": "web-1",
        "action": "create",
        "outcome": "ok",
        "resource_id": "id-1",
        "addresses": [{"network": "private", "ip": "10.0.0.1"}],
        "seconds": 1.25,
        "message": "has been created (ACTIVE after 1.0s)",
    }
    assert [c["outcome"] for c in document["changes"]] == ["ok", "failed", "timed-out"]
    assert document["changes"][2]["kind"] == "floating_ip"
    assert json.loads(render_result_json(document)) == document


@pytest.mark.parametrize(
    ("results", "outcome"),
    [
        ((), "no-changes"),
        ((Result("server.a", Action.DELETE, True, "has been destroyed"),), "ok"),
    ],
)
def test_the_outcome_follows_the_results(results: tuple[Result, ...], outcome: str) -> None:
    assert result_document("destroy", "demo", results)["outcome"] == outcome


def test_a_run_that_stopped_says_why() -> None:
    error = {"message": "the plan has errors; nothing was changed", "hint": None}
    document = result_document("apply", None, outcome="error", error=error)
    assert document["outcome"] == "error" and document["error"] == error
    assert document["changes"] == [] and document["interrupted"] is None
