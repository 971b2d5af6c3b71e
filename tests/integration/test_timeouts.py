"""Bounded waits over real sockets: a silent endpoint, a refused port, an unknown host.

Each failure must become one message naming the endpoint, in bounded time,
with exit code 1 and no traceback.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from keystoneauth1 import exceptions as ksa_exc

from declstack.errors import classify


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "http://127.0.0.1:1/v2.1/servers",
            "cannot connect to http://127.0.0.1:1/v2.1/servers "
            "(connection refused: nothing listens there)",
        ),
        (
            "http://nonexistent.invalid/x",
            "cannot connect to http://nonexistent.invalid/x (the host name does not resolve)",
        ),
    ],
)
def test_a_connection_failure_names_the_url_and_the_reason_not_urllib3(url: str, said: str) -> None:
    from keystoneauth1 import session

    with pytest.raises(ksa_exc.ConnectFailure) as caught:
        session.Session().get(url)
    info = classify(caught.value)
    assert info.message == said
    assert info.retryable and info.not_processed and not info.timed_out


def test_a_read_timeout_is_classified_as_timed_out_and_names_the_url() -> None:
    import socket

    from keystoneauth1 import session

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts (the kernel does), never answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/v3"
    quick = session.Session()
    quick.timeout = (1.0, 0.2)  # type: ignore[assignment]
    try:
        with pytest.raises(ksa_exc.ConnectTimeout) as caught:
            quick.get(url)
    finally:
        silent.close()
    info = classify(caught.value)
    assert info.timed_out and info.retryable and not info.not_processed
    assert info.message == f"Request to {url} timed out"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose connections are accepted (by the kernel backlog) and never answered."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    try:
        yield silent.getsockname()[1]
    finally:
        silent.close()


SPEC = """\
version: 1
stack: hang
servers:
  - {name: a, image: cirros, flavor: m1.tiny}
"""


def declstack(
    tmp_path: Path, auth_url: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "OS_AUTH_URL": auth_url,
        "OS_USERNAME": "demo",
        "OS_PASSWORD": "demo-secret",
        "OS_PROJECT_NAME": "demo",
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "declstack", *args, str(spec)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return result, time.monotonic() - started


@pytest.mark.parametrize("command", [["plan"], ["apply", "--yes", "--timeout", "5"]])
def test_a_silent_identity_endpoint_is_named_instead_of_hanging(
    tmp_path: Path, silent_port: int, command: list[str]
) -> None:
    url = f"http://127.0.0.1:{silent_port}/v3"
    result, seconds = declstack(tmp_path, url, command[0], "--http-timeout", "1", *command[1:])
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[0] == (
        f"error: the identity service at {url} did not answer: no reply within 1s to a request"
    )
    assert "Traceback" not in result.stderr and result.stdout == ""
    # keystoneauth tries the versioned URL, then the unversioned root: two timeouts.
    assert seconds < 30, f"took {seconds:.1f}s"


def test_an_unreachable_auth_url_gives_a_hint_not_urllib3_text(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    url = f"http://127.0.0.1:{free}/v3"
    result, _ = declstack(tmp_path, url, "plan")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: cannot reach the identity service at {url}",
        "  hint: is the cloud up, and is auth_url right?",
    ]


@pytest.mark.parametrize(
    ("command", "first_request"),
    [
        (
            ["plan"],
            r"list servers: Request to http://127\.0\.0\.1:\d+/compute/v2\.1/servers/detail",
        ),
        # apply reads the stack's lock (in the image service) before anything else.
        (
            ["apply", "--yes", "--timeout", "30"],
            r"read the stack's lock: Request to http://127\.0\.0\.1:\d+/image/v2/images",
        ),
    ],
)
def test_an_endpoint_that_stalls_is_named_with_a_hint(
    tmp_path: Path, command: list[str], first_request: str
) -> None:
    import yaml

    from declstack_localcloud import LocalCloud

    with LocalCloud(state_path=tmp_path / "state.sqlite", boot_seconds=0.1) as cloud:
        clouds = tmp_path / "clouds.yaml"
        clouds.write_text(yaml.safe_dump({"clouds": {"stalling": cloud.cloud_config()}}))
        cloud.set_faults(rate_stall=1.0, stall_seconds=20.0)
        spec = tmp_path / "spec.yaml"
        spec.write_text(SPEC)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "OS_CLIENT_CONFIG_FILE": str(clouds),
        }
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "declstack",
                command[0],
                "--cloud",
                "stalling",
                "--http-timeout",
                "1",
                *command[1:],
                str(spec),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
    said = f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert result.returncode == 1, said
    first, hint = result.stderr.splitlines()
    assert re.fullmatch(rf"error: {first_request} timed out", first), said
    assert hint == (
        "  hint: the cloud accepted the connection but did not answer in time; is it "
        "overloaded? --http-timeout sets how long to wait for one answer"
    )
