"""The planner: desired state x observed state -> a `Plan`, each change with a reason.

Pure: no I/O, no clock, no cloud. The caller lists the stack's servers (and,
separately, same-named servers it does not own) and gets back a value that
`render` shows and `reconciler` executes. References (image, flavor, ...) are
not looked up here; `resolve` does that for creates only.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

from declstack import ownership
from declstack.model import (
    ACTION_ORDER,
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
)

#: Statuses in which declstack updates metadata, tags and description, or replaces.
SETTLED_STATUSES = frozenset({"ACTIVE", "SHUTOFF"})


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
        for extra in extras:
            reason = f"duplicate of {kept.id} (left by an interrupted run)"
            changes.append(
                _guard(
                    Change(desired.name, Action.DELETE, reason, before=extra), desired, diagnostics
                )
            )
        changes.append(_guard(_change_for(desired, kept), desired, diagnostics))

    for name, group in managed.items():
        if name in desired_names:
            continue
        changes.extend(
            Change(name, Action.DELETE, "no longer in the spec", before=server) for server in group
        )

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


def _guard(change: Change, desired: DesiredServer, diagnostics: list[Diagnostic]) -> Change:
    """Turn a DELETE/REPLACE of a prevent_destroy server into a NOOP plus an error."""
    if change.action is not Action.DELETE and not change.action.is_replace:
        return change
    if not desired.lifecycle.prevent_destroy:
        return change
    verb = "delete" if change.action is Action.DELETE else "replace"
    reason = f"prevent_destroy is set; refusing to {verb} it ({change.reason})"
    diagnostics.append(
        Diagnostic(
            "error",
            f"{change.address}: {reason}",
            address=change.address,
            hint="remove lifecycle.prevent_destroy from the spec to allow it, "
            "or undo the change that requires it",
        )
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
    changed = ownership.changed_create_attributes(desired, server)
    if changed:
        return replacement(
            "; ".join(_describe_create_change(name, desired, server) for name in changed),
            tuple(changed),
        )

    patch, details = _patch_for(desired, server)
    if patch.is_empty:
        return change(Action.NOOP, "up to date")
    return change(Action.UPDATE, "; ".join(details), patch)


def _describe_create_change(name: str, desired: DesiredServer, server: ObservedServer) -> str:
    """`image changed (spec now "ubuntu")`; the old value is only a hash, so not shown."""
    if name == "user_data":
        return "user_data changed"
    if name == "flavor" and server.flavor_name:
        return f'flavor changed (spec now "{desired.flavor}", server has "{server.flavor_name}")'
    value = ownership.create_time_values(desired)[name]
    if value is None:
        return f"{name} changed (spec now unset)"
    if isinstance(value, list):
        return f"{name} changed (spec now {json.dumps(value)})"
    return f'{name} changed (spec now "{value}")'


def _patch_for(desired: DesiredServer, server: ObservedServer) -> tuple[ServerPatch, list[str]]:
    """The in-place update touching only keys and tags declstack manages, and its wording."""
    current = server.metadata
    details: list[str] = []
    set_metadata: dict[str, str] = {}
    for key, value in sorted(desired.metadata.items()):
        if current.get(key) != value:
            set_metadata[key] = value
            before = f'"{current[key]}"' if key in current else "(unset)"
            details.append(f'metadata {key}: {before} -> "{value}"')
    delete_metadata = tuple(
        sorted(
            key
            for key in ownership.managed_metadata_keys(current)
            if key not in desired.metadata
            and key in current
            and not key.startswith(ownership.PREFIX)  # never the ownership marker itself
        )
    )
    details.extend(f"metadata {key}: removed" for key in delete_metadata)

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
    details.extend(f"tag +{tag}" for tag in add_tags)
    details.extend(f"tag -{tag}" for tag in remove_tags)

    bookkeeping = _bookkeeping(
        current, ownership.MANAGED_METADATA_KEY, ownership.managed_metadata_keys, desired.metadata
    )
    bookkeeping.update(
        _bookkeeping(current, ownership.MANAGED_TAGS_KEY, ownership.managed_tags, desired.tags)
    )
    if bookkeeping and not details:
        details.append("declstack bookkeeping of managed keys/tags")
    set_metadata.update(bookkeeping)

    security_groups, said = _security_groups_change(desired, server)
    if security_groups is not None:
        details.append(said)
        set_metadata[ownership.FINGERPRINT_KEY] = ownership.fingerprint(desired)

    change_description = (
        desired.description is not None and desired.description != server.description
    )
    if change_description:
        before = f'"{server.description}"' if server.description is not None else "(unset)"
        details.append(f'description: {before} -> "{desired.description}"')

    patch = ServerPatch(
        set_metadata=frozen_map(set_metadata),
        delete_metadata=delete_metadata,
        add_tags=add_tags,
        remove_tags=remove_tags,
        description=desired.description if change_description else None,
        change_description=change_description,
        security_groups=security_groups,
    )
    return patch, details


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
