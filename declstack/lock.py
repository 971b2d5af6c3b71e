"""A lock per stack, held in the cloud itself, so two runs of one stack never interleave.

No state file and no extra service: the lock is a chain of empty, hidden Glance
images, one per *generation*, each created with an id derived from the project,
the stack and the generation number. Glance creates an image with a client-chosen
id atomically (of racing creates exactly one gets 201, the others 409) and never
lets a deleted id be created again, so "create generation g+1" is the one
compare-and-swap every transition goes through:

- **take**: read the newest generation g. If it is held and its lease has not run
  out, wait or refuse. Otherwise create g+1 as held: the one taker whose create
  succeeds holds the lock; every other one sees 409, reads g+1 and waits.
- **renew**: the holder updates its own image (only the holder writes it), which
  moves the image's `updated_at`; the lease runs from there, on the cloud's clock
  (read from the `Date` header), so clocks of different machines never matter.
- **release**: the holder marks its own image released.
- **break** (`declstack unlock`): create g+1 as released, again atomically.

Older generations are deleted by whoever takes the next one. Why Glance and not
Neutron or Nova: docs/locking.md.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from declstack.errors import UserError
from declstack.waiting import SYSTEM_CLOCK, Clock

#: Namespace of lock image ids: uuid5(NAMESPACE, "<project>/<stack>/<generation>").
NAMESPACE = uuid.UUID("8f6f0c9e-4b8a-5d37-9a51-3c1d2f0e7b64")
HELD = "held"
RELEASED = "released"
#: Default lease: a killed holder's lock is free this long after its last renewal.
DEFAULT_LEASE = 60.0
#: How many burned generations (deleted by hand) a taker skips before giving up.
MAX_SKIPS = 64
#: How often a waiting taker looks again.
WAIT_INTERVAL = 2.0

#: The usual CI variables that hold the URL of the job that runs us.
CI_URL_VARIABLES = (
    "CI_JOB_URL",  # GitLab
    "BUILD_URL",  # Jenkins
    "BUILDKITE_BUILD_URL",
    "CIRCLE_BUILD_URL",
    "ZUUL_LOG_URL",
)


def lock_tag(stack: str) -> str:
    """The Glance tag every lock image of `stack` carries (the list filter)."""
    return f"declstack:lock={stack}"


def lock_id(scope: str, stack: str, generation: int) -> str:
    """The image id of one generation: the same for every taker, so creates collide."""
    return str(uuid.uuid5(NAMESPACE, f"{scope}/{stack}/{generation}"))


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: enough for a person to find the run and decide to break it."""

    user: str
    host: str
    pid: int
    operation: str
    ci_url: str | None = None

    def describe(self) -> str:
        where = f"{self.user}@{self.host} (pid {self.pid}, {self.operation})"
        return where + (f", job {self.ci_url}" if self.ci_url else "")

    def to_json(self) -> str:
        return json.dumps(
            {
                "user": self.user,
                "host": self.host,
                "pid": self.pid,
                "operation": self.operation,
                "ci_url": self.ci_url,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | None) -> Holder:
        try:
            data = json.loads(text or "{}")
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        pid = data.get("pid")
        ci_url = data.get("ci_url")
        return cls(
            user=str(data.get("user") or "unknown"),
            host=str(data.get("host") or "unknown"),
            pid=pid if isinstance(pid, int) else 0,
            operation=str(data.get("operation") or "unknown"),
            ci_url=ci_url if isinstance(ci_url, str) and ci_url else None,
        )

    @classmethod
    def here(cls, operation: str, environ: Mapping[str, str] = os.environ) -> Holder:
        """This process, and the CI job running it if the usual variables say so."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
        return cls(user, socket.gethostname(), os.getpid(), operation, ci_job_url(environ))


def ci_job_url(environ: Mapping[str, str]) -> str | None:
    """The URL of the CI job, from GitHub Actions' or the usual variables."""
    if environ.get("GITHUB_RUN_ID") and environ.get("GITHUB_REPOSITORY"):
        server = environ.get("GITHUB_SERVER_URL") or "https://github.com"
        return f"{server}/{environ['GITHUB_REPOSITORY']}/actions/runs/{environ['GITHUB_RUN_ID']}"
    for name in CI_URL_VARIABLES:
        if environ.get(name):
            return environ[name]
    return None


@dataclass(frozen=True)
class LockRecord:
    """One generation of a stack's lock, as the cloud has it."""

    id: str
    generation: int
    state: str
    holder: Holder
    since: datetime
    renewed: datetime
    lease: float

    def expires(self) -> datetime:
        return self.renewed + timedelta(seconds=self.lease)

    def is_held_at(self, now: datetime) -> bool:
        """Held, and its lease not yet run out at `now` (the cloud's clock)."""
        return self.state == HELD and now < self.expires()


class LockStore(Protocol):
    """Where the lock lives: a handful of Glance image calls."""

    @property
    def scope(self) -> str:
        """What makes ids unique beyond the stack name (the project id)."""
        ...

    def list_locks(self, stack: str) -> tuple[list[LockRecord], datetime]:
        """Every generation of `stack`'s lock, and the cloud's clock now."""
        ...

    def get_lock(self, lock_id: str) -> LockRecord | None:
        """One generation, or None when it does not exist (never made, or deleted)."""
        ...

    def create_lock(
        self, lock_id: str, stack: str, generation: int, state: str, holder: Holder, lease: float
    ) -> bool:
        """Create one generation; False when that id exists or existed (409)."""
        ...

    def update_lock(self, lock_id: str, state: str) -> bool:
        """Set the state of one's own generation, moving its renewal time; False when
        that generation is gone (a later taker deleted it)."""
        ...

    def delete_lock(self, lock_id: str) -> None:
        """Delete an old generation (gone already is success)."""
        ...


class LockHeld(UserError):
    """The stack's lock is held by another run."""

    def __init__(self, stack: str, record: LockRecord, now: datetime, waited: float = 0.0):
        held_for = max(0, int((now - record.since).total_seconds()))
        left = max(0, int((record.expires() - now).total_seconds()))
        waited_text = f" after waiting {waited:.0f}s" if waited else ""
        super().__init__(
            f"stack {stack!r} is locked{waited_text}: held by "
            f"{record.holder.describe()} since {record.since:%Y-%m-%d %H:%M:%S} UTC "
            f"({held_for}s); its lease runs out in {left}s unless renewed (lock id {record.id})",
            hint=f"wait with --lock-timeout SECONDS, or if that run is dead, break the lock: "
            f"declstack unlock SPEC {record.id}",
        )
        self.record = record


class LockLost(UserError):
    """While this run held the lock, another run took it (our lease had run out)."""


@dataclass
class HeldLock:
    """A lock this process holds; `release` it when done (the context manager does)."""

    store: LockStore
    stack: str
    record: LockRecord
    lost: str | None = None

    def renew(self) -> None:
        """Move the lease on, unless another run took the next generation meanwhile."""
        self._set(HELD)

    def release(self) -> None:
        self._set(RELEASED)

    def _set(self, state: str) -> None:
        if self.lost:
            return
        successor = self.store.get_lock(
            lock_id(self.store.scope, self.stack, self.record.generation + 1)
        )
        if successor is not None:
            self.lost = (
                f"the lock of stack {self.stack!r} was taken by "
                f"{successor.holder.describe()} while this run held it"
            )
        elif not self.store.update_lock(self.record.id, state):
            self.lost = f"the lock of stack {self.stack!r} was deleted while this run held it"


def acquire(
    store: LockStore,
    stack: str,
    holder: Holder,
    *,
    lease: float = DEFAULT_LEASE,
    wait: float = 0.0,
    clock: Clock = SYSTEM_CLOCK,
    on_wait: Callable[[LockRecord], None] | None = None,
) -> HeldLock:
    """Take `stack`'s lock, waiting up to `wait` seconds while another run holds it."""
    start = clock.now()
    while True:
        records, now = store.list_locks(stack)
        current = max(records, key=lambda r: r.generation, default=None)
        if current is not None and current.is_held_at(now):
            waited = clock.now() - start
            if waited >= wait:
                raise LockHeld(stack, current, now, wait)
            if on_wait is not None:
                on_wait(current)
            clock.sleep(min(WAIT_INTERVAL, wait - waited))
            continue
        taken = _create_next(store, stack, current, HELD, holder, lease)
        if taken is not None:
            _forget_older(store, records, taken)
            return HeldLock(store, stack, taken)
        # Another taker won the generation we tried: look again (and wait for it).


def break_lock(store: LockStore, stack: str, wanted_id: str, holder: Holder) -> LockRecord:
    """`declstack unlock`: release the lock `wanted_id` whoever holds it; return it.

    Atomic like taking: the next generation is created already released, so a run
    that takes the lock at the same moment either wins before (and its lock is
    the one broken only if its id is `wanted_id`) or after.
    """
    records, _now = store.list_locks(stack)
    current = max(records, key=lambda r: r.generation, default=None)
    if current is None or current.id != wanted_id:
        known = current.id if current is not None else "none"
        raise UserError(
            f"lock {wanted_id} is not the current lock of stack {stack!r} (current: {known})",
            hint="run `declstack plan SPEC` or an apply to see who holds the lock now",
        )
    if current.state != HELD:
        raise UserError(f"lock {wanted_id} of stack {stack!r} is not held; nothing to break")
    broken = _create_next(store, stack, current, RELEASED, holder, 0.0)
    if broken is None:
        raise UserError(
            f"the lock of stack {stack!r} changed hands while breaking it; nothing was broken",
            hint="look again with `declstack plan SPEC`",
        )
    _forget_older(store, records, broken)
    return current


def current_holder(store: LockStore, stack: str) -> tuple[LockRecord, datetime] | None:
    """The lock record when a run holds `stack`'s lock now (for `plan` to say so)."""
    records, now = store.list_locks(stack)
    current = max(records, key=lambda r: r.generation, default=None)
    if current is not None and current.is_held_at(now):
        return current, now
    return None


def _create_next(
    store: LockStore,
    stack: str,
    current: LockRecord | None,
    state: str,
    holder: Holder,
    lease: float,
) -> LockRecord | None:
    """Create the generation after `current`; None when another taker made it first.

    A generation whose id is burned (its image was deleted, by hand or by a taker
    that cleaned up behind a run we did not see) is skipped.
    """
    generation = (current.generation if current is not None else 0) + 1
    for _ in range(MAX_SKIPS):
        the_id = lock_id(store.scope, stack, generation)
        if store.create_lock(the_id, stack, generation, state, holder, lease):
            made = store.get_lock(the_id)
            if made is None:  # deleted between our create and read: treat as lost race
                return None
            return made
        existing = store.get_lock(the_id)
        if existing is not None:
            # A create retried after a lost answer meets its own first attempt.
            return existing if existing.holder == holder and existing.state == state else None
        generation += 1
    raise UserError(
        f"cannot take the lock of stack {stack!r}: {MAX_SKIPS} lock generations in a row "
        "were deleted by hand",
        hint="do not delete declstack's hidden lock images; pass --no-lock to go without",
    )


def _forget_older(store: LockStore, records: list[LockRecord], newest: LockRecord) -> None:
    """Delete generations older than `newest` (best effort: a leftover costs nothing)."""
    for record in records:
        if record.generation < newest.generation:
            with suppress(UserError):
                store.delete_lock(record.id)


@contextmanager
def holding(
    store: LockStore,
    stack: str,
    holder: Holder,
    *,
    lease: float = DEFAULT_LEASE,
    wait: float = 0.0,
    clock: Clock = SYSTEM_CLOCK,
    on_wait: Callable[[LockRecord], None] | None = None,
) -> Iterator[HeldLock]:
    """Hold `stack`'s lock for the body, renewing it every third of the lease."""
    held = acquire(store, stack, holder, lease=lease, wait=wait, clock=clock, on_wait=on_wait)
    stop = threading.Event()

    def renew_loop() -> None:
        while not stop.wait(lease / 3):
            try:
                held.renew()
            except Exception:  # a missed renewal is retried; the lease has slack
                continue

    renewer = threading.Thread(target=renew_loop, name="declstack-lock-renew", daemon=True)
    renewer.start()
    try:
        yield held
    finally:
        stop.set()
        renewer.join(timeout=5.0)
        with suppress(UserError):  # not released: the lease runs out by itself
            held.release()
    if held.lost:
        raise LockLost(held.lost, hint="give the run a longer --lock-lease")
