"""The stack lock against the real Glance: racing takers, exactly one winner every round.

Each racer has its own openstacksdk connection (its own token and HTTP pool), as
separate machines would; a barrier lines them up so their creates arrive together.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import openstack
import pytest

from declstack.cloud import OpenStackCloud
from declstack.lock import HeldLock, Holder, LockHeld, acquire, break_lock, current_holder
from declstack.lockstore import GlanceLockStore
from tests.conformance.conftest import REALSTACK_CLOUD, _connect, realstack_clouds_yaml

pytestmark = pytest.mark.conformance

RACERS = 8
ROUNDS = 10


def _store() -> GlanceLockStore:
    config = openstack.config.OpenStackConfig(config_files=[str(realstack_clouds_yaml())])
    conn = openstack.connection.Connection(config=config.get_one(cloud=REALSTACK_CLOUD))
    store = GlanceLockStore(OpenStackCloud(conn))
    assert store.scope  # authenticate before the race, not during it
    return store


@pytest.fixture
def stack() -> Iterator[str]:
    _connect(REALSTACK_CLOUD)  # skips (or fails in CI) when realstack is not running
    name = "lockrace-" + uuid.uuid4().hex[:8]
    yield name
    store = _store()
    records, _ = store.list_locks(name)
    for record in records:
        store.delete_lock(record.id)


def test_racing_takers_on_real_glance_have_exactly_one_winner(stack: str) -> None:
    stores = [_store() for _ in range(RACERS)]
    winners_per_round: list[int] = []
    for _ in range(ROUNDS):
        barrier = threading.Barrier(RACERS)
        won: list[HeldLock] = []
        refused: list[int] = []
        failed: list[str] = []

        def take(
            i: int,
            barrier: threading.Barrier = barrier,
            won: list[HeldLock] = won,
            refused: list[int] = refused,
            failed: list[str] = failed,
        ) -> None:
            barrier.wait()
            try:
                won.append(acquire(stores[i], stack, Holder("racer", "test", i, "apply")))
            except LockHeld:
                refused.append(i)
            except Exception as exc:
                failed.append(repr(exc))

        threads = [threading.Thread(target=take, args=(i,)) for i in range(RACERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failed
        winners_per_round.append(len(won))
        assert len(won) + len(refused) == RACERS
        for held in won:
            held.release()
    print(f"\nlock race on real Glance: {RACERS} racers x {ROUNDS} rounds, winners per round:")
    print(f"  {winners_per_round}")
    assert winners_per_round == [1] * ROUNDS
    records, _ = stores[0].list_locks(stack)
    assert len(records) == 1, "each winner deletes the generations before its own"


def test_an_expired_lease_is_taken_over_and_unlock_breaks_a_live_one(stack: str) -> None:
    store = _store()
    dead = acquire(store, stack, Holder("ci", "a", 1, "apply"), lease=3)
    with pytest.raises(LockHeld):
        acquire(store, stack, Holder("ci", "b", 2, "apply"))
    time.sleep(4.5)  # the cloud's clock has second resolution
    second = acquire(store, stack, Holder("ci", "b", 2, "apply"), lease=600)
    assert second.record.generation == dead.record.generation + 1
    dead.renew()
    assert dead.lost is not None and "pid 2" in dead.lost
    broken = break_lock(store, stack, second.record.id, Holder("ops", "c", 3, "unlock"))
    assert broken.holder.pid == 2
    assert current_holder(store, stack) is None
    acquire(store, stack, Holder("ci", "d", 4, "apply")).release()


def test_lock_images_stay_out_of_image_lists(stack: str) -> None:
    store = _store()
    held = acquire(store, stack, Holder("ci", "a", 1, "apply"))
    conn: Any = store._conn
    visible = [image["id"] for image in conn.image.get("/images").json()["images"]]
    assert held.record.id not in visible
    held.release()
