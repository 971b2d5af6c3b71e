"""What a person sees while apply runs: each outcome once, and progress that scales.

Outcomes ("web-1 has been created (ACTIVE after 3.1s)") go to stdout as they
happen. On a terminal, a progress bar on stderr counts them; without one, the
in-between states are printed for small applies, and a one-line summary every
few seconds for big ones, so a CI log shows life without a line per poll.
With `--output json` all of that goes to stderr, and stdout gets one result
document (`result_document`, docs/apply-result.md).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from declstack.reconciler import ApplyReport, Event, Result, summarize

#: Version of the JSON result of apply and destroy (docs/apply-result.md): a new field
#: bumps the minor, a removed or changed one (or a new outcome word) the major.
RESULT_FORMAT_VERSION = "1.0"

#: Above this many changes, without a terminal, states are summarised, not listed.
CHATTY_LIMIT = 20
SUMMARY_EVERY = 10.0


class ApplyDisplay:
    """Receives reconciler events; a context manager around one apply."""

    def __init__(self, out: Console, err: Console, total: int) -> None:
        self._out = out
        self._err = err
        self._total = total
        self._started = time.monotonic()
        self._last_summary = self._started
        self._printed: set[tuple[str, str]] = set()
        self._states: dict[str, str] = {}
        self._done = 0
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        # The bar shares the outcomes' console when that is a terminal, so rich
        # prints each outcome above the bar instead of on top of it.
        bar_console = out if out.is_terminal else err if err.is_terminal else None
        if bar_console is not None:
            self._bar = Progress(
                TextColumn("[bold]applying"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=bar_console,
                transient=True,
            )

    def __enter__(self) -> ApplyDisplay:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task("", total=self._total)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def _stamp(self) -> str:
        return f"[{time.monotonic() - self._started:6.1f}s]"

    def on_event(self, event: Event) -> None:
        if event.milestone:
            style = None if event.ok else "red"
            self._out.print(event.message, markup=False, highlight=False, style=style)
            return
        if event.final:
            self._done += 1
            self._states.pop(event.address, None)
            self._outcome(event.address, event.message, event.ok)
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, completed=min(self._done, self._total))
            return
        self._states[event.address] = event.message.split(": ", 1)[-1]
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=self._state_counts())
        elif self._total <= CHATTY_LIMIT:
            self._err.print(f"{self._stamp()} {event.message}", markup=False, style="dim")
        elif time.monotonic() - self._last_summary >= SUMMARY_EVERY:
            self._last_summary = time.monotonic()
            self._err.print(
                f"{self._stamp()} {self._done}/{self._total} done; {self._state_counts()}",
                markup=False,
            )

    def _state_counts(self) -> str:
        counts = Counter(state.split(",")[0] for state in self._states.values())
        return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))

    def _outcome(self, address: str, message: str, ok: bool) -> None:
        self._printed.add((address, message))
        line = message if message.startswith(address) else f"{address} {message}"
        if ok:
            self._out.print(line, markup=False, highlight=False)
        else:
            self._out.print(line, markup=False, highlight=False, style="red")

    def finish(self, report: ApplyReport, verb: str = "Apply") -> None:
        """Print outcomes no event carried (failed requests), then the summary line."""
        for result in report.results:
            full = f"{result.address} {result.message}"
            if (result.address, full) not in self._printed and (
                result.address,
                result.message,
            ) not in self._printed:
                self._outcome(result.address, full, result.ok)
        elapsed = time.monotonic() - self._started
        self._out.print(f"{summarize(report.results, verb)} ({elapsed:.1f}s)", markup=False)

    @property
    def seconds(self) -> float:
        """Seconds since the display was made (the start of the apply)."""
        return time.monotonic() - self._started


def outcome_of(result: Result) -> str:
    """`ok`, `failed` or `timed-out`: how one change ended, in one word."""
    if result.ok:
        return "ok"
    return "timed-out" if result.timed_out else "failed"


def result_document(
    command: str,
    stack: str | None,
    results: Sequence[Result] = (),
    *,
    seconds: float = 0.0,
    outcome: str | None = None,
    error: Mapping[str, Any] | None = None,
    interrupted: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The result of one apply or destroy (`command`), for `--output json`.

    `outcome` is `ok`, `failed` or `no-changes` from the results unless given
    (`error`: nothing was changed, `interrupted`: stopped by a signal).
    """
    per_outcome = Counter(outcome_of(r) for r in results)
    if outcome is None:
        outcome = (
            "no-changes" if not results else "ok" if per_outcome["ok"] == len(results) else "failed"
        )
    return {
        "format_version": RESULT_FORMAT_VERSION,
        "command": command,
        "stack": stack,
        "outcome": outcome,
        "changes": [_result_dict(r) for r in results],
        "totals": {
            "changes": len(results),
            "ok": per_outcome["ok"],
            "failed": per_outcome["failed"],
            "timed_out": per_outcome["timed-out"],
            "seconds": round(seconds, 3),
        },
        "error": dict(error) if error is not None else None,
        "interrupted": dict(interrupted) if interrupted is not None else None,
    }


def _result_dict(result: Result) -> dict[str, Any]:
    kind, _, name = result.address.partition(".")
    return {
        "address": result.address,
        "kind": kind,
        "name": name,
        "action": result.action.value,
        "outcome": outcome_of(result),
        "resource_id": result.resource_id,
        "addresses": [{"network": network, "ip": ip} for network, ip in result.addresses],
        "seconds": result.seconds,
        "message": result.message,
    }


def render_result_json(document: Mapping[str, Any]) -> str:
    """Stable JSON: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
