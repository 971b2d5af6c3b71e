"""The waiting primitive, with an injected clock: instant and deterministic."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from declstack.waiting import Clock, Pacer, State, wait_all

#: One poll a second, whatever happens: rounds the tests can count.
EVERY_SECOND = Pacer(floor=1, factor=1, cap=1, cost=0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> Clock:
        return Clock(now=lambda: self.now, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def judge(value: str | None) -> tuple[State, str]:
    if value == "ok":
        return State.DONE, "ok"
    if value == "bad":
        return State.FAILED, "bad"
    return State.PENDING, value or "unseen"


def test_each_key_ends_done_failed_or_timed_out_with_one_poll_per_round() -> None:
    fake = FakeClock()
    script: list[Mapping[str, str]] = [
        {"a": "building", "b": "building"},
        {"a": "ok", "b": "building", "c": "bad"},
        {"b": "building"},
    ]
    polls = 0

    def poll() -> Mapping[str, str]:
        nonlocal polls
        polls += 1
        return script[min(polls - 1, len(script) - 1)]

    results = wait_all(
        ["a", "b", "c"], poll, judge, timeout=10, pacer=EVERY_SECOND, clock=fake.clock()
    )

    assert results["a"].state is State.DONE
    assert results["c"].state is State.FAILED and results["c"].detail == "bad"
    assert results["b"].state is State.TIMED_OUT and results["b"].detail == "building"
    assert polls == 11  # one list call per round for all keys, rounds at t=0..10
    assert fake.now == 10


def test_quiet_rounds_grow_to_the_cap_and_never_sleep_past_the_deadline() -> None:
    fake = FakeClock()
    wait_all(
        ["x"],
        lambda: {},
        judge,
        timeout=7,
        pacer=Pacer(floor=0.5, factor=2, cap=3, cost=0),
        clock=fake.clock(),
    )
    assert fake.sleeps == [0.5, 1, 2, 3, 0.5]


def test_on_change_reports_transitions_only() -> None:
    fake = FakeClock()
    seen: list[tuple[str, str]] = []
    frames = iter([{"a": "building"}, {"a": "building"}, {"a": "spawning"}, {"a": "ok"}])
    wait_all(
        ["a"],
        lambda: next(frames),
        judge,
        timeout=100,
        clock=fake.clock(),
        on_change=lambda key, outcome: seen.append((key, outcome.detail)),
    )
    assert seen == [("a", "building"), ("a", "spawning"), ("a", "ok")]


def test_a_key_seen_then_missing_ends_at_once_when_vanished_is_given() -> None:
    fake = FakeClock()
    script: list[Mapping[str, str]] = [{"a": "building"}, {}]
    polls = 0

    def poll() -> Mapping[str, str]:
        nonlocal polls
        polls += 1
        return script[min(polls - 1, len(script) - 1)]

    results = wait_all(
        ["a", "never"],
        poll,
        judge,
        timeout=600,
        pacer=EVERY_SECOND,
        clock=fake.clock(),
        vanished=(State.FAILED, "deleted under us"),
    )
    assert results["a"].state is State.FAILED and results["a"].detail == "deleted under us"
    assert results["a"].seconds == 1  # the second round, not after the timeout
    assert results["never"].state is State.TIMED_OUT  # never seen: judged as before


def test_the_pacer_polls_fast_while_things_move_and_slows_down_when_quiet() -> None:
    pacer = Pacer(floor=0.4, factor=1.25, cap=3.0, cost=1.0)  # a wider cap than the default
    assert pacer.next(progressed=True, poll_seconds=0.01) == 0.4
    quiet = [pacer.next(progressed=False, poll_seconds=0.01) for _ in range(12)]
    assert quiet[:3] == pytest.approx([0.5, 0.625, 0.78125])
    assert quiet[-1] == 3.0  # capped
    assert pacer.next(progressed=True, poll_seconds=0.01) == 0.4  # progress: fast again
    # A poll that itself takes 1.2 s (a large stack) is not repeated sooner than that.
    assert pacer.next(progressed=True, poll_seconds=1.2) == 1.2


def test_the_end_of_a_batch_is_noticed_within_the_floor() -> None:
    """Servers finish one after another from t=20 s: each is seen done within 0.4 s of
    finishing, although nothing moved for the first 20 s."""
    fake = FakeClock()
    finish = {f"s{i}": 20.0 + 0.3 * i for i in range(10)}

    def poll() -> Mapping[str, str]:
        return {k: ("ok" if fake.now >= t else "building") for k, t in finish.items()}

    results = wait_all(finish, poll, judge, timeout=600, clock=fake.clock())
    first_seen = results["s0"].seconds
    assert first_seen - finish["s0"] <= 1.0  # after a quiet wait: within the cap
    later = [results[k].seconds - t for k, t in finish.items() if t > first_seen]
    assert later and max(later) <= 0.4 + 1e-9  # once the batch moves: within the floor
