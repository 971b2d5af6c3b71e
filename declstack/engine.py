"""The plan pipeline: observe the cloud through the port, then plan and resolve (pure).

`plan` and `apply` share this one computation, so a dry run can never decide
differently from the real thing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from typing import Any

from declstack import planner, resolve, rollout
from declstack.capacity import check_capacity
from declstack.kinds import floating_ip, keypair, security_group, server_group, volume
from declstack.model import (
    Action,
    Change,
    Diagnostic,
    Kind,
    ObservedServer,
    Plan,
    PlanOptions,
    Spec,
    frozen_map,
)
from declstack.port import CloudPort


def make_plan(spec: Spec, cloud: CloudPort, *, options: PlanOptions = PlanOptions()) -> Plan:
    """Observe the stack's servers (and same-named strangers), security groups, key pairs,
    floating IPs and server groups (one list each), plan every kind, keep what
    `options.targets` name, resolve references, put the rolled changes in their batches,
    and refuse more deletions than the limit allows."""
    observed = cloud.list_stack_servers(spec.stack)
    # Same-named strangers matter only for servers about to be created: a converged
    # plan skips that listing of the whole project.
    missing = {s.name for s in spec.servers} - {s.name for s in observed if not s.is_gone}
    conflicts = cloud.list_unmanaged(spec.stack, missing) if missing else []
    plan = planner.plan(spec, observed, conflicts)
    for add in (with_groups, with_keypairs, with_floating_ips, with_server_groups):
        plan = add(plan, spec, cloud)
    plan = with_volumes(plan, spec, cloud, observed)
    plan = planner.target(plan, spec, options.targets)
    if resolve.needs_catalog(plan):
        catalog = cloud.fetch_catalog()
        # Batches once resolved: a resize to the flavor a server has is no resize.
        resolved = rollout.batched(resolve.resolve(plan, catalog), spec)
        plan = check_capacity(resolved, catalog.limits)
        plan = server_group.check_quota(plan, catalog.limits)
    plan = with_stale_secrets(plan)
    if options.max_deletions is not None:
        return planner.limit_deletions(plan, options.max_deletions, "--max-deletions")
    return planner.limit_deletions(plan, spec.max_deletions, "max_deletions in the spec")


def with_stale_secrets(plan: Plan) -> Plan:
    """Also mask what the cloud holds where the spec now puts a secret.

    A metadata value (or description) the spec fills from a secret variable was set
    from that variable's earlier value; when the secret changes, the plan would quote
    the old one as the "before" of the change. Every rendering masks `sensitive`.
    """
    if not plan.sensitive:
        return plan
    stale: set[str] = set()

    def secret(text: str | None) -> bool:
        return bool(text) and any(value in (text or "") for value in plan.sensitive)

    for change in plan.of_kind(Kind.SERVER):
        before, after = change.before, change.after
        if before is None or after is None:
            continue
        for key, value in after.metadata.items():
            old = before.metadata.get(key)
            if old and old != value and secret(value):
                stale.add(old)
        described = before.description
        if described and described != after.description and secret(after.description):
            stale.add(described)
    if not stale:
        return plan
    return dataclasses.replace(plan, sensitive=plan.sensitive | stale)


def make_destroy_plan(
    spec: Spec, cloud: CloudPort, *, options: PlanOptions = PlanOptions()
) -> Plan:
    """Delete everything the stack owns, except the servers the spec or their marker
    protects (and the security groups and key pairs protected servers of the spec still
    use); only what `options.targets` name, when given. Destroy is meant to delete: the
    spec's max_deletions does not apply, only an explicit `options.max_deletions`."""
    observed = cloud.list_stack_servers(spec.stack)
    protected = {s.name for s in spec.servers if s.lifecycle.prevent_destroy}
    kept = [s for s in spec.servers if s.name in protected]
    empty = dataclasses.replace(
        spec,
        servers=(),
        security_groups=tuple(
            g for g in spec.security_groups if any(g.name in s.security_groups for s in kept)
        ),
        keypairs=tuple(k for k in spec.keypairs if any(k.name == s.key_name for s in kept)),
    )
    plan = planner.plan(empty, observed)
    for add in (with_groups, with_keypairs, with_floating_ips):
        plan = add(plan, empty, cloud)
    kept_groups = {s.entry for s in kept if s.placement is not None and s.entry is not None}
    plan = with_server_groups(plan, empty, cloud, keep=kept_groups)
    plan = with_volumes(plan, empty, cloud, observed)
    plan = planner.target(protect(plan, protected), spec, options.targets)
    return planner.limit_deletions(plan, options.max_deletions, "--max-deletions")


