"""Import, on the strict fake: every check before any change, and a fingerprint that makes
the next plan name exactly the attributes that differ (or nothing)."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

import pytest

from declstack import importing, ownership
from declstack.cloud import OpenStackCloud
from declstack.engine import make_plan
from declstack.errors import UserError
from declstack.model import (
    Action,
    Catalog,
    DesiredSecurityGroup,
    DesiredServer,
    NamedResource,
    ObservedServer,
    ServerPatch,
    Spec,
    frozen_map,
)
from declstack.port import BuiltServer, Nic
from tests.fakes import FakeCloud
from tests.unit.builders import STACK
from tests.unit.test_cloud_security_groups import Instant, response

pytestmark = pytest.mark.unit

CATALOG = Catalog(
    images=(
        NamedResource("img-cirros", "cirros", "active"),
        NamedResource("img-ubuntu", "ubuntu", "active"),
    ),
    flavors=(NamedResource("fl-small", "m1.small"), NamedResource("fl-tiny", "m1.tiny")),
    networks=(NamedResource("net-private", "private"), NamedResource("net-db", "db")),
    keypairs=(NamedResource("ops", "ops"),),
    security_groups=(NamedResource("sg-default", "default"), NamedResource("sg-web", "web")),
)


def wanted(name: str = "web-1", **changes: Any) -> DesiredServer:
    """A spec server: cirros on m1.small on the private network."""
    base = DesiredServer(name=name, image="cirros", flavor="m1.small", networks=("private",))
    if "metadata" in changes:
        changes["metadata"] = frozen_map(changes["metadata"])
    return dataclasses.replace(base, **changes)


def built(
    name: str = "web-1",
    id: str = "srv-1",
    *,
    image_id: str | None = "img-cirros",
    flavor: str = "m1.small",
    nics: tuple[Nic, ...] = (Nic("net-private", ("10.0.0.5",)),),
    metadata: dict[str, str] | None = None,
    tags: tuple[str, ...] = (),
    status: str = "ACTIVE",
    security_groups: tuple[str, ...] | None = ("default",),
    **facts: Any,
) -> BuiltServer:
    """A server somebody built by hand, as the cloud shows it."""
    server = ObservedServer(
        id=id,
        name=name,
        status=status,
        image_id=image_id,
        flavor_name=flavor,
        metadata=frozen_map(metadata),
        tags=tags,
        security_groups=security_groups,
    )
    return BuiltServer(server=server, nics=nics, **{"availability_zone": "nova", **facts})


def spec_of(*servers: DesiredServer, **fields: Any) -> Spec:
    return Spec(stack=STACK, servers=servers, path="spec.yaml", **fields)


def cloud_with(*builds: BuiltServer) -> FakeCloud:
    cloud = FakeCloud(catalog=CATALOG)
    for build in builds:
        cloud.add_built(build)
    return cloud


def import_(cloud: FakeCloud, spec: Spec, *pairs: str, **options: bool) -> importing.ImportPlan:
    plan = importing.prepare(spec, importing.parse_pairs(pairs), cloud, **options)
    importing.carry_out(plan, cloud)
    return plan


def server_change(cloud: FakeCloud, spec: Spec, name: str = "web-1") -> Any:
    (change,) = [c for c in make_plan(spec, cloud).changes if c.name == name]
    return change


# --- comparing a server with the spec: one row per attribute situation ----------------


@dataclass(frozen=True)
class Row:
    id: str
    desired: DesiredServer
    build: BuiltServer
    differing: tuple[str, ...] = ()
    detail: str = ""  # a substring of the (first) differing check's detail


ROWS = [
    Row("built as the spec asks", wanted(), built()),
    Row("image by id", wanted(image="img-cirros"), built()),
    Row(
        "another image",
        wanted(),
        built(image_id="img-ubuntu"),
        ("image",),
        'server has image "ubuntu" (img-ubuntu), spec asks "cirros" (img-cirros)',
    ),
    Row(
        "booted from a volume",
        wanted(),
        built(image_id=None),
        ("image",),
        "no image (booted from a volume)",
    ),
    Row(
        "an image the cloud no longer lists, by the id the server has",
        wanted(image="img-gone"),
        built(image_id="img-gone"),
    ),
    Row(
        "another flavor",
        wanted(),
        built(flavor="m1.tiny"),
        ("flavor",),
        'server has "m1.tiny", spec asks "m1.small"',
    ),
    Row(
        "flavor by id, Nova before 2.47 shows the id",
        wanted(flavor="fl-small"),
        built(flavor="fl-small"),
    ),
    Row("flavor by id, Nova shows the name", wanted(flavor="fl-small"), built()),
    Row("key pair", wanted(key_name="ops"), built(key_name="ops")),
    Row(
        "no key pair on the server",
        wanted(key_name="ops"),
        built(),
        ("key_name",),
        'server has none, spec asks "ops"',
    ),
    Row("networks by id", wanted(networks=("net-private",)), built()),
    Row(
        "another network",
        wanted(networks=("db",)),
        built(),
        ("networks",),
        'server is on "private" (net-private) 10.0.0.5, spec asks db',
    ),
    Row(
        "one network missing",
        wanted(networks=("private", "db")),
        built(),
        ("networks",),
    ),
    Row(
        "two networks, listed in another order",
        wanted(networks=("private", "db")),
        built(nics=(Nic("net-db", ("10.1.0.3",)), Nic("net-private", ("10.0.0.5",)))),
    ),
    Row(
        "a fixed IP held",
        wanted(networks=("private",), fixed_ips=("10.0.0.5",)),
        built(),
    ),
    Row(
        "another fixed IP",
        wanted(networks=("private",), fixed_ips=("10.0.0.6",)),
        built(),
        ("networks",),
        "spec asks private 10.0.0.6",
    ),
    Row(
        "two ports on one network, the fixed one on the second",
        wanted(networks=("private", "private"), fixed_ips=(None, "10.0.0.9")),
        built(nics=(Nic("net-private", ("10.0.0.9",)), Nic("net-private", ("10.0.0.5",)))),
    ),
    Row("auto with a network", wanted(networks="auto"), built()),
    Row("auto without one", wanted(networks="auto"), built(nics=()), ("networks",)),
    Row("none", wanted(networks="none"), built(nics=())),
    Row("none but a port", wanted(networks="none"), built(), ("networks",)),
    Row("no groups in the spec: Nova's choice", wanted(), built(security_groups=("web",))),
    Row("groups by name", wanted(security_groups=("web",)), built(security_groups=("web",))),
    Row("groups by id", wanted(security_groups=("sg-web",)), built(security_groups=("web",))),
    Row(
        "other groups",
        wanted(security_groups=("web",)),
        built(),
        ("security_groups",),
        "server has ['default'], spec asks ['web']",
    ),
    Row(
        "groups the cloud does not list",
        wanted(security_groups=("web",)),
        built(security_groups=None),
    ),
    Row("zone", wanted(availability_zone="nova"), built()),
    Row("zone:host", wanted(availability_zone="nova:compute-1"), built()),
    Row(
        "another zone",
        wanted(availability_zone="az2"),
        built(),
        ("availability_zone",),
        'server is in "nova", spec asks "az2"',
    ),
    Row("config drive asked and there", wanted(config_drive=True), built(config_drive=True)),
    Row(
        "config drive asked, not there",
        wanted(config_drive=True),
        built(),
        ("config_drive",),
    ),
    Row("config drive not asked but forced by the cloud", wanted(), built(config_drive=True)),
    Row("user_data cannot be read: taken to match", wanted(user_data="#!/bin/sh\n"), built()),
    Row(
        "several at once",
        wanted(key_name="ops", availability_zone="az2"),
        built(flavor="m1.tiny"),
        ("flavor", "key_name", "availability_zone"),
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_compare(row: Row) -> None:
    checks = importing.compare(row.desired, row.build, CATALOG, {"own"})
    assert [c.attribute for c in checks] == [
        *ownership.CREATE_TIME_ATTRIBUTES,
        *ownership.LATER_ATTRIBUTES,
    ]
    differing = [c for c in checks if not c.matches]
    assert tuple(c.attribute for c in differing) == row.differing
    if row.detail:
        assert row.detail in differing[0].detail


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_the_next_plan_names_exactly_what_differs(row: Row) -> None:
    """Through the planner's own reading of the fingerprint the import writes."""
    checks = importing.compare(row.desired, row.build, CATALOG)
    text = importing.import_fingerprint(row.desired, checks)
    assert len(text) <= ownership.MAX_METADATA_VALUE
    observed = ObservedServer(
        "srv-1", row.desired.name, "ACTIVE", metadata={ownership.FINGERPRINT_KEY: text}
    )
    assert ownership.changed_fingerprinted(row.desired, observed) == list(row.differing)


