"""The key pair kind: owned through the key's comment; an existing key pair with the
same key is used as is and survives destroy; a changed key never replaces servers."""

from __future__ import annotations

import pytest

from declstack.engine import make_destroy_plan, make_plan
from declstack.model import Action, DesiredKeypair, ObservedKeypair, Spec
from declstack.reconciler import Reconciler, Settings
from tests.fakes import FakeCloud
from tests.unit.test_reconciler import CATALOG, Instant, server

pytestmark = pytest.mark.unit

KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa me@laptop"
KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb me@laptop"


def spec(*keys: DesiredKeypair, servers: tuple = ()) -> Spec:  # type: ignore[type-arg]
    return Spec("demo", servers, keypairs=keys)


def apply(cloud: FakeCloud, the_spec: Spec, *, destroy: bool = False) -> None:
    plan = (make_destroy_plan if destroy else make_plan)(the_spec, cloud)
    assert not plan.errors, plan.errors
    report = Reconciler(cloud, Settings(), clock=Instant().clock()).apply(plan)
    assert report.converged, report.failures


def test_created_with_the_stacks_marker_before_the_server_that_uses_it() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    the_spec = spec(DesiredKeypair("deploy", KEY_A), servers=(server("a", key_name="deploy"),))
    apply(cloud, the_spec)
    assert cloud.keypairs["deploy"].public_key == f"{KEY_A} declstack:stack=demo"
    assert cloud.calls.index("create keypair deploy") < cloud.calls.index("create a")
    assert not make_plan(the_spec, cloud).has_changes


def test_a_changed_key_replaces_the_key_pair_and_no_server() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(DesiredKeypair("deploy", KEY_A), servers=(server("a", key_name="deploy"),)))
    changed = spec(DesiredKeypair("deploy", KEY_B), servers=(server("a", key_name="deploy"),))
    plan = make_plan(changed, cloud)
    assert [(c.address, c.action) for c in plan.changes if c.action.changes] == [
        ("keypair.deploy", Action.DELETE_THEN_CREATE)
    ]
    assert "running servers keep the key they booted with" in plan.changes[0].reason
    apply(cloud, changed)
    assert cloud.keypairs["deploy"].public_key.startswith(KEY_B)


def test_an_existing_key_pair_with_the_same_key_is_used_and_survives_destroy() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    cloud.keypairs["deploy"] = ObservedKeypair("deploy", KEY_A.replace("me@laptop", "other"))
    the_spec = spec(DesiredKeypair("deploy", KEY_A))
    plan = make_plan(the_spec, cloud)
    (change,) = plan.changes
    assert change.action is Action.NOOP and "not owned by the stack" in change.reason
    apply(cloud, the_spec, destroy=True)
    assert "deploy" in cloud.keypairs


def test_an_existing_key_pair_with_another_key_is_an_error() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    cloud.keypairs["deploy"] = ObservedKeypair("deploy", KEY_B)
    plan = make_plan(spec(DesiredKeypair("deploy", KEY_A)), cloud)
    (error,) = plan.errors
    assert (error.address, error.message) == (
        "keypair.deploy",
        'key pair "deploy" exists with another public key and is not owned by stack "demo"',
    )


def test_destroy_and_dropping_from_the_spec_delete_only_owned_key_pairs() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    apply(cloud, spec(DesiredKeypair("deploy", KEY_A), DesiredKeypair("ci", KEY_B)))
    cloud.keypairs["mine"] = ObservedKeypair("mine", KEY_A)
    apply(cloud, spec(DesiredKeypair("deploy", KEY_A)))
    assert sorted(cloud.keypairs) == ["deploy", "mine"]
    apply(cloud, spec(DesiredKeypair("deploy", KEY_A)), destroy=True)
    assert sorted(cloud.keypairs) == ["mine"]
