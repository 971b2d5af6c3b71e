"""clouds.yaml is edited in place: 0600 when new, mode and other bytes kept, bad files refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from declstack_localcloud import LocalCloudError
from declstack_localcloud.cloudsyaml import render_entries, write_clouds_yaml

pytestmark = pytest.mark.integration

OURS: dict[str, dict[str, Any]] = {
    "local": {
        "auth": {"auth_url": "http://127.0.0.1:8080/identity/v3", "username": "demo"},
        "region_name": "RegionOne",
        "identity_api_version": 3,
    },
    "local-admin": {
        "auth": {"auth_url": "http://127.0.0.1:8080/identity/v3", "username": "admin"},
        "region_name": "RegionOne",
    },
}
OURS_BLOCK = (
    "  local:\n"
    "    auth:\n"
    "      auth_url: http://127.0.0.1:8080/identity/v3\n"
    "      username: demo\n"
    "    region_name: RegionOne\n"
    "    identity_api_version: 3\n"
    "  local-admin:\n"
    "    auth:\n"
    "      auth_url: http://127.0.0.1:8080/identity/v3\n"
    "      username: admin\n"
    "    region_name: RegionOne\n"
)
HEAD = (
    "# Work clouds. Do not share: passwords inside.\n"
    "clouds:\n"
    "  # production, read-only account\n"
    "  prod:\n"
    "    auth:\n"
    "      auth_url: https://keystone.example.com:5000/v3\n"
    '      password: "s3cret"   # rotated monthly\n'
    "    region_name: RegionTwo\n"
)
TAIL = "\n# staging is gone since March\nclient:\n  force_ipv4: true\n"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_render_entries_is_the_block_the_tests_expect() -> None:
    assert render_entries(OURS, 2) == OURS_BLOCK


def test_a_new_file_is_created_0600(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "clouds.yaml"
    old_umask = os.umask(0o022)
    try:
        assert write_clouds_yaml(path, OURS) is True
    finally:
        os.umask(old_umask)
    assert _mode(path) == 0o600
    assert path.read_text() == "clouds:\n" + OURS_BLOCK
    assert [p.name for p in path.parent.iterdir()] == ["clouds.yaml"], "no temporary file left"


@pytest.mark.parametrize("mode", [0o600, 0o640])
def test_an_existing_file_keeps_its_mode_comments_and_other_clouds(
    tmp_path: Path, mode: int
) -> None:
    path = tmp_path / "clouds.yaml"
    path.write_text(HEAD + TAIL)
    path.chmod(mode)
    assert write_clouds_yaml(path, OURS) is True
    assert _mode(path) == mode
    assert path.read_text() == HEAD + OURS_BLOCK + TAIL
    assert yaml.safe_load(path.read_text())["clouds"]["prod"]["auth"]["password"] == "s3cret"


def test_a_different_entry_has_only_its_own_lines_replaced(tmp_path: Path) -> None:
    path = tmp_path / "clouds.yaml"
    old_entry = "  local:\n    auth: {auth_url: 'http://127.0.0.1:9999/identity/v3'}\n"
    admin_entry = OURS_BLOCK[OURS_BLOCK.index("  local-admin:") :]
    path.write_text(HEAD + old_entry + "  # between\n" + admin_entry + TAIL)
    path.chmod(0o600)
    assert write_clouds_yaml(path, OURS) is True
    new_local = OURS_BLOCK[: OURS_BLOCK.index("  local-admin:")]
    assert path.read_text() == HEAD + new_local + "  # between\n" + admin_entry + TAIL
    assert _mode(path) == 0o600


def test_identical_entries_leave_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "clouds.yaml"
    path.write_text(HEAD + OURS_BLOCK + TAIL)
    before = path.stat()
    assert write_clouds_yaml(path, OURS) is False
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_windows_line_endings_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "clouds.yaml"
    original = HEAD.replace("\n", "\r\n")
    path.write_bytes(original.encode())
    write_clouds_yaml(path, OURS)
    assert path.read_bytes() == (original + OURS_BLOCK.replace("\n", "\r\n")).encode()


def test_a_file_without_clouds_gets_the_key_appended(tmp_path: Path) -> None:
    path = tmp_path / "clouds.yaml"
    path.write_text("# just settings\nclient:\n  force_ipv4: true\n")
    write_clouds_yaml(path, OURS)
    assert path.read_text() == (
        "# just settings\nclient:\n  force_ipv4: true\nclouds:\n" + OURS_BLOCK
    )


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "clouds:\n  prod: [1, 2\n  other: 3\n",
            ":3: cannot read this clouds.yaml (expected ',' or ']', but got ':');"
            " it was left unchanged",
        ),
        (
            "clouds:\n  - prod\n",
            ":2: `clouds` is not a mapping of cloud names to settings; it was left unchanged",
        ),
        (
            "# comment\n- a list\n",
            ":2: the top level is not a mapping of settings; it was left unchanged",
        ),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_and_unchanged(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "clouds.yaml"
    path.write_text(text)
    path.chmod(0o644)
    with pytest.raises(LocalCloudError) as raised:
        write_clouds_yaml(path, OURS)
    assert raised.value.message == f"{path}{message}"
    assert raised.value.hint
    assert path.read_text() == text and _mode(path) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["clouds.yaml"]


def test_a_file_that_cannot_be_edited_in_place_is_refused_with_the_block_to_add(
    tmp_path: Path,
) -> None:
    path = tmp_path / "clouds.yaml"
    text = "clouds: {prod: {region_name: RegionTwo}}  # flow style\n"
    path.write_text(text)
    with pytest.raises(LocalCloudError) as raised:
        write_clouds_yaml(path, OURS)
    assert raised.value.message == (
        f"{path}: cannot add 'local', 'local-admin' without rewriting the rest of the file"
        " ('clouds' is not written in block style); it was left unchanged"
    )
    assert raised.value.hint == "Add these entries under `clouds:` by hand:\n" + OURS_BLOCK
    assert path.read_text() == text