ALL = (*ownership.CREATE_TIME_ATTRIBUTES, *ownership.LATER_ATTRIBUTES)


@pytest.mark.parametrize("config_drive", [False, True])
@pytest.mark.parametrize("size", [0, 1, 2, len(ALL)])
def test_fingerprint_for_every_set_of_differing_attributes(config_drive: bool, size: int) -> None:
    desired = wanted(config_drive=config_drive, key_name="ops", user_data="x")
    for names in itertools.combinations(ALL, size):
        checks = [importing.Check(a, a not in names, "seen") for a in ALL]
        text = importing.import_fingerprint(desired, checks)
        observed = ObservedServer(
            "s", desired.name, "ACTIVE", metadata={ownership.FINGERPRINT_KEY: text}
        )
        assert ownership.changed_fingerprinted(desired, observed) == list(names)


# --- the whole import, then the next plan ----------------------------------------------


def test_a_server_built_as_the_spec_asks_is_a_noop_for_the_next_plan() -> None:
    spec = spec_of(wanted(metadata={"role": "web"}, tags=("blue",), description="front"))
    cloud = cloud_with(built(metadata={"owner": "ops"}, tags=("keep",)))
    plan = import_(cloud, spec, "web-1=srv-1")
    (adoption,) = plan.adoptions
    assert adoption.differing == () and adoption.previous_owner is None

    server = cloud.servers["srv-1"]
    assert ownership.owner_of(server) == STACK
    assert server.metadata["role"] == "web" and server.metadata["owner"] == "ops"
    assert set(server.tags) == {"keep", "blue", ownership.stack_tag(STACK)}
    assert server.description == "front"
    change = server_change(cloud, spec)
    assert (change.action, change.reason, change.before.id) == (Action.NOOP, "up to date", "srv-1")
    assert not [c for c in cloud.calls if c.startswith(("create", "delete", "update"))]


