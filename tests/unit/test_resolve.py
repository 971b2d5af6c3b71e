"""Tests of reference resolution against a catalog: ids, names, misses, ambiguity."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from declstack import ownership
from declstack.model import (
    Action,
    Catalog,
    Change,
    CreateRequest,
    DesiredServer,
    Diagnostic,
    NamedResource,
    ObservedServer,
    Plan,
    Spec,
    frozen_map,
)
from declstack.planner import plan
from declstack.resolve import lookup, needs_catalog, resolve

pytestmark = pytest.mark.unit

CATALOG = Catalog(
    images=(
        NamedResource("img-cirros", "cirros", "active"),
        NamedResource("img-ubuntu", "ubuntu-22.04", "active"),
        NamedResource("img-queued", "fedora", "queued"),
        NamedResource("img-dup-1", "debian", "active"),
        NamedResource("img-dup-2", "debian", "active"),
        NamedResource("img-nostatus", "alpine"),
    ),
    flavors=(NamedResource("1", "m1.tiny"), NamedResource("2", "m1.small")),
    networks=(NamedResource("net-priv", "private"), NamedResource("net-pub", "public")),
    keypairs=(NamedResource("ops", "ops"),),
    security_groups=(NamedResource("sg-default", "default"), NamedResource("sg-web", "web")),
)


def desired(**changes: Any) -> DesiredServer:
    base = DesiredServer(name="web-1", image="cirros", flavor="m1.small")
    return dataclasses.replace(base, **changes)


def resolved(server: DesiredServer, action: Action = Action.CREATE) -> tuple[Change, Plan]:
    before = (
        ObservedServer("old", "web-1", "ERROR") if action is Action.DELETE_THEN_CREATE else None
    )
    result = resolve(
        Plan("demo", (Change("web-1", action, "why", before=before, after=server),)), CATALOG
    )
    (change,) = result.changes
    return change, result


def request(server: DesiredServer) -> CreateRequest:
    change, result = resolved(server)
    assert result.diagnostics == ()
    assert change.create is not None
    return change.create


def error(server: DesiredServer) -> Diagnostic:
    change, result = resolved(server)
    assert change.create is None
    (diagnostic,) = result.diagnostics
    assert diagnostic.severity == "error"
    assert diagnostic.address == "server.web-1"
    return diagnostic


def test_names_resolve_to_ids() -> None:
    got = request(
        desired(networks=("private",), security_groups=("web",), key_name="ops", flavor="m1.tiny")
    )
    assert (got.image_id, got.flavor_id) == ("img-cirros", "1")
    assert got.networks == ("net-priv",)
    assert got.security_groups == ("sg-web",)
    assert got.key_name == "ops"


def test_ids_resolve_to_themselves() -> None:
    got = request(desired(image="img-ubuntu", flavor="2", networks=("net-pub",)))
    assert (got.image_id, got.flavor_id, got.networks) == ("img-ubuntu", "2", ("net-pub",))


def test_id_wins_over_a_name_equal_to_another_id() -> None:
    catalog = Catalog(images=(NamedResource("a", "b"), NamedResource("b", "c")))
    found, problem = lookup("image", "b", catalog.images)
    assert problem is None
    assert found == NamedResource("b", "c")


@pytest.mark.parametrize("networks", ["auto", "none"])
def test_networks_auto_and_none_pass_through(networks: str) -> None:
    assert request(desired(networks=networks)).networks == networks


def test_request_carries_marker_metadata_user_values_and_stack_tag() -> None:
    server = desired(
        metadata=frozen_map({"role": "web"}),
        tags=("blue",),
        user_data="#cloud-config",
        availability_zone="nova",
        description="front",
    )
    got = request(server)
    assert dict(got.metadata) == {"role": "web", **ownership.marker_metadata("demo", server)}
    assert got.metadata[ownership.FINGERPRINT_KEY] == ownership.fingerprint(server)
    assert got.tags == ("blue", "declstack:stack=demo")
    assert (got.user_data, got.availability_zone, got.description) == (
        "#cloud-config",
        "nova",
        "front",
    )


def test_replace_gets_a_create_request_too() -> None:
    change, result = resolved(desired(), Action.DELETE_THEN_CREATE)
    assert result.diagnostics == ()
    assert change.create is not None and change.create.image_id == "img-cirros"


def test_missing_image_suggests_a_close_name() -> None:
    problem = error(desired(image="cirros2"))
    assert problem.message == 'image "cirros2" not found; did you mean "cirros"?'


def test_missing_without_close_match_lists_what_exists() -> None:
    problem = error(desired(flavor="huge"))
    assert problem.message == 'flavor "huge" not found'
    assert problem.hint == 'available flavors: "m1.small", "m1.tiny"'


@pytest.mark.parametrize(
    ("server", "message"),
    [
        (desired(networks=("privat",)), 'network "privat" not found; did you mean "private"?'),
        (desired(key_name="opz"), 'key pair "opz" not found; did you mean "ops"?'),
        (
            desired(security_groups=("defualt",)),
            'security group "defualt" not found; did you mean "default"?',
        ),
    ],
)
def test_every_reference_kind_is_checked(server: DesiredServer, message: str) -> None:
    assert error(server).message == message


def test_ambiguous_name_asks_for_the_id() -> None:
    problem = error(desired(image="debian"))
    assert problem.message == (
        'image name "debian" is shared by 2 images (ids img-dup-1, img-dup-2); use the id'
    )
    assert request(desired(image="img-dup-2")).image_id == "img-dup-2"


def test_inactive_image_is_an_error() -> None:
    problem = error(desired(image="fedora"))
    assert problem.message == 'image "fedora" (id img-queued) is not active (status queued)'


def test_image_without_status_is_accepted() -> None:
    assert request(desired(image="alpine")).image_id == "img-nostatus"


def test_all_problems_of_one_server_are_reported_together() -> None:
    change, result = resolved(desired(image="nope", flavor="nope", networks=("nope",)))
    assert change.create is None
    assert [d.message.split(" ")[0] for d in result.diagnostics] == ["image", "flavor", "network"]


def test_other_changes_and_existing_diagnostics_are_kept() -> None:
    existing = Diagnostic("warning", "earlier", address="x")
    update = Change("web-2", Action.UPDATE, "tag +a", after=desired(name="web-2"))
    delete = Change("old", Action.DELETE, "gone", before=ObservedServer("o", "old", "ACTIVE"))
    unchanged = Plan("demo", (update, delete), (existing,))
    assert not needs_catalog(unchanged)
    assert resolve(unchanged, Catalog()) == unchanged


def test_needs_catalog_when_something_is_built() -> None:
    assert needs_catalog(Plan("demo", (Change("web-1", Action.CREATE, "x", after=desired()),)))
    assert not needs_catalog(Plan("demo", ()))


def test_a_server_built_from_the_request_plans_as_up_to_date() -> None:
    """Resolve and planner agree: what a create sets is what the next plan expects."""
    server = desired(
        metadata=frozen_map({"role": "web"}),
        tags=("blue",),
        user_data="secret",
        networks=("private",),
        security_groups=("web",),
        description="d",
    )
    got = request(server)
    built = ObservedServer(
        id="new",
        name=got.name,
        status="ACTIVE",
        metadata=got.metadata,
        tags=got.tags,
        description=got.description,
        flavor_name="m1.small",
    )
    (change,) = plan(Spec("demo", (server,)), [built]).changes
    assert (change.action, change.reason) == (Action.NOOP, "up to date")
