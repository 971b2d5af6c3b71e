"""The volume kind: a server's data volumes, one per `volumes:` entry per replica.

Pure: the caller lists the stack's volumes (one paged list of Cinder volumes
filtered by the stack's metadata) and passes the plan's server changes. A data
volume belongs to a server *name*, not to one server id (Cinder metadata
`declstack:stack`, `declstack:server`, `declstack:volume`), so it outlives its
server: when the server is replaced the volume moves to the new one, detached
by Nova's delete of the old one (first, or once the new one is up with
create_before_destroy, so the old server keeps its data while it runs).
A bigger `size` extends it in place; a smaller one is refused (Cinder cannot
shrink). It is deleted only when its entry (or its server) leaves the spec or
on destroy, and not while `prevent_destroy` protects its server. A volume
attached to a server the stack does not own is never detached.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from declstack import ownership
from declstack.model import (
    VOLUME_SETTLED,
    Action,
    Change,
    DesiredVolume,
    Diagnostic,
    Kind,
    NamedResource,
    ObservedServer,
    ObservedVolume,
    Spec,
    VolumeChange,
    placeholder,
)

STACK_KEY = "declstack:stack"
SERVER_KEY = "declstack:server"
VOLUME_KEY = "declstack:volume"


def marker(stack: str, volume: DesiredVolume) -> dict[str, str]:
    """The Cinder metadata a data volume is created with: whose it is."""
    return {STACK_KEY: stack, SERVER_KEY: volume.server, VOLUME_KEY: volume.volume}


def owner(stack: str, volume: ObservedVolume) -> tuple[str, str] | None:
    """(server name, volume name) of a volume `stack` owns, else None."""
    metadata = volume.metadata
    server, name = metadata.get(SERVER_KEY), metadata.get(VOLUME_KEY)
    if metadata.get(STACK_KEY) != stack or not server or not name:
        return None
    return server, name


def desired_volumes(spec: Spec) -> list[DesiredVolume]:
    return [
        DesiredVolume(server.name, volume.name, volume.size, volume.type)
        for server in spec.servers
        for volume in server.volumes
    ]


def names_a_type(spec: Spec) -> bool:
    """Some volume or boot volume names a type: the plan lists the cloud's types."""
    return any(
        any(v.type for v in s.volumes) or (s.boot_volume is not None and s.boot_volume.type)
        for s in spec.servers
    )


@dataclass(frozen=True)
class _Server:
    """Where a server name stands in this plan: the id it has now (None when apply
    builds it) and, for a replacement, the old server."""

    current: str | None
    old: str | None = None


def _servers(changes: Sequence[Change]) -> dict[str, _Server]:
    found: dict[str, _Server] = {}
    for change in changes:
        if change.action is Action.DELETE:
            continue
        old = change.before.id if change.before else None
        if change.action is Action.CREATE:
            found[change.name] = _Server(None)
        elif change.action.is_replace:
            found[change.name] = _Server(None, old)
        else:
            found[change.name] = _Server(old)
    return found


def plan_volumes(
    spec: Spec,
    observed: Sequence[ObservedVolume],
    server_changes: Sequence[Change],
    stack_servers: Sequence[ObservedServer],
    types: Sequence[NamedResource] | None = None,
) -> tuple[list[Change], list[Diagnostic]]:
    """Changes for the stack's data volumes, and the problems that block them.

    `server_changes` are the plan's server changes (what each server name becomes);
    `stack_servers` every server the stack owns, gone ones included (a volume on a
    server being deleted is freed by Nova); `types` the cloud's volume types, when
    the spec names one.
    """
    owned: dict[tuple[str, str], list[ObservedVolume]] = defaultdict(list)
    for volume in observed:
        key = owner(spec.stack, volume)
        if key is not None and volume.status != "deleting":
            owned[key].append(volume)
    planner = _Planner(spec, server_changes, stack_servers, types)
    wanted = set()
    for desired in desired_volumes(spec):
        key = (desired.server, desired.volume)
        wanted.add(key)
        planner.desired(desired, owned.get(key, []))
    for (server, name), volumes in sorted(owned.items()):
        if (server, name) in wanted:
            continue
        why = (
            "its server left the spec" if server not in planner.in_spec else "no longer in the spec"
        )
        for volume in sorted(volumes, key=lambda v: v.id):
            planner.delete(server, f"{server}-{name}", volume, why)
    planner.boot_volume_types()
    return planner.changes, planner.problems


