"""The server group kind: one owned Nova server group per spec entry with `placement:`.

Pure. A Nova server group has a name, a policy and members, nothing to hold a
marker, so the marker is its name: `declstack:stack=<stack>:entry=<entry>`. Neither
a stack name nor an entry name can hold a ':', so a name belongs to exactly one
stack and entry (with `declstack-<stack>-<entry>`, stacks `a` and `a-b` would both
claim `declstack-a-b-c`). Only groups named so are ever changed or deleted.

- absent: created, before the servers that are scheduled into it;
- present with the spec's policy: kept;
- present with another policy: Nova cannot change a group's policy, so a new group
  is created (create-then-delete). The servers' fingerprints record the policy, so
  they are replaced into the new group; the old group goes after them;
- its entry gone, or without `placement:`: deleted after its servers;
- two of one entry (an interrupted run): the one with the most members is kept.

A server joins its group at boot only (the `group` scheduler hint), so a group
deleted behind declstack's back is made again and only servers built from then on
are in it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence

from declstack.model import (
    HARD_POLICIES,
    Action,
    Change,
    DesiredServer,
    DesiredServerGroup,
    Diagnostic,
    Kind,
    Limits,
    ObservedServerGroup,
    Plan,
    ServerGroupChange,
    Spec,
    placeholder,
)

_PREFIX = "declstack:stack="
_ENTRY = ":entry="
#: The start of Nova's fault when the scheduler finds no host for a server.
NO_VALID_HOST = "No valid host"


def name_for(stack: str, entry: str) -> str:
    """The name of `entry`'s server group: the stack's ownership marker."""
    return f"{_PREFIX}{stack}{_ENTRY}{entry}"


def owner_entry(stack: str, group: ObservedServerGroup) -> str | None:
    """The entry an owned group belongs to (None: not this stack's)."""
    if not group.name.startswith(f"{_PREFIX}{stack}{_ENTRY}"):
        return None
    entry = group.name[len(_PREFIX) + len(stack) + len(_ENTRY) :]
    return entry or None


def desired_groups(spec: Spec) -> list[DesiredServerGroup]:
    """One group per entry whose servers ask for `placement:` (an entry of count 0 has
    no servers, so no group), in entry-name order."""
    found: dict[str, DesiredServerGroup] = {}
    for server in spec.servers:
        if server.placement is None or server.entry is None or server.entry in found:
            continue
        found[server.entry] = DesiredServerGroup(
            entry=server.entry,
            policy=server.placement.policy,
            name=name_for(spec.stack, server.entry),
            source=server.source,
        )
    return [found[entry] for entry in sorted(found)]


def plan_server_groups(
    spec: Spec, observed: Sequence[ObservedServerGroup], keep: Collection[str] = ()
) -> tuple[list[Change], list[Diagnostic]]:
    """Changes for the stack's server groups. `keep` names entries whose groups are left
    as they are (a destroy keeps the groups of servers prevent_destroy protects)."""
    owned: dict[str, list[ObservedServerGroup]] = defaultdict(list)
    for group in observed:
        entry = owner_entry(spec.stack, group)
        if entry is not None:
            owned[entry].append(group)
    for groups in owned.values():
        groups.sort(key=lambda g: (-len(g.members), g.id))

    changes: list[Change] = []
    wanted = {group.entry: group for group in desired_groups(spec)}
    for entry, desired in wanted.items():
        there = owned.pop(entry, [])
        same = [g for g in there if g.policy == desired.policy]
        others = [g for g in there if g.policy != desired.policy]
        if same:
            kept, *duplicates = same
            changes.append(_change(entry, Action.NOOP, "up to date", kept, desired))
            changes += [
                _change(
                    entry, Action.DELETE, f"duplicate of {kept.id} (left by an interrupted run)", g
                )
                for g in duplicates
            ]
        elif others:
            old, *others = others
            changes.append(
                _change(
                    entry,
                    Action.CREATE_THEN_DELETE,
                    f'policy changed from "{old.policy}" to "{desired.policy}": Nova cannot '
                    "change a group's policy, so a new group is made, the servers of "
                    f'"{entry}" are replaced into it, and this one goes after them',
                    old,
                    desired,
                    replaced_by=("placement",),
                )
            )
        else:
            changes.append(_change(entry, Action.CREATE, "not in the cloud", None, desired))
        changes += [
            _change(
                entry,
                Action.DELETE,
                f'policy "{g.policy}" is no longer the spec\'s ("{desired.policy}")',
                g,
            )
            for g in others
        ]
    names = {server.entry for server in spec.servers}
    for entry, groups in sorted(owned.items()):
        if entry in keep:
            reason = "kept: a server of this entry is protected by prevent_destroy"
            changes += [_change(entry, Action.NOOP, reason, g) for g in groups]
            continue
        why = (
            "the entry no longer asks for placement" if entry in names else "no longer in the spec"
        )
        changes += [_change(entry, Action.DELETE, why, g) for g in groups]
    return changes, []


def group_ids(changes: Sequence[Change]) -> dict[str, str]:
    """Entry -> the id of the group its servers are scheduled into, or the placeholder
    address of the group this apply creates."""
    ids: dict[str, str] = {}
    for change in changes:
        payload = change.server_group
        if payload is None or payload.after is None:
            continue
        if change.action.builds:
            ids[change.name] = placeholder(Kind.SERVER_GROUP, change.name)
        elif payload.before is not None:
            ids[change.name] = payload.before.id
    return ids


def check_quota(plan: Plan, limits: Limits) -> Plan:
    """Errors for what Nova's server group quotas would refuse halfway through the apply:
    more servers in one entry's group than `maxServerGroupMembers` allows, or more groups
    than `maxServerGroups` (a policy change holds the old group and the new one
    until the servers moved)."""
    problems: list[Diagnostic] = []
    members = Counter(
        c.after.entry
        for c in plan.of_kind(Kind.SERVER)
        if c.after is not None and c.after.placement is not None and c.action is not Action.DELETE
    )
    most = limits.max_server_group_members
    for entry, count in sorted(members.items()):
        if most is not None and entry is not None and count > most:
            problems.append(
                Diagnostic(
                    "error",
                    f'entry "{entry}" puts {count} servers into its server group, and the '
                    f"project's quota allows {most} per group (Nova's maxServerGroupMembers)",
                    address=placeholder(Kind.SERVER_GROUP, entry),
                    hint="lower count, or ask for a higher server_group_members quota",
                )
            )
    made = [c for c in plan.of_kind(Kind.SERVER_GROUP) if c.action.builds]
    peak = limits.used_server_groups + len(made)
    if limits.max_server_groups is not None and made and peak > limits.max_server_groups:
        problems.append(
            Diagnostic(
                "error",
                f"applying this plan needs {peak} server groups, but the project's quota is "
                f"{limits.max_server_groups} ({limits.used_server_groups} in use; a policy "
                "change holds the old group until its servers moved)",
                hint="ask for a higher server_groups quota, or give fewer entries placement",
            )
        )
    if not problems:
        return plan
    return dataclasses.replace(plan, diagnostics=(*plan.diagnostics, *problems))


def describe_placement_change(server: DesiredServer) -> str:
    """Why a server is replaced when its entry's placement changed."""
    if server.placement is None:
        return (
            "placement changed (spec now unset): a server leaves its server group only by "
            "being built again"
        )
    return (
        f'placement changed (spec now "{server.placement.policy}"): a server joins a server '
        "group at boot only, and Nova cannot change a group's policy"
    )


def cannot_place(server: DesiredServer | None, fault: str) -> bool:
    """A build that failed with Nova's "No valid host" under a hard policy: building it
    again meets the same hosts and the same rule, so it would fail again."""
    return (
        server is not None
        and server.placement is not None
        and server.placement.policy in HARD_POLICIES
        and NO_VALID_HOST in fault
    )


def unplaced_message(server: DesiredServer, fault: str) -> str:
    """The fault of a server its group's hard policy left without a host, and what to do."""
    assert server.placement is not None
    policy = server.placement.policy
    rule = (
        "no two of its servers on one host"
        if policy == "anti-affinity"
        else "all of its servers on one host"
    )
    return (
        f'{fault} (placement policy "{policy}": {rule}, and no host is left that the rule '
        "allows, so it is not built again; add hosts, lower count, or use "
        f'"soft-{policy}")'
    )


def _change(
    entry: str,
    action: Action,
    reason: str,
    before: ObservedServerGroup | None,
    after: DesiredServerGroup | None = None,
    *,
    replaced_by: tuple[str, ...] = (),
) -> Change:
    return Change(
        entry,
        action,
        reason,
        kind=Kind.SERVER_GROUP,
        server_group=ServerGroupChange(before=before, after=after),
        replaced_by=replaced_by,
    )
