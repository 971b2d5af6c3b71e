"""The stack lock, end to end: separate declstack processes on one stack.

Each run is its own process (`python -m declstack`), as on two CI machines.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.scenarios.conftest import Stack

SERVERS = [{"name": "web", "count": 3}]


def _start(stack: Stack, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, **stack.target.env(), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "declstack", args[0], str(stack.path)]
    command += ["--cloud", stack.target.cloud, *args[1:]]
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=Path(stack.path).parent,
    )


def _finish(process: subprocess.Popen[str], timeout: float = 240) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def test_two_applies_started_together_make_the_spec_once(stack: Stack) -> None:
    stack.write(SERVERS)
    first = _start(stack, "apply", "--yes")
    second = _start(stack, "apply", "--yes")
    results = [_finish(first), _finish(second)]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    refused = next(output for code, output in results if code == 1)
    assert "is locked" in refused and "held by" in refused, refused
    assert "declstack unlock SPEC" in refused, refused
    assert "Traceback" not in refused
    assert stack.names() == {"web-1": 1, "web-2": 1, "web-3": 1}


def test_a_run_that_waits_for_the_lock_goes_on_after_the_holder(stack: Stack) -> None:
    stack.write(SERVERS)
    # Both may wait: whichever takes the lock first, the other waits for it.
    first = _start(stack, "apply", "--yes", "--lock-timeout", "200")
    time.sleep(0.2)
    second = _start(stack, "apply", "--yes", "--lock-timeout", "200")
    results = [_finish(first), _finish(second)]
    assert [code for code, _ in results] == [0, 0], results
    assert any("waiting for the lock" in output for _, output in results), results
    assert stack.names() == {"web-1": 1, "web-2": 1, "web-3": 1}


def _kill_while_holding(stack: Stack, *extra: str) -> None:
    """Start an apply and SIGKILL it once it is creating servers (holding the lock)."""
    victim = _start(stack, "apply", "--yes", *extra)
    assert victim.stdout is not None
    seen = []
    for line in victim.stdout:
        seen.append(line)
        if "creating" in line:
            break
    else:
        raise AssertionError("the apply never started creating: " + "".join(seen))
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL


def test_a_killed_runs_lock_is_taken_after_its_lease(stack: Stack) -> None:
    stack.write(SERVERS)
    _kill_while_holding(stack, "--lock-lease", "4")
    refused = stack.run("apply", "--yes")
    assert refused.exit_code == 1 and "is locked" in refused.stderr, refused.stderr
    waited = stack.ok("apply", "--yes", "--lock-timeout", "60")
    assert "Apply complete" in waited.stdout or "No changes" in waited.stdout
    assert stack.names() == {"web-1": 1, "web-2": 1, "web-3": 1}


def test_unlock_breaks_a_killed_runs_lock_at_once(stack: Stack) -> None:
    stack.write(SERVERS)
    _kill_while_holding(stack, "--lock-lease", "600")
    refused = stack.run("apply", "--yes")
    assert refused.exit_code == 1, refused.stderr
    found = re.search(r"lock id ([0-9a-f-]{36})", refused.stderr)
    assert found, refused.stderr
    plan = stack.ok("plan")
    assert "a run holds the lock" in plan.stderr
    wrong = stack.run("unlock", "00000000-0000-0000-0000-000000000000")
    assert wrong.exit_code == 1 and "not the current lock" in wrong.stderr
    broke = stack.ok("unlock", found.group(1))
    assert "Broke the lock" in broke.stdout
    stack.ok("apply", "--yes")
    assert stack.names() == {"web-1": 1, "web-2": 1, "web-3": 1}