class _Planner:
    """The decisions of one plan, collected change by change."""

    def __init__(
        self,
        spec: Spec,
        server_changes: Sequence[Change],
        stack_servers: Sequence[ObservedServer],
        types: Sequence[NamedResource] | None,
    ) -> None:
        self.spec = spec
        self.server_changes = server_changes
        self.servers = _servers(server_changes)
        self.live = {s.id for s in stack_servers if not s.is_gone}
        self.gone = {s.id for s in stack_servers if s.is_gone}
        self.names = {s.id: s.name for s in stack_servers}
        self.in_spec = {s.name for s in spec.servers}
        self.protected = {s.name for s in spec.servers if s.lifecycle.prevent_destroy}
        self.protected |= {s.name for s in stack_servers if ownership.is_protected(s)}
        self.types = types
        self.changes: list[Change] = []
        self.problems: list[Diagnostic] = []

    def error(self, name: str, message: str, hint: str | None = None) -> None:
        address = placeholder(Kind.VOLUME, name)
        self.problems.append(Diagnostic("error", f"{address}: {message}", address, hint))

    def add(self, name: str, action: Action, reason: str, payload: VolumeChange) -> None:
        self.changes.append(Change(name, action, reason, kind=Kind.VOLUME, volume=payload))

    def type_of(self, desired: DesiredVolume) -> NamedResource | None:
        """The volume type the spec names (None: none named, or an error said why)."""
        if desired.type is None or self.types is None:
            return None
        found, problem = find_type(desired.type, self.types)
        if problem is not None:
            self.error(desired.name, *problem)
        return found

    # -- a volume the spec wants ----------------------------------------------------

    def desired(self, desired: DesiredVolume, volumes: list[ObservedVolume]) -> None:
        server = self.servers.get(desired.server, _Server(None))
        kind = self.type_of(desired)
        if not volumes:
            where = self.attach_words(desired.server, server)
            reason = f"not in the cloud; {desired.size} GB, {where}"
            self.add(desired.name, Action.CREATE, reason, self.payload(desired, attach=True))
            return
        kept, *extras = sorted(volumes, key=lambda v: self.rank(v, server))
        for extra in extras:
            why = f"duplicate of {kept.id} (left by an interrupted run)"
            self.delete(desired.server, desired.name, extra, why)
        if kind is not None and kept.volume_type not in (kind.id, kind.name):
            self.error(
                desired.name,
                f'volume type changed (spec now "{desired.type}", the volume is '
                f'"{kept.volume_type}"): declstack does not change the type of a volume',
                hint="set type back; or give the volume entry a new name: a new volume of "
                "the new type is made, and the old one is deleted with its data",
            )
        if desired.size < kept.size:
            self.error(
                desired.name,
                f"size {desired.size} GB is smaller than the volume's {kept.size} GB: "
                "Cinder cannot shrink a volume",
                hint=f"set size back to {kept.size} or more; to start over with a smaller "
                "volume, give the entry a new name (the old volume is deleted with its data)",
            )
        if kept.status == "error":
            reason = "in error (Cinder could not make it); deleted and made again"
            self.add(
                desired.name,
                Action.DELETE_THEN_CREATE,
                f"{reason}, {self.attach_words(desired.server, server)}",
                self.payload(desired, kept, attach=True),
            )
            return
        if kept.status not in VOLUME_SETTLED and not kept.status.startswith("error"):
            attach = server.current is None or server.current not in kept.attached_to
            reason = f"in status {kept.status}; waiting for it"
            reason += f", then {self.attach_words(desired.server, server)}" if attach else ""
            self.add(desired.name, Action.WAIT, reason, self.payload(desired, kept, attach=attach))
            return
        if kept.status not in VOLUME_SETTLED:
            self.add(
                desired.name,
                Action.NOOP,
                f"in status {kept.status}, which declstack does not change; left as it is",
                self.payload(desired, kept),
            )
            self.problems.append(
                Diagnostic(
                    "warning",
                    f"volume {kept.id} is in status {kept.status}",
                    placeholder(Kind.VOLUME, desired.name),
                    "see `openstack volume show`; an admin can reset it "
                    "(openstack volume set --state available)",
                )
            )
            return
        self.keep(desired, kept, server)

    def keep(self, desired: DesiredVolume, kept: ObservedVolume, server: _Server) -> None:
        extend = desired.size if desired.size > kept.size else None
        said = [f"size {kept.size} -> {desired.size} GB: extend in place"] if extend else []
        detach, attach, moving = self.attachment(desired, kept, server)
        if moving:
            said.append(moving)
        payload = self.payload(desired, kept, extend_to=extend, detach_from=detach, attach=attach)
        if said:
            self.add(desired.name, Action.UPDATE, "; ".join(said), payload)
        else:
            where = f"attached to server.{desired.server}"
            self.add(desired.name, Action.NOOP, f"up to date ({kept.size} GB, {where})", payload)

    def attachment(
        self, desired: DesiredVolume, kept: ObservedVolume, server: _Server
    ) -> tuple[str | None, bool, str]:
        """(server id to detach from first, attach to the server, the words for it)."""
        on = kept.attached_to[0] if kept.attached_to else None
        if server.current is not None and on == server.current:
            return None, False, ""
        if on is not None and on not in self.live and on not in self.gone:
            self.error(
                desired.name,
                f"attached to server {on}, which stack {self.spec.stack!r} does not own: "
                "declstack never detaches a volume from a server it does not own",
                hint="detach it from that server (openstack server remove volume), then plan again",
            )
            return None, False, ""
        target = self.attach_words(desired.server, server)
        if on is None:
            return None, True, f"not attached: {target}"
        if on in self.gone:
            return None, True, f"on a server being deleted (Nova frees it): {target}"
        if on == server.old:
            # Nova detaches it when it deletes the old server (first, or once the new one
            # is up): the old server keeps its data as long as it runs.
            said = f"moves to the new server.{desired.server} once it is ACTIVE (the delete "
            return None, True, said + "of the old server detaches it)"
        other = self.names.get(on, on)
        return on, True, f"on server.{other} (id {on}): detached from it, then {target}"

    @staticmethod
    def attach_words(name: str, server: _Server) -> str:
        if server.current is None:
            return f"attached to server.{name} once it is ACTIVE"
        return f"attached to server.{name}"

    @staticmethod
    def rank(volume: ObservedVolume, server: _Server) -> tuple[bool, bool, bool, str, str]:
        """The volume to keep among duplicates: on the server, attached, settled, oldest."""
        return (
            server.current is None or server.current not in volume.attached_to,
            not volume.attached_to,
            volume.status not in VOLUME_SETTLED,
            volume.created,
            volume.id,
        )

    def payload(
        self,
        desired: DesiredVolume,
        before: ObservedVolume | None = None,
        *,
        extend_to: int | None = None,
        detach_from: str | None = None,
        attach: bool = False,
    ) -> VolumeChange:
        return VolumeChange(
            desired.server,
            before=before,
            after=desired,
            extend_to=extend_to,
            detach_from=detach_from,
            attach=attach,
        )

    # -- a volume to delete ---------------------------------------------------------

    def delete(self, server: str, name: str, volume: ObservedVolume, why: str) -> None:
        on = volume.attached_to[0] if volume.attached_to else None
        payload = VolumeChange(server, before=volume, detach_from=on if on in self.live else None)
        if server in self.protected:
            reason = f"prevent_destroy protects server.{server} and its volumes; refusing to "
            reason += f"delete it ({why})"
            self.error(
                name,
                reason,
                hint="remove lifecycle.prevent_destroy from the server (and apply that alone, "
                "when it is recorded on the server) to let its volumes be deleted",
            )
            self.add(name, Action.NOOP, reason, VolumeChange(server, before=volume))
            return
        if on is not None and on not in self.live and on not in self.gone:
            self.error(
                name,
                f"attached to server {on}, which stack {self.spec.stack!r} does not own: "
                "declstack never detaches a volume from a server it does not own",
                hint="detach it from that server (openstack server remove volume), then plan again",
            )
            self.add(name, Action.NOOP, f"{why}; attached to a server of another owner", payload)
            return
        if payload.detach_from is not None:
            other = self.names.get(payload.detach_from, payload.detach_from)
            why += f"; detached from server.{other} first"
        self.add(name, Action.DELETE, why, payload)

    # -- boot volumes: only their type is checked here -------------------------------

    def boot_volume_types(self) -> None:
        """A server about to be built from a boot volume of an unknown type is an error
        now, not a server in ERROR later."""
        if self.types is None:
            return
        for change in self.server_changes:
            after = change.after
            if not change.action.builds or after is None or after.boot_volume is None:
                continue
            if after.boot_volume.type is None:
                continue
            _, problem = find_type(after.boot_volume.type, self.types)
            if problem is not None:
                address = placeholder(Kind.SERVER, change.name)
                message, hint = problem
                self.problems.append(
                    Diagnostic("error", f"{address}: boot_volume: {message}", address, hint)
                )


def find_type(
    ref: str, types: Sequence[NamedResource]
) -> tuple[NamedResource | None, tuple[str, str | None] | None]:
    """A volume type by id, then by name; else (message, hint) saying what there is."""
    for found in types:
        if ref == found.id:
            return found, None
    named = [t for t in types if t.name == ref]
    if len(named) == 1:
        return named[0], None
    if named:
        ids = ", ".join(sorted(t.id for t in named))
        return None, (f'volume type name "{ref}" is shared by {len(named)} types ({ids})', None)
    names = sorted(t.name for t in types)
    close = difflib.get_close_matches(ref, names, n=3, cutoff=0.6)
    if close:
        suggestion = " or ".join(f'"{name}"' for name in close)
        return None, (f'volume type "{ref}" not found; did you mean {suggestion}?', None)
    listed = ", ".join(f'"{name}"' for name in names) or "none"
    return None, (
        f'volume type "{ref}" not found',
        f"the cloud's volume types: {listed} (openstack volume type list)",
    )