def with_groups(plan: Plan, spec: Spec, cloud: CloudPort) -> Plan:
    """Add the changes of the stack's own security groups (one list of the project's
    groups), and the ids servers mean when they name one of them."""
    groups = cloud.list_security_groups()
    changes, problems = security_group.plan_security_groups(spec, groups)
    return _merged(
        plan, changes, problems, group_ids=frozen_map(security_group.group_ids(spec, groups))
    )


def protect(plan: Plan, protected: set[str]) -> Plan:
    """Turn deletes of `protected` addresses into errors: nothing is destroyed then."""
    changes: list[Change] = []
    diagnostics = list(plan.diagnostics)
    for change in plan.changes:
        server = change.volume.server if change.volume is not None else change.name
        if (
            change.action is Action.DELETE
            and change.kind in (Kind.SERVER, Kind.VOLUME)
            and server in protected
        ):
            reason = "prevent_destroy is set in the spec; refusing to destroy it"
            hint = "remove lifecycle.prevent_destroy from the spec to let destroy delete it"
            diagnostics.append(Diagnostic("error", reason, change.address, hint))
            change = dataclasses.replace(change, action=Action.NOOP, reason=reason)
        changes.append(change)
    return dataclasses.replace(plan, changes=tuple(changes), diagnostics=tuple(diagnostics))


def with_floating_ips(plan: Plan, spec: Spec, cloud: CloudPort) -> Plan:
    """Add the changes of the stack's floating IPs (one list of the project's IPs; the
    external networks are listed only when one must be allocated)."""
    servers = plan.of_kind(Kind.SERVER)
    server_ids = {
        c.name: c.before.id for c in servers if c.before and c.action is not Action.DELETE
    }
    rebuilt = frozenset(c.name for c in servers if c.action.builds)
    changes, problems = floating_ip.plan_floating_ips(
        spec, cloud.list_floating_ips(), server_ids, rebuilt
    )
    if any(c.action is Action.CREATE for c in changes):
        changes, more = floating_ip.resolve_networks(changes, cloud.external_networks())
        problems += more
    return _merged(plan, changes, problems)


def with_keypairs(plan: Plan, spec: Spec, cloud: CloudPort) -> Plan:
    """Add the changes of the stack's own key pairs (one list of the user's key pairs)."""
    changes, problems = keypair.plan_keypairs(spec, cloud.list_keypairs())
    return _merged(plan, changes, problems, own_keypairs=frozenset(k.name for k in spec.keypairs))


def with_server_groups(
    plan: Plan, spec: Spec, cloud: CloudPort, *, keep: Collection[str] = ()
) -> Plan:
    """Add the changes of the stack's server groups (one list of the project's groups),
    and the group each entry's new servers are scheduled into. `keep`: entries whose
    groups stay (see server_group.plan_server_groups)."""
    changes, problems = server_group.plan_server_groups(spec, cloud.list_server_groups(), keep)
    return _merged(
        plan,
        changes,
        problems,
        server_group_ids=frozen_map(server_group.group_ids(changes)),
    )


def with_volumes(
    plan: Plan, spec: Spec, cloud: CloudPort, servers: Sequence[ObservedServer]
) -> Plan:
    """Add the changes of the stack's data volumes (one list of the stack's volumes; the
    volume types only when the spec names one). `servers`: the stack's servers, as
    listed (a volume on one of them is the stack's to move)."""
    types = cloud.list_volume_types() if volume.names_a_type(spec) else None
    changes, problems = volume.plan_volumes(
        spec, cloud.list_stack_volumes(spec.stack), plan.of_kind(Kind.SERVER), servers, types
    )
    return _merged(plan, changes, problems)


def _merged(
    plan: Plan, changes: Sequence[Change], problems: Sequence[Diagnostic], **fields: Any
) -> Plan:
    """`plan` with one kind's changes and problems added, in plan order."""
    return dataclasses.replace(
        plan,
        changes=tuple(sorted((*plan.changes, *changes), key=planner.change_key)),
        diagnostics=tuple(sorted((*plan.diagnostics, *problems), key=planner.diagnostic_key)),
        **fields,
    )
