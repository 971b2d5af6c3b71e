"""Execute a plan, exactly: it decides nothing that the plan did not say.

Order: in-place updates; deletes (servers removed from the spec, duplicates,
and the old half of a destroy-before-create replacement), waited until gone;
creates (new servers and the new half of every replacement, plus servers a
previous run left in BUILD), waited until ACTIVE; finally the old half of
create-before-destroy replacements, once their successor is ACTIVE. Requests
go out with bounded parallelism; waiting is batched, one list call per round
for the whole stack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from declstack.errors import UserError
from declstack.model import Action, Change, ObservedServer, Plan
from declstack.port import CloudPort
from declstack.waiting import SYSTEM_CLOCK, Clock, Outcome, State, wait_all


@dataclass(frozen=True)
class Event:
    """Something a person may want to see while apply runs."""

    address: str
    message: str
    final: bool = False
    ok: bool = True


@dataclass(frozen=True)
class Result:
    """How one planned change ended."""

    address: str
    action: Action
    ok: bool
    message: str
    server_id: str | None = None


@dataclass(frozen=True)
class ApplyReport:
    results: tuple[Result, ...]

    @property
    def converged(self) -> bool:
        return all(result.ok for result in self.results)

    @property
    def failures(self) -> tuple[Result, ...]:
        return tuple(result for result in self.results if not result.ok)


@dataclass(frozen=True)
class Settings:
    parallelism: int = 10
    create_timeout: float = 900.0
    delete_timeout: float = 600.0


def judge_active(server: ObservedServer | None) -> tuple[State, str]:
    """A created server is done when ACTIVE, failed in ERROR or when it vanished."""
    if server is None:
        return State.PENDING, "not listed yet"
    if server.is_error:
        return State.FAILED, f"went to ERROR: {server.fault or 'no fault message from the cloud'}"
    if server.is_gone:
        return State.FAILED, f"was deleted while building ({server.status})"
    if server.status == "ACTIVE":
        return State.DONE, "ACTIVE"
    detail = server.status + (f" ({server.task_state})" if server.task_state else "")
    return State.PENDING, detail


def judge_gone(server: ObservedServer | None) -> tuple[State, str]:
    """A deleted server is done when it is no longer listed (or listed as DELETED)."""
    if server is None or server.status in ("DELETED", "SOFT_DELETED"):
        return State.DONE, "gone"
    if server.is_error and server.task_state is None:
        return State.FAILED, f"delete failed, server in ERROR: {server.fault or 'no fault message'}"
    return State.PENDING, server.status + (f" ({server.task_state})" if server.task_state else "")


class Reconciler:
    """Applies plans for one stack through a `CloudPort`."""

    def __init__(
        self,
        cloud: CloudPort,
        settings: Settings | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        on_event: Callable[[Event], None] | None = None,
    ):
        self._cloud = cloud
        self._settings = settings or Settings()
        self._clock = clock
        self._emit = on_event or (lambda event: None)

    def apply(self, plan: Plan) -> ApplyReport:
        if plan.errors:
            raise UserError("the plan has errors; nothing was changed")
        results: list[Result] = []
        changes = [c for c in plan.changes if c.action is not Action.NOOP]
        updates = [c for c in changes if c.action is Action.UPDATE]
        replaces = [c for c in changes if c.action is Action.REPLACE]
        create_first = [c for c in replaces if c.after and c.after.lifecycle.create_before_destroy]
        destroy_first = [c for c in replaces if c not in create_first]
        deletes = [c for c in changes if c.action is Action.DELETE]

        results += self._run_updates(updates)

        deleted = self._delete_and_wait(plan.stack, [*deletes, *destroy_first])
        for change in deletes:
            results.append(deleted[change.address])
        blocked = {c.address for c in destroy_first if not deleted[c.address].ok}
        for change in destroy_first:
            if change.address in blocked:
                outcome = deleted[change.address]
                results.append(
                    Result(change.address, change.action, False, f"not replaced: {outcome.message}")
                )

        to_create = [c for c in changes if c.action is Action.CREATE]
        to_create += [c for c in replaces if c.address not in blocked]
        in_build = [
            c
            for c in plan.changes
            if c.action is Action.NOOP and c.before is not None and c.before.is_in_progress
        ]
        created = self._create_and_wait(plan.stack, to_create, in_build)
        for change in [*to_create, *in_build]:
            if change.action is Action.REPLACE and change in create_first:
                continue
            results.append(created[change.address])

        succeeded = [c for c in create_first if created[c.address].ok]
        for change in create_first:
            if change not in succeeded:
                outcome = created[change.address]
                results.append(
                    Result(
                        change.address, change.action, False, f"{outcome.message}; old server kept"
                    )
                )
        old_gone = self._delete_and_wait(plan.stack, succeeded, old_half=True)
        for change in succeeded:
            new = created[change.address]
            old = old_gone[change.address]
            message = "has been replaced" if old.ok else f"new server is up, but {old.message}"
            results.append(Result(change.address, change.action, old.ok, message, new.server_id))
        return ApplyReport(tuple(sorted(results, key=lambda r: r.address)))

    def _parallel(self, items: list[Change], work: Callable[[Change], Result]) -> dict[str, Result]:
        if not items:
            return {}
        workers = max(1, min(self._settings.parallelism, len(items)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return {result.address: result for result in pool.map(lambda c: _guard(c, work), items)}

    def _run_updates(self, updates: list[Change]) -> list[Result]:
        def update(change: Change) -> Result:
            assert change.before is not None and change.patch is not None
            self._cloud.update_server(change.before.id, change.patch)
            message = "has been updated in place"
            self._emit(Event(change.address, f"{change.address} {message}", final=True))
            return Result(change.address, change.action, True, message, change.before.id)

        return list(self._parallel(updates, update).values())

    def _delete_and_wait(
        self, stack: str, changes: list[Change], *, old_half: bool = False
    ) -> dict[str, Result]:
        def delete(change: Change) -> Result:
            assert change.before is not None
            self._cloud.delete_server(change.before.id)
            self._emit(Event(change.address, f"{change.address}: deleting {change.before.id}"))
            return Result(change.address, change.action, True, "delete requested", change.before.id)

        requested = self._parallel(changes, delete)
        ids = {r.server_id: r.address for r in requested.values() if r.ok and r.server_id}
        outcomes = self._wait(stack, ids, judge_gone, self._settings.delete_timeout, "deleting")
        results = dict(requested)
        for server_id, address in ids.items():
            outcome = outcomes[server_id]
            ok = outcome.state is State.DONE
            if ok:
                message = "has been destroyed" if not old_half else "old server destroyed"
            elif outcome.state is State.TIMED_OUT:
                message = f"still not gone after {outcome.seconds:.0f}s ({outcome.detail})"
            else:
                message = outcome.detail
            results[address] = Result(address, requested[address].action, ok, message, server_id)
            if not old_half and requested[address].action is Action.DELETE:
                self._emit(Event(address, f"{address} {message}", final=True, ok=ok))
        return results

    def _create_and_wait(
        self, stack: str, changes: list[Change], in_build: list[Change]
    ) -> dict[str, Result]:
        def create(change: Change) -> Result:
            assert change.create is not None, "plan was not resolved"
            server_id = self._cloud.create_server(change.create)
            self._emit(Event(change.address, f"{change.address}: creating ({server_id})"))
            return Result(change.address, change.action, True, "create requested", server_id)

        requested = self._parallel(changes, create)
        for change in in_build:
            assert change.before is not None
            requested[change.address] = Result(
                change.address, change.action, True, "was building", change.before.id
            )
        ids = {r.server_id: r.address for r in requested.values() if r.ok and r.server_id}
        outcomes = self._wait(stack, ids, judge_active, self._settings.create_timeout, "booting")
        results = dict(requested)
        for server_id, address in ids.items():
            outcome = outcomes[server_id]
            action = requested[address].action
            ok = outcome.state is State.DONE
            if ok:
                verb = {Action.CREATE: "created", Action.REPLACE: "replaced"}.get(action, "built")
                message = f"has been {verb} (ACTIVE after {outcome.seconds:.1f}s)"
            elif outcome.state is State.TIMED_OUT:
                message = f"not ACTIVE after {outcome.seconds:.0f}s (still {outcome.detail})"
            else:
                message = outcome.detail
            results[address] = Result(address, action, ok, message, server_id)
            self._emit(Event(address, f"{address} {message}", final=True, ok=ok))
        return results

    def _wait(
        self,
        stack: str,
        ids: Mapping[str, str],
        judge: Callable[[ObservedServer | None], tuple[State, str]],
        timeout: float,
        doing: str,
    ) -> dict[str, Outcome[ObservedServer]]:
        if not ids:
            return {}

        def poll() -> dict[str, ObservedServer]:
            return {server.id: server for server in self._cloud.list_stack_servers(stack)}

        def on_change(server_id: str, outcome: Outcome[ObservedServer]) -> None:
            if outcome.state is State.PENDING:
                self._emit(Event(ids[server_id], f"{ids[server_id]}: {doing}, {outcome.detail}"))

        return wait_all(ids, poll, judge, timeout=timeout, clock=self._clock, on_change=on_change)


def _guard(change: Change, work: Callable[[Change], Result]) -> Result:
    try:
        return work(change)
    except UserError as exc:
        return Result(change.address, change.action, False, exc.message)
    except Exception as exc:
        return Result(change.address, change.action, False, f"{type(exc).__name__}: {exc}")


def summarize(results: Iterable[Result]) -> str:
    """One closing line: counts of what happened."""
    results = list(results)
    failed = sum(1 for r in results if not r.ok)
    done = len(results) - failed
    return f"Apply complete: {done} succeeded, {failed} failed."
