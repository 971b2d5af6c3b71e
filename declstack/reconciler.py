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
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from declstack.errors import UserError
from declstack.model import GONE_STATUSES, Action, Change, ObservedServer, Plan
from declstack.port import CloudPort
from declstack.waiting import SYSTEM_CLOCK, Clock, Outcome, State, wait_all

#: A change and its position in the plan (the key that tells duplicates apart).
Keyed = tuple[int, Change]


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
    if server is None or server.status in GONE_STATUSES:
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
        # Changes are keyed by their position in the plan: duplicates of one name
        # share an address, and each must be tracked (and reported) on its own.
        items = list(enumerate(plan.changes))
        updates = [(k, c) for k, c in items if c.action is Action.UPDATE]
        deletes = [(k, c) for k, c in items if c.action is Action.DELETE]
        replaces = [(k, c) for k, c in items if c.action is Action.REPLACE]
        create_first = {
            k for k, c in replaces if c.after and c.after.lifecycle.create_before_destroy
        }
        destroy_first = [(k, c) for k, c in replaces if k not in create_first]
        in_build = [(k, c) for k, c in items if c.action is Action.NOOP and c.is_pending]
        results: dict[int, Result] = {}

        results.update(self._run_updates(updates))

        deleted = self._delete_and_wait(plan.stack, [*deletes, *destroy_first])
        results.update({k: deleted[k] for k, _ in deletes})
        blocked = {k for k, _ in destroy_first if not deleted[k].ok}
        for k, change in destroy_first:
            if k in blocked:
                message = f"not replaced: {deleted[k].message}"
                results[k] = Result(change.address, change.action, False, message)

        to_create = [(k, c) for k, c in items if c.action is Action.CREATE]
        to_create += [(k, c) for k, c in replaces if k not in blocked]
        created = self._create_and_wait(plan.stack, to_create, in_build)
        results.update({k: r for k, r in created.items() if k not in create_first})

        succeeded = [(k, c) for k, c in replaces if k in create_first and created[k].ok]
        for k, change in replaces:
            if k in create_first and not created[k].ok:
                message = f"{created[k].message}; old server kept"
                results[k] = Result(change.address, change.action, False, message)
        old_gone = self._delete_and_wait(plan.stack, succeeded, old_half=True)
        for k, change in succeeded:
            old = old_gone[k]
            message = "has been replaced" if old.ok else f"new server is up, but {old.message}"
            results[k] = Result(
                change.address, change.action, old.ok, message, created[k].server_id
            )
            self._report(results[k])
        return ApplyReport(tuple(results[k] for k in sorted(results)))

    def _parallel(
        self, items: list[Keyed], work: Callable[[Change], Result], doing: str
    ) -> dict[int, Result]:
        """Run `work` on each change with bounded parallelism.

        Events are emitted here, on the calling thread, as results come in: a
        display never runs on a worker thread, and a display failure can never
        turn a successful request into a failed change.
        """
        if not items:
            return {}
        results: dict[int, Result] = {}
        workers = max(1, min(self._settings.parallelism, len(items)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_guard, change, work): key for key, change in items}
            for future in as_completed(futures):
                result = future.result()
                results[futures[future]] = result
                if result.ok and doing:
                    self._emit(
                        Event(result.address, f"{result.address}: {doing} {result.server_id}")
                    )
        return results

    def _run_updates(self, updates: list[Keyed]) -> dict[int, Result]:
        def update(change: Change) -> Result:
            assert change.before is not None and change.patch is not None
            self._cloud.update_server(change.before.id, change.patch)
            return Result(
                change.address, change.action, True, "has been updated in place", change.before.id
            )

        results = self._parallel(updates, update, "")
        for result in results.values():
            self._report(result)
        return results

    def _delete_and_wait(
        self, stack: str, changes: list[Keyed], *, old_half: bool = False
    ) -> dict[int, Result]:
        def delete(change: Change) -> str:
            assert change.before is not None
            self._cloud.delete_server(change.before.id)
            return change.before.id

        results = self._request_and_wait(
            stack,
            changes,
            delete,
            doing="deleting",
            judge=judge_gone,
            timeout=self._settings.delete_timeout,
            target="gone",
            done=lambda action, seconds: (
                "old server destroyed" if old_half else "has been destroyed"
            ),
        )
        if not old_half:
            for _, result in sorted(results.items()):
                if result.action is Action.DELETE:
                    self._report(result)
        return results

    def _create_and_wait(
        self, stack: str, changes: list[Keyed], in_build: list[Keyed]
    ) -> dict[int, Result]:
        def create(change: Change) -> str:
            assert change.create is not None, "plan was not resolved"
            return self._cloud.create_server(change.create)

        def done(action: Action, seconds: float) -> str:
            verb = {Action.CREATE: "created", Action.REPLACE: "replaced"}.get(action, "built")
            return f"has been {verb} (ACTIVE after {seconds:.1f}s)"

        building = {
            k: Result(c.address, c.action, True, "building", c.before.id)
            for k, c in in_build
            if c.before
        }
        results = self._request_and_wait(
            stack,
            changes,
            create,
            doing="creating",
            judge=judge_active,
            timeout=self._settings.create_timeout,
            target="ACTIVE",
            done=done,
            already=building,
        )
        for _, result in sorted(results.items()):
            self._report(result)
        return results

    def _request_and_wait(
        self,
        stack: str,
        changes: list[Keyed],
        send: Callable[[Change], str],
        *,
        doing: str,
        judge: Callable[[ObservedServer | None], tuple[State, str]],
        timeout: float,
        target: str,
        done: Callable[[Action, float], str],
        already: Mapping[int, Result] | None = None,
    ) -> dict[int, Result]:
        """Send one request per change (returning the server id), then wait for all of
        them (and for `already` requested ones) until `judge` says done or failed."""

        def request(change: Change) -> Result:
            return Result(change.address, change.action, True, f"{doing} requested", send(change))

        requested = self._parallel(changes, request, doing)
        requested.update(already or {})
        ids = {r.server_id: k for k, r in sorted(requested.items()) if r.ok and r.server_id}
        addresses = {server_id: requested[k].address for server_id, k in ids.items()}
        outcomes = self._wait(stack, addresses, judge, timeout, doing)
        results = dict(requested)
        for server_id, k in ids.items():
            outcome, asked = outcomes[server_id], requested[k]
            if outcome.state is State.DONE:
                message = done(asked.action, outcome.seconds)
            elif outcome.state is State.TIMED_OUT:
                message = f"not {target} after {outcome.seconds:.0f}s (still {outcome.detail})"
            else:
                message = outcome.detail
            ok = outcome.state is State.DONE
            results[k] = Result(asked.address, asked.action, ok, message, server_id)
        return results

    def _report(self, result: Result) -> None:
        """Tell the display how one change ended."""
        message = f"{result.address} {result.message}"
        self._emit(Event(result.address, message, final=True, ok=result.ok))

    def _wait(
        self,
        stack: str,
        addresses: Mapping[str, str],
        judge: Callable[[ObservedServer | None], tuple[State, str]],
        timeout: float,
        doing: str,
    ) -> dict[str, Outcome[ObservedServer]]:
        """Wait for servers (by id) with one list call per round for the whole stack."""
        if not addresses:
            return {}

        def poll() -> dict[str, ObservedServer]:
            return {server.id: server for server in self._cloud.list_stack_servers(stack)}

        def on_change(server_id: str, outcome: Outcome[ObservedServer]) -> None:
            if outcome.state is State.PENDING:
                name = addresses[server_id]
                self._emit(Event(name, f"{name}: {doing}, {outcome.detail}"))

        return wait_all(
            addresses, poll, judge, timeout=timeout, clock=self._clock, on_change=on_change
        )


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
