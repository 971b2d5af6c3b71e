"""The plan pipeline: observe the cloud through the port, then plan and resolve (pure).

`plan` and `apply` share this one computation, so a dry run can never decide
differently from the real thing.
"""

from __future__ import annotations

import dataclasses

from declstack import planner, resolve
from declstack.capacity import check_capacity
from declstack.model import Action, Change, Diagnostic, Kind, Plan, Spec
from declstack.port import CloudPort


def make_plan(spec: Spec, cloud: CloudPort) -> Plan:
    """Observe the stack's servers (and same-named strangers), plan, resolve references."""
    observed = cloud.list_stack_servers(spec.stack)
    # Same-named strangers matter only for servers about to be created: a converged
    # plan skips that listing of the whole project.
    missing = {s.name for s in spec.servers} - {s.name for s in observed if not s.is_gone}
    conflicts = cloud.list_unmanaged(spec.stack, missing) if missing else []
    plan = planner.plan(spec, observed, conflicts)
    if resolve.needs_catalog(plan):
        catalog = cloud.fetch_catalog()
        plan = check_capacity(resolve.resolve(plan, catalog), catalog.limits)
    return plan


def make_destroy_plan(spec: Spec, cloud: CloudPort) -> Plan:
    """Delete every server the stack owns, except those the spec protects."""
    observed = cloud.list_stack_servers(spec.stack)
    plan = planner.plan(dataclasses.replace(spec, servers=()), observed)
    return protect(plan, {s.name for s in spec.servers if s.lifecycle.prevent_destroy})


def protect(plan: Plan, protected: set[str]) -> Plan:
    """Turn deletes of `protected` addresses into errors: nothing is destroyed then."""
    changes: list[Change] = []
    diagnostics = list(plan.diagnostics)
    for change in plan.changes:
        if (
            change.action is Action.DELETE
            and change.kind is Kind.SERVER
            and change.name in protected
        ):
            reason = "prevent_destroy is set in the spec; refusing to destroy it"
            diagnostics.append(Diagnostic("error", reason, change.address))
            change = dataclasses.replace(change, action=Action.NOOP, reason=reason)
        changes.append(change)
    return dataclasses.replace(plan, changes=tuple(changes), diagnostics=tuple(diagnostics))
