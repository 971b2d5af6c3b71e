"""Health commands: `sh -c` on this machine, one per server, stopped on timeout or interrupt.

These run real `sh` processes (no network, well under a second each).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from declstack.health import Probe, command_problem, first_program, run_health_commands

WEB_1 = Probe(1, "web-1", "10.0.0.7", "id-1")
WEB_2 = Probe(2, "web-2", "10.0.0.8", "id-2")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie the test's own shell has not reaped yet counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_exit_status_zero_is_healthy_and_the_server_is_in_the_environment(
    tmp_path: Path,
) -> None:
    out = tmp_path / "env"
    command = (
        f'echo "$DECLSTACK_SERVER_NAME $DECLSTACK_SERVER_ADDRESS $DECLSTACK_SERVER_ID" >> {out}'
    )
    verdicts = run_health_commands(command, 5, [WEB_1, WEB_2], parallelism=2)
    assert {k: v.healthy for k, v in verdicts.items()} == {1: True, 2: True}
    assert verdicts[1].detail.startswith("exit status 0 after ")
    assert sorted(out.read_text().splitlines()) == ["web-1 10.0.0.7 id-1", "web-2 10.0.0.8 id-2"]


def test_a_failure_says_its_exit_status_and_the_last_line_it_printed() -> None:
    command = 'echo starting; echo "$DECLSTACK_SERVER_NAME: connection refused" >&2; exit 7'
    (verdict,) = run_health_commands(command, 5, [WEB_1], parallelism=1).values()
    assert not verdict.healthy
    assert verdict.detail == "exit status 7: web-1: connection refused"


def test_a_long_last_line_is_shortened() -> None:
    (verdict,) = run_health_commands(
        "printf 'x%.0s' $(seq 1 500); exit 1", 5, [WEB_1], parallelism=1
    ).values()
    assert verdict.detail == "exit status 1: " + "x" * 197 + "..."


def test_a_command_past_its_timeout_is_stopped_with_everything_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "child"
    command = f"sleep 30 & echo $! > {pid_file}; wait"
    started = time.monotonic()
    (verdict,) = run_health_commands(command, 0.5, [WEB_1], parallelism=1).values()
    assert time.monotonic() - started < 5
    assert not verdict.healthy and verdict.detail == "no answer within 0.5s (stopped)"
    assert not alive(int(pid_file.read_text())), "the command's own children are stopped too"


def test_no_more_than_parallelism_commands_run_at_once(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    command = f"mkdir {lock} || exit 9; sleep 0.3; rmdir {lock}"
    one_at_a_time = run_health_commands(command, 5, [WEB_1, WEB_2], parallelism=1)
    assert all(v.healthy for v in one_at_a_time.values())
    together = run_health_commands(command, 5, [WEB_1, WEB_2], parallelism=2)
    assert sorted(v.healthy for v in together.values()) == [False, True]


def test_an_interrupt_stops_the_running_commands_before_it_is_raised(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    def interrupted(seconds: float) -> None:
        while not pid_file.exists() or not pid_file.read_text().strip():
            time.sleep(0.01)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_health_commands(
            f"echo $$ > {pid_file}; exec sleep 30", 60, [WEB_1], parallelism=1, sleep=interrupted
        )
    assert not alive(int(pid_file.read_text()))


@pytest.mark.parametrize(
    ("command", "program"),
    [
        ("curl -fs http://$DECLSTACK_SERVER_ADDRESS/", "curl"),
        ("FOO=1 BAR=x ./check.sh", "./check.sh"),
        ("/usr/bin/ssh host true", "/usr/bin/ssh"),
        ('test "$DECLSTACK_SERVER_NAME" != web-3', "test"),
        ("until curl -fs x; do sleep 2; done", "until"),
        ("$CHECK", None),
        ("(cd /tmp && ls)", None),
        ("'unterminated", None),
        ("", None),
    ],
)
def test_the_program_checked_is_the_first_plain_word(command: str, program: str | None) -> None:
    assert first_program(command) == program


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("true", None),
        ('test "$X" != y', None),
        ("until curl -fs x; do sleep 2; done", None),
        ("$CHECK --now", None),
        (
            "declstack-no-such-program -v",
            "runs 'declstack-no-such-program', which is neither a shell builtin nor in PATH on "
            "this machine",
        ),
        (
            "/no/such/check",
            "runs '/no/such/check', which is not an executable file on this machine",
        ),
        (
            "echo 'unterminated",
            "is not valid shell (sh: 1: Syntax error: Unterminated quoted string)",
        ),
    ],
)
def test_a_command_that_cannot_run_here_is_told_apart(command: str, problem: str | None) -> None:
    assert command_problem(command) == problem
