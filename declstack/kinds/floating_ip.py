"""The floating IP kind: one per server that asks for it, kept across replacements.

Pure: the caller lists every floating IP the project sees (one paged list;
Neutron's port_details say which server each is on). An owned IP carries the
tags `declstack:stack=<stack>` and `declstack:server=<name>`: it belongs to that
server name, not to one server id, so when the server is replaced the same
address moves to the new one. It is released when its server leaves the spec
(or stops asking). A claimed IP (`{address: ...}`) carries no tag: it is only
associated (and, by deleting its server, disassociated), never released.
Associations happen after the servers are ACTIVE; releases before servers go.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping, Sequence

from declstack.model import (
    Action,
    Change,
    DesiredServer,
    Diagnostic,
    FloatingIpChange,
    Kind,
    NamedResource,
    ObservedFloatingIp,
    Spec,
)
from declstack.ownership import stack_tag

SERVER_TAG = "declstack:server="


def server_tag(name: str) -> str:
    return f"{SERVER_TAG}{name}"


def owner_server(stack: str, fip: ObservedFloatingIp) -> str | None:
    """The server name an owned floating IP belongs to (None: not this stack's)."""
    if stack_tag(stack) not in fip.tags:
        return None
    for tag in fip.tags:
        if tag.startswith(SERVER_TAG):
            return tag[len(SERVER_TAG) :]
    return None


def plan_floating_ips(
    spec: Spec,
    observed: Sequence[ObservedFloatingIp],
    server_ids: Mapping[str, str],
    rebuilt: frozenset[str],
) -> tuple[list[Change], list[Diagnostic]]:
    """Changes for the stack's floating IPs.

    `server_ids` maps the stack's server names to the ids they have now;
    `rebuilt` names the servers this plan creates or replaces (their IP is
    associated once the new server is up).
    """
    owned: dict[str, list[ObservedFloatingIp]] = defaultdict(list)
    for fip in observed:
        name = owner_server(spec.stack, fip)
        if name is not None:
            owned[name].append(fip)
    by_address = {fip.address: fip for fip in observed}
    ours = set(server_ids.values())
    changes: list[Change] = []
    problems: list[Diagnostic] = []
    wanted = {s.name for s in spec.servers if s.floating_ip and not s.floating_ip.address}

    for server in spec.servers:
        request = server.floating_ip
        if request is None:
            continue
        if request.address is not None:
            change, problem = _claim(spec.stack, server, by_address, server_ids, rebuilt, ours)
            changes.extend([change] if change else [])
            problems.extend([problem] if problem else [])
            continue
        mine = sorted(owned.get(server.name, []), key=lambda f: f.id)
        if not mine:
            payload = FloatingIpChange(server=server.name, network=request.network)
            changes.append(_change(server.name, Action.CREATE, "not in the cloud", payload))
            continue
        kept, *extras = mine
        for extra in extras:
            reason = f"duplicate of {kept.address} (left by an interrupted run)"
            changes.append(_change(server.name, Action.DELETE, reason, FloatingIpChange(extra)))
        changes.append(_keep(server, kept, server_ids, rebuilt, claimed=False))

    names = {s.name for s in spec.servers}
    for name, fips in sorted(owned.items()):
        if name in wanted:
            continue
        why = "the server no longer asks for one" if name in names else "its server left the spec"
        changes.extend(
            _change(name, Action.DELETE, why, FloatingIpChange(before=fip)) for fip in fips
        )
    return changes, problems


def _keep(
    server: DesiredServer,
    fip: ObservedFloatingIp,
    server_ids: Mapping[str, str],
    rebuilt: frozenset[str],
    *,
    claimed: bool,
) -> Change:
    payload = FloatingIpChange(before=fip, server=server.name, claimed=claimed)
    current = server_ids.get(server.name)
    if server.name in rebuilt:
        reason = f"{fip.address} moves to the new server once it is ACTIVE"
        return _change(server.name, Action.UPDATE, reason, payload)
    if current is not None and fip.server_id == current:
        return _change(server.name, Action.NOOP, f"{fip.address} is on the server", payload)
    where = "on another server" if fip.server_id else "not associated"
    reason = f"{fip.address} is {where}; associate it with server.{server.name}"
    return _change(server.name, Action.UPDATE, reason, payload)


def _claim(
    stack: str,
    server: DesiredServer,
    by_address: Mapping[str, ObservedFloatingIp],
    server_ids: Mapping[str, str],
    rebuilt: frozenset[str],
    ours: set[str],
) -> tuple[Change | None, Diagnostic | None]:
    assert server.floating_ip is not None and server.floating_ip.address is not None
    address = server.floating_ip.address
    fip = by_address.get(address)
    where = f"{Kind.FLOATING_IP.value}.{server.name}"
    if fip is None:
        return None, Diagnostic(
            "error",
            f"floating IP {address} is not allocated in this project",
            address=where,
            hint="allocate it first (openstack floating ip create --floating-ip-address), "
            "or write floating_ip: true to let declstack allocate and own one",
        )
    if any(tag.startswith("declstack:stack=") for tag in fip.tags):
        owner = next(t for t in fip.tags if t.startswith("declstack:stack="))
        return None, Diagnostic(
            "error",
            f"floating IP {address} is owned by {owner.split('=', 1)[1]!r} "
            f"({'this stack' if owner == stack_tag(stack) else 'another stack'}); "
            "claim only addresses no stack owns",
            address=where,
        )
    mine = server_ids.get(server.name)
    if fip.server_id is not None and fip.server_id not in ours:
        return None, Diagnostic(
            "error",
            f"floating IP {address} is associated with a server this stack does not own "
            f"({fip.server_id}); declstack claims only unassociated addresses",
            address=where,
        )
    if fip.server_id is not None and fip.server_id != mine and server.name not in rebuilt:
        return None, Diagnostic(
            "error",
            f"floating IP {address} is claimed by server.{server.name} but is on another "
            "server of the stack",
            address=where,
        )
    return _keep(server, fip, server_ids, rebuilt, claimed=True), None


def resolve_networks(
    changes: Sequence[Change], external: Sequence[NamedResource]
) -> tuple[list[Change], list[Diagnostic]]:
    """Turn each create's network (as written, or None for the only external one) into
    the external network's id; a network that is not external is an error."""
    resolved: list[Change] = []
    problems: list[Diagnostic] = []
    for change in changes:
        payload = change.floating_ip
        if change.action is not Action.CREATE or payload is None:
            resolved.append(change)
            continue
        network, problem = _external(payload.network, external)
        if problem is not None:
            problems.append(Diagnostic("error", problem, address=change.address))
            resolved.append(change)
            continue
        assert network is not None
        resolved.append(
            dataclasses.replace(
                change,
                reason=f"not in the cloud; allocate from {network.name}",
                floating_ip=dataclasses.replace(payload, network=network.id),
            )
        )
    return resolved, problems


def _external(
    ref: str | None, external: Sequence[NamedResource]
) -> tuple[NamedResource | None, str | None]:
    if ref is None:
        if len(external) == 1:
            return external[0], None
        names = ", ".join(sorted(n.name for n in external)) or "none"
        return None, (
            f"floating_ip: true needs the cloud's one external network, and it has "
            f"{len(external)} ({names}); write floating_ip: {{network: NAME}}"
        )
    found = [n for n in external if ref in (n.id, n.name)]
    if len(found) == 1:
        return found[0], None
    if len(found) > 1:
        return None, f'external network name "{ref}" is shared by {len(found)} networks; use the id'
    names = ", ".join(sorted(n.name for n in external)) or "none"
    return None, (
        f'network "{ref}" is not an external network, so floating IPs cannot come from it '
        f"(external networks: {names})"
    )


def _change(name: str, action: Action, reason: str, payload: FloatingIpChange) -> Change:
    return Change(name, action, reason, kind=Kind.FLOATING_IP, floating_ip=payload)
