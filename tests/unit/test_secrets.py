"""Issue 7: a spec reads no credentials, no files outside its folder, and plans mask secrets."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from declstack import planner
from declstack.engine import make_plan
from declstack.interpolate import MASK, guarded_reason, mask_text
from declstack.model import Action, Change, Diagnostic, ObservedServer, Plan, Spec, frozen_map
from declstack.reconciler import Reconciler, Settings
from declstack.render import render_json, render_markdown, render_text, user_data_digest
from declstack.spec import (
    MAX_SPEC_BYTES,
    MAX_USER_DATA_BYTES,
    SpecError,
    load_spec,
    parse_spec,
    read_bounded,
)
from tests.fakes import FakeCloud
from tests.unit.builders import desired, server
from tests.unit.test_reconciler import CATALOG, Instant

pytestmark = pytest.mark.unit

HEADER = "version: 1\nstack: s\ndefaults: {image: i, flavor: f}\nservers:\n"
SECRET = "hunter2-very-secret"


def spec_errors(text: str, **kwargs: object) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "spec.yaml", **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in caught.value.problems]


# -- which variables a spec may read --------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("OS_PASSWORD", "OS_* variables hold OpenStack credentials and settings"),
        ("OS_CLOUD", "OS_* variables hold OpenStack credentials and settings"),
        ("os_region_name", "OS_* variables hold OpenStack credentials and settings"),
        ("DB_PASSWORD", "its name contains PASSWORD, so it may hold a secret"),
        ("db_passwd", "its name contains PASSWD, so it may hold a secret"),
        ("GPG_PASSPHRASE", "its name contains PASSPHRASE, so it may hold a secret"),
        ("ClientSecret", "its name contains SECRET, so it may hold a secret"),
        ("GITHUB_TOKEN", "its name contains TOKEN, so it may hold a secret"),
        ("api_key", "its name contains KEY, so it may hold a secret"),
        ("AWS_CREDENTIALS", "its name contains CREDENTIAL, so it may hold a secret"),
        ("IMAGE", None),
        ("HOST_OS", None),
        ("PWD", None),
    ],
)
def test_guarded_names(name: str, reason: str | None) -> None:
    assert guarded_reason(name) == reason


def test_guarded_variable_is_refused_with_position_and_how_to_allow() -> None:
    text = HEADER + '  - {name: a, description: "x ${OS_PASSWORD:-none}"}\n'
    assert spec_errors(text, environ={"OS_PASSWORD": SECRET}) == [
        "spec.yaml:5:28: servers[0].description: environment variable OS_PASSWORD is not "
        "read: OS_* variables hold OpenStack credentials and settings; allow it with "
        "--allow-env OS_PASSWORD (its value is then masked in plans)"
    ]


def test_allowed_variable_is_read_and_its_value_is_sensitive() -> None:
    text = HEADER + "  - {name: a, metadata: {db: '${DB_PASSWORD}', img: '${IMAGE}'}}\n"
    environ = {"DB_PASSWORD": SECRET, "IMAGE": "cirros"}
    spec = parse_spec(text, "spec.yaml", environ=environ, allow_env=frozenset({"DB_PASSWORD"}))
    assert dict(spec.servers[0].metadata) == {"db": SECRET, "img": "cirros"}
    assert spec.sensitive == frozenset({SECRET})
    assert "sensitive=" not in repr(spec)  # the set itself never shows in a traceback


def test_spec_errors_mask_allowed_values() -> None:
    text = HEADER + "  - {name: '${NAME_TOKEN}'}\n"
    environ = {"NAME_TOKEN": "not a name!"}
    assert spec_errors(text, environ=environ, allow_env={"NAME_TOKEN"}) == [
        "spec.yaml:5:12: servers[0].name: must be 1-63 letters, digits, '.', '_' or '-', "
        "starting with a letter or digit (Nova derives the hostname from the name, and a "
        'hostname label holds 63 characters); got the string "(sensitive)"'
    ]


def test_mask_text_rules() -> None:
    assert mask_text("pw=hunter2!", {"hunter2"}) == "pw=(sensitive)!"
    assert mask_text("abc", {"abc"}) == MASK  # short values: whole values only
    assert mask_text("web-abc-1", {"abc"}) == "web-abc-1"
    assert mask_text("ab-abcdef", {"abcd", "abcdef"}) == "ab-(sensitive)"  # longest first
    assert mask_text("anything", set()) == "anything"


# -- masking in every plan view --------------------------------------------------


def leaky_plan() -> Plan:
    after = desired(
        f"web-{SECRET}",
        metadata={"db": f"pw={SECRET}"},
        tags=(SECRET,),
        description=SECRET,
        user_data=f"#!/bin/sh\necho {SECRET}",
    )
    before = server(desired("web-1", metadata={"db": SECRET}), extra_tags=(SECRET,))
    return Plan(
        "demo",
        (
            Change(after.name, Action.CREATE, "not in the cloud", after=after),
            Change("web-1", Action.DELETE, "no longer in the spec", before=before),
        ),
        (Diagnostic("warning", f"image {SECRET!r} not found", after.name, hint=SECRET),),
        sensitive=frozenset({SECRET}),
    )


@pytest.mark.parametrize("view", [render_text, render_json, render_markdown])
def test_views_mask_sensitive_values(view: object) -> None:
    assert callable(view)
    plan = leaky_plan()
    shown = view(plan)
    assert SECRET not in shown
    assert MASK in shown
    assert shown == view(dataclasses.replace(plan, sensitive=frozenset({SECRET, "x" * 50})))


def test_json_masks_every_place_and_keeps_the_real_user_data_hash() -> None:
    plan = leaky_plan()
    data = json.loads(render_json(plan))
    create, delete = data["changes"]
    assert create["address"] == "server.web-(sensitive)"
    assert create["after"]["metadata"] == {"db": "pw=(sensitive)"}
    assert create["after"]["tags"] == ["(sensitive)"]
    assert create["after"]["description"] == "(sensitive)"
    assert create["after"]["user_data"] == user_data_digest(f"#!/bin/sh\necho {SECRET}")
    assert delete["before"]["metadata"] == {"db": "(sensitive)"}
    assert delete["before"]["tags"] == ["blue", "(sensitive)"]
    assert data["diagnostics"][0]["hint"] == "(sensitive)"


def test_without_sensitive_values_the_views_are_unchanged() -> None:
    plan = dataclasses.replace(leaky_plan(), sensitive=frozenset())
    assert SECRET in render_text(plan)


def test_masked_values_do_not_fake_a_forced_replacement() -> None:
    """What forces the replacement comes from the plan (`replaced_by`), not from
    comparing rendered values: a masked image must not look changed."""
    wanted = desired("web-1", image=SECRET, flavor="m1.large")
    old = server(desired("web-1", image=SECRET))
    change = Change(
        "web-1",
        Action.DELETE_THEN_CREATE,
        "flavor changed",
        before=old,
        after=wanted,
        replaced_by=("flavor",),
    )
    text = render_text(Plan("demo", (change,), sensitive=frozenset({SECRET})))
    assert 'image: "(sensitive)"\n' in text
    assert 'flavor: "m1.small" -> "m1.large"   # forces replacement' in text


def test_planner_carries_the_specs_sensitive_values() -> None:
    text = HEADER + "  - {name: a, description: '${APP_SECRET}'}\n"
    spec = parse_spec(
        text, "spec.yaml", environ={"APP_SECRET": SECRET}, allow_env=frozenset({"APP_SECRET"})
    )
    plan = planner.plan(spec, [])
    assert SECRET not in render_text(plan)


def test_before_values_from_the_cloud_are_masked() -> None:
    observed = ObservedServer(
        "id-9", "x", "ACTIVE", metadata=frozen_map({"k": SECRET}), description=SECRET
    )
    change = Change("x", Action.DELETE, "no longer in the spec", before=observed)
    plan = Plan("demo", (change,), sensitive=frozenset({SECRET}))
    assert json.loads(render_json(plan))["changes"][0]["before"]["description"] == MASK


# -- files: bounded and confined -------------------------------------------------


def write_spec(folder: Path, user_data_file: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.yaml"
    path.write_text(HEADER + f"  - {{name: a, user_data: {{file: '{user_data_file}'}}}}\n")
    return path


def load_errors(path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_spec(path, environ={}, **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("reference", ["../outside.sh", "/etc/passwd", "link.sh"])
def test_user_data_outside_the_folder_is_refused(tmp_path: Path, reference: str) -> None:
    (tmp_path / "outside.sh").write_text("echo out\n")
    path = write_spec(tmp_path / "spec", reference)
    (tmp_path / "spec" / "link.sh").symlink_to(tmp_path / "outside.sh")
    folder = (tmp_path / "spec").resolve()
    assert load_errors(path) == [
        f"{path}:5:33: servers[0].user_data.file: {reference!r} is outside the spec's folder "
        f"{folder}; move it there or pass --allow-outside-files"
    ]


def test_user_data_outside_the_folder_when_allowed(tmp_path: Path) -> None:
    (tmp_path / "outside.sh").write_text("echo out\n")
    path = write_spec(tmp_path / "spec", "../outside.sh")
    spec = load_spec(path, environ={}, allow_outside_files=True)
    assert spec.servers[0].user_data == "echo out\n"


def test_symlink_inside_the_folder_is_followed(tmp_path: Path) -> None:
    path = write_spec(tmp_path, "link.sh")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "real.sh").write_text("echo in\n")
    (tmp_path / "link.sh").symlink_to(tmp_path / "sub" / "real.sh")
    assert load_spec(path, environ={}).servers[0].user_data == "echo in\n"


def test_user_data_must_be_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")  # opening it for reading without O_NONBLOCK would hang
    for name, kind in (("folder", "a folder"), ("fifo", "a FIFO (named pipe)")):
        path = write_spec(tmp_path, name)
        assert load_errors(path) == [
            f"{path}:5:33: servers[0].user_data.file: user_data file "
            f"{str(tmp_path / name)!r} is {kind}, not a regular file"
        ]
    path = write_spec(tmp_path, "/dev/zero")
    assert load_errors(path, allow_outside_files=True) == [
        f"{path}:5:33: servers[0].user_data.file: user_data file '/dev/zero' is a device, "
        "not a regular file"
    ]


def test_huge_user_data_file_is_read_only_up_to_novas_limit(tmp_path: Path) -> None:
    """A sparse terabyte: reading it whole would exhaust memory, so this shows the bound."""
    with open(tmp_path / "huge.sh", "wb") as handle:
        handle.truncate(10**12)
    path = write_spec(tmp_path, "huge.sh")
    assert load_errors(path) == [
        f"{path}:5:33: servers[0].user_data.file: user_data is too large: 1000000000000 "
        "bytes are 1333333333336 characters in base64, Nova accepts at most 65535 (about "
        "48 KiB of text)"
    ]
    assert MAX_USER_DATA_BYTES == 49149


def test_spec_file_is_read_only_up_to_the_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:
        handle.truncate(20 * 1024 * 1024)
    assert load_errors(big) == [
        f"{big}: the spec is 20971520 bytes; declstack reads specs of at most 1048576 bytes "
        "(1 MiB) and did not parse it (many alike servers need one entry with count:)"
    ]
    data, size = read_bounded("/dev/zero", MAX_SPEC_BYTES)
    assert (len(data), size) == (MAX_SPEC_BYTES + 1, None)
    assert load_errors(Path("/dev/zero")) == [
        "/dev/zero: the spec is larger than 1048576 bytes; declstack reads specs of at most "
        "1048576 bytes (1 MiB) and did not parse it (many alike servers need one entry with "
        "count:)"
    ]


def test_spec_of_exactly_the_cap_is_parsed(tmp_path: Path) -> None:
    text = HEADER + "  - {name: a}\n"
    path = tmp_path / "spec.yaml"
    path.write_text(text + "#" * (MAX_SPEC_BYTES - len(text)))
    assert path.stat().st_size == MAX_SPEC_BYTES
    assert [s.name for s in load_spec(path, environ={}).servers] == ["a"]


def test_a_changed_secret_does_not_show_its_old_value() -> None:
    """The cloud holds metadata set from the secret's earlier value; the plan's "before"
    of the update must not quote it."""
    old, new = "old-secret-4711", "new-secret-0815"
    cloud = FakeCloud(catalog=CATALOG)
    first = Spec("demo", (desired("web", metadata={"db": f"pw={old}"}),))
    first = dataclasses.replace(first, sensitive=frozenset({old}))
    Reconciler(cloud, Settings(), clock=Instant().clock()).apply(make_plan(first, cloud))
    second = Spec("demo", (desired("web", metadata={"db": f"pw={new}"}),))
    second = dataclasses.replace(second, sensitive=frozenset({new}))
    plan = make_plan(second, cloud)
    assert [c.action for c in plan.changes] == [Action.UPDATE]
    for view in (render_text, render_json, render_markdown):
        shown = view(plan)
        assert old not in shown and new not in shown, shown
