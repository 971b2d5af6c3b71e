"""The security group kind: groups the spec defines, owned by the stack, rules in place.

Pure: the caller lists every group the project can see (one paged list, rules
embedded); this module says what to create, which rules to add and remove one
by one (never by recreating the group), and which owned groups to delete.

- Ownership: the Neutron tag `declstack:stack=<stack>`, set in the create
  request itself. A group without it is never changed, even with a spec name.
- A remote group named in a rule, or a group named by a server, means the
  stack's own group of that name when the spec defines one (even when an
  unowned group shares the name), else the one visible group with that name
  or id.
- Neutron gives every new group two egress rules (any IPv4, any IPv6). A spec
  without egress rules keeps them; a spec with egress rules manages egress
  fully, so those two go unless it lists them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
from collections import defaultdict
from collections.abc import Mapping, Sequence

from declstack.model import (
    Action,
    Change,
    DesiredSecurityGroup,
    Diagnostic,
    GroupChange,
    Kind,
    ObservedSecurityGroup,
    Rule,
    Spec,
    placeholder,
)
from declstack.ownership import stack_tag

#: Protocol numbers Neutron also accepts, as the names it treats them the same as.
_PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp", "icmpv6": "ipv6-icmp"}
#: The "anyone" prefixes: Neutron counts them the same as no prefix (`_rule_to_key`).
_ANY_PREFIXES = frozenset({"0.0.0.0/0", "::/0"})

#: The rules Neutron adds to every new group.
DEFAULT_EGRESS = (
    Rule(direction="egress", ethertype="IPv4"),
    Rule(direction="egress", ethertype="IPv6"),
)


def canonical_rule(rule: Rule) -> Rule:
    """The one form of `rule` that Neutron stores and compares, so that equal means same.

    Neutron turns the full port range 1-65535 into no ports, stores `icmp` on
    IPv6 as `ipv6-icmp`, and counts 0.0.0.0/0 and ::/0 the same as no prefix
    (a second such rule is a 409 SecurityGroupRuleExists). Prefixes lose their
    host bits (10.1.2.3/8 -> 10.0.0.0/8; Neutron's `normalized_cidr`), a bare
    address becomes /32 or /128, and protocol numbers it knows become names.
    Usable on observed rules too; a prefix that is not a network is kept as is.
    """
    protocol = rule.protocol.lower() if rule.protocol else None
    if protocol in ("any", "0"):
        protocol = None
    protocol = _PROTOCOL_NAMES.get(protocol, protocol) if protocol else None
    if protocol == "icmp" and rule.ethertype == "IPv6":
        protocol = "ipv6-icmp"
    port_min, port_max = rule.port_min, rule.port_max
    if protocol in ("tcp", "udp") and (port_min, port_max) == (1, 65535):
        port_min = port_max = None
    prefix = rule.remote_ip_prefix
    if prefix is not None:
        with contextlib.suppress(ValueError):
            prefix = str(ipaddress.ip_network(prefix, strict=False))
        if prefix in _ANY_PREFIXES:
            prefix = None
    return dataclasses.replace(
        rule, protocol=protocol, port_min=port_min, port_max=port_max, remote_ip_prefix=prefix
    )


def owned_by(stack: str, group: ObservedSecurityGroup) -> bool:
    return stack_tag(stack) in group.tags


def effective_rules(group: DesiredSecurityGroup) -> tuple[Rule, ...]:
    """The rules the group must have: the spec's, plus Neutron's default egress when
    the spec says nothing about egress."""
    if any(rule.direction == "egress" for rule in group.rules):
        return group.rules
    return (*group.rules, *DEFAULT_EGRESS)


def group_ids(spec: Spec, observed: Sequence[ObservedSecurityGroup]) -> dict[str, str]:
    """The stack's groups by name: the id of the owned group, or the placeholder of
    the one apply will create."""
    owned = _owned(spec.stack, observed)
    return {
        group.name: owned[group.name][0].id
        if owned.get(group.name)
        else placeholder(Kind.SECURITY_GROUP, group.name)
        for group in spec.security_groups
    }


def resolve_group_ref(
    ref: str, own: Mapping[str, str], observed: Sequence[ObservedSecurityGroup]
) -> tuple[str | None, str | None]:
    """(id or placeholder, None) for a group reference, or (None, why not)."""
    if ref in own:
        return own[ref], None
    named = [g for g in observed if g.name == ref]
    if len(named) == 1:
        return named[0].id, None
    if any(g.id == ref for g in observed):
        return ref, None
    if named:
        ids = ", ".join(sorted(g.id for g in named))
        return None, f'{len(named)} security groups are named "{ref}" (ids {ids}); use the id'
    return None, f'no security group of the spec or of the cloud is named "{ref}"'


def plan_security_groups(
    spec: Spec, observed: Sequence[ObservedSecurityGroup]
) -> tuple[list[Change], list[Diagnostic]]:
    """Changes for the stack's own security groups, and problems found on the way."""
    owned = _owned(spec.stack, observed)
    own = group_ids(spec, observed)
    changes: list[Change] = []
    diagnostics: list[Diagnostic] = []
    wanted = {group.name for group in spec.security_groups}

    for desired in spec.security_groups:
        address = f"{Kind.SECURITY_GROUP.value}.{desired.name}"
        rules: list[Rule] = []
        for rule in map(canonical_rule, effective_rules(desired)):
            if rule.remote_group is None:
                rules.append(rule)
                continue
            target, problem = resolve_group_ref(rule.remote_group, own, observed)
            if problem is not None:
                diagnostics.append(
                    Diagnostic(
                        "error",
                        f"rule {rule.describe()}: {problem}",
                        address=address,
                        hint="name a group of the spec's security_groups, or one the project "
                        "can see",
                    )
                )
                continue
            rules.append(dataclasses.replace(rule, remote_group=target))
        group = owned.get(desired.name, [])
        if not group:
            add = tuple(r for r in rules if r not in DEFAULT_EGRESS)
            changes.append(
                _change(
                    desired.name,
                    Action.CREATE,
                    "not in the cloud",
                    GroupChange(after=desired, add_rules=add),
                )
            )
            continue
        kept, *extras = sorted(group, key=lambda g: g.id)
        for extra in extras:
            reason = f"duplicate of {kept.id} (left by an interrupted run)"
            changes.append(_change(desired.name, Action.DELETE, reason, GroupChange(before=extra)))
        changes.append(_diff(desired, kept, rules))

    for name, groups in sorted(owned.items()):
        if name in wanted:
            continue
        changes.extend(
            _change(name, Action.DELETE, "no longer in the spec", GroupChange(before=g))
            for g in groups
        )
    return changes, diagnostics


def _diff(desired: DesiredSecurityGroup, kept: ObservedSecurityGroup, rules: list[Rule]) -> Change:
    have = {canonical_rule(observed.rule): observed for observed in kept.rules}
    add = tuple(dict.fromkeys(rule for rule in rules if rule not in have))
    remove = tuple(
        observed for rule, observed in sorted(have.items(), key=_key) if rule not in rules
    )
    description = desired.description if desired.description != kept.description else None
    payload = GroupChange(
        before=kept, after=desired, add_rules=add, remove_rules=remove, description=description
    )
    if not (add or remove or description is not None):
        return _change(desired.name, Action.NOOP, "up to date", payload)
    details = [f"rule +{rule.describe()}" for rule in add]
    details += [f"rule -{canonical_rule(observed.rule).describe()}" for observed in remove]
    if description is not None:
        details.append(f'description: "{kept.description}" -> "{description}"')
    return _change(desired.name, Action.UPDATE, "; ".join(details), payload)


def _key(item: tuple[Rule, object]) -> str:
    return item[0].describe()


def _change(name: str, action: Action, reason: str, group: GroupChange) -> Change:
    return Change(name, action, reason, kind=Kind.SECURITY_GROUP, group=group)


def _owned(
    stack: str, observed: Sequence[ObservedSecurityGroup]
) -> dict[str, list[ObservedSecurityGroup]]:
    owned: dict[str, list[ObservedSecurityGroup]] = defaultdict(list)
    for group in observed:
        if owned_by(stack, group):
            owned[group.name].append(group)
    return owned
