"""Rolling replacement: which batch each rolled change of a plan goes in (pure).

An entry with `rollout:` has its servers' replacements, resizes and rebuilds
(and the health checks asked again of servers whose last one failed, first)
split into batches of `rollout.size(servers of the entry)`, in the spec's order
of the servers; the plan carries the batch on each change (`Change.batch`), and
the reconciler runs batch 1 of every entry, then batch 2, and so on, each one
ACTIVE and healthy before the next. Every other change (creates of new
replicas, deletes of dropped ones, updates that only write metadata, tags or
power state, waits) is not rolled and runs before the batches, as without
`rollout:`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict

from declstack.model import Action, Batch, Change, Kind, Plan, Spec


def rolls(change: Change) -> bool:
    """A change a rollout batches: a replacement, a resize or a rebuild of a server
    whose entry has `rollout:`."""
    if change.kind is not Kind.SERVER or change.after is None or change.after.rollout is None:
        return False
    if change.action.is_replace:
        return True
    patch = change.patch
    return (
        change.action is Action.UPDATE
        and patch is not None
        and (patch.resize_to is not None or patch.rebuild_with is not None or patch.recheck_health)
    )


def _rechecks(change: Change) -> bool:
    return change.patch is not None and change.patch.recheck_health


def batched(plan: Plan, spec: Spec) -> Plan:
    """`plan` with a `Batch` on every change a rollout batches (run this after
    `--target` has chosen the changes, so the batches are the ones apply runs)."""
    order = {server.name: index for index, server in enumerate(spec.servers)}
    sizes = Counter(server.entry for server in spec.servers)
    by_entry: dict[str, list[int]] = defaultdict(list)
    for index, change in enumerate(plan.changes):
        if rolls(change):
            assert change.after is not None and change.after.entry is not None
            by_entry[change.after.entry].append(index)
    if not by_entry:
        return plan
    changes = list(plan.changes)
    for entry, indexes in by_entry.items():
        indexes.sort(key=lambda i: order.get(changes[i].name, len(order)))
        first = changes[indexes[0]].after
        assert first is not None and first.rollout is not None
        size = first.rollout.size(sizes[entry])
        # Servers whose last health check failed are checked again in batches of their
        # own, first: nothing else of the entry changes before they pass.
        again = [i for i in indexes if _rechecks(changes[i])]
        rest = [i for i in indexes if not _rechecks(changes[i])]
        groups = [*_chunks(again, size), *_chunks(rest, size)]
        for number, group in enumerate(groups, 1):
            for index in group:
                batch = Batch(entry, number, len(groups))
                changes[index] = dataclasses.replace(changes[index], batch=batch)
    return dataclasses.replace(plan, changes=tuple(changes))


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
