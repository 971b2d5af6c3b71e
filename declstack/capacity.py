"""Will the apply fit in the project's instance quota at its peak? (pure)

Apply deletes first, then creates, then removes the old half of
create-before-destroy replacements, so the peak is: used - deletes -
destroy-first replacements + creates + all replacements. Nova would refuse
the creates past the quota with 403 halfway through the apply; saying so at
plan time avoids a half-applied stack (Heat hits exactly this, FIELD-NOTES).
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from declstack.model import Action, Diagnostic, Kind, Limits, Plan


def peak_instances(plan: Plan, used: int) -> int:
    """Instances in use at the busiest moment of applying `plan`. Create-before-destroy
    replacements of a rollout hold one extra server per replacement of the batch that
    runs (batch n of every entry at once), only after the other replacements are done."""
    changes = plan.of_kind(Kind.SERVER)
    servers = [c.action for c in changes]
    creates = servers.count(Action.CREATE)
    deletes = servers.count(Action.DELETE)
    doubled = [c for c in changes if c.action is Action.CREATE_THEN_DELETE]
    waves = Counter(c.batch.number for c in doubled if c.batch is not None)
    unrolled = sum(1 for c in doubled if c.batch is None)
    return used - deletes + creates + max(unrolled, *waves.values(), 0)


def check_capacity(plan: Plan, limits: Limits) -> Plan:
    """Add an error when the plan's peak exceeds the instance quota."""
    if limits.max_instances is None or limits.max_instances < 0:
        return plan
    peak = peak_instances(plan, limits.used_instances)
    if peak <= limits.max_instances:
        return plan
    problem = Diagnostic(
        "error",
        f"applying this plan needs {peak} instances at its peak, but the project's quota is "
        f"{limits.max_instances} ({limits.used_instances} in use)",
        hint=(
            "ask for a higher instance quota, apply in smaller steps, or turn off "
            "create_before_destroy for some servers"
        ),
    )
    return dataclasses.replace(plan, diagnostics=(*plan.diagnostics, problem))
