"""Every failure a user can cause is one message, a non-zero exit, and no traceback.

Each row below is one error path from issue 7, run as a real `python -m declstack`
process (so a traceback would show on stderr) with crash files sent to a folder
that must stay empty: a row passes only if declstack recognised the failure.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from declstack import engine
from declstack.cli import app

GOOD = """\
version: 1
stack: paths
servers:
  - {name: a, image: cirros, flavor: m1.tiny}
"""
LOCAL = GOOD.replace("stack: paths", "stack: paths\ncloud: local")


@dataclass(frozen=True)
class Case:
    """argv after `declstack` ({dir} is the case's folder), files to write, extra env,
    the exit code, and a regex the whole stderr must match."""

    id: str
    argv: tuple[str, ...]
    stderr: str
    code: int = 1
    files: tuple[tuple[str, bytes], ...] = (("spec.yaml", GOOD.encode()),)
    env: tuple[tuple[str, str], ...] = ()
    setup: Callable[[Path], None] | None = None


def _folder_at(name: str) -> Callable[[Path], None]:
    return lambda root: (root / name).mkdir()


def deep_nesting(levels: int) -> bytes:
    return ("version: 1\nstack: x\nservers: " + "[" * levels + "]" * levels + "\n").encode()


ALIAS_BOMB = b"""\
version: 1
stack: x
a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
servers: *g
"""

SECRET_ENV = b"""\
version: 1
stack: x
servers:
  - name: a
    image: cirros
    flavor: m1.tiny
    metadata: {pw: "${OS_PASSWORD}"}
"""

USER_DATA_OUTSIDE = b"""\
version: 1
stack: x
servers:
  - name: a
    image: cirros
    flavor: m1.tiny
    user_data: {file: ../../../../etc/passwd}
"""

USER_DATA_DEV_ZERO = USER_DATA_OUTSIDE.replace(b"../../../../etc/passwd", b"/dev/zero")

CASES = [
    Case("spec missing", ("plan", "{dir}/nope.yaml"), r"error: {dir}/nope.yaml: no such file\n"),
    Case(
        "spec over the size cap",
        ("validate", "{dir}/spec.yaml"),
        r"{dir}/spec.yaml: the spec is 1048579 bytes; declstack reads specs of at most 1048576 "
        r"bytes \(1 MiB\) and did not parse it .*\nerror: 1 of 1 spec file\(s\) are invalid\n",
        files=(("spec.yaml", b"# " + b"x" * (1024 * 1024) + b"\n"),),
    ),
    Case(
        "NUL byte in the spec",
        ("validate", "{dir}/spec.yaml"),
        r"{dir}/spec.yaml:\d+:\d+: .+\nerror: 1 of 1 spec file\(s\) are invalid\n",
        files=(("spec.yaml", b"version: 1\nstack: x\x00\n"),),
    ),
    Case(
        "spec not UTF-8",
        ("validate", "{dir}/spec.yaml"),
        r"(.|\n)*{dir}/spec.yaml.*UTF-8.*\nerror: 1 of 1 spec file\(s\) are invalid\n",
        files=(("spec.yaml", b"version: 1\nstack: \xff\xfe\n"),),
    ),
    Case(
        "alias bomb",
        ("validate", "{dir}/spec.yaml"),
        r"{dir}/spec.yaml:\d+:\d+: .+\n(.|\n)*error: 1 of 1 spec file\(s\) are invalid\n",
        files=(("spec.yaml", ALIAS_BOMB),),
    ),
    Case(
        "nesting deeper than Python's stack",
        ("validate", "{dir}/spec.yaml"),
        r"{dir}/spec.yaml:\d+:\d+: .+\n(.|\n)*error: 1 of 1 spec file\(s\) are invalid\n",
        files=(("spec.yaml", deep_nesting(5000)),),
    ),
    Case(
        "user_data outside the spec's folder",
        ("validate", "{dir}/spec.yaml"),
        r"{dir}/spec.yaml:7:23: servers\[0\]\.user_data\.file: '\.\./\.\./\.\./\.\./etc/passwd' "
        r"is outside the spec's folder {dir}; move it there or pass --allow-outside-files\n"
        r"error: 1 of 1 spec file\(s\) are invalid\n",
        files=(("spec.yaml", USER_DATA_OUTSIDE),),
    ),
    Case(
        "user_data from /dev/zero, even when allowed outside",
        ("validate", "--allow-outside-files", "{dir}/spec.yaml"),
        r"{dir}/spec.yaml:7:23: servers\[0\]\.user_data\.file: .*/dev/zero.*\n"
        r"error: 1 of 1 spec file\(s\) are invalid\n",
        files=(("spec.yaml", USER_DATA_DEV_ZERO),),
    ),
    Case(
        "OS_PASSWORD in the spec",
        ("validate", "{dir}/spec.yaml"),
        r"{dir}/spec.yaml:7:20: servers\[0\]\.metadata\.pw: environment variable OS_PASSWORD is "
        r"not read: .*allow it with --allow-env OS_PASSWORD.*\n"
        r"error: 1 of 1 spec file\(s\) are invalid\n",
        files=(("spec.yaml", SECRET_ENV),),
        env=(("OS_PASSWORD", "hunter22-do-not-print"),),
    ),
    Case(
        "schema error",
        ("plan", "{dir}/spec.yaml"),
        r"{dir}/spec.yaml:4:5: servers\[0\]: missing 'flavor'.*\n"
        r"{dir}/spec.yaml:4:\d+: servers\[0\]\.flavour: unknown key 'flavour' \(did you mean "
        r"'flavor'\?\)\nerror: the spec has 2 problem\(s\); nothing was changed\n",
        files=(("spec.yaml", GOOD.replace("flavor:", "flavour:").encode()),),
    ),
    Case(
        "clouds.yaml that is not YAML",
        ("plan", "{dir}/spec.yaml"),
        r"error: {dir}/clouds.yaml:3:1: not valid YAML: .+\n  hint: fix the file .+\n",
        files=(("spec.yaml", GOOD.encode()), ("clouds.yaml", b"clouds:\n  mine: [\n")),
        env=(("OS_CLIENT_CONFIG_FILE", "{dir}/clouds.yaml"), ("OS_CLOUD", "mine")),
    ),
    Case(
        "clouds.yaml of the wrong shape",
        ("plan", "{dir}/spec.yaml"),
        r"error: {dir}/clouds.yaml: `auth` of cloud 'mine' must be a mapping, not int\n"
        r"  hint: .+\n",
        files=(("spec.yaml", GOOD.encode()), ("clouds.yaml", b"clouds:\n  mine:\n    auth: 7\n")),
        env=(("OS_CLIENT_CONFIG_FILE", "{dir}/clouds.yaml"), ("OS_CLOUD", "mine")),
    ),
    Case(
        "no credentials and no terminal",
        ("plan", "{dir}/spec.yaml"),
        r"error: missing credentials: auth_url\n  hint: set OS_CLOUD .+\n",
    ),
    Case(
        "nothing listens at the auth URL",
        ("plan", "{dir}/spec.yaml"),
        r"error: cannot reach the identity service at http://127.0.0.1:{free}/v3\n"
        r"  hint: is the cloud up, and is auth_url right\?\n",
        env=(
            ("OS_AUTH_URL", "http://127.0.0.1:{free}/v3"),
            ("OS_USERNAME", "u"),
            ("OS_PASSWORD", "p"),
            ("OS_PROJECT_NAME", "p"),
        ),
    ),
    Case(
        "an identity endpoint that never answers",
        ("apply", "--yes", "--timeout", "5", "--http-timeout", "1", "{dir}/spec.yaml"),
        r"error: the identity service at http://127.0.0.1:{silent}/v3 did not answer: no reply "
        r"within 1s to a request\n  hint: .+--http-timeout.+\n",
        env=(
            ("OS_AUTH_URL", "http://127.0.0.1:{silent}/v3"),
            ("OS_USERNAME", "u"),
            ("OS_PASSWORD", "p"),
            ("OS_PROJECT_NAME", "p"),
        ),
    ),
    Case(
        "apply without --yes and without a terminal",
        ("apply", "{dir}/spec.yaml"),
        r"(.|\n)*error: refusing to change the cloud without confirmation\n"
        r"  hint: pass --yes when not on a terminal\n",
        files=(("spec.yaml", LOCAL.encode()),),
        env=(("DECLSTACK_LOCAL_STATE", "{dir}/state.sqlite"),),
    ),
    Case(
        "DECLSTACK_LOCAL_BOOT_SECONDS not a number",
        ("plan", "{dir}/spec.yaml"),
        r"error: DECLSTACK_LOCAL_BOOT_SECONDS='soon' is not a number of seconds\n  hint: .+\n",
        files=(("spec.yaml", LOCAL.encode()),),
        env=(("DECLSTACK_LOCAL_BOOT_SECONDS", "soon"), ("DECLSTACK_LOCAL_STATE", "{dir}/s.sqlite")),
    ),
    Case(
        "corrupt local state file",
        ("plan", "{dir}/spec.yaml"),
        r"error: {dir}/state.sqlite: not a local-cloud state file \(SQLite says: file is not a "
        r"database\)\n  hint: .+\n",
        files=(("spec.yaml", LOCAL.encode()), ("state.sqlite", b"garbage" * 1000)),
        env=(("DECLSTACK_LOCAL_STATE", "{dir}/state.sqlite"),),
    ),
    Case(
        "local state path is a folder",
        ("plan", "{dir}/spec.yaml"),
        r"error: {dir}/state: the state path is a folder, not a file\n  hint: .+\n",
        files=(("spec.yaml", LOCAL.encode()),),
        env=(("DECLSTACK_LOCAL_STATE", "{dir}/state"),),
        setup=_folder_at("state"),
    ),
    Case(
        "serve on a busy port",
        (
            "local-cloud",
            "serve",
            "--port",
            "{busy}",
            "--clouds-yaml",
            "{dir}/c.yaml",
            "--state",
            "{dir}/s.sqlite",
        ),
        r"error: cannot listen on 127.0.0.1:{busy}: the port is already in use\n  hint: .+\n",
    ),
    Case(
        "serve on port 70000",
        (
            "local-cloud",
            "serve",
            "--port",
            "70000",
            "--clouds-yaml",
            "{dir}/c.yaml",
            "--state",
            "{dir}/s.sqlite",
        ),
        r"error: port 70000 is out of range\n  hint: .+\n",
    ),
    Case(
        "serve on an unknown host",
        (
            "local-cloud",
            "serve",
            "--host",
            "no-such-host.invalid",
            "--clouds-yaml",
            "{dir}/c.yaml",
            "--state",
            "{dir}/s.sqlite",
        ),
        r"error: cannot listen on 'no-such-host.invalid': unknown host name or address .*\n"
        r"  hint: .+\n",
    ),
    Case(
        "serve with a clouds.yaml it cannot parse",
        (
            "local-cloud",
            "serve",
            "--port",
            "0",
            "--clouds-yaml",
            "{dir}/c.yaml",
            "--state",
            "{dir}/s.sqlite",
        ),
        r"error: {dir}/c.yaml:\d+: cannot read this clouds.yaml .*; it was left unchanged\n"
        r"  hint: .+\n",
        files=(("c.yaml", b"clouds: [1, 2\n  x: :\n"),),
    ),
]


@pytest.fixture
def ports() -> Iterator[dict[str, str]]:
    """{silent}: accepts, never answers; {busy}: taken; {free}: nothing listens."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    try:
        yield {
            "silent": str(silent.getsockname()[1]),
            "busy": str(busy.getsockname()[1]),
            "free": str(free),
        }
    finally:
        silent.close()
        busy.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_error_path(case: Case, tmp_path: Path, ports: dict[str, str]) -> None:
    fill = {"dir": str(tmp_path), **ports}

    def expand(text: str) -> str:
        for key, value in fill.items():
            text = text.replace("{" + key + "}", value)
        return text

    for name, content in case.files:
        (tmp_path / name).write_bytes(content)
    if case.setup is not None:
        case.setup(tmp_path)
    crashes = tmp_path / "crashes"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DECLSTACK_CRASH_DIR": str(crashes),
        "OS_CLIENT_CONFIG_FILE": str(tmp_path / "no-clouds.yaml"),
        **{key: expand(value) for key, value in case.env},
    }
    result = subprocess.run(
        [sys.executable, "-m", "declstack", *(expand(arg) for arg in case.argv)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    said = f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == case.code, said
    # {dir} and friends are inserted into a regex: escape what they contain.
    pattern = case.stderr
    for key, value in fill.items():
        pattern = pattern.replace("{" + key + "}", re.escape(value))
    assert re.fullmatch(pattern, result.stderr), said
    assert "Traceback" not in result.stdout + result.stderr, said
    assert not crashes.exists() or not any(crashes.iterdir()), "a crash file was written"
    assert "hunter22" not in result.stdout + result.stderr


def test_an_unexpected_exception_is_one_line_and_a_crash_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(LOCAL)
    monkeypatch.setenv("DECLSTACK_LOCAL_STATE", str(tmp_path / "state.sqlite"))
    monkeypatch.setenv("DECLSTACK_CRASH_DIR", str(tmp_path / "crashes"))

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("planner bug")

    monkeypatch.setattr(engine, "make_plan", broken)
    result = CliRunner().invoke(app, ["plan", str(spec)])

    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    (crash,) = (tmp_path / "crashes").iterdir()
    assert result.stderr == (
        "error: internal error (ZeroDivisionError): this is a bug in declstack\n"
        f"  hint: the full trace is in {crash}; please report it with that file\n"
    )
    text = crash.read_text()
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError: planner bug" in text
    assert oct(crash.stat().st_mode & 0o777) == "0o600"
