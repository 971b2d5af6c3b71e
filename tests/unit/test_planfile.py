"""Saved plans: the file's round trip, what it refuses, what it never holds, and the
comparison of a saved plan with a fresh one (against the strict fake cloud)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from declstack import planfile
from declstack.engine import make_plan
from declstack.model import (
    Catalog,
    DesiredServer,
    NamedResource,
    ObservedServer,
    Plan,
    Spec,
    frozen_map,
)
from declstack.ownership import STACK_KEY
from declstack.planfile import Origin, PlanFileError, SavedPlan, SpecRecord
from declstack.reconciler import Reconciler, Settings
from tests.fakes import FakeCloud
from tests.unit.test_reconciler import Instant

pytestmark = pytest.mark.unit

CATALOG = Catalog(
    images=(NamedResource("img-1", "cirros", "active"),),
    flavors=(NamedResource("1", "m1.tiny"),),
    networks=(NamedResource("net-1", "private"),),
)
USER_DATA = "#!/bin/sh\necho the-user-data-text-itself\n"
SECRET = "hunter2-s3cr3t-value"
ORIGIN = Origin(
    declstack_version="9.9.9",
    created_at="2030-01-02T03:04:05Z",
    cloud="mycloud",
    spec=SpecRecord("spec.yaml", "/work/spec.yaml", "ab" * 32),
    options=frozen_map({"targets": ("web-*",), "max_deletions": 2}),  # type: ignore[dict-item]
    allow_env=("DB_PASSWORD",),
)


def desired(name: str, **fields: object) -> DesiredServer:
    base = DesiredServer(name=name, image="cirros", flavor="m1.tiny", networks=("private",))
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def spec(*servers: DesiredServer, sensitive: frozenset[str] = frozenset()) -> Spec:
    return Spec("demo", servers, sensitive=sensitive)


def secret_spec(secret: str = SECRET) -> Spec:
    return spec(
        desired("web-1", user_data=USER_DATA, metadata=frozen_map({"db": f"pw={secret}"})),
        desired("web-2"),
        sensitive=frozenset({secret}),
    )


def converged(the_spec: Spec) -> FakeCloud:
    """A fake cloud where `the_spec` has been applied."""
    cloud = FakeCloud(catalog=CATALOG)
    the_plan = make_plan(the_spec, cloud)
    report = Reconciler(cloud, Settings(), clock=Instant().clock()).apply(the_plan)
    assert report.converged
    return cloud


def saved_text(the_plan: Plan) -> str:
    return planfile.dumps(planfile.save(the_plan, ORIGIN, salt=b"s" * 16))


def load(text: str) -> SavedPlan:
    return planfile.loads(text.encode(), "plan.json")


def test_round_trip_keeps_every_field() -> None:
    the_plan = make_plan(secret_spec(), FakeCloud(catalog=CATALOG))
    saved = planfile.save(the_plan, ORIGIN, salt=b"s" * 16)
    again = load(planfile.dumps(saved))
    assert again == saved
    assert again.options == {"targets": ("web-*",), "max_deletions": 2}
    assert again.allow_env == ("DB_PASSWORD",)
    assert [d.action for d in again.digests] == ["create", "create"]
    assert again.has_changes
    assert again.text.endswith("Plan: 2 to add, 0 to change, 0 to replace, 0 to destroy.\n")
    assert again.markdown.startswith("### declstack plan for stack `demo`")
    assert again.plan["format_version"] == "2.2"


def test_the_marker_is_the_first_key_and_the_checksum_the_last() -> None:
    text = saved_text(make_plan(secret_spec(), FakeCloud(catalog=CATALOG)))
    keys = list(json.loads(text))
    assert keys[0] == planfile.MARKER and keys[-1] == "checksum"
    assert text.startswith('{\n  "declstack_saved_plan": "1.0",\n')


def test_no_secret_reaches_the_file() -> None:
    text = saved_text(make_plan(secret_spec(), FakeCloud(catalog=CATALOG)))
    assert "the-user-data-text-itself" not in text
    assert SECRET not in text
    assert "hunter2" not in text
    # The user_data is there as its hash only, and the sensitive value as a salted hash.
    assert "sha256:" in json.loads(text)["plan"]["changes"][0]["after"]["user_data"]
    assert json.loads(text)["sensitive"]["count"] == 1


def test_an_edited_file_is_refused() -> None:
    text = saved_text(make_plan(secret_spec(), FakeCloud(catalog=CATALOG)))
    edited = text.replace('"action": "create"', '"action": "delete"', 1)
    assert edited != text
    with pytest.raises(PlanFileError, match="edited or damaged"):
        load(edited)


def test_a_reformatted_file_is_still_valid() -> None:
    """The checksum is over canonical JSON: `jq -S .` (sorted keys, other spacing) keeps it."""
    text = saved_text(make_plan(secret_spec(), FakeCloud(catalog=CATALOG)))
    reformatted = json.dumps(json.loads(text), sort_keys=True, indent=4)
    assert not reformatted.startswith('{\n    "declstack_saved_plan"')
    assert planfile.looks_like_plan_file(reformatted.encode())
    assert load(reformatted) == load(text)


@pytest.mark.parametrize("cut", [30, 200, -40, -2])
def test_a_truncated_file_is_refused_and_still_recognised(cut: int) -> None:
    text = saved_text(make_plan(secret_spec(), FakeCloud(catalog=CATALOG)))
    short = text[:cut]
    assert planfile.looks_like_plan_file(short.encode())  # so apply never reads it as a spec
    with pytest.raises(PlanFileError, match="not complete JSON"):
        load(short)


def test_a_missing_checksum_is_refused() -> None:
    document = json.loads(saved_text(make_plan(secret_spec(), FakeCloud(catalog=CATALOG))))
    del document["checksum"]
    with pytest.raises(PlanFileError, match="edited or damaged"):
        load(json.dumps(document))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"format_version": "2.0", "stack": "demo"}', "not a declstack plan file"),
        (b"[1, 2]", "not a declstack plan file"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b'{"declstack_saved_plan": "2.0"}', "format '2.0'"),
        (b'{"declstack_saved_plan": 1}', "format 1"),
    ],
)
def test_foreign_files_and_other_formats_are_refused(content: bytes, message: str) -> None:
    with pytest.raises(PlanFileError, match=message):
        planfile.loads(content, "plan.json")


def test_a_well_sealed_but_malformed_file_is_refused() -> None:
    document = json.loads(saved_text(make_plan(secret_spec(), FakeCloud(catalog=CATALOG))))
    document["changes"][0]["action"] = "explode"
    document["checksum"] = planfile.checksum(document)
    with pytest.raises(PlanFileError, match="malformed"):
        load(json.dumps(document))


@pytest.mark.parametrize(
    ("content", "is_plan"),
    [
        (b'{"declstack_saved_plan": "1.0", "chan', True),
        (b'\xef\xbb\xbf  {\n "declstack_saved_plan" : "1.0"', True),
        (b"version: 1\nstack: demo\nservers: []\n", False),
        (b'{"version": 1, "stack": "demo", "servers": []}', False),  # a spec written as JSON
        (b'{"stack": "demo", "declstack_saved_plan": "1.0"}', True),
        (b"", False),
    ],
)
def test_plan_files_are_told_from_specs(content: bytes, is_plan: bool) -> None:
    assert planfile.looks_like_plan_file(content) is is_plan


def test_a_plan_with_errors_is_not_saved() -> None:
    the_plan = make_plan(spec(desired("web-1", image="nope")), FakeCloud(catalog=CATALOG))
    assert the_plan.errors
    with pytest.raises(PlanFileError, match="with errors"):
        planfile.save(the_plan, ORIGIN)


# --- usable by this declstack ----------------------------------------------------------


def test_another_version_or_unknown_options_are_refused() -> None:
    saved = load(saved_text(make_plan(secret_spec(), FakeCloud(catalog=CATALOG))))
    planfile.check_usable(saved, "9.9.9", {"targets", "max_deletions"})
    with pytest.raises(PlanFileError, match=r"made by declstack 9\.9\.9, this is declstack 1\.0"):
        planfile.check_usable(saved, "1.0", {"targets", "max_deletions"})
    with pytest.raises(PlanFileError, match="does not know: max_deletions"):
        planfile.check_usable(saved, "9.9.9", {"targets"})


# --- the comparison -----------------------------------------------------------------------


def replan(saved: SavedPlan, the_spec: Spec, cloud: FakeCloud) -> tuple[str, ...]:
    return planfile.differences(saved, make_plan(the_spec, cloud))


def saved_for(the_spec: Spec, cloud: FakeCloud) -> SavedPlan:
    return load(saved_text(make_plan(the_spec, cloud)))


def edited_spec() -> Spec:
    """web-1 gets new metadata (an update), web-3 is new (a create)."""
    return spec(
        desired("web-1", metadata=frozen_map({"role": "db"})), desired("web-2"), desired("web-3")
    )


def by_name(cloud: FakeCloud, name: str) -> ObservedServer:
    return next(s for s in cloud.servers.values() if s.name == name)


def test_nothing_changed_means_the_same_plan() -> None:
    cloud = converged(spec(desired("web-1"), desired("web-2")))
    saved = saved_for(edited_spec(), cloud)
    assert [d.action for d in saved.digests] == ["update", "no-op", "create"]
    assert replan(saved, edited_spec(), cloud) == ()


def test_a_server_to_update_deleted_out_of_band_is_a_difference() -> None:
    cloud = converged(spec(desired("web-1"), desired("web-2")))
    saved = saved_for(edited_spec(), cloud)
    gone = by_name(cloud, "web-1")
    del cloud.servers[gone.id]
    found = replan(saved, edited_spec(), cloud)
    assert found == (f"server.web-1: planned update of {gone.id}; now create (not in the cloud)",)


def test_a_server_to_update_changed_out_of_band_is_a_difference() -> None:
    cloud = converged(spec(desired("web-1"), desired("web-2")))
    saved = saved_for(edited_spec(), cloud)
    web1 = by_name(cloud, "web-1")
    cloud.servers[web1.id] = dataclasses.replace(
        web1, metadata=frozen_map({**web1.metadata, "owner": "someone"})
    )
    (found,) = replan(saved, edited_spec(), cloud)
    assert found.startswith(f"server.web-1: planned update of {web1.id}, but it changed in the")
    assert "metadata changed" in found


def test_a_changed_fingerprint_is_named_as_bookkeeping() -> None:
    cloud = converged(spec(desired("web-1"), desired("web-2")))
    saved = saved_for(edited_spec(), cloud)
    web1 = by_name(cloud, "web-1")
    cloud.servers[web1.id] = dataclasses.replace(
        web1, metadata=frozen_map({**web1.metadata, "declstack:managed-tags": '["x"]'})
    )
    (found,) = replan(saved, edited_spec(), cloud)
    assert "fingerprint or managed keys" in found


def test_a_server_to_create_that_now_exists_is_a_difference() -> None:
    cloud = converged(spec(desired("web-1"), desired("web-2")))
    saved = saved_for(edited_spec(), cloud)
    # Another run of the stack built it meanwhile.
    converged_too = make_plan(edited_spec(), cloud)
    Reconciler(cloud, Settings(), clock=Instant().clock()).apply(converged_too)
    found = replan(saved, edited_spec(), cloud)
    web3 = by_name(cloud, "web-3")
    assert f"server.web-3: planned create; now no-op of {web3.id} (up to date)" in found


def test_a_stranger_of_the_name_to_create_is_a_difference() -> None:
    cloud = converged(spec(desired("web-1"), desired("web-2")))
    saved = saved_for(edited_spec(), cloud)
    cloud.add(ObservedServer("id-stranger", "web-3", "ACTIVE", metadata=frozen_map({})))
    (found,) = replan(saved, edited_spec(), cloud)
    assert found.startswith('new warning: server.web-3: a server named "web-3" (id id-stranger)')


def test_a_no_op_server_that_changed_is_not_a_difference() -> None:
    """apply does not touch a no-op, so its state did not shape what apply does."""
    cloud = converged(spec(desired("web-1"), desired("web-2")))
    saved = saved_for(edited_spec(), cloud)
    web2 = by_name(cloud, "web-2")
    cloud.servers[web2.id] = dataclasses.replace(web2, addresses=(("private", "10.0.0.99"),))
    assert replan(saved, edited_spec(), cloud) == ()


def test_a_spec_of_another_stack_is_a_difference() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    saved = saved_for(edited_spec(), cloud)
    other = dataclasses.replace(edited_spec(), stack="other")
    assert replan(saved, other, cloud) == (
        "the spec is now of stack 'other'; the plan is of 'demo'",
    )


def test_what_apply_would_do_differing_is_a_difference() -> None:
    cloud = converged(spec(desired("web-1"), desired("web-2")))
    saved = saved_for(edited_spec(), cloud)
    again = spec(
        desired("web-1", metadata=frozen_map({"role": "web"})), desired("web-2"), desired("web-3")
    )
    found = replan(saved, again, cloud)
    assert len(found) == 1
    assert found[0].startswith("server.web-1: planned update of")
    assert (
        "what apply would do differs now (after changed, patch changed; metadata role" in found[0]
    )


def test_a_changed_sensitive_value_is_a_difference_though_masked() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    saved = saved_for(secret_spec(), cloud)
    assert replan(saved, secret_spec(), cloud) == ()
    found = replan(saved, secret_spec("another-s3cr3t-value"), cloud)
    assert found == (
        "the values read from secret-looking variables (--allow-env) differ from those the "
        "plan was made with",
    )


def test_a_saved_plan_without_changes_matches_a_converged_stack() -> None:
    the_spec = spec(desired("web-1"))
    cloud = converged(the_spec)
    saved = saved_for(the_spec, cloud)
    assert not saved.has_changes
    assert replan(saved, the_spec, cloud) == ()
    assert by_name(cloud, "web-1").metadata[STACK_KEY] == "demo"
