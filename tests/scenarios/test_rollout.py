"""Rolling replacement (issue 10 item 4), on the local cloud and on the real services.

A rolling image change over 6 servers with `batch: 2` never has fewer than 4 of them
ACTIVE, as an independent poller sees it (its own openstacksdk connection, in a
thread, listing the stack's servers all through the apply); a health command that
fails on the second batch stops the rollout with 2 servers replaced and 4 untouched,
and the next apply goes on from there; bad input changes nothing.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openstack
import pytest
import yaml

from tests.scenarios.conftest import Stack, Target, assert_exited
from tests.scenarios.test_in_place import other_image

CREATE_FIRST = {"create_before_destroy": True}


@pytest.fixture(autouse=True)
def without_rollout_on_teardown(request: pytest.FixtureRequest) -> Iterator[None]:
    """Drop `rollout` from the spec a test of the `stack` fixture leaves, so its destroy
    reads a valid spec even after a bad-input test."""
    if "stack" not in request.fixturenames:
        yield
        return
    stack: Stack = request.getfixturevalue("stack")
    yield
    if stack.path.exists():
        doc = yaml.safe_load(stack.path.read_text())
        for server in doc.get("servers", []):
            server.pop("rollout", None)
        stack.path.write_text(yaml.safe_dump(doc))


@dataclass
class Poller:
    """Counts the ACTIVE servers of the stack, again and again, until stopped."""

    stack: Stack
    samples: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        target = self.stack.target
        config = openstack.config.OpenStackConfig(config_files=[str(target.clouds_yaml)])
        conn = openstack.connection.Connection(config=config.get_one(cloud=target.cloud))
        tag = f"declstack:stack={self.stack.name}"
        while not self.stop.is_set():
            try:
                servers = conn.compute.servers(details=True, tags=tag)
                self.samples.append(sum(1 for s in servers if s.status == "ACTIVE"))
            except Exception as exc:  # every failure is kept and fails the test
                self.errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.05)


@contextmanager
def polled(stack: Stack) -> Iterator[Poller]:
    poller = Poller(stack)
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    try:
        yield poller
    finally:
        poller.stop.set()
        thread.join(timeout=60)
    assert not poller.errors, poller.errors


def ids(stack: Stack) -> dict[str, str]:
    return {name: server.id for name, server in stack.servers().items()}


def fixed_addresses(stack: Stack) -> dict[str, set[str]]:
    return {
        name: {a["addr"] for entries in (s.addresses or {}).values() for a in entries}
        for name, s in stack.servers().items()
    }


def web(image: str | None, rollout: dict[str, Any], **more: Any) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {"name": "web", "count": 6, "rollout": rollout, **more}
    if image is not None:
        entry["image"] = image
    return [entry]


def test_a_rolling_image_change_keeps_four_of_six_servers_active(
    stack: Stack, tmp_path: Path
) -> None:
    log = tmp_path / "health.log"
    check = {"command": f'echo "$DECLSTACK_SERVER_NAME $DECLSTACK_SERVER_ADDRESS" >> {log}'}
    stack.write(web(None, {"batch": 2, "health": check}))
    stack.ok("apply", "--yes")
    before = ids(stack)
    assert sorted(before) == [f"web-{n}" for n in range(1, 7)]
    log.write_text("")

    image = other_image(stack.target)
    stack.write(web(image, {"batch": 2, "health": check}))
    planned = stack.ok("plan").stdout
    assert planned.count("rollout: batch 2 of 3") == 2
    assert '"web": 6 server(s) in 3 batch(es), 2 at a time' in planned

    with polled(stack) as poller:
        applied = stack.ok("apply", "--yes")
    assert len(poller.samples) >= 10, "the poller must have watched the whole apply"
    assert min(poller.samples) == 4, (
        f"never fewer than 4 ACTIVE, and the dip was seen: {poller.samples}"
    )
    assert max(poller.samples) == 6

    after = ids(stack)
    assert all(after[name] != before[name] for name in before), "every server was replaced"
    for n in (1, 2, 3):
        assert f'rollout of "web": batch {n} of 3' in applied.stdout
    # The health command ran once per new server, batch after batch, with its address.
    ran = [line.split() for line in log.read_text().splitlines()]
    assert [sorted(name for name, _ in ran[i : i + 2]) for i in (0, 2, 4)] == [
        ["web-1", "web-2"],
        ["web-3", "web-4"],
        ["web-5", "web-6"],
    ]
    addresses = fixed_addresses(stack)
    assert all(address in addresses[name] for name, address in ran)
    assert "No changes" in stack.ok("plan").stdout


def test_a_health_command_failing_on_the_second_batch_stops_the_rollout(stack: Stack) -> None:
    failing = {"batch": 2, "health": {"command": 'test "$DECLSTACK_SERVER_NAME" != web-3'}}
    stack.write(web(None, failing, lifecycle=CREATE_FIRST))
    stack.ok("apply", "--yes")
    before = ids(stack)
    old_image = stack.servers()["web-1"].image.id

    image = other_image(stack.target)
    stack.write(web(image, failing, lifecycle=CREATE_FIRST))
    with polled(stack) as poller:
        result = stack.run("apply", "--yes")
    assert_exited(result, 1)
    assert min(poller.samples) >= 4 and len(poller.samples) >= 10

    after = ids(stack)
    assert len(stack.live()) == 6
    replaced = sorted(name for name in before if after[name] != before[name])
    untouched = sorted(name for name in before if after[name] == before[name])
    assert (replaced, untouched) == (["web-1", "web-2"], ["web-3", "web-4", "web-5", "web-6"])
    images = {name: server.image.id for name, server in stack.servers().items()}
    assert {images[name] for name in untouched} == {old_image}
    assert old_image not in {images[name] for name in replaced}
    out = result.stdout
    assert (
        'rollout of "web" stopped at batch 2 of 3: server.web-3 failed its health check: '
        "exit status 1; left untouched: server.web-5, server.web-6"
    ) in out
    assert (
        "server.web-3 not replaced: the new server failed its health check: exit status 1; "
        "the new server was deleted, the old one kept; rollout batch 2 of 3"
    ) in out
    assert 'server.web-5 was left untouched: the rollout of "web" stopped at batch 2 of 3' in out
    assert "Traceback" not in out + result.stderr

    # The next apply goes on from there: the 4 servers left, 2 at a time.
    passing = {"batch": 2, "health": {"command": 'test -n "$DECLSTACK_SERVER_NAME"'}}
    stack.write(web(image, passing, lifecycle=CREATE_FIRST))
    planned = stack.ok("plan").stdout
    assert planned.count("rollout: batch 1 of 2") == 2 and planned.count("batch 2 of 2") == 2
    assert "server.web-1" not in planned
    stack.ok("apply", "--yes")
    final = ids(stack)
    assert final["web-1"] == after["web-1"] and final["web-2"] == after["web-2"]
    assert all(final[name] != before[name] for name in untouched)
    assert "No changes" in stack.ok("plan").stdout


def test_a_server_that_failed_its_check_is_checked_again_before_the_rollout_goes_on(
    stack: Stack,
) -> None:
    """Delete-then-create: the failed server cannot go back, so it stays, marked; the next
    apply checks it again before it touches any other server."""
    failing = {"batch": 1, "health": {"command": 'test "$DECLSTACK_SERVER_NAME" != web-2'}}
    stack.write([{"name": "web", "count": 4, "rollout": failing}])
    stack.ok("apply", "--yes")
    before = ids(stack)

    image = other_image(stack.target)
    stack.write([{"name": "web", "count": 4, "image": image, "rollout": failing}])
    assert_exited(stack.run("apply", "--yes"), 1)
    after = ids(stack)
    assert sorted(n for n in before if after[n] != before[n]) == ["web-1", "web-2"]
    marks = {
        n: (s.metadata or {}).get("declstack:health-failed") for n, s in stack.servers().items()
    }
    assert marks == {"web-1": None, "web-2": "exit status 1", "web-3": None, "web-4": None}

    # Still failing: the rollout stops at web-2's new check, before web-3 is touched.
    planned = stack.ok("plan").stdout
    assert "health: the last check failed (exit status 1)   # checked again, first" in planned
    result = stack.run("apply", "--yes")
    assert_exited(result, 1)
    assert 'rollout of "web" stopped at batch 1 of 3: server.web-2 failed its health check' in (
        result.stdout
    )
    assert ids(stack) == after

    passing = {"batch": 1, "health": {"command": "true"}}
    stack.write([{"name": "web", "count": 4, "image": image, "rollout": passing}])
    stack.ok("apply", "--yes")
    final = ids(stack)
    assert final["web-2"] == after["web-2"], "checked again, not replaced"
    assert all(final[n] != before[n] for n in before)
    assert all("declstack:health-failed" not in (s.metadata or {}) for s in stack.live())
    assert "No changes" in stack.ok("plan").stdout


@pytest.mark.integration
def test_sigterm_during_a_health_check_stops_it_and_says_what_was_not_requested(
    local_target: Target, tmp_path: Path
) -> None:
    """declstack as CI runs it (a process of its own), stopped by SIGTERM while a health
    command runs: the command and what it started are stopped, apply exits 143 and says
    which changes were requested and which (the later batches) were not."""
    stack = Stack(local_target, f"t-{uuid.uuid4().hex[:8]}", tmp_path / "spec.yaml")
    pid_file = tmp_path / "health.pid"
    # `$$$$` in a spec is the shell's `$$` (the spec reads `$$` as one `$`).
    slow = {"batch": 1, "health": {"command": f"echo $$$$ > {pid_file}; exec sleep 120"}}
    stack.write([{"name": "web", "count": 3}])
    stack.ok("apply", "--yes")
    before = ids(stack)
    stack.write([{"name": "web", "count": 3, "image": "debian-12", "rollout": slow}])
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OS_")},
        **local_target.env(),
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
    }
    command = [sys.executable, "-m", "declstack", "apply", str(stack.path), "--yes"]
    proc = subprocess.Popen(
        [*command, "--cloud", local_target.cloud],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text().strip()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the health command never started"
            time.sleep(0.05)
        health_pid = int(pid_file.read_text())
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, out + err
    assert "error: interrupted by SIGTERM" in err
    assert "requested: 1 (server.web-1 (delete-then-create))" in err
    assert (
        "not requested (cancelled): 2 (server.web-2 (delete-then-create), "
        "server.web-3 (delete-then-create))"
    ) in err
    assert "Traceback" not in out + err
    assert not Path(f"/proc/{health_pid}").exists() or (
        Path(f"/proc/{health_pid}/stat").read_text().split()[2] == "Z"
    ), "the health command is stopped with declstack"
    after = ids(stack)
    assert after["web-1"] != before["web-1"]
    assert (after["web-2"], after["web-3"]) == (before["web-2"], before["web-3"])

    stack.write([{"name": "web", "count": 3, "image": "debian-12", "rollout": {"batch": 1}}])
    stack.ok("apply", "--yes")
    stack.write([{"name": "web", "count": 3, "image": "debian-12"}])
    stack.ok("destroy", "--yes")


def test_bad_rollout_input_is_refused_before_anything_changes(stack: Stack) -> None:
    stack.write([{"name": "web", "count": 2, "rollout": {"batch": 0}}])
    result = stack.run("apply", "--yes")
    assert_exited(result, 1)
    output = result.stdout + result.stderr
    assert re.search(
        rf"{re.escape(str(stack.path))}:\d+:\d+: servers\[0\]\.rollout\.batch: must be 1 or "
        "more: a batch holds at least one server",
        output,
    ), output

    missing = {"health": {"command": "declstack-no-such-check --url http://x/"}}
    stack.write([{"name": "web", "count": 2, "rollout": missing}])
    result = stack.run("plan")
    assert_exited(result, 1)
    output = result.stdout + result.stderr
    assert (
        "servers[0].rollout.health.command: the health command runs 'declstack-no-such-check', "
        "which is neither a shell builtin nor in PATH on this machine" in output
    )
    assert "Traceback" not in output
    assert stack.servers() == {}
