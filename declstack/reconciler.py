"""Execute a plan, exactly: it decides nothing that the plan did not say.

Order: in-place updates; deletes (servers removed from the spec, duplicates,
and the old half of a destroy-before-create replacement), waited until gone;
creates (new servers and the new half of every replacement, plus servers a
previous run left in BUILD), waited until ACTIVE; finally the old half of
create-before-destroy replacements, once their successor is ACTIVE. Then the
changes the plan put in rollout batches (`Change.batch`), the same way batch
by batch, each batch healthy before the next. Requests go out with bounded
parallelism; waiting is batched, one list call per round for the whole stack.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, replace

from declstack.errors import UserError
from declstack.health import HealthRunner, Probe, Verdict, run_health_commands
from declstack.kinds import server_group
from declstack.kinds.security_group import canonical_rule
from declstack.model import (
    GONE_STATUSES,
    POWER_START,
    POWER_STOP,
    STATE_SHUTOFF,
    VOLUME_SETTLED,
    Action,
    Batch,
    Change,
    Kind,
    ObservedRule,
    ObservedServer,
    ObservedVolume,
    Plan,
    ServerPatch,
    frozen_map,
)
from declstack.ownership import HEALTH_KEY, MAX_METADATA_VALUE
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
    #: A step of the apply as a whole (a rollout batch starts, pauses, stops), worth a
    #: line of its own however big the apply; not the state of one resource.
    milestone: bool = False


@dataclass(frozen=True)
class Result:
    """How one planned change ended."""

    address: str
    action: Action
    ok: bool
    message: str
    #: The id (a key pair's name) of the resource the change made or acted on.
    resource_id: str | None = None
    #: The server was built but went to ERROR: a fresh one may well boot.
    in_error: bool = False
    #: The server's addresses (network, ip) once the change is done, where known; a
    #: floating IP's (network id, address).
    addresses: tuple[tuple[str, str], ...] = ()
    #: Seconds from the change's first request (or the start of waiting for a server
    #: another run left in BUILD) to its outcome.
    seconds: float | None = None
    #: Not failed, but still not done when --timeout ran out.
    timed_out: bool = False


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
    #: Builds per server when one goes to ERROR while waited for (the first included).
    create_attempts: int = 3
    #: After an interrupt, how long requests already on the wire may take to answer.
    interrupt_grace: float = 10.0


class ApplyInterrupted(KeyboardInterrupt):
    """Apply was stopped (SIGINT / SIGTERM): what had been requested, and what not.

    Queued requests are cancelled, never sent; those already sent had
    `interrupt_grace` seconds to answer. Every server requested carries the
    stack's marker, so the next apply finds it and converges.
    """

    def __init__(
        self,
        cause: BaseException,
        requested: tuple[str, ...],
        unanswered: tuple[str, ...],
        not_requested: tuple[str, ...],
    ) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.requested = requested
        self.unanswered = unanswered
        self.not_requested = not_requested


def judge_active(server: ObservedServer | None) -> tuple[State, str]:
    """A created server is done when ACTIVE, failed in ERROR or when it vanished. One a
    previous run left in REBUILD is done in SHUTOFF too (Nova keeps a stopped server
    stopped through a rebuild)."""
    if server is None:
        return State.PENDING, "not listed yet"
    if server.is_error:
        return State.FAILED, f"went to ERROR: {server.fault or 'no fault message from the cloud'}"
    if server.is_gone:
        return State.FAILED, f"was deleted while building ({server.status})"
    if server.status == "ACTIVE" or (server.status == "SHUTOFF" and server.task_state is None):
        return State.DONE, server.status
    detail = server.status + (f" ({server.task_state})" if server.task_state else "")
    return State.PENDING, detail


#: The statuses a server settles in after a resize is confirmed or a rebuild (the
#: power state it had before: Nova keeps a stopped server stopped).
SETTLED = frozenset({"ACTIVE", "SHUTOFF"})


def judge_settled(
    targets: Collection[str], *, undone: str | None = None
) -> Callable[[ObservedServer | None], tuple[State, str]]:
    """A server action is done when the server shows one of `targets` with no task
    running; failed in ERROR (with Nova's fault), when the server went, or, given
    `undone`, when it settled back where it was (Nova rolls some failures back)."""

    def judge(server: ObservedServer | None) -> tuple[State, str]:
        if server is None or server.is_gone:
            return State.FAILED, "the server is gone"
        if server.is_error:
            return State.FAILED, f"went to ERROR: {server.fault or 'no fault message'}"
        detail = server.status + (f" ({server.task_state})" if server.task_state else "")
        if server.task_state is None and server.status in targets:
            return State.DONE, detail
        if undone is not None and server.task_state is None and server.status in SETTLED:
            return State.FAILED, f"{undone} ({server.status})"
        return State.PENDING, detail

    return judge


@dataclass(frozen=True)
class ServerStep:
    """One kind of server action in an in-place update: which patches ask for it, the
    request, when the server is done with it, and the words for the outcome."""

    what: str
    doing: str
    wanted: Callable[[ServerPatch], bool]
    send: Callable[[CloudPort, str, ServerPatch], None]
    judge: Callable[[ObservedServer | None], tuple[State, str]]
    verb: Callable[[ServerPatch], str] | None = None


def _flavor_id(patch: ServerPatch) -> str:
    assert patch.resize_flavor_id is not None, "plan was not resolved"
    return patch.resize_flavor_id


def _image_id(patch: ServerPatch) -> str:
    assert patch.rebuild_image_id is not None, "plan was not resolved"
    return patch.rebuild_image_id


#: Before metadata and the fingerprint are written: a stop first (the guest is down
#: before its disk moves), then resize and confirm, then rebuild (on the new flavor's
#: disk, which a new image may need).
STEPS_BEFORE_WRITES = (
    ServerStep(
        "stop",
        "stopping",
        lambda p: p.power == POWER_STOP,
        lambda cloud, server_id, p: cloud.stop_server(server_id),
        judge_settled({"SHUTOFF"}, undone="is not stopped: the stop did not take"),
        lambda p: "stopped",
    ),
    ServerStep(
        "resize",
        "resizing",
        lambda p: p.resize_to is not None,
        lambda cloud, server_id, p: cloud.resize_server(server_id, _flavor_id(p)),
        judge_settled(
            {"VERIFY_RESIZE"},
            undone="is back on its old flavor: Nova did not resize it (a server not in "
            "ERROR shows no fault; `openstack server event list` says why; a cloud with "
            "one compute host needs allow_resize_to_same_host)",
        ),
    ),
    ServerStep(
        "confirm resize",
        "confirming the resize",
        lambda p: p.resize_to is not None or p.confirm_resize,
        lambda cloud, server_id, p: cloud.confirm_resize(server_id),
        judge_settled(SETTLED),
        lambda p: f'resized to "{p.resize_to}"' if p.resize_to else "confirmed on its new flavor",
    ),
    ServerStep(
        "rebuild",
        "rebuilding",
        lambda p: p.rebuild_with is not None,
        lambda cloud, server_id, p: cloud.rebuild_server(server_id, _image_id(p)),
        judge_settled(SETTLED),
        lambda p: f'rebuilt from "{p.rebuild_with}"',
    ),
)
#: After them: a start last.
STEPS_AFTER_WRITES = (
    ServerStep(
        "start",
        "starting",
        lambda p: p.power == POWER_START,
        lambda cloud, server_id, p: cloud.start_server(server_id),
        judge_settled({"ACTIVE"}, undone="is not running: the start did not take"),
        lambda p: "started",
    ),
)


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
        health: HealthRunner = run_health_commands,
    ):
        self._cloud = cloud
        self._settings = settings or Settings()
        self._clock = clock
        self._emit = on_event or (lambda event: None)
        self._health = health

    def apply(self, plan: Plan) -> ApplyReport:
        """Execute `plan`; on SIGINT/SIGTERM raise `ApplyInterrupted` saying what was sent."""
        if plan.errors:
            raise UserError("the plan has errors; nothing was changed")
        self._stack = plan.stack
        #: Placeholder address -> id of the groups this apply created.
        self._group_ids: dict[str, str] = {}
        self._sent: dict[int, Change] = {}
        self._unanswered: dict[int, Change] = {}
        #: When each change's first request started, and when its outcome was reported.
        self._begun: dict[int, float] = {}
        self._ended: dict[int, float] = {}
        #: Changes of the rollout batch that runs: reported once their health is known.
        self._holding: set[int] = set()
        try:
            return self._apply(plan)
        except ApplyInterrupted:
            raise
        except KeyboardInterrupt as exc:
            changes = list(enumerate(plan.changes))
            waited = {k for k, c in changes if c.action is Action.WAIT}
            not_requested = [
                c
                for k, c in changes
                if c.is_pending and k not in waited | self._sent.keys() | self._unanswered.keys()
            ]
            raise ApplyInterrupted(
                exc,
                requested=_labels(c for _, c in sorted(self._sent.items())),
                unanswered=_labels(c for _, c in sorted(self._unanswered.items())),
                not_requested=_labels(not_requested),
            ) from None

    def _apply(self, plan: Plan) -> ApplyReport:
        # Changes are keyed by their position in the plan: duplicates of one name
        # share an address, and each must be tracked (and reported) on its own.
        everything = list(enumerate(plan.changes))
        groups = [(k, c) for k, c in everything if c.kind is Kind.SECURITY_GROUP]
        items = [(k, c) for k, c in everything if c.kind is Kind.SERVER]
        fips = [(k, c) for k, c in everything if c.kind is Kind.FLOATING_IP]
        keys = [(k, c) for k, c in everything if c.kind is Kind.KEYPAIR]
        vols = [(k, c) for k, c in everything if c.kind is Kind.VOLUME]
        placements = [(k, c) for k, c in everything if c.kind is Kind.SERVER_GROUP]
        # Key pairs, groups (with their rules) and server groups first: servers use them.
        results: dict[int, Result] = self._keypairs_first(keys)
        results.update(self._groups_first(groups))
        results.update(self._server_groups_first(placements))
        # Floating IPs to release go before their servers do.
        results.update(self._release_floating_ips(fips))
        # Data volumes are made, grown, moved off servers that stay, or deleted first.
        results.update(self._volumes_first(vols))
        # Rolled changes (`rollout:`) wait for the others, then go batch by batch, each
        # batch with its servers' floating IPs.
        rolled = [(k, c) for k, c in items if c.batch is not None]
        fips, rolled_fips = _split_floating_ips(fips, {c.name for _, c in rolled})
        rolled_names = {c.name for _, c in rolled}
        # Those of rolled servers are attached batch by batch.
        rolled_vols = [(k, c) for k, c in vols if _attaches_to(c) in rolled_names]
        vols = [(k, c) for k, c in vols if _attaches_to(c) not in rolled_names]
        servers = self._servers(plan, [(k, c) for k, c in items if c.batch is None])
        results.update(servers)
        # Floating IPs are put on servers once those are ACTIVE.
        up = {
            c.name: (servers[k].resource_id if k in servers else None)
            or (c.before.id if c.before else None)
            for k, c in items
            if c.action is not Action.DELETE and (k not in servers or servers[k].ok)
        }
        results.update(self._place_floating_ips(fips, up))
        # Data volumes go on their servers once those are ACTIVE (a rolled server's in
        # its batch, before the health check).
        results.update(self._attach_volumes(vols, up))
        rolled_out = self._rollouts(plan.stack, rolled, rolled_fips, rolled_vols)
        results.update(rolled_out)
        servers.update({k: rolled_out[k] for k, _ in rolled})
        # Groups and key pairs the spec dropped go last, after the servers.
        results.update(self._groups_last(groups))
        unfinished = {
            c.after.entry
            for k, c in items
            if c.after is not None and k in servers and not servers[k].ok
        }
        results.update(self._server_groups_last(placements, results, unfinished))
        results.update(self._keypairs_last(keys))
        finished = self._clock.now()
        return ApplyReport(tuple(self._timed(k, results[k], finished) for k in sorted(results)))

    def _timed(self, key: int, result: Result, finished: float) -> Result:
        begun = self._begun.get(key, finished)
        return replace(result, seconds=round(max(0.0, self._ended.get(key, finished) - begun), 3))

    # --- key pairs -------------------------------------------------------------------

    def _keypairs_first(self, keys: list[Keyed]) -> dict[int, Result]:
        def make(key: int, change: Change) -> Result:
            assert change.keypair is not None and change.keypair.upload is not None
            if change.action is Action.DELETE_THEN_CREATE:
                self._cloud.delete_keypair(change.name)
            self._cloud.create_keypair(change.name, change.keypair.upload)
            verb = "created" if change.action is Action.CREATE else "replaced"
            return Result(change.address, change.action, True, f"has been {verb}", change.name)

        builds = [(k, c) for k, c in keys if c.action.builds]
        results = self._parallel(builds, make, "")
        for k, result in sorted(results.items()):
            self._report(result, k)
        return results

    def _keypairs_last(self, keys: list[Keyed]) -> dict[int, Result]:
        def delete(key: int, change: Change) -> Result:
            self._cloud.delete_keypair(change.name)
            return Result(change.address, change.action, True, "has been destroyed", change.name)

        results = self._parallel([(k, c) for k, c in keys if c.action is Action.DELETE], delete, "")
        for k, result in sorted(results.items()):
            self._report(result, k)
        return results

    # --- floating IPs ----------------------------------------------------------------

    def _release_floating_ips(self, fips: list[Keyed]) -> dict[int, Result]:
        def release(key: int, change: Change) -> Result:
            assert change.floating_ip is not None and change.floating_ip.before is not None
            before = change.floating_ip.before
            self._cloud.delete_floating_ip(before.id)
            return Result(
                change.address,
                change.action,
                True,
                f"{before.address} has been released",
                before.id,
            )

        results = self._parallel(
            [(k, c) for k, c in fips if c.action is Action.DELETE], release, ""
        )
        for k, result in sorted(results.items()):
            self._report(result, k)
        return results

    def _place_floating_ips(
        self, fips: list[Keyed], up: Mapping[str, str | None]
    ) -> dict[int, Result]:
        """Allocate (and tag) the new ones, then associate each with its server's port."""
        placing = [(k, c) for k, c in fips if c.action in (Action.CREATE, Action.UPDATE)]
        ports = self._cloud.server_ports() if placing else {}

        def place(key: int, change: Change) -> Result:
            payload = change.floating_ip
            assert payload is not None and payload.server is not None
            server_id = up.get(payload.server)
            if server_id is None:
                raise UserError(f"server.{payload.server} is not up, so its floating IP waits")
            port = ports.get(server_id)
            if port is None:
                raise UserError(f"server.{payload.server} has no port to put a floating IP on")
            if change.action is Action.CREATE:
                assert payload.network is not None
                fip = self._cloud.create_floating_ip(self._stack, payload.server, payload.network)
                verb = "has been allocated and associated"
            else:
                assert payload.before is not None
                fip = payload.before
                verb = "has been associated"
            self._cloud.associate_floating_ip(fip.id, port)
            return Result(
                change.address,
                change.action,
                True,
                f"{fip.address} {verb}",
                fip.id,
                addresses=((fip.network_id, fip.address),),
            )

        results = self._parallel(placing, place, "")
        for k, result in sorted(results.items()):
            self._report(result, k)
        return results

    def _servers(self, plan: Plan, items: list[Keyed]) -> dict[int, Result]:
        results, succeeded, created = self._build(plan.stack, items)
        results.update(self._old_halves(plan.stack, succeeded, created))
        return results

    def _build(
        self, stack: str, items: list[Keyed]
    ) -> tuple[dict[int, Result], list[Keyed], dict[int, Result]]:
        """Updates, deletes, creates: every server change but the old halves of
        create-before-destroy replacements. Returns the results so far, the replacements
        whose new server is up and whose old one is still to go, and the creates."""
        updates = [(k, c) for k, c in items if c.action is Action.UPDATE]
        deletes = [(k, c) for k, c in items if c.action is Action.DELETE]
        replaces = [(k, c) for k, c in items if c.action.is_replace]
        create_first = {k for k, c in replaces if c.action is Action.CREATE_THEN_DELETE}
        destroy_first = [(k, c) for k, c in replaces if k not in create_first]
        in_build = [(k, c) for k, c in items if c.action is Action.WAIT]
        results: dict[int, Result] = {}

        results.update(self._run_updates(stack, updates))

        deleted = self._delete_and_wait(stack, [*deletes, *destroy_first])
        results.update({k: deleted[k] for k, _ in deletes})
        blocked = {k for k, _ in destroy_first if not deleted[k].ok}
        for k, change in destroy_first:
            if k in blocked:
                message = f"not replaced: {deleted[k].message}"
                results[k] = Result(change.address, change.action, False, message)

        to_create = [(k, c) for k, c in items if c.action is Action.CREATE]
        to_create += [(k, c) for k, c in replaces if k not in blocked]
        created = self._create_and_wait(stack, to_create, in_build)
        results.update({k: r for k, r in created.items() if k not in create_first})

        succeeded = [(k, c) for k, c in replaces if k in create_first and created[k].ok]
        for k, change in replaces:
            if k in create_first and not created[k].ok:
                message = f"{created[k].message}; old server kept"
                results[k] = Result(change.address, change.action, False, message)
        return results, succeeded, created

    def _old_halves(
        self, stack: str, succeeded: list[Keyed], created: Mapping[int, Result]
    ) -> dict[int, Result]:
        """Delete the old server of each create-before-destroy replacement whose new one
        is up, and say how the replacement ended."""
        results: dict[int, Result] = {}
        old_gone = self._delete_and_wait(stack, succeeded, old_half=True)
        for k, change in succeeded:
            old = old_gone[k]
            message = "has been replaced" if old.ok else f"new server is up, but {old.message}"
            results[k] = Result(
                change.address,
                change.action,
                old.ok,
                message,
                created[k].resource_id,
                addresses=created[k].addresses,
            )
            self._report(results[k], k)
        return results

    # --- rolling replacement (`rollout:`) ----------------------------------------------

    def _rollouts(
        self, stack: str, rolled: list[Keyed], fips: list[Keyed], vols: list[Keyed]
    ) -> dict[int, Result]:
        """Batch 1 of every entry with `rollout:`, then batch 2, and so on. A batch is done
        when its servers are ACTIVE and each passed the entry's health command; then the
        entry pauses. A failed batch stops its entry's rollout: the changes of its later
        batches are not started, and their servers are left as they are."""
        results: dict[int, Result] = {}
        stopped: dict[str, str] = {}
        for number in sorted({_batch_of(c).number for _, c in rolled}):
            here = [(k, c) for k, c in rolled if _batch_of(c).number == number]
            for k, change in here:
                where = stopped.get(_batch_of(change).entry)
                if where is not None:
                    message = f"was left untouched: {where}; the next apply goes on from there"
                    results[k] = Result(change.address, change.action, False, message)
                    self._report(results[k], k)
            wave = [(k, c) for k, c in here if _batch_of(c).entry not in stopped]
            if not wave:
                continue
            done, problems = self._wave(stack, wave, fips, vols)
            results.update(done)
            pause = 0.0
            for entry, members in _by_entry(wave).items():
                batch = _batch_of(members[0][1])
                failed = [problems[k] for k, _ in members if k in problems]
                if failed:
                    where = f'rollout of "{entry}" stopped at batch {batch.number} of {batch.of}'
                    stopped[entry] = f"the {where} ({'; '.join(failed)})"
                    left = [
                        c.address
                        for _, c in rolled
                        if _batch_of(c).entry == entry and _batch_of(c).number > number
                    ]
                    untouched = ", ".join(left) or "none"
                    self._milestone(
                        f"rollout.{entry}",
                        f"{where}: {'; '.join(failed)}; left untouched: {untouched}",
                        ok=False,
                    )
                elif batch.number < batch.of:
                    rollout = members[0][1].after.rollout if members[0][1].after else None
                    pause = max(pause, rollout.pause if rollout else 0.0)
            if pause > 0:
                self._milestone(
                    "rollout", f"rollout: batch {number} is healthy; pausing {pause:g}s"
                )
                self._clock.sleep(pause)
        for k, change in fips:
            if k not in results:
                assert change.floating_ip is not None
                server = f"{Kind.SERVER.value}.{change.floating_ip.server}"
                message = f"was left as it is: its rollout did not reach {server}"
                results[k] = Result(change.address, change.action, False, message)
                self._report(results[k], k)
        for k, change in vols:
            if k not in results:
                server = f"{Kind.SERVER.value}.{_volume_server(change)}"
                broken = self._volume_failed.get(k)
                message = f"was left as it is: its rollout did not reach {server}"
                results[k] = broken or Result(change.address, change.action, False, message)
                self._report(results[k], k)
        return results

    def _wave(
        self, stack: str, wave: list[Keyed], fips: list[Keyed], vols: list[Keyed]
    ) -> tuple[dict[int, Result], dict[int, str]]:
        """One batch of each entry in `wave`: its changes carried out as without a rollout,
        its servers' floating IPs and data volumes put on them, then the health command
        once per server that is up. An entry whose batch has a server that is not up or
        not healthy fails; its create-before-destroy replacements are undone (new servers
        deleted, old ones kept with their floating IPs and volumes), and a server that
        failed its check and stays is marked so. Returns the results (floating IPs and
        volumes too) and, per failed change, why."""
        keys = {k for k, _ in wave}
        for entry, members in _by_entry(wave).items():
            batch = _batch_of(members[0][1])
            self._milestone(
                f"rollout.{entry}",
                f'rollout of "{entry}": batch {batch.number} of {batch.of} '
                f"({', '.join(c.address for _, c in members)})",
            )
        self._holding |= keys
        results, swapping, created = self._build(stack, wave)
        later = dict(swapping)
        up = {
            k: created[k] if k in later else results[k]
            for k, _ in wave
            if (created[k] if k in later else results[k]).ok
        }
        names = {c.name: k for k, c in wave}
        ids = {c.name: up[k].resource_id for k, c in wave if k in up}
        # A floating IP goes on before the health check, so the check can use it; with
        # create_before_destroy it stays on the old server until the batch is healthy.
        first = [
            (fk, f)
            for fk, f in fips
            if _server_of(f) in names and names[_server_of(f)] not in later
        ]
        moved = [
            (fk, f) for fk, f in fips if _server_of(f) in names and names[_server_of(f)] in later
        ]
        placed = self._place_floating_ips(first, ids)
        # Data volumes too (a create-before-destroy one is on the old server till it goes).
        wave_vols = [(vk, v) for vk, v in vols if _volume_server(v) in names]
        placed.update(
            self._attach_volumes(
                [(vk, v) for vk, v in wave_vols if names[_volume_server(v)] not in later], ids
            )
        )
        floating = {
            _server_of(f): placed[fk].addresses[0][1]
            for fk, f in first
            if placed[fk].ok and placed[fk].addresses
        }
        verdicts = self._check_health(wave, up, floating)
        problems: dict[int, str] = {}
        for k, change in wave:
            if k not in up:
                problems[k] = f"{change.address} did not come up: {results[k].message}"
            elif k in verdicts and not verdicts[k].healthy:
                problems[k] = f"{change.address} failed its health check: {verdicts[k].detail}"
        failed_entries = {_batch_of(c).entry for k, c in wave if k in problems}
        keep = [(k, c) for k, c in swapping if _batch_of(c).entry not in failed_entries]
        undo = [(k, c) for k, c in swapping if _batch_of(c).entry in failed_entries]
        results.update(self._old_halves(stack, keep, created))
        placed.update(
            self._place_floating_ips(
                [(fk, f) for fk, f in moved if names[_server_of(f)] in dict(keep)], ids
            )
        )
        placed.update(
            self._attach_volumes(
                [(vk, v) for vk, v in wave_vols if names[_volume_server(v)] in dict(keep)], ids
            )
        )
        batches = {k: {j for j, _ in m} for m in _by_entry(wave).values() for k, _ in m}
        results.update(self._undo(stack, undo, created, problems, batches))
        notes = self._mark_health(wave, results, verdicts, {k for k, _ in undo})
        for vk, v in wave_vols:
            if vk not in placed:
                server = f"{Kind.SERVER.value}.{_volume_server(v)}"
                message = f"was left on the old {server}: its batch failed"
                placed[vk] = Result(v.address, v.action, False, message)
                self._report(placed[vk], vk)
        for fk, f in moved:
            if fk not in placed:
                server = f"{Kind.SERVER.value}.{_server_of(f)}"
                message = f"was left on the old {server}: its batch failed"
                placed[fk] = Result(f.address, f.action, False, message)
                self._report(placed[fk], fk)
        self._holding -= keys
        for k, change in wave:
            if change.patch is not None and _rechecks_only(change.patch) and results[k].ok:
                results[k] = replace(results[k], message="has been checked again")
            results[k] = _judged(results[k], _batch_of(change), verdicts.get(k))
            if k in notes:
                results[k] = replace(results[k], message=f"{results[k].message}; {notes[k]}")
            self._report(results[k], k)
        return {**results, **placed}, problems

    def _mark_health(
        self,
        wave: list[Keyed],
        results: Mapping[int, Result],
        verdicts: Mapping[int, Verdict],
        undone: Collection[int],
    ) -> dict[int, str]:
        """Record a failed health check on a server that stays (nothing to go back to),
        so the next plan checks it again before its rollout goes on; take the record off a
        server that passed. Returns what went wrong doing so, per change."""
        marks: dict[int, ServerPatch] = {}
        for k, change in wave:
            verdict = verdicts.get(k)
            if verdict is None or k in undone or results[k].resource_id is None:
                continue
            if not verdict.healthy:
                # How it failed, not what the command printed (that may hold anything).
                failed = verdict.detail.split(": ", 1)[0][:MAX_METADATA_VALUE]
                marks[k] = ServerPatch(set_metadata=frozen_map({HEALTH_KEY: failed}))
            elif change.patch is not None and change.patch.recheck_health:
                marks[k] = ServerPatch(delete_metadata=(HEALTH_KEY,))

        def mark(key: int, change: Change) -> Result:
            server_id = results[key].resource_id
            assert server_id is not None
            self._cloud.update_server(server_id, marks[key])
            return results[key]

        done = self._parallel([(k, c) for k, c in wave if k in marks], mark, "")
        return {
            k: f"{'recording' if marks[k].set_metadata else 'taking off the record of'} the "
            f"failed health check on the server failed: {outcome.message}"
            for k, outcome in done.items()
            if not outcome.ok
        }

    def _check_health(
        self, wave: list[Keyed], up: Mapping[int, Result], floating: Mapping[str, str]
    ) -> dict[int, Verdict]:
        """Run each entry's health command once per server of its batch that is up (and
        meant to run: a server with `state: shutoff` has nothing to answer)."""
        verdicts: dict[int, Verdict] = {}
        for members in _by_entry(wave).values():
            after = members[0][1].after
            health = after.rollout.health if after and after.rollout else None
            if health is None:
                continue
            probes = [
                Probe(
                    k, c.name, floating.get(c.name) or _address(up[k], c), up[k].resource_id or ""
                )
                for k, c in members
                if k in up and c.after is not None and c.after.state != STATE_SHUTOFF
            ]
            if not probes:
                continue
            for probe in probes:
                address = f"{Kind.SERVER.value}.{probe.name}"
                self._emit(Event(address, f"{address}: checking health"))
            verdicts.update(
                self._health(health.command, health.timeout, probes, self._settings.parallelism)
            )
        return verdicts

    def _undo(
        self,
        stack: str,
        undo: list[Keyed],
        created: Mapping[int, Result],
        problems: Mapping[int, str],
        entries: Mapping[int, Collection[int]],
    ) -> dict[int, Result]:
        """A failed batch's create-before-destroy replacements: delete the new servers,
        keep the old ones. `entries`: per change, the changes of its entry's batch."""
        gone = self._request_and_wait(
            stack,
            undo,
            functools.partial(self._delete_listed, {k: created[k].resource_id for k, _ in undo}),
            doing="deleting the new server",
            judge=judge_gone,
            timeout=self._settings.delete_timeout,
            target="gone",
            done=lambda action, seconds: "gone",
        )
        results: dict[int, Result] = {}
        for k, change in undo:
            new = created[k].resource_id
            own = problems.get(k, "").removeprefix(f"{change.address} ")
            others = "; ".join(problems[j] for j in problems if j in entries[k])
            why = f"the new server {own}" if own else f"its batch failed ({others})"
            if gone[k].ok:
                message = f"not replaced: {why}; the new server was deleted, the old one kept"
            else:
                message = (
                    f"not replaced: {why}; the old server is kept, but deleting the new one "
                    f"({new}) failed: {gone[k].message}"
                )
            results[k] = Result(change.address, change.action, False, message, new)
        return results

    def _milestone(self, address: str, message: str, *, ok: bool = True) -> None:
        self._emit(Event(address, message, ok=ok, milestone=True))

    # --- volumes ---------------------------------------------------------------------

    def _volumes_first(self, vols: list[Keyed]) -> dict[int, Result]:
        """Before the servers change: remake volumes in error, make the new ones, detach
        those that move off a server that stays or that go, grow those that grow, delete
        those that go; each step one batch of requests and one wait. Returns how the
        changes with nothing left to do ended; the others end in `_attach_volumes`."""
        self._volume_ids: dict[int, str] = {
            k: c.volume.before.id for k, c in vols if c.volume and c.volume.before
        }
        self._volume_failed: dict[int, Result] = {}
        self._volume_done: dict[int, list[str]] = {k: [] for k, _ in vols}
        #: The volume as the last wait that was done with it saw it.
        self._volume_seen: dict[int, ObservedVolume] = {}
        stack = self._stack

        def fine(action: Action) -> list[Keyed]:
            return [(k, c) for k, c in vols if c.action is action and k not in self._volume_failed]

        self._volume_step(
            stack,
            fine(Action.DELETE_THEN_CREATE),
            lambda c, v: self._cloud.delete_volume(v or ""),
            "deleting",
            _volume_judge(lambda k, v: False, gone=True),
            self._settings.delete_timeout,
        )
        made = [*fine(Action.CREATE), *fine(Action.DELETE_THEN_CREATE)]
        # Volumes another run left on their way: settled first (then attached, if asked).
        self._volume_step(
            stack,
            fine(Action.WAIT),
            None,
            "waiting",
            _volume_judge(lambda k, v: v.status in VOLUME_SETTLED),
            self._settings.create_timeout,
            note=lambda c: "waited for",
        )

        def create(change: Change, volume_id: str | None) -> str:
            assert change.volume is not None and change.volume.after is not None
            return self._cloud.create_volume(stack, change.volume.after)

        self._volume_step(
            stack,
            made,
            create,
            "creating",
            _volume_judge(lambda k, v: v.status == "available"),
            self._settings.create_timeout,
            note=lambda c: f"created ({_size(c)} GB)",
        )
        moving = [
            (k, c)
            for k, c in vols
            if c.volume and c.volume.detach_from and k not in self._volume_failed
        ]

        def detach(change: Change, volume_id: str | None) -> None:
            assert change.volume is not None and change.volume.detach_from is not None
            assert volume_id is not None
            self._cloud.detach_volume(change.volume.detach_from, volume_id)

        self._volume_step(
            stack,
            moving,
            detach,
            "detaching",
            _volume_judge(lambda k, v: v.status == "available"),
            self._settings.delete_timeout,
        )
        growing = [
            (k, c)
            for k, c in vols
            if c.volume and c.volume.extend_to and k not in self._volume_failed
        ]

        def extend(change: Change, volume_id: str | None) -> None:
            assert change.volume is not None and change.volume.extend_to is not None
            assert volume_id is not None
            self._cloud.extend_volume(volume_id, change.volume.extend_to)

        sizes = {k: c.volume.extend_to or 0 for k, c in growing if c.volume}
        self._volume_step(
            stack,
            growing,
            extend,
            "extending",
            _volume_judge(lambda k, v: v.status in VOLUME_SETTLED and v.size >= sizes[k]),
            self._settings.create_timeout,
            note=lambda c: f"extended to {c.volume.extend_to if c.volume else 0} GB",
        )
        going = fine(Action.DELETE)
        # A volume on a server being deleted is free once Nova has detached it.
        self._volume_step(
            stack,
            going,
            None,
            "waiting to delete",
            _volume_judge(lambda k, v: v.status == "available"),
            self._settings.delete_timeout,
        )
        self._volume_step(
            stack,
            fine(Action.DELETE),
            lambda c, v: self._cloud.delete_volume(v or ""),
            "deleting",
            _volume_judge(lambda k, v: False, gone=True),
            self._settings.delete_timeout,
        )
        results: dict[int, Result] = {}
        for k, change in vols:
            if change.action is Action.NOOP or (change.volume and change.volume.attach):
                continue
            results[k] = self._volume_result(k, change)
            self._report(results[k], k)
        return results

    def _attach_volumes(self, vols: list[Keyed], up: Mapping[str, str | None]) -> dict[int, Result]:
        """Once the servers are ACTIVE: wait until each volume to attach is free (a
        volume on a deleted server is, once Nova detached it), attach it, and wait until
        it is in use on its server."""
        wanted = [(k, c) for k, c in vols if c.volume and c.volume.attach]
        servers: dict[int, str] = {}
        for k, change in wanted:
            assert change.volume is not None
            server_id = up.get(change.volume.server)
            if k in self._volume_failed:
                continue
            if server_id is None or k not in self._volume_ids:
                message = f"not attached: server.{change.volume.server} is not up"
                self._volume_failed[k] = Result(change.address, change.action, False, message)
                continue
            servers[k] = server_id
        ready = [(k, c) for k, c in wanted if k in servers]
        self._volume_step(
            self._stack,
            ready,
            None,
            "waiting until it is free",
            _volume_judge(
                lambda k, v: (
                    v.status == "available"
                    or (v.status == "in-use" and servers[k] in v.attached_to)
                )
            ),
            self._settings.delete_timeout,
        )
        for k, change in ready:
            seen = self._volume_seen.get(k)
            if k not in self._volume_failed and seen is not None and seen.status == "in-use":
                self._volume_done[k].append(_attached_words(change))  # another run did it

        def attach(change: Change, volume_id: str | None) -> None:
            assert volume_id is not None
            self._cloud.attach_volume(servers[keys[id(change)]], volume_id)

        keys = {id(c): k for k, c in ready}
        free = {k for k, v in self._volume_seen.items() if v.status == "available"}
        self._volume_step(
            self._stack,
            [(k, c) for k, c in ready if k not in self._volume_failed and k in free],
            attach,
            "attaching",
            _attached(servers),
            self._settings.create_timeout,
            note=lambda c: _attached_words(c),
        )
        results: dict[int, Result] = {}
        for k, change in wanted:
            results[k] = self._volume_result(k, change)
            self._report(results[k], k)
        return results

    def _volume_result(self, key: int, change: Change) -> Result:
        failed = self._volume_failed.get(key)
        done = self._volume_done.get(key, [])
        if failed is not None:
            said = f"has been {_listed(done)}, but " if done else ""
            return replace(failed, message=said + failed.message)
        if change.action is Action.DELETE:
            done = [*done, "destroyed"]
        words = _listed(done) if done else "left as it is"
        return Result(
            change.address, change.action, True, f"has been {words}", self._volume_ids.get(key)
        )

    def _volume_step(
        self,
        stack: str,
        items: list[Keyed],
        send: Callable[[Change, str | None], str | None] | None,
        doing: str,
        judge: VolumeJudge,
        timeout: float,
        *,
        note: Callable[[Change], str] | None = None,
    ) -> None:
        """Send one request per volume change (`send` gets the volume's id and may
        return a new one; None sends nothing), then wait for all of them with one list
        of the stack's volumes per round. A failure ends that change there."""

        def request(key: int, change: Change) -> Result:
            made = send(change, self._volume_ids.get(key)) if send is not None else None
            if made is not None:
                self._volume_ids[key] = made
            volume_id = self._volume_ids.get(key)
            return Result(change.address, change.action, True, doing, volume_id)

        if send is None:
            requested = {k: request(k, c) for k, c in items}
        else:
            requested = self._parallel(items, request, "")
        waiting: dict[str, int] = {}
        for k, _ in items:
            result = requested[k]
            if not result.ok:
                self._volume_failed[k] = replace(result, message=f"{doing}: {result.message}")
            elif result.resource_id is not None:
                waiting[result.resource_id] = k
        if not waiting:
            return

        def poll() -> dict[str, ObservedVolume]:
            return {v.id: v for v in self._cloud.list_stack_volumes(stack)}

        def on_change(volume_id: str, outcome: Outcome[ObservedVolume]) -> None:
            if outcome.state is State.PENDING:
                address = requested[waiting[volume_id]].address
                self._emit(Event(address, f"{address}: {doing}, {outcome.detail}"))

        outcomes = wait_all(
            waiting,
            poll,
            lambda v: judge(None if v is None else waiting[v.id], v),
            timeout=timeout,
            clock=self._clock,
            on_change=on_change,
        )
        for volume_id, k in waiting.items():
            outcome = outcomes[volume_id]
            change = dict(items)[k]
            if outcome.state is State.DONE:
                if outcome.value is not None:
                    self._volume_seen[k] = outcome.value
                if note is not None:
                    self._volume_done[k].append(note(change))
                continue
            if outcome.state is State.TIMED_OUT:
                message = f"{doing}: not done after {outcome.seconds:.0f}s ({outcome.detail})"
            else:
                message = f"{doing}: {outcome.detail}"
            self._volume_failed[k] = Result(
                change.address,
                change.action,
                False,
                message,
                volume_id,
                timed_out=outcome.state is State.TIMED_OUT,
            )

    # --- security groups ------------------------------------------------------------

    def _id_of(self, ref: str) -> str:
        """A group id, or the id a placeholder stands for once its group exists (a
        security group's or a server group's)."""
        if ref.startswith((f"{Kind.SECURITY_GROUP.value}.", f"{Kind.SERVER_GROUP.value}.")):
            made = self._group_ids.get(ref)
            if made is None:
                raise UserError(f"{ref} was not created, so nothing can use it")
            return made
        return ref

    def _groups_first(self, groups: list[Keyed]) -> dict[int, Result]:
        """Create the new groups, then add and remove rules and set descriptions."""
        creates = [(k, c) for k, c in groups if c.action is Action.CREATE]
        updates = [(k, c) for k, c in groups if c.action in (Action.CREATE, Action.UPDATE)]

        def create(key: int, change: Change) -> Result:
            assert change.group is not None and change.group.after is not None
            after = change.group.after
            group_id = self._cloud.create_security_group(self._stack, after.name, after.description)
            self._group_ids[change.address] = group_id
            return Result(change.address, change.action, True, "created", group_id)

        made = self._parallel(creates, create, "creating")
        default_egress = self._default_egress_to_drop(creates, made)

        def rules(key: int, change: Change) -> Result:
            assert change.group is not None
            payload = change.group
            if key in made and not made[key].ok:
                return made[key]
            group_id = made[key].resource_id if key in made else None
            group_id = group_id or (payload.before.id if payload.before else None)
            assert group_id is not None
            wanted = [
                dataclasses.replace(r, remote_group=self._id_of(r.remote_group))
                if r.remote_group
                else r
                for r in payload.add_rules
            ]
            if wanted:
                self._cloud.create_rules(group_id, wanted)
            dropped = [*payload.remove_rules, *default_egress.get(key, ())]
            for rule in dropped:
                self._cloud.delete_rule(rule.id)
            if payload.description is not None and payload.before is not None:
                self._cloud.update_security_group(group_id, payload.description)
            verb = "created" if change.action is Action.CREATE else "updated in place"
            counts = f"+{len(wanted)} rule(s), -{len(dropped)} rule(s)"
            return Result(
                change.address, change.action, True, f"has been {verb} ({counts})", group_id
            )

        results = self._parallel(updates, rules, "")
        for k, result in sorted(results.items()):
            self._report(result, k)
        return results

    def _default_egress_to_drop(
        self, creates: list[Keyed], made: Mapping[int, Result]
    ) -> dict[int, tuple[ObservedRule, ...]]:
        """The egress rules Neutron gave a new group whose spec manages egress itself
        (one list of the project's groups, only when some new group needs it)."""
        manage = {
            k: c
            for k, c in creates
            if made.get(k) is not None
            and made[k].ok
            and c.group is not None
            and c.group.after is not None
            and any(r.direction == "egress" for r in c.group.after.rules)
        }
        if not manage:
            return {}
        listed = {g.id: g for g in self._cloud.list_security_groups()}
        drop: dict[int, tuple[ObservedRule, ...]] = {}
        for k, change in manage.items():
            assert change.group is not None and change.group.after is not None
            group = listed.get(made[k].resource_id or "")
            wanted = change.group.after.rules
            drop[k] = tuple(
                r
                for r in (group.rules if group else ())
                if r.rule.direction == "egress" and canonical_rule(r.rule) not in wanted
            )
        return drop

    def _groups_last(self, groups: list[Keyed]) -> dict[int, Result]:
        deletes = [(k, c) for k, c in groups if c.action is Action.DELETE]

        def delete(key: int, change: Change) -> Result:
            assert change.group is not None and change.group.before is not None
            self._cloud.delete_security_group(change.group.before.id)
            return Result(
                change.address, change.action, True, "has been destroyed", change.group.before.id
            )

        results = self._parallel(deletes, delete, "")
        for k, result in sorted(results.items()):
            self._report(result, k)
        return results

    # --- server groups ----------------------------------------------------------------

    def _server_groups_first(self, placements: list[Keyed]) -> dict[int, Result]:
        """Create the new server groups (the new half of a policy change too), so the
        servers built next can be scheduled into them."""

        def create(key: int, change: Change) -> Result:
            assert change.server_group is not None and change.server_group.after is not None
            after = change.server_group.after
            group_id = self._cloud.create_server_group(after.name, after.policy)
            self._group_ids[change.address] = group_id
            return Result(
                change.address,
                change.action,
                True,
                f'has been created (policy "{after.policy}")',
                group_id,
            )

        results = self._parallel([(k, c) for k, c in placements if c.action.builds], create, "")
        for k, result in sorted(results.items()):
            if result.action is Action.CREATE or not result.ok:
                self._report(result, k)
        return results

    def _server_groups_last(
        self,
        placements: list[Keyed],
        made: Mapping[int, Result],
        unfinished: Collection[str | None],
    ) -> dict[int, Result]:
        """Delete the server groups the spec dropped and the old half of a policy change,
        once its new group exists and every server of its entry was built into it (else
        the old group stays, and so do the servers still in it)."""
        deleting = [
            (k, c)
            for k, c in placements
            if c.action is Action.DELETE
            or (c.action is Action.CREATE_THEN_DELETE and made[k].ok and c.name not in unfinished)
        ]
        kept = {
            k: replace(
                made[k],
                ok=False,
                message=f"{made[k].message}, but the old group is kept: not every server of "
                f'"{c.name}" was replaced into the new one',
            )
            for k, c in placements
            if c.action is Action.CREATE_THEN_DELETE and made[k].ok and c.name in unfinished
        }

        def delete(key: int, change: Change) -> Result:
            payload = change.server_group
            assert payload is not None and payload.before is not None
            old = payload.before
            self._cloud.delete_server_group(old.id)
            if change.action is Action.DELETE:
                return Result(change.address, change.action, True, "has been destroyed", old.id)
            assert payload.after is not None
            message = f'has been replaced (policy "{old.policy}" -> "{payload.after.policy}")'
            return Result(change.address, change.action, True, message, made[key].resource_id)

        results = self._parallel(deleting, delete, "")
        results.update(kept)
        for k, result in sorted(results.items()):
            self._report(result, k)
        return results

    def _parallel(
        self, items: list[Keyed], work: Callable[[int, Change], Result], doing: str
    ) -> dict[int, Result]:
        """Run `work` on each change with bounded parallelism.

        Events are emitted here, on the calling thread, as results come in: a
        display never runs on a worker thread, and a display failure can never
        turn a successful request into a failed change. On an interrupt, queued
        requests are cancelled (never sent) and those on the wire get a bounded
        grace to answer, so the interrupt can say what was requested.
        """
        if not items:
            return {}
        results: dict[int, Result] = {}
        workers = max(1, min(self._settings.parallelism, len(items)))
        pool = ThreadPoolExecutor(max_workers=workers)
        futures: dict[Future[Result], Keyed] = {}
        try:
            for key, change in items:
                futures[pool.submit(self._begin, key, change, work)] = (key, change)
            for future in as_completed(futures):
                key, change = futures[future]
                result = future.result()
                results[key] = result
                self._sent[key] = change
                if result.ok and doing:
                    self._emit(
                        Event(result.address, f"{result.address}: {doing} {result.resource_id}")
                    )
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            on_the_wire = [f for f in futures if not f.cancelled() and not f.done()]
            wait(on_the_wire, timeout=self._settings.interrupt_grace)
            for future, (key, change) in futures.items():
                if future.cancelled():
                    continue
                if future.done():
                    self._sent[key] = change
                else:
                    self._unanswered[key] = change
            raise
        pool.shutdown(wait=True)
        return results

    def _begin(self, key: int, change: Change, work: Callable[[int, Change], Result]) -> Result:
        """Run one change's request on a worker, noting when its first one started."""
        self._begun.setdefault(key, self._clock.now())
        return _guard(key, change, work)

    def _run_updates(self, stack: str, updates: list[Keyed]) -> dict[int, Result]:
        """In-place updates. Server actions go in batches, each with one wait (one list
        call per round for all): stop; resize, wait for VERIFY_RESIZE, confirm, wait;
        rebuild, wait. Then metadata, tags, groups and the fingerprint, so what is
        recorded was done; start last. A step that fails ends its change there."""
        failed: dict[int, Result] = {}
        verbs: dict[int, list[str]] = {k: [] for k, _ in updates}
        for step in STEPS_BEFORE_WRITES:
            self._server_step(stack, step, updates, failed, verbs)

        def update(key: int, change: Change) -> Result:
            assert change.before is not None and change.patch is not None
            patch = dataclasses.replace(
                change.patch,
                add_security_groups=tuple(map(self._id_of, change.patch.add_security_groups)),
            )
            self._cloud.update_server(change.before.id, patch)
            return Result(change.address, change.action, True, "updated", change.before.id)

        writes = [
            (k, c)
            for k, c in updates
            if k not in failed and c.patch is not None and _writes(c.patch)
        ]
        for k, result in self._parallel(writes, update, "").items():
            if not result.ok:
                done = f"has been {_listed(verbs[k])} in place, but " if verbs[k] else ""
                failed[k] = replace(result, message=done + result.message)
        for step in STEPS_AFTER_WRITES:
            self._server_step(stack, step, updates, failed, verbs)

        results: dict[int, Result] = {}
        for k, change in updates:
            assert change.before is not None
            message = f"has been {_listed(verbs[k]) if verbs[k] else 'updated'} in place"
            results[k] = failed.get(k) or Result(
                change.address,
                change.action,
                True,
                message,
                change.before.id,
                addresses=change.before.addresses,
            )
            self._report(results[k], k)
        return results

    def _server_step(
        self,
        stack: str,
        step: ServerStep,
        updates: list[Keyed],
        failed: dict[int, Result],
        verbs: Mapping[int, list[str]],
    ) -> None:
        """Send `step` for every update that wants it and has not failed, wait for all
        of them at once, and note how each went."""
        items = [
            (k, c)
            for k, c in updates
            if k not in failed and c.patch is not None and step.wanted(c.patch)
        ]

        def request(key: int, change: Change) -> str:
            assert change.before is not None and change.patch is not None
            step.send(self._cloud, change.before.id, change.patch)
            return change.before.id

        outcomes = self._request_and_wait(
            stack,
            items,
            request,
            doing=step.doing,
            judge=step.judge,
            timeout=self._settings.create_timeout,
            target="settled",
            done=lambda action, seconds: step.what,
        )
        for k, change in items:
            outcome = outcomes[k]
            assert change.before is not None and change.patch is not None
            if not outcome.ok:
                failed[k] = replace(
                    outcome,
                    message=f"{step.what} failed: {outcome.message}",
                    addresses=change.before.addresses,
                )
            elif step.verb is not None:
                verbs[k].append(step.verb(change.patch))

    def _delete_and_wait(
        self, stack: str, changes: list[Keyed], *, old_half: bool = False
    ) -> dict[int, Result]:
        def delete(key: int, change: Change) -> str:
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
            for k, result in sorted(results.items()):
                if result.action is Action.DELETE:
                    self._report(result, k)
        return results

    def _create_and_wait(
        self, stack: str, changes: list[Keyed], in_build: list[Keyed]
    ) -> dict[int, Result]:
        """Create and wait until ACTIVE; a server the wait sees go to ERROR is deleted
        and built again, up to `create_attempts` builds, as a plan replaces one found
        in ERROR. A server a previous run left in BUILD is healed the same way."""

        def create(key: int, change: Change) -> str:
            assert change.create is not None, "plan was not resolved"
            groups = tuple(self._id_of(g) for g in change.create.security_groups)
            placed = change.create.server_group
            return self._cloud.create_server(
                dataclasses.replace(
                    change.create,
                    security_groups=groups,
                    server_group=self._id_of(placed) if placed is not None else None,
                )
            )

        def done(action: Action, seconds: float) -> str:
            verb = (
                "created"
                if action is Action.CREATE
                else "replaced"
                if action.is_replace
                else "built"
            )
            return f"has been {verb} (ACTIVE after {seconds:.1f}s)"

        for k, _ in in_build:
            self._begun.setdefault(k, self._clock.now())
        building = {
            k: Result(c.address, c.action, True, "building", c.before.id)
            for k, c in in_build
            if c.before
        }

        def build(items: list[Keyed], already: Mapping[int, Result] | None) -> dict[int, Result]:
            return self._request_and_wait(
                stack,
                items,
                create,
                doing="creating",
                judge=judge_active,
                vanished=(State.FAILED, "was deleted while building (no longer listed)"),
                timeout=self._settings.create_timeout,
                target="ACTIVE",
                done=done,
                already=already,
            )

        creating = dict(changes)
        creating.update(in_build)
        results = build(changes, building)
        builds = dict.fromkeys(results, 1)
        first_fault: dict[int, str] = {}
        limit = self._settings.create_attempts
        while True:
            again = [
                (k, creating[k])
                for k, r in sorted(results.items())
                if r.in_error
                and creating[k].create is not None
                and builds[k] < limit
                and not server_group.cannot_place(creating[k].after, r.message)
            ]
            if not again:
                break
            broken = {k: results[k] for k, _ in again}
            for k, change in again:
                first_fault.setdefault(k, broken[k].message)
                builds[k] += 1
                self._emit(
                    Event(
                        change.address,
                        f"{change.address}: {broken[k].message}; deleting it and building it "
                        f"again (build {builds[k]} of {limit})",
                    )
                )

            gone = self._request_and_wait(
                stack,
                again,
                functools.partial(
                    self._delete_listed, {k: r.resource_id for k, r in broken.items()}
                ),
                doing="deleting",
                judge=judge_gone,
                timeout=self._settings.delete_timeout,
                target="gone",
                done=lambda action, seconds: "gone",
            )
            for k, _ in again:
                if not gone[k].ok:
                    message = f"{broken[k].message}; deleting it failed: {gone[k].message}"
                    results[k] = replace(broken[k], message=message, in_error=False)
            results.update(build([(k, c) for k, c in again if gone[k].ok], None))
        results.update(self._stop_built(stack, creating, results))
        for k, result in results.items():
            after = creating[k].after
            if (
                result.in_error
                and after is not None
                and server_group.cannot_place(after, result.message)
            ):
                message = server_group.unplaced_message(after, result.message)
                results[k] = replace(result, message=message)
        for k, fault in first_fault.items():
            result = results[k]
            tail = f"build {builds[k]} of {limit}; the first {fault}"
            results[k] = replace(result, message=f"{result.message} ({tail})")
        for k, result in sorted(results.items()):
            self._report(result, k)
        return results

    def _stop_built(
        self, stack: str, creating: Mapping[int, Change], built: Mapping[int, Result]
    ) -> dict[int, Result]:
        """Stop the servers just built whose spec says `state: shutoff` (Nova builds a
        server running), and wait until they are SHUTOFF. One list call first tells the
        ACTIVE ones from those already SHUTOFF (a rebuilt stopped server stays so)."""
        wanted = [
            (k, change)
            for k, change in sorted(creating.items())
            if k in built
            and built[k].ok
            and change.after is not None
            and change.after.state == STATE_SHUTOFF
        ]
        if not wanted:
            return {}
        running = {s.id for s in self._cloud.list_stack_servers(stack) if s.status == "ACTIVE"}
        stopping = [(k, c) for k, c in wanted if built[k].resource_id in running]

        def stop(key: int, change: Change) -> str:
            server_id = built[key].resource_id
            assert server_id is not None
            self._cloud.stop_server(server_id)
            return server_id

        stopped = self._request_and_wait(
            stack,
            stopping,
            stop,
            doing="stopping",
            judge=judge_settled({"SHUTOFF"}, undone="is not stopped: the stop did not take"),
            timeout=self._settings.create_timeout,
            target="SHUTOFF",
            done=lambda action, seconds: "stopped",
        )
        results: dict[int, Result] = {}
        for k, _ in stopping:
            result, outcome = built[k], stopped[k]
            if outcome.ok:
                results[k] = replace(result, message=f"{result.message} and stopped")
            else:
                message = f"{result.message}, but stopping it failed: {outcome.message}"
                results[k] = replace(result, ok=False, message=message)
        return results

    def _delete_listed(self, ids: Mapping[int, str | None], key: int, change: Change) -> str:
        """Delete the server recorded for `key` (not the plan's `before`)."""
        server_id = ids[key]
        assert server_id is not None
        self._cloud.delete_server(server_id)
        return server_id

    def _request_and_wait(
        self,
        stack: str,
        changes: list[Keyed],
        send: Callable[[int, Change], str],
        *,
        doing: str,
        judge: Callable[[ObservedServer | None], tuple[State, str]],
        timeout: float,
        target: str,
        done: Callable[[Action, float], str],
        already: Mapping[int, Result] | None = None,
        vanished: tuple[State, str] | None = None,
    ) -> dict[int, Result]:
        """Send one request per change (returning the server id), then wait for all of
        them (and for `already` requested ones) until `judge` says done or failed."""

        def request(key: int, change: Change) -> Result:
            server_id = send(key, change)
            return Result(change.address, change.action, True, f"{doing} requested", server_id)

        requested = self._parallel(changes, request, doing)
        requested.update(already or {})
        ids = {r.resource_id: k for k, r in sorted(requested.items()) if r.ok and r.resource_id}
        addresses = {server_id: requested[k].address for server_id, k in ids.items()}
        outcomes = self._wait(stack, addresses, judge, timeout, doing, vanished)
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
            in_error = outcome.state is State.FAILED and bool(
                outcome.value and outcome.value.is_error
            )
            seen = outcome.value
            results[k] = Result(
                asked.address,
                asked.action,
                ok,
                message,
                server_id,
                in_error,
                addresses=seen.addresses if seen is not None and not seen.is_gone else (),
                timed_out=outcome.state is State.TIMED_OUT,
            )
        return results

    def _report(self, result: Result, key: int) -> None:
        """Tell the display how one change ended (and note when, for its seconds)."""
        if key in self._holding:
            return
        self._ended[key] = self._clock.now()
        message = f"{result.address} {result.message}"
        self._emit(Event(result.address, message, final=True, ok=result.ok))

    def _wait(
        self,
        stack: str,
        addresses: Mapping[str, str],
        judge: Callable[[ObservedServer | None], tuple[State, str]],
        timeout: float,
        doing: str,
        vanished: tuple[State, str] | None = None,
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
            addresses,
            poll,
            judge,
            timeout=timeout,
            clock=self._clock,
            on_change=on_change,
            vanished=vanished,
        )


def _batch_of(change: Change) -> Batch:
    assert change.batch is not None
    return change.batch


def _by_entry(changes: list[Keyed]) -> dict[str, list[Keyed]]:
    """Changes of a rollout wave by entry, in plan order."""
    entries: dict[str, list[Keyed]] = {}
    for k, change in changes:
        entries.setdefault(_batch_of(change).entry, []).append((k, change))
    return entries


def _server_of(change: Change) -> str:
    assert change.floating_ip is not None and change.floating_ip.server is not None
    return change.floating_ip.server


def _split_floating_ips(fips: list[Keyed], rolled: set[str]) -> tuple[list[Keyed], list[Keyed]]:
    """The floating IPs to place after the other servers, and those of rolled servers
    (placed with their server's batch)."""
    placing = (Action.CREATE, Action.UPDATE)

    def rides(change: Change) -> bool:
        payload = change.floating_ip
        return change.action in placing and payload is not None and payload.server in rolled

    return [(k, c) for k, c in fips if not rides(c)], [(k, c) for k, c in fips if rides(c)]


def _address(result: Result, change: Change) -> str:
    """The address a health command reaches a server at: a floating IP it keeps (in
    place), else its first IPv4 address, else its first address."""
    addresses = [ip for _, ip in result.addresses]
    kept = change.before.floating_ips if change.before and not change.action.builds else ()
    for ip in addresses:
        if ip in kept:
            return ip
    return next((ip for ip in addresses if ":" not in ip), addresses[0] if addresses else "")


def _judged(result: Result, batch: Batch, verdict: Verdict | None) -> Result:
    """A rolled change's result with its batch and health check said."""
    where = f"rollout batch {batch.number} of {batch.of}"
    if verdict is None or not result.ok:
        return replace(result, message=f"{result.message}; {where}")
    if verdict.healthy:
        return replace(result, message=f"{result.message}; {where}, healthy ({verdict.detail})")
    message = f"{result.message}, but its health check failed ({verdict.detail}); {where}"
    return replace(result, ok=False, message=message)


#: How a wait judges one volume change: its key (None: the volume is not listed) and
#: the volume as listed.
VolumeJudge = Callable[[int | None, "ObservedVolume | None"], tuple[State, str]]


def _volume_judge(
    done: Callable[[int, ObservedVolume], bool], *, gone: bool = False
) -> VolumeJudge:
    """Done when `done` says so (or, with `gone`, when the volume is no longer listed);
    failed in an error status or when it went while waited for."""

    def judge(key: int | None, volume: ObservedVolume | None) -> tuple[State, str]:
        if volume is None or key is None:
            return (State.DONE, "gone") if gone else (State.FAILED, "the volume is gone")
        if volume.status.startswith("error"):
            return State.FAILED, f"went to {volume.status}"
        if done(key, volume):
            return State.DONE, volume.status
        return State.PENDING, volume.status

    return judge


def _attached(servers: Mapping[int, str]) -> VolumeJudge:
    """Done when the volume is in use on its server; failed when, after Nova reserved it,
    it is available again (the attachment did not take)."""
    busy: set[int] = set()
    on_it = _volume_judge(lambda k, v: v.status == "in-use" and servers[k] in v.attached_to)

    def judge(key: int | None, volume: ObservedVolume | None) -> tuple[State, str]:
        if key is not None and volume is not None:
            if volume.status in ("reserved", "attaching"):
                busy.add(key)
            elif volume.status == "available" and key in busy:
                return State.FAILED, "is available again: Nova did not attach it"
        return on_it(key, volume)

    return judge


def _attaches_to(change: Change) -> str | None:
    """The server name a volume change attaches its volume to, if it does."""
    return change.volume.server if change.volume and change.volume.attach else None


def _volume_server(change: Change) -> str:
    assert change.volume is not None
    return change.volume.server


def _size(change: Change) -> int:
    return change.volume.after.size if change.volume and change.volume.after else 0


def _attached_words(change: Change) -> str:
    assert change.volume is not None
    before = change.volume.before
    moved = before is not None and bool(before.attached_to)
    return f"{'moved' if moved else 'attached'} to server.{change.volume.server}"


def _writes(patch: ServerPatch) -> bool:
    """The patch sets metadata, tags, description or groups (not only server actions)."""
    return not dataclasses.replace(
        patch,
        resize_to=None,
        rebuild_with=None,
        power=None,
        confirm_resize=False,
        recheck_health=False,
    ).is_empty


def _rechecks_only(patch: ServerPatch) -> bool:
    """The update only asks the health check again."""
    return patch.recheck_health and dataclasses.replace(patch, recheck_health=False).is_empty


def _listed(words: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _labels(changes: Iterable[Change]) -> tuple[str, ...]:
    return tuple(f"{c.address} ({c.action.value})" for c in changes)


def _guard(key: int, change: Change, work: Callable[[int, Change], Result]) -> Result:
    try:
        return work(key, change)
    except UserError as exc:
        return Result(change.address, change.action, False, exc.message)
    except Exception as exc:
        return Result(change.address, change.action, False, f"{type(exc).__name__}: {exc}")


def summarize(results: Iterable[Result], verb: str = "Apply") -> str:
    """One closing line: counts of what happened (`verb` is Apply or Destroy)."""
    results = list(results)
    failed = sum(1 for r in results if not r.ok)
    done = len(results) - failed
    return f"{verb} complete: {done} succeeded, {failed} failed."