def test_another_flavor_makes_the_next_plan_replace_it_naming_flavor() -> None:
    spec = spec_of(wanted())
    cloud = cloud_with(built(flavor="m1.tiny"))
    plan = import_(cloud, spec, "web-1=srv-1")
    assert plan.adoptions[0].replaced_by == ("flavor",)
    assert cloud.servers["srv-1"].flavor_name == "m1.tiny"  # the server itself is untouched

    change = server_change(cloud, spec)
    assert change.action is Action.DELETE_THEN_CREATE
    assert change.replaced_by == ("flavor",)
    assert change.reason == 'flavor changed (spec now "m1.small", server has "m1.tiny")'


def test_other_security_groups_are_changed_in_place_by_the_next_plan() -> None:
    spec = spec_of(wanted(security_groups=("web",)))
    cloud = cloud_with(built())
    cloud.catalog = CATALOG
    plan = import_(cloud, spec, "web-1=srv-1")
    assert plan.adoptions[0].changed_in_place == ("security_groups",)
    assert plan.adoptions[0].replaced_by == ()
    change = server_change(cloud, spec)
    assert change.action is Action.UPDATE
    assert change.patch.add_security_groups == ("sg-web",)
    assert "security groups" in change.reason


def test_import_writes_only_metadata_tags_and_description() -> None:
    spec = spec_of(wanted(metadata={"role": "web"}, tags=("blue",)))
    cloud = cloud_with(built())
    plan = importing.prepare(spec, [("web-1", "srv-1")], cloud)
    patch = plan.adoptions[0].patch
    assert patch.delete_metadata == () and patch.remove_tags == ()
    assert patch.security_groups is None and not patch.change_description
    assert patch.add_tags == ("blue", ownership.stack_tag(STACK))
    assert set(patch.set_metadata) == {
        "role",
        ownership.STACK_KEY,
        ownership.FINGERPRINT_KEY,
        ownership.MANAGED_METADATA_KEY,
        ownership.MANAGED_TAGS_KEY,
    }


def test_a_count_group_member_by_its_expanded_name() -> None:
    spec = spec_of(*(wanted(f"web-{n}", entry="web") for n in (1, 2)))
    cloud = cloud_with(built("web-2", "srv-2"))
    import_(cloud, spec, "web-2=srv-2")
    assert server_change(cloud, spec, "web-2").action is Action.NOOP
    assert server_change(cloud, spec, "web-1").action is Action.CREATE


# --- refusals: every check before any change ------------------------------------------


def refused(cloud: FakeCloud, spec: Spec, *pairs: str, **options: bool) -> importing.ImportRefused:
    before, calls = dict(cloud.servers), len(cloud.calls)
    with pytest.raises(importing.ImportRefused) as caught:
        import_(cloud, spec, *pairs, **options)
    assert cloud.servers == before, "a refused import changed the cloud"
    assert not [c for c in cloud.calls[calls:] if c.startswith("import")]
    return caught.value


