"""Health commands of a rollout: `sh -c COMMAND` on the declstack machine, one per server.

A rollout batch is healthy when each of its new servers is ACTIVE and, when the
entry has `rollout.health`, its command exits 0 within `timeout` seconds. The
command runs once per server with the server's name, address and id in its
environment (`DECLSTACK_SERVER_NAME`, `DECLSTACK_SERVER_ADDRESS`,
`DECLSTACK_SERVER_ID`), so `ssh`, `curl` or a cloud-init check can gate the
rollout; a command that must wait for a service to come up loops itself
(`until curl -fs ...; do sleep 2; done`), and the timeout ends it.

Each command runs in a session of its own, so a timeout (or an interrupt of
declstack) stops the shell and everything it started. Its output is kept in a
temporary file, and the last line of it goes into the outcome of a failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Protocol

SHELL = "sh"
#: How often running commands are looked at; they take seconds, not milliseconds.
POLL_SECONDS = 0.05
#: After a SIGTERM, how long a command's processes have before SIGKILL.
KILL_GRACE = 2.0
#: The most characters of a failed command's last output line in an outcome.
TAIL_CHARACTERS = 200
#: A word `command -v` can look up as it is (no expansion, quoting or redirection).
_PLAIN_WORD = re.compile(r"^[A-Za-z0-9_./+@:-]+$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Probe:
    """One server whose health is asked: `key` is its change's place in the plan."""

    key: int
    name: str
    address: str
    server_id: str


@dataclass(frozen=True)
class Verdict:
    """How one health command ended: healthy or not, and in words."""

    healthy: bool
    detail: str
    seconds: float


class HealthRunner(Protocol):
    """Runs `command` once per probe, at most `parallelism` at a time."""

    def __call__(
        self, command: str, timeout: float, probes: Sequence[Probe], parallelism: int
    ) -> dict[int, Verdict]: ...


@dataclass
class _Running:
    probe: Probe
    process: subprocess.Popen[bytes]
    output: IO[bytes]
    started: float


def environment(probe: Probe, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The command's environment: declstack's own, plus the server's name, address, id."""
    env = dict(os.environ if base is None else base)
    env["DECLSTACK_SERVER_NAME"] = probe.name
    env["DECLSTACK_SERVER_ADDRESS"] = probe.address
    env["DECLSTACK_SERVER_ID"] = probe.server_id
    return env


def run_health_commands(
    command: str,
    timeout: float,
    probes: Sequence[Probe],
    parallelism: int,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[int, Verdict]:
    """Run `command` for every probe (at most `parallelism` at once) and say how each
    ended. On an interrupt (raised in `sleep`, between looks at the commands) every
    command still running is stopped before it is raised."""
    waiting = list(probes)
    running: dict[int, _Running] = {}
    verdicts: dict[int, Verdict] = {}
    try:
        while waiting or running:
            while waiting and len(running) < max(1, parallelism):
                probe = waiting.pop(0)
                started = _start(command, probe)
                if isinstance(started, Verdict):
                    verdicts[probe.key] = started
                else:
                    running[probe.key] = started
            for key, run in list(running.items()):
                verdict = _verdict(run, timeout)
                if verdict is not None:
                    verdicts[key] = verdict
                    run.output.close()
                    del running[key]
            if running:
                sleep(POLL_SECONDS)
    except BaseException:
        for run in running.values():
            _stop(run.process)
            run.output.close()
        raise
    return verdicts


def _start(command: str, probe: Probe) -> _Running | Verdict:
    # Kept open while the command runs (closed by the caller), so no `with`.
    output = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        process = subprocess.Popen(
            [SHELL, "-c", command],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment(probe),
            start_new_session=True,
        )
    except OSError as exc:
        output.close()
        return Verdict(False, f"could not run {SHELL}: {exc.strerror or exc}", 0.0)
    return _Running(probe, process, output, time.monotonic())


def _verdict(run: _Running, timeout: float) -> Verdict | None:
    """The verdict of a command that has ended or run out of time, else None."""
    seconds = time.monotonic() - run.started
    code = run.process.poll()
    if code is None and seconds < timeout:
        return None
    if code is None:
        _stop(run.process)
        said = _tail(run.output)
        return Verdict(
            False,
            f"no answer within {timeout:g}s (stopped)" + (f": {said}" if said else ""),
            seconds,
        )
    if code == 0:
        return Verdict(True, f"exit status 0 after {seconds:.1f}s", seconds)
    how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    said = _tail(run.output)
    return Verdict(False, how + (f": {said}" if said else ""), seconds)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the command's whole session, SIGKILL after a grace."""
    for sig, grace in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, KILL_GRACE)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(output: IO[bytes]) -> str:
    """The last non-empty line the command printed, shortened."""
    output.seek(0, os.SEEK_END)
    size = output.tell()
    output.seek(max(0, size - 4096))
    lines = [line.strip() for line in output.read().decode(errors="replace").splitlines()]
    last = next((line for line in reversed(lines) if line), "")
    return last if len(last) <= TAIL_CHARACTERS else last[: TAIL_CHARACTERS - 3] + "..."


# --- checked before anything changes ------------------------------------------------


def first_program(command: str) -> str | None:
    """The program a command starts with, when it is a plain word (`curl`, `./check`,
    `/usr/bin/ssh`) after any `NAME=value` assignments; None when it is not plain
    (`$CHECK`, `(...)`, quoting the shell would expand), so nothing is guessed."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        return None
    for word in words:
        if _ASSIGNMENT.match(word):
            continue
        return word if _PLAIN_WORD.match(word) else None
    return None


def command_problem(command: str) -> str | None:
    """Why `command` cannot run here, or None: the shell cannot parse it, or the program
    it starts with is neither a shell builtin nor found in PATH (`command -v`)."""
    try:
        parsed = subprocess.run(
            [SHELL, "-n", "-c", command],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not be checked with {SHELL}: {exc}"
    if parsed.returncode != 0:
        said = parsed.stderr.decode(errors="replace").strip().splitlines()
        return "is not valid shell" + (f" ({said[-1]})" if said else "")
    program = first_program(command)
    if program is None:
        return None
    found = subprocess.run(
        [SHELL, "-c", 'command -v -- "$1"', SHELL, program],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=10,
        check=False,
    )
    if found.returncode == 0:
        return None
    if "/" in program:
        return f"runs {program!r}, which is not an executable file on this machine"
    return f"runs {program!r}, which is neither a shell builtin nor in PATH on this machine"
