"""Fixed IPs and config drive: create-time attributes added after fingerprint v1."""

from __future__ import annotations

import dataclasses

import pytest

from declstack import ownership
from declstack.model import Action, Catalog, NamedResource, Spec, Subnet
from declstack.planner import plan
from declstack.resolve import resolve
from declstack.spec import SpecError, parse_spec
from tests.unit.builders import desired, server

pytestmark = pytest.mark.unit

HEADER = "version: 1\nstack: demo\ndefaults: {image: cirros, flavor: m1.tiny}\nservers:\n"


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(HEADER + text, "spec.yaml")
    return [str(p) for p in caught.value.problems]


def test_fixed_ip_and_config_drive_are_read() -> None:
    spec = parse_spec(
        HEADER
        + "  - name: db\n    config_drive: true\n"
        + "    networks: [public-net, {network: private, fixed_ip: 10.0.0.10}]\n",
        "spec.yaml",
    )
    (db,) = spec.servers
    assert db.networks == ("public-net", "private")
    assert db.fixed_ips == (None, "10.0.0.10")
    assert db.config_drive is True


def test_bad_fixed_ips_are_refused_where_they_are_written() -> None:
    assert problems(
        "  - {name: a, networks: [{network: private, fixed_ip: 10.0.0.300}]}\n"
        "  - {name: b, count: 2, networks: [{network: private, fixed_ip: 10.0.0.5}]}\n"
        "  - {name: c, networks: [{network: private, fixed_ip: 10.0.0.7}]}\n"
        "  - {name: d, networks: [{network: private, fixed_ip: 10.0.0.7}]}\n"
    ) == [
        "spec.yaml:5:55: servers[0].networks[0].fixed_ip: '10.0.0.300' is not an IPv4 or "
        "IPv6 address",
        "spec.yaml:6:65: servers[1].networks[0].fixed_ip: fixed IP 10.0.0.5 would be given to "
        "all 2 servers of this entry; give each server its own entry, or drop fixed_ip",
        "spec.yaml:8:55: servers[3].networks[0].fixed_ip: fixed IP 10.0.0.7 on network "
        "'private' is already given to another server (at servers[2].networks[0].fixed_ip); "
        "one address, one server",
    ]


def test_specs_without_the_new_attributes_keep_their_v1_fingerprint() -> None:
    # The literal is the fingerprint every server created before fixed IPs and
    # config drive existed carries: it must still read as "nothing changed".
    plain = desired(networks=("private",))
    assert ownership.fingerprint(plain) == ownership.fingerprint(
        dataclasses.replace(plain, config_drive=False, fixed_ips=())
    )
    assert "config_drive" not in ownership.fingerprint(plain)
    observed = server(plain)
    assert plan(Spec("demo", (plain,)), [observed]).changes[0].action is Action.NOOP


@pytest.mark.parametrize(
    ("change", "attribute"),
    [
        ({"config_drive": True}, "config_drive"),
        ({"fixed_ips": ("10.0.0.10",)}, "networks"),
    ],
)
def test_turning_them_on_replaces_the_server(change: dict[str, object], attribute: str) -> None:
    before = desired(networks=("private",))
    after = dataclasses.replace(before, **change)  # type: ignore[arg-type]
    (result,) = plan(Spec("demo", (after,)), [server(before)]).changes
    assert result.action is Action.DELETE_THEN_CREATE
    assert result.replaced_by == (attribute,)


CATALOG = Catalog(
    images=(NamedResource("img", "cirros", "active"),),
    flavors=(NamedResource("1", "m1.small"),),
    networks=(NamedResource("net-1", "private"), NamedResource("net-2", "other")),
    subnets=(Subnet("sub-1", "net-1", "10.0.0.0/24"), Subnet("sub-2", "net-2", "10.1.0.0/24")),
    foreign_networks=frozenset({"net-2"}),
)


def test_the_create_request_carries_them() -> None:
    catalog = CATALOG
    wanted = desired(networks=("other", "private"), fixed_ips=(None, "10.0.0.10"))
    wanted = dataclasses.replace(wanted, config_drive=True)
    (change,) = resolve(plan(Spec("demo", (wanted,)), []), catalog).changes
    assert change.create is not None
    assert change.create.networks == ("net-2", "net-1")
    assert change.create.fixed_ips == (None, "10.0.0.10")
    assert change.create.config_drive is True


def test_a_fixed_ip_outside_the_networks_subnets_is_refused_at_plan_time() -> None:
    wanted = desired(networks=("private",), fixed_ips=("10.9.9.9",))
    resolved = resolve(plan(Spec("demo", (wanted,)), []), CATALOG)
    (error,) = resolved.errors
    assert error.address == "server.web-1"
    assert (
        error.message == 'fixed IP 10.9.9.9 is not in any subnet of network "private" (10.0.0.0/24)'
    )
    assert resolved.changes[0].create is None


def test_a_fixed_ip_on_another_projects_network_warns_of_neutrons_policy() -> None:
    wanted = desired(networks=("other",), fixed_ips=("10.1.0.7",))
    resolved = resolve(plan(Spec("demo", (wanted,)), []), CATALOG)
    assert not resolved.errors
    (warning,) = resolved.warnings
    assert warning.message.startswith('network "other" belongs to another project')
    assert resolved.changes[0].create is not None


def test_a_fixed_ip_in_defaults_reaching_two_servers_is_refused_once() -> None:
    text = (
        "version: 1\nstack: demo\n"
        "defaults: {image: cirros, flavor: m1.tiny, networks: [{network: private, "
        "fixed_ip: 10.0.0.9}]}\nservers:\n  - {name: a}\n  - {name: b}\n"
    )
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "spec.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "spec.yaml:3:84: defaults.networks[0].fixed_ip: fixed IP 10.0.0.9 on network "
        "'private' from defaults would be given to every server; one address, one server: "
        "write it on one server's entry"
    ]