def test_an_id_that_does_not_exist() -> None:
    error = refused(cloud_with(), spec_of(wanted()), "web-1=nope")
    assert error.message == "no server with id nope (given for web-1); nothing was changed"
    assert error.hint is not None and "openstack server list" in error.hint


def test_a_name_the_spec_does_not_have() -> None:
    error = refused(cloud_with(built()), spec_of(wanted()), "web-2=srv-1")
    assert error.message.startswith('spec.yaml: no server named "web-2" in the spec')
    assert error.hint == "did you mean web-1?"


def test_a_server_whose_name_differs_from_name() -> None:
    spec = spec_of(wanted(), wanted("web-2"))
    error = refused(cloud_with(built()), spec, "web-2=srv-1")
    assert 'server srv-1 is named "web-1", not "web-2"' in error.message
    assert error.hint is not None and "openstack server set --name web-2 srv-1" in error.hint


def test_one_id_given_twice() -> None:
    spec = spec_of(wanted(), wanted("web-2"))
    error = refused(cloud_with(built()), spec, "web-1=srv-1", "web-2=srv-1")
    assert "server id srv-1 is given 2 times (as web-1, web-2)" in error.message


def test_one_name_given_for_two_servers() -> None:
    cloud = cloud_with(built(), built(id="srv-2"))
    error = refused(cloud, spec_of(wanted()), "web-1=srv-1", "web-1=srv-2")
    assert "name web-1 is given for 2 servers (ids srv-1, srv-2)" in error.message


def test_all_problems_are_listed_at_once() -> None:
    spec = spec_of(wanted(), wanted("web-2"))
    error = refused(cloud_with(built()), spec, "web-1=srv-1", "web-2=gone", "db=srv-9")
    assert error.message.splitlines()[0] == "2 problems; nothing was changed:"
    assert "no server with id gone" in error.message
    assert 'no server named "db"' in error.message


def test_malformed_argument() -> None:
    with pytest.raises(importing.ImportRefused, match=r"'web-1' is not NAME=SERVER_ID"):
        importing.parse_pairs(["web-1"])
    assert importing.parse_pairs([" web-1 = srv-1 "]) == (("web-1", "srv-1"),)


def test_nothing_named_and_no_match_names() -> None:
    with pytest.raises(importing.ImportRefused, match="no server to import"):
        importing.prepare(spec_of(wanted()), [], cloud_with())


def test_another_stacks_server_is_refused_without_steal_and_taken_with_it() -> None:
    other = {ownership.STACK_KEY: "other", "declstack:fingerprint": "v1;image=x"}
    cloud = cloud_with(built(metadata=other, tags=(ownership.stack_tag("other"), "keep")))
    spec = spec_of(wanted())
    error = refused(cloud, spec, "web-1=srv-1")
    assert error.message == 'server web-1 (srv-1) belongs to stack "other"; nothing was changed'
    assert error.hint is not None and "--steal" in error.hint

    plan = import_(cloud, spec, "web-1=srv-1", steal=True)
    assert plan.adoptions[0].previous_owner == "other"
    server = cloud.servers["srv-1"]
    assert ownership.owner_of(server) == STACK
    assert set(server.tags) == {"keep", ownership.stack_tag(STACK)}
    assert cloud.list_stack_servers("other") == []
    assert server_change(cloud, spec).action is Action.NOOP


def test_a_name_the_stack_already_has_a_server_for() -> None:
    spec = spec_of(wanted())
    cloud = cloud_with(built())
    import_(cloud, spec, "web-1=srv-1")
    cloud.add_built(built(id="srv-2"))
    error = refused(cloud, spec, "web-1=srv-2")
    assert 'stack "demo" already has a server named "web-1" (id srv-1)' in error.message


def test_a_server_being_built_is_refused() -> None:
    cloud = cloud_with(built(status="BUILD"))
    error = refused(cloud, spec_of(wanted()), "web-1=srv-1")
    assert "server web-1 (srv-1) is busy (BUILD)" in error.message


def test_a_server_already_in_the_stack_is_nothing_to_do() -> None:
    spec = spec_of(wanted())
    cloud = cloud_with(built())
    import_(cloud, spec, "web-1=srv-1")
    calls = len(cloud.calls)
    again = import_(cloud, spec, "web-1=srv-1")
    assert again.adoptions == () and again.already == (("web-1", "srv-1"),)
    assert not [c for c in cloud.calls[calls:] if c.startswith("import")]
    assert importing.summary_line(again) == (
        'Nothing to import: the servers are already in stack "demo".'
    )


