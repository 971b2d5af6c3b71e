"""The one waiting primitive: poll a batch of things until each is done, failed or timed out.

One poll answers for every key (one list call per round, not one GET per
server). Time and sleep are injected so tests run instantly, and "failed"
(the thing reached a bad state) is kept apart from "timed out" (we stopped
waiting) because they call for different actions.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class Clock:
    """Monotonic time and sleep, injectable."""

    now: Callable[[], float]
    sleep: Callable[[float], None]


SYSTEM_CLOCK = Clock(now=time.monotonic, sleep=time.sleep)


class State(enum.Enum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    TIMED_OUT = "timed out"


@dataclass(frozen=True)
class Outcome(Generic[V]):
    """Where one key ended: its state, a detail for people, the last value seen."""

    state: State
    detail: str
    value: V | None
    seconds: float


@dataclass
class Pacer:
    """Poll intervals adapted to the progress seen and to what a poll costs.

    - While something changes (a key finished, or its status or task moved on) the
      cloud is mid-batch: poll again after `floor`, so the end of a batch is noticed
      within about that long.
    - A quiet round stretches the interval by `factor`, up to `cap`: a long boot is
      polled about once a second, and the first server of a batch to finish is seen
      within `cap` of finishing.
    - Never sooner than `cost` times the last poll's own duration, so one list call
      per round of a large stack keeps the cloud busy at most 1/(1+cost) of the time.
    """

    floor: float = 0.4
    factor: float = 1.25
    cap: float = 1.0
    cost: float = 1.0
    interval: float = 0.0

    def next(self, progressed: bool, poll_seconds: float) -> float:
        if progressed or self.interval == 0.0:
            self.interval = self.floor
        else:
            self.interval = min(self.cap, self.interval * self.factor)
        return max(self.interval, self.cost * poll_seconds)


def wait_all(
    keys: Iterable[K],
    poll: Callable[[], Mapping[K, V]],
    judge: Callable[[V | None], tuple[State, str]],
    *,
    timeout: float,
    pacer: Pacer | None = None,
    clock: Clock = SYSTEM_CLOCK,
    on_change: Callable[[K, Outcome[V]], None] | None = None,
    vanished: tuple[State, str] | None = None,
) -> dict[K, Outcome[V]]:
    """Poll until every key is DONE or FAILED, or `timeout` seconds have passed.

    `poll` returns the current value per key (a missing key means "not seen");
    `judge` turns a value into a state and a detail. `on_change` is called
    whenever a key's state or detail changes, for progress display. A key that
    was seen and then is missing gets `vanished` instead of `judge(None)`, when
    given (a server deleted under a wait for it to boot ends that wait at once).
    Rounds are paced by `pacer` (adaptive by default).
    """
    start = clock.now()
    pending = dict.fromkeys(keys, (State.PENDING, ""))
    seen: set[K] = set()
    results: dict[K, Outcome[V]] = {}
    paced = pacer or Pacer()
    while pending:
        polled_at = clock.now()
        snapshot = poll()
        elapsed = clock.now() - start
        poll_seconds = clock.now() - polled_at
        progressed = False
        for key in list(pending):
            value = snapshot.get(key)
            if value is not None:
                seen.add(key)
            if value is None and key in seen and vanished is not None:
                state, detail = vanished
            else:
                state, detail = judge(value)
            if (state, detail) != pending[key]:
                progressed = True
                if on_change is not None:
                    on_change(key, Outcome(state, detail, value, elapsed))
            if state in (State.DONE, State.FAILED):
                results[key] = Outcome(state, detail, value, elapsed)
                del pending[key]
            else:
                pending[key] = (state, detail)
        if not pending:
            break
        remaining = timeout - (clock.now() - start)
        if remaining <= 0:
            for key, (_, detail) in pending.items():
                outcome: Outcome[V] = Outcome(
                    State.TIMED_OUT, detail or "no answer", snapshot.get(key), elapsed
                )
                results[key] = outcome
                if on_change is not None:
                    on_change(key, outcome)
            break
        clock.sleep(min(paced.next(progressed, poll_seconds), remaining))
    return results


def retry_call(
    call: Callable[[], V],
    should_retry: Callable[[BaseException, int], float | None],
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> V:
    """Call `call`; on an exception ask `should_retry(exc, attempt)` for a delay or None."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except Exception as exc:
            delay = should_retry(exc, attempt)
            if delay is None:
                raise
            clock.sleep(delay)
