"""Every way the user can misconfigure the local cloud is a LocalCloudError with a message."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from declstack_localcloud import LocalCloud, LocalCloudError, serve

pytestmark = pytest.mark.integration

STATE_HINT = "Move it aside or choose another state file; a missing one is created fresh."
ADDRESS_HINT = "Use an address of this machine, 'localhost', or 0.0.0.0 for every interface."


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _error(state: Path | str, **kwargs: object) -> LocalCloudError:
    with pytest.raises(LocalCloudError) as raised, LocalCloud(state_path=state, **kwargs):  # type: ignore[arg-type]
        pass
    return raised.value


def test_a_garbage_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    garbage = b"this is not SQLite \x00\xff\xfe" * 50
    state.write_bytes(garbage)
    error = _error(state, boot_seconds=1.0)
    assert error.message == (
        f"{state}: not a local-cloud state file (SQLite says: file is not a database)"
    )
    assert error.hint == STATE_HINT
    assert state.read_bytes() == garbage


def test_another_programs_database(tmp_path: Path) -> None:
    state = tmp_path / "theirs.sqlite"
    with sqlite3.connect(state) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.close()
    error = _error(state)
    assert error.message == (
        f"{state}: not a local-cloud state file (it is an SQLite database with other tables)"
    )
    with sqlite3.connect(state) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    conn.close()
    assert tables == ["invoices"], "none of our tables were added"


def test_a_state_path_that_is_a_folder(tmp_path: Path) -> None:
    error = _error(tmp_path)
    assert error.message == f"{tmp_path}: the state path is a folder, not a file"
    assert error.hint == "Give the path of a file (it is created if missing)."


def test_a_state_file_in_a_missing_folder(tmp_path: Path) -> None:
    state = tmp_path / "nope" / "state.sqlite"
    error = _error(state)
    assert error.message == f"{state}: the folder {tmp_path / 'nope'} does not exist"


def test_a_state_file_in_an_unwritable_folder(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        folder = Path("/sys")  # root may write anywhere, but not into sysfs
    else:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o555)
    state = folder / "declstack-test-state.sqlite"
    error = _error(state)
    assert error.message == (
        f"{state}: cannot create the state file in {folder}: Permission denied"
    )
    assert error.hint == "Choose a state file in a folder you can write to."
    assert not state.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_an_existing_state_file_in_an_unwritable_folder(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    state = folder / "state.sqlite"
    LocalCloud(state_path=state).stop()
    for extra in folder.glob("state.sqlite-*"):
        extra.unlink()
    folder.chmod(0o555)
    try:
        error = _error(state)
    finally:
        folder.chmod(0o755)
    assert error.message == (
        f"{state}: the folder {folder} is not writable"
        " (SQLite keeps state.sqlite-wal and state.sqlite-shm next to the state file)"
    )


def test_a_new_state_file_is_private(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    LocalCloud(state_path=state).stop()
    assert state.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "value, message",
    [
        (-1.0, "boot_seconds must be a finite number of seconds >= 0, not -1.0"),
        (float("nan"), "boot_seconds must be a finite number of seconds >= 0, not nan"),
        (float("inf"), "boot_seconds must be a finite number of seconds >= 0, not inf"),
    ],
)
def test_bad_boot_seconds(tmp_path: Path, value: float, message: str) -> None:
    assert _error(tmp_path / "s.sqlite", boot_seconds=value).message == message
    assert not (tmp_path / "s.sqlite").exists()


def test_a_port_out_of_range(tmp_path: Path) -> None:
    error = _error(tmp_path / "s.sqlite", port=70000)
    assert error.message == "port 70000 is out of range"
    assert error.hint == "Use 1-65535, or 0 for any free port."


def test_a_busy_port_releases_the_state_file(tmp_path: Path, busy_port: int) -> None:
    state = tmp_path / "s.sqlite"
    error = _error(state, port=busy_port)
    assert error.message == f"cannot listen on 127.0.0.1:{busy_port}: the port is already in use"
    assert error.hint == "Stop what is using it, or choose another port (0 picks a free one)."
    with LocalCloud(state_path=state) as cloud:  # the file is usable again at once
        assert cloud.port != busy_port


def test_an_unknown_host_name(tmp_path: Path) -> None:
    error = _error(tmp_path / "s.sqlite", host="no-such-host.invalid")
    assert error.message.startswith(
        "cannot listen on 'no-such-host.invalid': unknown host name or address ("
    )
    assert error.hint == ADDRESS_HINT


def test_serve_run_raises_the_same_errors(tmp_path: Path, busy_port: int) -> None:
    clouds_yaml = tmp_path / "clouds.yaml"
    cases = [
        ("127.0.0.1", busy_port, tmp_path / "s.sqlite", "the port is already in use"),
        ("127.0.0.1", 70000, tmp_path / "s.sqlite", "port 70000 is out of range"),
        ("no-such-host.invalid", 0, tmp_path / "s.sqlite", "unknown host name or address"),
        ("127.0.0.1", 0, tmp_path, "the state path is a folder, not a file"),
    ]
    for host, port, state, expected in cases:
        with pytest.raises(LocalCloudError) as raised:
            serve.run(host, port, state, clouds_yaml, "local", 1.0)
        assert expected in raised.value.message
    assert not clouds_yaml.exists(), "nothing written when the cloud could not start"


def test_python_m_serve_prints_the_error_and_exits_1(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "declstack_localcloud", "serve", "--port", "70000"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "error: port 70000 is out of range\n  hint: Use 1-65535, or 0 for any free port.\n"
    )
    assert result.stdout == ""
