"""The stack lock's protocol over an in-memory store that behaves like Glance."""

from __future__ import annotations

import threading

import pytest

from declstack.errors import UserError
from declstack.lock import (
    HELD,
    RELEASED,
    HeldLock,
    Holder,
    LockHeld,
    LockLost,
    LockRecord,
    acquire,
    break_lock,
    ci_job_url,
    current_holder,
    holding,
    lock_id,
)
from declstack.waiting import Clock
from tests.fakes import FakeLocks

pytestmark = pytest.mark.unit


def holder(pid: int) -> Holder:
    return Holder("alice", "ci-runner", pid, "apply", "https://ci.example/job/1")


def fake_clock(store: FakeLocks) -> Clock:
    elapsed = [0.0]

    def sleep(seconds: float) -> None:
        elapsed[0] += seconds
        store.tick(seconds)

    return Clock(now=lambda: elapsed[0], sleep=sleep)


def test_first_taker_creates_generation_one_and_release_marks_it() -> None:
    store = FakeLocks()
    held = acquire(store, "web", holder(1))
    assert held.record.generation == 1
    assert held.record.id == lock_id("project-1", "web", 1)
    assert held.record.state == HELD
    held.release()
    assert store.images[held.record.id].state == RELEASED


def test_a_second_taker_is_refused_with_the_holder_and_the_lock_id() -> None:
    store = FakeLocks()
    first = acquire(store, "web", holder(1))
    with pytest.raises(LockHeld) as refused:
        acquire(store, "web", holder(2))
    assert "alice@ci-runner (pid 1, apply), job https://ci.example/job/1" in refused.value.message
    assert first.record.id in refused.value.message
    assert refused.value.hint is not None and "declstack unlock SPEC" in refused.value.hint


def test_other_stacks_do_not_share_a_lock() -> None:
    store = FakeLocks()
    acquire(store, "web", holder(1))
    assert acquire(store, "db", holder(2)).record.generation == 1


def test_the_next_taker_takes_the_next_generation_and_deletes_the_old_one() -> None:
    store = FakeLocks()
    acquire(store, "web", holder(1)).release()
    second = acquire(store, "web", holder(2))
    assert second.record.generation == 2
    assert list(store.images) == [second.record.id]


def test_racing_takers_have_exactly_one_winner() -> None:
    store = FakeLocks()

    def take(
        pid: int, barrier: threading.Barrier, winners: list[HeldLock], refused: list[int]
    ) -> None:
        barrier.wait()
        try:
            winners.append(acquire(store, "web", holder(pid)))
        except LockHeld:
            refused.append(pid)

    for _ in range(20):
        barrier = threading.Barrier(8)
        winners: list[HeldLock] = []
        refused: list[int] = []
        threads = [
            threading.Thread(target=take, args=(pid, barrier, winners, refused)) for pid in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(winners) == 1 and len(refused) == 7
        winners[0].release()


def test_an_expired_lease_is_taken_over_on_the_clouds_clock() -> None:
    store = FakeLocks()
    dead = acquire(store, "web", holder(1), lease=30)
    store.tick(29)
    with pytest.raises(LockHeld):
        acquire(store, "web", holder(2))
    store.tick(2)
    taken = acquire(store, "web", holder(2))
    assert taken.record.generation == dead.record.generation + 1


def test_renewal_keeps_the_lease_and_a_lost_lock_is_noticed() -> None:
    store = FakeLocks()
    held = acquire(store, "web", holder(1), lease=30)
    store.tick(25)
    held.renew()
    store.tick(25)
    with pytest.raises(LockHeld):  # renewed 25 s ago: still held
        acquire(store, "web", holder(2))
    store.tick(10)
    acquire(store, "web", holder(2))  # lapsed: taken over
    held.renew()
    assert held.lost is not None and "pid 2" in held.lost


def test_waiting_takes_the_lock_when_the_holder_releases() -> None:
    store = FakeLocks()
    first = acquire(store, "web", holder(1))
    waits: list[LockRecord] = []
    clock = fake_clock(store)

    def on_wait(record: LockRecord) -> None:
        waits.append(record)
        if len(waits) == 3:
            first.release()

    second = acquire(store, "web", holder(2), wait=60, clock=clock, on_wait=on_wait)
    assert second.record.generation == 2
    assert len(waits) == 3


def test_waiting_gives_up_after_the_lock_timeout() -> None:
    store = FakeLocks()
    acquire(store, "web", holder(1), lease=600)
    clock = fake_clock(store)
    with pytest.raises(LockHeld) as refused:
        acquire(store, "web", holder(2), wait=10, clock=clock)
    assert "after waiting 10s" in refused.value.message
    assert clock.now() == pytest.approx(10)


def test_burned_generations_are_skipped() -> None:
    store = FakeLocks()
    acquire(store, "web", holder(1)).release()
    acquire(store, "web", holder(2)).release()
    for the_id in list(store.images):  # somebody deleted every lock image by hand
        store.delete_lock(the_id)
    third = acquire(store, "web", holder(3))
    assert third.record.generation == 3


def test_a_retried_create_that_meets_its_own_first_attempt_holds_the_lock() -> None:
    class LostAnswer(FakeLocks):
        """The create is done, but its answer was lost and the retry got 409."""

        def create_lock(self, *args: object) -> bool:
            super().create_lock(*args)  # type: ignore[arg-type]
            return False

    store = LostAnswer()
    assert acquire(store, "web", holder(1)).record.generation == 1
    with pytest.raises(LockHeld):  # somebody else's record is not taken for ours
        acquire(store, "web", holder(2))


def test_break_lock_releases_atomically_and_refuses_a_wrong_id() -> None:
    store = FakeLocks()
    held = acquire(store, "web", holder(1))
    with pytest.raises(UserError, match="not the current lock"):
        break_lock(store, "web", "nope", holder(9))
    broken = break_lock(store, "web", held.record.id, holder(9))
    assert broken.holder.pid == 1
    assert current_holder(store, "web") is None
    taken = acquire(store, "web", holder(2))
    assert taken.record.generation == 3
    held.renew()
    assert held.lost is not None
    with pytest.raises(UserError, match="not held"):
        taken.release()
        break_lock(store, "web", taken.record.id, holder(9))


def test_holding_renews_releases_and_reports_a_lost_lock() -> None:
    store = FakeLocks()
    with holding(store, "web", holder(1), lease=3) as held:
        assert current_holder(store, "web") is not None
    assert store.images[held.record.id].state == RELEASED
    with pytest.raises(LockLost), holding(store, "web", holder(1), lease=600) as held:
        break_lock(store, "web", held.record.id, holder(9))
        held.renew()


def test_ci_job_url_from_github_and_gitlab() -> None:
    github = {
        "GITHUB_RUN_ID": "42",
        "GITHUB_REPOSITORY": "acme/infra",
        "GITHUB_SERVER_URL": "https://github.com",
    }
    assert ci_job_url(github) == "https://github.com/acme/infra/actions/runs/42"
    assert ci_job_url({"CI_JOB_URL": "https://gitlab.example/-/jobs/7"}) == (
        "https://gitlab.example/-/jobs/7"
    )
    assert ci_job_url({}) is None


def test_holder_survives_a_round_trip_and_garbage() -> None:
    me = holder(7)
    assert Holder.from_json(me.to_json()) == me
    assert Holder.from_json("not json").user == "unknown"