def test_an_import_that_stopped_half_way_is_finished() -> None:
    """The marker was written but not the tag: the stack's list does not see it yet."""
    cloud = cloud_with(built(metadata={ownership.STACK_KEY: STACK}))
    plan = import_(cloud, spec_of(wanted()), "web-1=srv-1")
    assert plan.adoptions[0].previous_owner == STACK
    assert ownership.stack_tag(STACK) in cloud.servers["srv-1"].tags


# --- --match-names -------------------------------------------------------------------


def test_match_names_takes_the_unowned_server_of_each_name() -> None:
    spec = spec_of(*(wanted(f"web-{n}", entry="web") for n in (1, 2, 3)))
    taken = {ownership.STACK_KEY: "other"}
    cloud = cloud_with(
        built("web-1", "srv-1"),
        built("web-2", "srv-2", flavor="m1.tiny"),
        built("web-3", "srv-3", metadata=taken, tags=(ownership.stack_tag("other"),)),
        built("db-1", "srv-4"),
    )
    plan = import_(cloud, spec, match_names=True)
    assert [(a.name, a.server.id) for a in plan.adoptions] == [
        ("web-1", "srv-1"),
        ("web-2", "srv-2"),
    ]
    assert plan.skipped == (
        'server web-3 (id srv-3): owned by stack "other"; to take it, import it by name '
        "(web-3=srv-3) with --steal",
    )
    assert ownership.owner_of(cloud.servers["srv-3"]) == "other"
    assert ownership.owner_of(cloud.servers["srv-4"]) is None
    assert server_change(cloud, spec, "web-1").action is Action.NOOP
    assert server_change(cloud, spec, "web-2").replaced_by == ("flavor",)


def test_match_names_refuses_two_unowned_servers_of_one_name() -> None:
    cloud = cloud_with(built(), built(id="srv-2"), built("web-2", "srv-3"))
    spec = spec_of(wanted(), wanted("web-2"))
    error = refused(cloud, spec, match_names=True)
    assert '--match-names: 2 servers are named "web-1" (ids srv-1, srv-2)' in error.message
    assert error.hint == "import the one you mean by id (web-1=<id>) and rename or delete the other"


def test_match_names_leaves_names_the_stack_has_and_names_given() -> None:
    spec = spec_of(wanted(), wanted("web-2"))
    cloud = cloud_with(built(), built("web-2", "srv-2"), built("web-2", "srv-3"))
    import_(cloud, spec, "web-1=srv-1")
    plan = import_(cloud, spec, "web-2=srv-3", match_names=True)  # srv-2 would be ambiguous
    assert [a.server.id for a in plan.adoptions] == ["srv-3"]


def test_match_names_finding_nothing() -> None:
    plan = import_(cloud_with(built("db-1")), spec_of(wanted()), match_names=True)
    assert plan.adoptions == ()
    assert importing.render_text(plan).startswith("Nothing to import")


# --- what it shows, and a failure half way ------------------------------------------


def test_render_names_what_is_written_and_what_differs() -> None:
    spec = spec_of(wanted(metadata={"role": "web"}), wanted("web-2", tags=("blue",)))
    cloud = cloud_with(built(flavor="m1.tiny"), built("web-2", "srv-2"))
    text = importing.render_text(
        importing.prepare(spec, [("web-1", "srv-1"), ("web-2", "srv-2")], cloud)
    )
    assert text.splitlines() == [
        'declstack will import these servers into stack "demo":',
        "",
        "  import server.web-1 (id srv-1): adds marker and fingerprint; "
        'metadata role: (unset) -> "web"',
        '      flavor differs: server has "m1.tiny", spec asks "m1.small"',
        "      the next plan replaces it (flavor differs)",
        "  import server.web-2 (id srv-2): adds marker and fingerprint; tag +blue",
        "      the next plan leaves it as it is (built as the spec asks)",
        "",
        "Import: 2 to import (1 of them the next plan replaces), 0 already in the stack.",
        f"note: {importing.USER_DATA_NOTE}.",
    ]


def test_render_masks_sensitive_values() -> None:
    spec = spec_of(
        wanted(metadata={"token": "s3cr3t-value"}), sensitive=frozenset({"s3cr3t-value"})
    )
    text = importing.render_text(importing.prepare(spec, [("web-1", "srv-1")], cloud_with(built())))
    assert "s3cr3t-value" not in text and "token" in text


