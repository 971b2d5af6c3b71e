"""The planner: desired state x observed state -> a `Plan`, each change with a reason.

Pure: no I/O, no clock, no cloud. The caller lists the stack's servers (and,
separately, same-named servers it does not own) and gets back a value that
`render` shows and `reconciler` executes. References (image, flavor, ...) are
not looked up here; `resolve` does that for creates only.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

from declstack import ownership
from declstack.kinds import server_group
from declstack.model import (
    ACTION_ORDER,
    CHANGE_REBUILD,
    CHANGE_RESIZE,
    POWER_START,
    POWER_STOP,
    STATE_ACTIVE,
    STATE_SHUTOFF,
    Action,
    Change,
    DesiredServer,
    Diagnostic,
    Kind,
    ObservedServer,
    Plan,
    ServerPatch,
    Spec,
    frozen_map,
    placeholder,
)

#: Statuses in which declstack updates metadata, tags and description, or replaces.
SETTLED_STATUSES = frozenset({"ACTIVE", "SHUTOFF"})
#: How a plan words a resize and a rebuild in place (`resolve` rewords them when the
#: spec's new flavor or image turns out to be the one the server has).
RESIZE = "resize in place"
REBUILD = "rebuild in place (the root disk is made anew from the image)"


def plan(
    spec: Spec,
    observed: Sequence[ObservedServer],
    conflicts: Sequence[tuple[str, str]] = (),
) -> Plan:
    """Compare `spec` with the stack's servers and say what to do with each, and why.

    `observed` should hold only the stack's servers; any other server passed in
    is ignored, so the planner never touches what is not ours. `conflicts` are
    (id, name) of unmanaged servers in the project; they are only reported.
    """
    managed: dict[str, list[ObservedServer]] = defaultdict(list)
    for server in observed:
        if ownership.owner_of(server) == spec.stack and not server.is_gone:
            managed[server.name].append(server)

    conflicts_by_name: dict[str, list[str]] = defaultdict(list)
    for server_id, name in conflicts:
        conflicts_by_name[name].append(server_id)

    changes: list[Change] = []
    diagnostics: list[Diagnostic] = []
    clashes: dict[str, list[str]] = {}
    desired_names = set()
    for desired in spec.servers:
        desired_names.add(desired.name)
        group = managed.get(desired.name, [])
        if not group:
            changes.append(Change(desired.name, Action.CREATE, "not in the cloud", after=desired))
            if desired.name in conflicts_by_name:
                clashes[desired.name] = sorted(conflicts_by_name[desired.name])
            continue
        kept, extras = _pick_kept(group, desired)
        protects = desired.lifecycle.prevent_destroy
        for extra in extras:
            reason = f"duplicate of {kept.id} (left by an interrupted run)"
            change = Change(desired.name, Action.DELETE, reason, before=extra)
            changes.append(_guard(change, protects, diagnostics))
        changes.append(_guard(_change_for(desired, kept), protects, diagnostics))

    protected_entries = {
        s.entry
        for s in spec.servers
        if s.lifecycle.prevent_destroy and s.entry is not None and s.entry != s.name
    }
    for name, group in managed.items():
        if name in desired_names:
            continue
        base, _, number = name.rpartition("-")
        protects = number.isdigit() and base in protected_entries
        for server in group:
            change = Change(name, Action.DELETE, "no longer in the spec", before=server)
            changes.append(_guard(change, protects, diagnostics))

    diagnostics.extend(_conflict_warnings(spec.stack, clashes))
    changes.sort(key=change_key)
    diagnostics.sort(key=diagnostic_key)
    return Plan(spec.stack, tuple(changes), tuple(diagnostics), sensitive=spec.sensitive)


def change_key(change: Change) -> tuple[str, int, str]:
    return (change.address, ACTION_ORDER[change.action], change.before.id if change.before else "")


def diagnostic_key(diagnostic: Diagnostic) -> tuple[int, str, str]:
    return (
        0 if diagnostic.severity == "error" else 1,
        diagnostic.address or "",
        diagnostic.message,
    )


#: Above this many names, same-named strangers are summed up in one warning.
CONFLICT_NAMES_LISTED = 5
_CONFLICT_HINT = (
    "declstack never adopts servers it did not create; rename one of them "
    "if two servers with one name would confuse you"
)


def _conflict_warnings(stack: str, clashes: Mapping[str, list[str]]) -> list[Diagnostic]:
    """One warning per name (however many strangers carry it), or one for all of them
    when many names clash (say, other stacks built from a copy of this spec)."""
    if len(clashes) > CONFLICT_NAMES_LISTED:
        names = sorted(clashes)
        total = sum(len(ids) for ids in clashes.values())
        shown = ", ".join(names[:CONFLICT_NAMES_LISTED])
        return [
            Diagnostic(
                "warning",
                f'{total} servers not managed by stack "{stack}" carry names this plan '
                f"creates ({shown} and {len(names) - CONFLICT_NAMES_LISTED} more); "
                "they are left untouched",
                hint=_CONFLICT_HINT,
            )
        ]
    warnings = []
    for name, ids in sorted(clashes.items()):
        if len(ids) == 1:
            message = (
                f'a server named "{name}" (id {ids[0]}) exists but is not managed by stack '
                f'"{stack}"; it is left untouched'
            )
        else:
            message = (
                f'{len(ids)} servers named "{name}" (ids {", ".join(ids)}) exist but are not '
                f'managed by stack "{stack}"; they are left untouched'
            )
        warnings.append(
            Diagnostic(
                "warning", message, address=f"{Kind.SERVER.value}.{name}", hint=_CONFLICT_HINT
            )
        )
    return warnings


def _status_rank(server: ObservedServer) -> int:
    if server.status.upper() == "ACTIVE":
        return 0
    if server.is_in_progress:
        return 1
    return 2


def _pick_kept(
    group: list[ObservedServer], desired: DesiredServer
) -> tuple[ObservedServer, list[ObservedServer]]:
    """The server to keep among same-named ones: an ACTIVE one built from the spec as it
    is now (the new half of a replacement a killed run left behind), then ACTIVE, then
    BUILD, the oldest first, by id. Keeping the old half would build it a third time."""

    def current(server: ObservedServer) -> bool:
        return (
            server.status.upper() == "ACTIVE"
            and ownership.parse_fingerprint(server.metadata.get(ownership.FINGERPRINT_KEY))
            is not None
            and not ownership.changed_create_attributes(desired, server)
        )

    ordered = sorted(group, key=lambda s: (not current(s), _status_rank(s), s.created, s.id))
    return ordered[0], ordered[1:]


def _guard(change: Change, spec_protects: bool, diagnostics: list[Diagnostic]) -> Change:
    """Turn a DELETE/REPLACE of a protected server into a NOOP plus an error.

    Protected: the spec says prevent_destroy (`spec_protects`: its own entry, or the
    count entry a removed `web-3` came from), or the server carries the marker,
    which outlives the entry and a flag dropped in the same change.
    """
    if change.action is not Action.DELETE and not change.action.is_replace:
        return change
    recorded = change.before is not None and ownership.is_protected(change.before)
    if not (spec_protects or recorded):
        return change
    verb = "delete" if change.action is Action.DELETE else "replace"
    if recorded:
        reason = (
            f"prevent_destroy is recorded on the server; refusing to {verb} it ({change.reason})"
        )
        hint = (
            "first apply a spec that keeps this server, with lifecycle.prevent_destroy "
            "removed and nothing else changed for it: that only takes the "
            f"{ownership.PREVENT_DESTROY_KEY} marker off; after that it can be {verb}d"
        )
    else:
        reason = f"prevent_destroy is set; refusing to {verb} it ({change.reason})"
        hint = (
            "remove lifecycle.prevent_destroy from the spec to allow it, "
            "or undo the change that requires it"
        )
    diagnostics.append(
        Diagnostic("error", f"{change.address}: {reason}", address=change.address, hint=hint)
    )
    return Change(change.name, Action.NOOP, reason, before=change.before, after=change.after)


def _change_for(desired: DesiredServer, server: ObservedServer) -> Change:
    """The change for one desired server that has exactly one managed server."""
    status = server.status.upper()

    def change(action: Action, reason: str, patch: ServerPatch | None = None) -> Change:
        return Change(desired.name, action, reason, before=server, after=desired, patch=patch)

    replace = (
        Action.CREATE_THEN_DELETE
        if desired.lifecycle.create_before_destroy
        else Action.DELETE_THEN_CREATE
    )

    def replacement(reason: str, attributes: tuple[str, ...] = ()) -> Change:
        return Change(
            desired.name, replace, reason, before=server, after=desired, replaced_by=attributes
        )

    if status == "BUILD":
        return change(Action.WAIT, "being built (BUILD); waiting for it, not creating it again")
    if server.is_in_progress:
        return change(Action.WAIT, f"in progress ({status}); waiting for it, not replacing it")
    if server.is_error:
        fault = server.fault or "Nova gave no fault message"
        return replacement(f"in ERROR: {fault}")
    if status == "VERIFY_RESIZE" and desired.lifecycle.flavor_change == CHANGE_RESIZE:
        return _resize_left(desired, server)
    if status not in SETTLED_STATUSES:
        return change(
            Action.NOOP,
            f"in status {status}, which declstack does not change; left as it is "
            "(plan again once it is ACTIVE or SHUTOFF)",
        )

    if ownership.parse_fingerprint(server.metadata.get(ownership.FINGERPRINT_KEY)) is None:
        return replacement(
            "no readable declstack fingerprint, so what it was built from is unknown"
        )
    lifecycle = desired.lifecycle
    changed = ownership.changed_create_attributes(desired, server)
    acted = [name for name in changed if name not in lifecycle.ignore_changes]
    in_place = tuple(name for name in acted if _changes_in_place(name, desired))
    forcing = tuple(name for name in acted if name not in in_place)
    if forcing:
        reasons = [describe_create_change(name, desired, server) for name in acted]
        reasons += [
            f"{describe_create_change(name, desired, server)} too (lifecycle.ignore_changes "
            "lists it, but the new server is built from the spec)"
            for name in changed
            if name in lifecycle.ignore_changes
        ]
        return replacement("; ".join(reasons), forcing)

    ignored = [
        (name, describe_create_change(name, desired, server))
        for name in changed
        if name in lifecycle.ignore_changes
    ]
    patch, details = _patch_for(desired, server, in_place, ignored)
    patch = _health_mark(desired, server, patch, details)
    names = tuple(dict.fromkeys(name for name, _ in ignored))
    said = [f"ignored by lifecycle.ignore_changes: {'; '.join(t for _, t in ignored)}"]
    said = said if ignored else []
    if patch.is_empty:
        noop = change(Action.NOOP, "; ".join(["up to date", *said]))
        return dataclasses.replace(noop, ignored=names)
    update = change(Action.UPDATE, "; ".join([*details, *said]), patch)
    return dataclasses.replace(update, ignored=names)


def _health_mark(
    desired: DesiredServer, server: ObservedServer, patch: ServerPatch, details: list[str]
) -> ServerPatch:
    """A server whose last health check failed (the mark a rollout left on it) is
    checked again, first, before its entry's rollout goes on; with no health check to
    run any more, the mark is only taken off."""
    failed = server.metadata.get(ownership.HEALTH_KEY)
    if failed is None:
        return patch
    health = desired.rollout.health if desired.rollout is not None else None
    if health is not None and desired.state == STATE_ACTIVE:
        details.append(f"its last health check failed ({failed}): checked again, first")
        return dataclasses.replace(patch, recheck_health=True)
    details.append("no health check to pass any more: the mark of a failed one is taken off")
    return dataclasses.replace(
        patch, delete_metadata=(*patch.delete_metadata, ownership.HEALTH_KEY)
    )


def _resize_left(desired: DesiredServer, server: ObservedServer) -> Change:
    """A server an interrupted apply left waiting for its resize to be confirmed: on the
    spec's flavor, confirm it (Nova never does, unless the cloud sets a window); on
    another (somebody's own resize), leave it to them."""
    if server.flavor_name != desired.flavor:
        reason = (
            f'in VERIFY_RESIZE on flavor "{server.flavor_name}", not the spec\'s '
            f'"{desired.flavor}"; left as it is (confirm or revert that resize, then plan again)'
        )
        return Change(desired.name, Action.NOOP, reason, before=server, after=desired)
    patch = ServerPatch(
        set_metadata=frozen_map(
            {
                ownership.FINGERPRINT_KEY: ownership.rewritten_fingerprint(
                    desired, server, ["flavor"]
                )
            }
        ),
        confirm_resize=True,
    )
    reason = (
        f'in VERIFY_RESIZE on the spec\'s flavor "{desired.flavor}" (a resize an interrupted '
        "apply did not confirm): confirm it"
    )
    return Change(desired.name, Action.UPDATE, reason, before=server, after=desired, patch=patch)


def _changes_in_place(name: str, desired: DesiredServer) -> bool:
    """A create-time attribute the spec asks to change in place: the flavor with
    `flavor_change: resize`, the image with `image_change: rebuild`."""
    lifecycle = desired.lifecycle
    return (name == "flavor" and lifecycle.flavor_change == CHANGE_RESIZE) or (
        name == "image" and lifecycle.image_change == CHANGE_REBUILD
    )


def describe_create_change(name: str, desired: DesiredServer, server: ObservedServer) -> str:
    """`image changed (spec now "ubuntu")`; the old value is only a hash, so not shown."""
    if name == "user_data":
        return "user_data changed"
    if name == "placement":
        return server_group.describe_placement_change(desired)
    if name == "flavor" and server.flavor_name:
        return f'flavor changed (spec now "{desired.flavor}", server has "{server.flavor_name}")'
    value = ownership.create_time_values(desired)[name]
    if value is None:
        return f"{name} changed (spec now unset)"
    if isinstance(value, list | dict):
        return f"{name} changed (spec now {json.dumps(value)})"
    return f'{name} changed (spec now "{value}")'


def _patch_for(
    desired: DesiredServer,
    server: ObservedServer,
    in_place: tuple[str, ...] = (),
    ignored: list[tuple[str, str]] | None = None,
) -> tuple[ServerPatch, list[str]]:
    """The in-place update touching only keys and tags declstack manages, and its wording.

    `in_place` are the create-time attributes changed in place (resize, rebuild).
    A difference in an attribute `lifecycle.ignore_changes` lists is appended to
    `ignored` as (attribute, wording) and left out of the patch.
    """
    ignore = desired.lifecycle.ignore_changes
    notes = ignored if ignored is not None else []
    current = server.metadata
    details: list[str] = []

    def keep(name: str, said: list[str]) -> bool:
        """Whether a difference in `name` goes into the patch (else it is only noted)."""
        if name not in ignore:
            details.extend(said)
            return True
        notes.extend((name, text) for text in said)
        return False

    set_metadata: dict[str, str] = {}
    said: list[str] = []
    wanted_metadata: dict[str, str] = {}
    for key, value in sorted(desired.metadata.items()):
        if current.get(key) != value:
            wanted_metadata[key] = value
            before = f'"{current[key]}"' if key in current else "(unset)"
            said.append(f'metadata {key}: {before} -> "{value}"')
    delete_metadata = tuple(
        sorted(
            key
            for key in ownership.managed_metadata_keys(current)
            if key not in desired.metadata
            and key in current
            and not key.startswith(ownership.PREFIX)  # never the ownership marker itself
        )
    )
    said.extend(f"metadata {key}: removed" for key in delete_metadata)
    bookkeeping = _bookkeeping(
        current, ownership.MANAGED_METADATA_KEY, ownership.managed_metadata_keys, desired.metadata
    )
    if keep("metadata", said):
        set_metadata.update(wanted_metadata)
    else:
        delete_metadata, bookkeeping = (), {}

    add_tags = tuple(sorted(tag for tag in set(desired.tags) if tag not in server.tags))
    remove_tags = tuple(
        sorted(
            tag
            for tag in set(ownership.managed_tags(current))
            if tag not in desired.tags
            and tag in server.tags
            and not tag.startswith(ownership.PREFIX)  # never the ownership tag itself
        )
    )
    tag_bookkeeping = _bookkeeping(
        current, ownership.MANAGED_TAGS_KEY, ownership.managed_tags, desired.tags
    )
    if not keep(
        "tags", [*(f"tag +{tag}" for tag in add_tags), *(f"tag -{tag}" for tag in remove_tags)]
    ):
        add_tags, remove_tags, tag_bookkeeping = (), (), {}
    bookkeeping.update(tag_bookkeeping)
    if bookkeeping and not details:
        details.append("declstack bookkeeping of managed keys/tags")
    set_metadata.update(bookkeeping)

    rewritten = list(in_place)
    security_groups, groups_said = _security_groups_change(desired, server)
    if security_groups is not None and keep("security_groups", [groups_said]):
        rewritten.insert(0, "security_groups")
    else:
        security_groups = None

    change_description = (
        desired.description is not None
        and desired.description != server.description
        and keep(
            "description",
            [f'description: {_quoted(server.description)} -> "{desired.description}"'],
        )
    )

    if desired.lifecycle.prevent_destroy and not ownership.is_protected(server):
        set_metadata[ownership.PREVENT_DESTROY_KEY] = "true"
        details.append("prevent_destroy: recorded on the server")
    elif not desired.lifecycle.prevent_destroy and ownership.PREVENT_DESTROY_KEY in current:
        delete_metadata = (*delete_metadata, ownership.PREVENT_DESTROY_KEY)
        details.append("prevent_destroy: marker removed from the server")

    resize_to = desired.flavor if "flavor" in in_place else None
    rebuild_with = desired.image if "image" in in_place else None
    if resize_to is not None:
        details.append(f"{describe_create_change('flavor', desired, server)}: {RESIZE}")
    if rebuild_with is not None:
        details.append(f"{describe_create_change('image', desired, server)}: {REBUILD}")
    if rewritten:
        set_metadata[ownership.FINGERPRINT_KEY] = ownership.rewritten_fingerprint(
            desired, server, rewritten
        )

    power = _power_for(desired, server)
    if power is not None and not keep("state", [_describe_power(power, desired, server)]):
        power = None

    patch = ServerPatch(
        set_metadata=frozen_map(set_metadata),
        delete_metadata=delete_metadata,
        add_tags=add_tags,
        remove_tags=remove_tags,
        description=desired.description if change_description else None,
        change_description=change_description,
        security_groups=security_groups,
        resize_to=resize_to,
        rebuild_with=rebuild_with,
        power=power,
    )
    return patch, details


def _quoted(text: str | None) -> str:
    return f'"{text}"' if text is not None else "(unset)"


def _power_for(desired: DesiredServer, server: ObservedServer) -> str | None:
    """os-start for a stopped server the spec wants running, os-stop for the reverse."""
    status = server.status.upper()
    if desired.state == STATE_ACTIVE and status == "SHUTOFF":
        return POWER_START
    if desired.state == STATE_SHUTOFF and status == "ACTIVE":
        return POWER_STOP
    return None


def _describe_power(power: str, desired: DesiredServer, server: ObservedServer) -> str:
    return f"state: {server.status.upper()} -> {desired.state} ({power})"


#: Nova puts a server without requested groups into `default`.
DEFAULT_SECURITY_GROUP = "default"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")


def _security_groups_change(
    desired: DesiredServer, server: ObservedServer
) -> tuple[tuple[str, ...] | None, str]:
    """The groups the server must end up with, when they differ from the spec's.

    A change is seen in the fingerprint (the spec's list as written), or, when the
    spec names its groups (not ids) and the cloud lists the server's groups, as
    drift: a group added or removed behind declstack's back. A spec without
    `security_groups` leaves Nova's choice (`default`) alone.
    """
    target = desired.security_groups or (DEFAULT_SECURITY_GROUP,)
    in_fingerprint = "security_groups" in ownership.changed_fingerprinted(desired, server)
    observed = server.security_groups
    drifted = (
        bool(desired.security_groups)
        and observed is not None
        and not any(_UUID.match(ref) for ref in target)
        and set(target) != set(observed)
    )
    if not (in_fingerprint or drifted):
        return None, ""
    before = json.dumps(sorted(set(observed))) if observed is not None else "(unknown)"
    return tuple(target), f"security groups: {before} -> {json.dumps(sorted(set(target)))}"


def _bookkeeping(
    current: Mapping[str, str],
    key: str,
    read: Callable[[Mapping[str, str]], list[str]],
    wanted: Mapping[str, str] | Sequence[str],
) -> dict[str, str]:
    """`{key: new list}` when the recorded set of managed names differs from the spec's."""
    recorded = sorted(set(read(current)))
    names = sorted(set(wanted))
    if recorded == names:
        return {}
    return {key: ownership.join_names(names)}


# --- what a whole plan may do: --target and --max-deletions ----------------------------


def target(plan: Plan, spec: Spec, targets: Sequence[str]) -> Plan:
    """Only the changes `targets` name, and what they need to succeed; the others are
    left out (counted in `Plan.left_out`), and so are the diagnostics about them.

    A target is a server name or pattern (`web-1`, `web-*`) or an address
    (`security_group.web`, `server.web-*`). A targeted server brings its floating
    IP's change and the creates of the groups and key pair it names; a floating IP
    brings the build of its server; a group the creates of the groups its rules
    name. A target that matches nothing in the spec or the stack is an error.
    """
    if not targets:
        return plan
    known = {(c.kind, c.name) for c in plan.changes} | _spec_addresses(spec)
    known |= {_parse_address(d.address) for d in plan.diagnostics if d.address}
    selected = {
        f"{kind.value}.{name}"
        for kind, name in known
        if any(_matches(t, kind, name) for t in targets)
    }
    by_address: dict[str, list[Change]] = defaultdict(list)
    for change in plan.changes:
        by_address[change.address].append(change)
    queue = [c for c in plan.changes if c.address in selected]
    taken = {id(c) for c in queue}
    while queue:
        change = queue.pop()
        for address in _needs(change):
            brought = [d for d in by_address.get(address, []) if _brings(change, d)]
            if change.kind is Kind.SERVER and address.startswith(_SERVER_PARTS):
                selected.add(address)  # its diagnostics too, even without a change
            for dependency in brought:
                selected.add(address)
                if id(dependency) not in taken:
                    taken.add(id(dependency))
                    queue.append(dependency)

    unmatched = [
        Diagnostic(
            "error",
            f'--target "{t}" matches nothing in the spec or among the resources of stack '
            f'"{plan.stack}"',
            hint="name a server (web-1), a count group's servers (web-*), or an address: "
            "server.NAME, security_group.NAME, keypair.NAME, floating_ip.NAME, "
            "server_group.ENTRY, volume.SERVER-VOLUME",
        )
        for t in targets
        if not any(_matches(t, kind, name) for kind, name in known)
    ]
    kept = tuple(c for c in plan.changes if id(c) in taken)
    return dataclasses.replace(
        plan,
        changes=kept,
        diagnostics=tuple(
            sorted(
                [
                    *(d for d in plan.diagnostics if d.address is None or d.address in selected),
                    *unmatched,
                ],
                key=diagnostic_key,
            )
        ),
        left_out=tuple(c.address for c in plan.changes if id(c) not in taken and c.is_pending),
    )


def _parse_address(address: str) -> tuple[Kind, str]:
    """(kind, name) of `<kind>.<name>`; a bare name is a server's."""
    prefix, dot, name = address.partition(".")
    kinds = {kind.value: kind for kind in Kind}
    if dot and prefix in kinds:
        return kinds[prefix], name
    return Kind.SERVER, address


def _matches(target: str, kind: Kind, name: str) -> bool:
    """`web-*` matches servers named so, `floating_ip.web-*` their floating IPs."""
    wanted_kind, pattern = _parse_address(target)
    return wanted_kind is kind and fnmatch.fnmatchcase(name, pattern)


def _spec_addresses(spec: Spec) -> set[tuple[Kind, str]]:
    """What the spec names, whether or not the plan has a change for it."""
    found = {(Kind.SERVER, s.name) for s in spec.servers}
    found |= {(Kind.FLOATING_IP, s.name) for s in spec.servers if s.floating_ip is not None}
    found |= {(Kind.SECURITY_GROUP, g.name) for g in spec.security_groups}
    found |= {(Kind.SERVER_GROUP, g.entry) for g in server_group.desired_groups(spec)}
    found |= {(Kind.VOLUME, f"{s.name}-{v.name}") for s in spec.servers for v in s.volumes}
    return found | {(Kind.KEYPAIR, k.name) for k in spec.keypairs}


#: The addresses of a server's own parts: a targeted server brings their diagnostics.
_SERVER_PARTS = (f"{Kind.FLOATING_IP.value}.", f"{Kind.VOLUME.value}.")


def _needs(change: Change) -> list[str]:
    """The addresses whose changes `change` may need to succeed."""
    if change.kind is Kind.SERVER:
        needs = [placeholder(Kind.FLOATING_IP, change.name)]
        if change.after is not None:
            needs += [placeholder(Kind.SECURITY_GROUP, g) for g in change.after.security_groups]
            if change.after.key_name is not None:
                needs.append(placeholder(Kind.KEYPAIR, change.after.key_name))
            if change.after.placement is not None and change.after.entry is not None:
                needs.append(placeholder(Kind.SERVER_GROUP, change.after.entry))
            volumes = change.after.volumes
            needs += [placeholder(Kind.VOLUME, f"{change.name}-{v.name}") for v in volumes]
        return needs
    if change.volume is not None:
        return [placeholder(Kind.SERVER, change.volume.server)]
    if change.floating_ip is not None and change.floating_ip.server is not None:
        return [placeholder(Kind.SERVER, change.floating_ip.server)]
    if change.group is not None:
        own = f"{Kind.SECURITY_GROUP.value}."
        return [
            rule.remote_group
            for rule in change.group.add_rules
            if rule.remote_group is not None and rule.remote_group.startswith(own)
        ]
    return []


def _brings(change: Change, dependency: Change) -> bool:
    """A server brings its floating IP's and volumes' changes, whatever they are; anything
    else only the builds it needs (a group, key pair or server the plan creates)."""
    if change.kind is Kind.SERVER and dependency.kind in (Kind.FLOATING_IP, Kind.VOLUME):
        return True
    return dependency.action.builds


def limit_deletions(plan: Plan, limit: int | None, source: str) -> Plan:
    """An error when the plan deletes or replaces more than `limit` servers (`source`
    says where the limit was set), so an emptied spec cannot wipe a fleet."""
    doomed = [
        c.name
        for c in plan.of_kind(Kind.SERVER)
        if c.action is Action.DELETE or c.action.is_replace
    ]
    if limit is None or len(doomed) <= limit:
        return plan
    names = ", ".join(doomed[:CONFLICT_NAMES_LISTED])
    more = (
        f" and {len(doomed) - CONFLICT_NAMES_LISTED} more"
        if len(doomed) > CONFLICT_NAMES_LISTED
        else ""
    )
    refusal = Diagnostic(
        "error",
        f"this plan deletes or replaces {len(doomed)} servers ({names}{more}), more than "
        f"the limit of {limit} ({source})",
        hint="check that the spec is complete (servers it no longer lists are deleted); to "
        "go ahead, raise the limit (--max-deletions N overrides the spec's max_deletions) "
        "or narrow the plan with --target",
    )
    return dataclasses.replace(
        plan, diagnostics=tuple(sorted((*plan.diagnostics, refusal), key=diagnostic_key))
    )
