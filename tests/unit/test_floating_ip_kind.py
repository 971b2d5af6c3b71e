"""The floating IP kind: one per server that asks, the same address across a
replacement, released when the server goes; claimed addresses never released."""

from __future__ import annotations

import dataclasses

import pytest

from declstack.engine import make_destroy_plan, make_plan
from declstack.model import Action, FloatingIpRequest, ObservedFloatingIp, Spec
from declstack.reconciler import Reconciler, Settings
from tests.fakes import FakeCloud
from tests.unit.test_reconciler import CATALOG, Instant, server

pytestmark = pytest.mark.unit


def apply(cloud: FakeCloud, the_spec: Spec) -> None:
    plan = make_plan(the_spec, cloud)
    assert not plan.errors, plan.errors
    report = Reconciler(cloud, Settings(), clock=Instant().clock()).apply(plan)
    assert report.converged, report.failures


def spec(*servers: object) -> Spec:
    return Spec("demo", servers)  # type: ignore[arg-type]


def with_ip(name: str, **kw: object) -> object:
    return server(name, floating_ip=FloatingIpRequest(**kw))  # type: ignore[arg-type]


def ips(cloud: FakeCloud) -> dict[str, str | None]:
    names = {s.id: s.name for s in cloud.servers.values()}
    return {f.address: names.get(f.server_id or "") for f in cloud.fips.values()}


def test_every_replica_gets_its_own_ip_and_a_second_plan_is_a_no_op() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    the_spec = spec(with_ip("a"), with_ip("b"))
    apply(cloud, the_spec)
    assert sorted(ips(cloud).values()) == ["a", "b"]
    assert cloud.calls.count("list-ports") == 1, "one list of ports, not one call per server"
    again = make_plan(the_spec, cloud)
    assert not again.has_changes, again.changes
    assert "list-external" not in cloud.calls[-4:], "no network listing when nothing is allocated"


def test_a_replaced_server_keeps_its_address() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(with_ip("a")))
    (address,) = ips(cloud)
    old = next(iter(cloud.servers))

    replaced = dataclasses.replace(with_ip("a"), image="debian-12")  # type: ignore[type-var]
    plan = make_plan(spec(replaced), cloud)
    fip = next(c for c in plan.changes if c.address == "floating_ip.a")
    assert fip.action is Action.UPDATE
    assert fip.reason == f"{address} moves to the new server once it is ACTIVE"
    apply(cloud, spec(replaced))
    assert old not in cloud.servers
    assert ips(cloud) == {address: "a"}, "same address, on the new server"


def test_scaling_down_releases_the_ip_of_the_server_that_goes() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(with_ip("a"), with_ip("b")))
    b_ip = next(a for a, name in ips(cloud).items() if name == "b")
    plan = make_plan(spec(with_ip("a")), cloud)
    gone = next(c for c in plan.changes if c.address == "floating_ip.b")
    assert (gone.action, gone.reason) == (Action.DELETE, "its server left the spec")
    apply(cloud, spec(with_ip("a")))
    assert b_ip not in ips(cloud) and list(ips(cloud).values()) == ["a"]


def test_a_claimed_address_is_associated_and_never_released() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    theirs = ObservedFloatingIp("fip-9", "198.51.100.7", "ext-1")
    cloud.fips[theirs.id] = theirs
    the_spec = spec(with_ip("a", address="198.51.100.7"))
    apply(cloud, the_spec)
    assert ips(cloud) == {"198.51.100.7": "a"}
    assert not make_plan(the_spec, cloud).has_changes

    destroy = make_destroy_plan(the_spec, cloud)
    assert all(c.address != "floating_ip.a" for c in destroy.changes)
    Reconciler(cloud, Settings(), clock=Instant().clock()).apply(destroy)
    assert ips(cloud) == {"198.51.100.7": None}, "disassociated with its server, still allocated"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (None, "floating IP 198.51.100.7 is not allocated in this project"),
        (
            ObservedFloatingIp("f", "198.51.100.7", "ext-1", port_id="p", server_id="stranger"),
            "floating IP 198.51.100.7 is associated with a server this stack does not own "
            "(stranger); declstack claims only unassociated addresses",
        ),
        (
            ObservedFloatingIp("f", "198.51.100.7", "ext-1", tags=("declstack:stack=other",)),
            "floating IP 198.51.100.7 is owned by 'other' (another stack); claim only "
            "addresses no stack owns",
        ),
    ],
)
def test_claims_that_cannot_be_made_are_plan_errors(
    setup: ObservedFloatingIp | None, message: str
) -> None:
    cloud = FakeCloud(catalog=CATALOG)
    if setup is not None:
        cloud.fips[setup.id] = setup
    plan = make_plan(spec(with_ip("a", address="198.51.100.7")), cloud)
    assert [(e.address, e.message) for e in plan.errors] == [("floating_ip.a", message)]


def test_a_network_that_is_not_external_is_a_plan_error() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    plan = make_plan(spec(with_ip("a", network="private")), cloud)
    (error,) = plan.errors
    assert error.message == (
        'network "private" is not an external network, so floating IPs cannot come from it '
        "(external networks: public)"
    )


def test_destroy_releases_owned_ips_before_the_servers_go() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(with_ip("a")))
    destroy = make_destroy_plan(spec(with_ip("a")), cloud)
    report = Reconciler(cloud, Settings(), clock=Instant().clock()).apply(destroy)
    assert report.converged and cloud.fips == {} and cloud.servers == {}
    release = next(i for i, c in enumerate(cloud.calls) if c.startswith("delete fip"))
    delete = next(i for i, c in enumerate(cloud.calls) if c.startswith("delete id-"))
    assert release < delete