class FailingSecond(FakeCloud):
    def import_server(self, server_id: str, patch: ServerPatch) -> None:
        if server_id == "srv-2":
            raise UserError("set metadata: refused (HTTP 403)")
        super().import_server(server_id, patch)


def test_a_failure_names_what_was_imported_before_it() -> None:
    cloud = FailingSecond(catalog=CATALOG)
    for build in (built(), built("web-2", "srv-2")):
        cloud.add_built(build)
    spec = spec_of(wanted(), wanted("web-2"))
    plan = importing.prepare(spec, [("web-1", "srv-1"), ("web-2", "srv-2")], cloud)
    with pytest.raises(UserError) as caught:
        importing.carry_out(plan, cloud)
    assert caught.value.message == (
        "importing web-2 (srv-2) failed: set metadata: refused (HTTP 403); "
        "imported before it: web-1"
    )
    again = importing.prepare(spec, [("web-1", "srv-1")], cloud)
    assert again.already == (("web-1", "srv-1"),)


def test_spec_groups_are_compared_by_name() -> None:
    spec = spec_of(
        wanted(security_groups=("own",)),
        security_groups=(DesiredSecurityGroup("own"),),
    )
    cloud = cloud_with(built(security_groups=("own",)))
    plan = importing.prepare(spec, [("web-1", "srv-1")], cloud)
    assert plan.adoptions[0].differing == ()


# --- the adapter's calls, on stub proxies ------------------------------------------


class Stub:
    """A proxy that answers each path from a table and records what was asked."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.sent: list[tuple[str, str, dict[str, str] | None]] = []

    def get(self, path: str, **kwargs: Any) -> Any:
        self.sent.append(("GET", path, kwargs.get("params")))
        status, body = self.answers[path]
        return response(status, body)


class StubConn:
    def __init__(self, compute: Stub, network: Stub) -> None:
        self.compute, self.network = compute, network


NOVA_SERVER = {
    "id": "srv-1",
    "name": "web-1",
    "status": "ACTIVE",
    "metadata": {},
    "image": {"id": "img-cirros"},
    "flavor": {"original_name": "m1.small", "vcpus": 1},
    "addresses": {"private": [{"addr": "10.0.0.5", "OS-EXT-IPS:type": "fixed"}]},
    "key_name": "ops",
    "OS-EXT-AZ:availability_zone": "nova",
    "config_drive": "True",
    "security_groups": [{"name": "default"}],
}


def stub_adapter(
    server: dict[str, Any] | None, ports: list[dict[str, Any]]
) -> tuple[OpenStackCloud, Stub, Stub]:
    compute = Stub(
        {"/servers/srv-1": (200, {"server": server}) if server else (404, {"itemNotFound": {}})}
    )
    network = Stub({"/ports": (200, {"ports": ports})})
    cloud = OpenStackCloud(StubConn(compute, network), clock=Instant().clock())
    cloud._version = "2.100"
    return cloud, compute, network


def test_adapter_get_server_reads_what_the_server_was_built_with() -> None:
    ports = [
        {
            "id": "p1",
            "device_id": "srv-1",
            "network_id": "net-private",
            "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.5"}],
        },
        {"id": "p2", "device_id": "other", "network_id": "net-db", "fixed_ips": []},
    ]
    cloud, compute, network = stub_adapter(NOVA_SERVER, ports)
    build = cloud.get_server("srv-1")
    assert compute.sent == [("GET", "/servers/srv-1", None)]
    assert build == BuiltServer(
        server=build.server,
        key_name="ops",
        availability_zone="nova",
        config_drive=True,
        nics=(Nic("net-private", ("10.0.0.5",)),),
    )
    assert (build.server.image_id, build.server.flavor_name) == ("img-cirros", "m1.small")
    assert network.sent[0][2] == {"device_id": "srv-1", "limit": "1000"}


def test_adapter_get_server_without_config_drive_or_key() -> None:
    bare = {**NOVA_SERVER, "config_drive": "", "key_name": None}
    cloud, _, _ = stub_adapter(bare, [])
    build = cloud.get_server("srv-1")
    assert (build.config_drive, build.key_name, build.nics) == (False, None, ())


def test_adapter_get_server_of_an_id_that_does_not_exist() -> None:
    cloud, _, network = stub_adapter(None, [])
    assert cloud.get_server("srv-1") is None
    assert network.sent == []
