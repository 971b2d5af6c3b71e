"""Check a plan's references against the cloud catalog and build the create requests.

Creates and replacements need this, and in-place changes that name a security
group, a flavor to resize to or an image to rebuild from; an existing server is
compared by its fingerprint, never by looking names up, so a renamed or
re-uploaded image never makes a plan unstable. Pure: the caller fetches the
`Catalog`.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
from collections.abc import Mapping, Sequence

from declstack import ownership, planner
from declstack.model import (
    Action,
    Catalog,
    Change,
    CreateRequest,
    DesiredServer,
    Diagnostic,
    NamedResource,
    Plan,
    ServerPatch,
    frozen_map,
)


def _builds(change: Change) -> bool:
    return change.action.builds and change.after is not None


def _may_rebuild(change: Change) -> bool:
    """A server still in BUILD is waited for; should it go to ERROR, apply builds it
    again from the spec, as it would one found in ERROR, so it needs a request too."""
    return change.action is Action.WAIT and change.after is not None


def _regroups(change: Change) -> bool:
    """An in-place update that changes the server's security groups."""
    return change.patch is not None and change.patch.security_groups is not None


def _reshapes(change: Change) -> bool:
    """An in-place update that resizes or rebuilds the server."""
    return change.patch is not None and (
        change.patch.resize_to is not None or change.patch.rebuild_with is not None
    )


def needs_catalog(plan: Plan) -> bool:
    """True when some change creates a server, changes its security groups, or resizes
    or rebuilds it."""
    return any(_builds(c) or _may_rebuild(c) or _regroups(c) or _reshapes(c) for c in plan.changes)


def resolve(plan: Plan, catalog: Catalog) -> Plan:
    """Fill `Change.create` for every create/replace, or report what cannot be found.

    For a server in BUILD the request is only a fallback: a reference that no
    longer resolves leaves it without one (it is still waited for), never an error.
    """
    diagnostics = list(plan.diagnostics)
    changes: list[Change] = []
    for change in plan.changes:
        if (_builds(change) or _may_rebuild(change)) and change.after is not None:
            request, problems = _create_request(
                plan.stack,
                change.after,
                catalog,
                plan.group_ids,
                plan.own_keypairs,
                server_groups=plan.server_group_ids,
            )
            if _builds(change):
                diagnostics.extend(dataclasses.replace(p, address=change.address) for p in problems)
            change = dataclasses.replace(change, create=request)
        else:
            problems = []
            if _regroups(change):
                change, found = _security_group_actions(change, catalog, plan.group_ids)
                problems += found
            if _reshapes(change):
                change, found = _reshape(change, catalog)
                problems += found
            diagnostics.extend(dataclasses.replace(p, address=change.address) for p in problems)
        changes.append(change)
    return dataclasses.replace(plan, changes=tuple(changes), diagnostics=tuple(diagnostics))


class _Problems:
    """Collects the diagnostics of one server's references."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def group(self, ref: str, catalog: Catalog, own: Mapping[str, str]) -> NamedResource | None:
        """A security group a server names: the stack's own group of that name first
        (its id, or the placeholder of one this apply creates), else the cloud's."""
        if ref in own:
            return NamedResource(own[ref], ref)
        return self.find("security group", ref, catalog.security_groups)

    def find(self, kind: str, ref: str, pool: Sequence[NamedResource]) -> NamedResource | None:
        found, problem = lookup(kind, ref, pool)
        if problem is not None:
            self.items.append(problem)
        return found


def _create_request(
    stack: str,
    server: DesiredServer,
    catalog: Catalog,
    own: Mapping[str, str],
    own_keypairs: frozenset[str] = frozenset(),
    *,
    server_groups: Mapping[str, str] = frozen_map(),
) -> tuple[CreateRequest | None, list[Diagnostic]]:
    problems = _Problems()
    image = problems.find("image", server.image, catalog.images)
    if image is not None and image.status is not None and image.status.lower() != "active":
        problems.items.append(_inactive(server.image, image))
        image = None
    flavor = problems.find("flavor", server.flavor, catalog.flavors)

    networks: str | tuple[str, ...] = server.networks
    if not isinstance(server.networks, str):
        found = [problems.find("network", ref, catalog.networks) for ref in server.networks]
        networks = tuple(n.id for n in found if n is not None)
        for net, ip in zip(found, server.fixed_ips, strict=False):
            if net is not None and ip is not None:
                problems.items.extend(_fixed_ip_problems(net, ip, catalog))

    key_name = None
    if server.key_name in own_keypairs:
        key_name = server.key_name  # the spec's own key pair: apply makes it first
    elif server.key_name is not None:
        keypair = problems.find("key pair", server.key_name, catalog.keypairs)
        key_name = keypair.name if keypair is not None else None

    groups = [problems.group(ref, catalog, own) for ref in server.security_groups]
    server_group = server_groups.get(server.entry or "") if server.placement else None
    if server.placement is not None and server_group is None:
        problems.items.append(
            Diagnostic("error", f'the server group of entry "{server.entry}" is not planned')
        )

    if any(p.severity == "error" for p in problems.items) or image is None or flavor is None:
        return None, problems.items
    tags = list(dict.fromkeys([*server.tags, ownership.stack_tag(stack)]))
    return (
        CreateRequest(
            name=server.name,
            image_id=image.id,
            flavor_id=flavor.id,
            networks=networks,
            metadata=frozen_map({**server.metadata, **ownership.marker_metadata(stack, server)}),
            tags=tuple(tags),
            key_name=key_name,
            security_groups=tuple(g.id for g in groups if g is not None),
            user_data=server.user_data,
            availability_zone=server.availability_zone,
            description=server.description,
            fixed_ips=server.fixed_ips if not isinstance(networks, str) else (),
            config_drive=server.config_drive,
            server_group=server_group,
            boot_volume=server.boot_volume,
        ),
        problems.items,  # warnings only
    )


def _security_group_actions(
    change: Change, catalog: Catalog, own: Mapping[str, str]
) -> tuple[Change, list[Diagnostic]]:
    """Which groups to add to and remove from the server, by id."""
    assert change.patch is not None and change.patch.security_groups is not None
    assert change.before is not None
    problems = _Problems()
    wanted = [problems.group(ref, catalog, own) for ref in change.patch.security_groups]
    found = [group for group in wanted if group is not None]
    current = set(change.before.security_groups or ())
    add = tuple(dict.fromkeys(g.id for g in found if g.name not in current))
    keep = {g.name for g in found}
    remove = []
    for name in sorted(current - keep):
        group, _ = lookup("security group", name, catalog.security_groups)
        remove.append(own.get(name) or (group.id if group is not None else name))
    patch = dataclasses.replace(
        change.patch, add_security_groups=add, remove_security_groups=tuple(remove)
    )
    return dataclasses.replace(change, patch=patch), problems.items


def _reshape(change: Change, catalog: Catalog) -> tuple[Change, list[Diagnostic]]:
    """The flavor id to resize to and the image id to rebuild from.

    A spec that now names, in other words (an id for a name, a renamed flavor), the
    flavor or image the server already has asks for no change: Nova refuses a resize
    to the flavor a server has, and a rebuild would wipe its disk for nothing. The
    change then leaves that attribute alone, record included (a no-op when nothing
    else changes), and its reason says why.
    """
    assert change.patch is not None and change.before is not None
    patch, before, reason = change.patch, change.before, change.reason
    flavor_ref, image_ref = patch.resize_to, patch.rebuild_with
    problems = _Problems()
    same: list[str] = []
    if flavor_ref is not None:
        flavor = problems.find("flavor", flavor_ref, catalog.flavors)
        if flavor is not None and before.flavor_name in (flavor.id, flavor.name):
            same.append("flavor")
            patch = dataclasses.replace(patch, resize_to=None)
            reason = reason.replace(
                _planned("flavor", change, planner.RESIZE),
                f'flavor written "{flavor_ref}": the flavor the server has ({flavor.name}), '
                "so no resize",
            )
        elif flavor is not None:
            patch = dataclasses.replace(patch, resize_flavor_id=flavor.id)
    if image_ref is not None:
        image = problems.find("image", image_ref, catalog.images)
        if image is not None and image.id == before.image_id:
            same.append("image")
            patch = dataclasses.replace(patch, rebuild_with=None)
            reason = reason.replace(
                _planned("image", change, planner.REBUILD),
                f'image written "{image_ref}": the image the server was built from (id '
                f"{image.id}), so no rebuild",
            )
        elif image is not None and image.status is not None and image.status.lower() != "active":
            problems.items.append(_inactive(image_ref, image))
        elif image is not None:
            patch = dataclasses.replace(patch, rebuild_image_id=image.id)
    if same:
        patch = _record_unchanged(patch, change, same)
    if patch.is_empty:
        noop = dataclasses.replace(
            change, action=Action.NOOP, patch=None, reason=f"up to date; {reason}"
        )
        return noop, problems.items
    return dataclasses.replace(change, patch=patch, reason=reason), problems.items


def _planned(name: str, change: Change, how: str) -> str:
    """How the planner worded an in-place change of `name` in the reason."""
    assert change.after is not None and change.before is not None
    return f"{planner.describe_create_change(name, change.after, change.before)}: {how}"


def _record_unchanged(patch: ServerPatch, change: Change, same: list[str]) -> ServerPatch:
    """`patch` without rewriting the fingerprint hashes of `same`: the server's record of
    them stays as it is (and the fingerprint is not written when nothing else moved)."""
    assert change.before is not None and change.after is not None
    text = patch.set_metadata.get(ownership.FINGERPRINT_KEY)
    recorded_text = change.before.metadata.get(ownership.FINGERPRINT_KEY)
    wanted = ownership.parse_fingerprint(text)
    if wanted is None:
        return patch
    recorded = ownership.parse_fingerprint(recorded_text) or {}
    moved = [name for name, h in wanted.items() if recorded.get(name) != h and name not in same]
    rewritten = ownership.rewritten_fingerprint(change.after, change.before, moved)
    metadata = dict(patch.set_metadata)
    if rewritten == recorded_text:
        del metadata[ownership.FINGERPRINT_KEY]
    else:
        metadata[ownership.FINGERPRINT_KEY] = rewritten
    return dataclasses.replace(patch, set_metadata=frozen_map(metadata))


def _inactive(ref: str, image: NamedResource) -> Diagnostic:
    return Diagnostic(
        "error",
        f'image "{ref}" (id {image.id}) is not active (status {image.status})',
        hint="wait until the image upload finishes, or pick an active image",
    )


def _fixed_ip_problems(network: NamedResource, ip: str, catalog: Catalog) -> list[Diagnostic]:
    """A fixed IP must lie in a subnet of its network; on another project's network,
    Neutron's default policy lets only that project or an admin choose addresses."""
    subnets = [s for s in catalog.subnets if s.network_id == network.id]
    address = ipaddress.ip_address(ip)
    inside = [s for s in subnets if address in ipaddress.ip_network(s.cidr, strict=False)]
    if not inside:
        cidrs = ", ".join(s.cidr for s in subnets) or "no subnets"
        return [
            Diagnostic(
                "error",
                f'fixed IP {ip} is not in any subnet of network "{network.name}" ({cidrs})',
                hint="pick an address inside one of the network's subnets",
            )
        ]
    if network.id in catalog.foreign_networks:
        return [
            Diagnostic(
                "warning",
                f'network "{network.name}" belongs to another project: Neutron\'s default '
                "policy lets only its owner or an admin choose a fixed IP there, so without "
                "that role the server fails to build",
                hint="use a network of your own project for fixed IPs",
            )
        ]
    return []


def lookup(
    kind: str, ref: str, pool: Sequence[NamedResource]
) -> tuple[NamedResource | None, Diagnostic | None]:
    """Find `ref` by exact id, then by exact name; explain a miss or an ambiguous name."""
    for resource in pool:
        if resource.id == ref:
            return resource, None
    named = [r for r in pool if r.name == ref]
    if len(named) == 1:
        return named[0], None
    if named:
        ids = ", ".join(sorted(r.id for r in named))
        return None, Diagnostic(
            "error",
            f'{kind} name "{ref}" is shared by {len(named)} {kind}s (ids {ids}); use the id',
            hint=f"write the {kind}'s id in the spec instead of its name",
        )
    names = sorted({r.name for r in pool})
    close = difflib.get_close_matches(ref, names, n=3, cutoff=0.6)
    if close:
        suggestion = " or ".join(f'"{name}"' for name in close)
        return None, Diagnostic("error", f'{kind} "{ref}" not found; did you mean {suggestion}?')
    available = ", ".join(f'"{name}"' for name in names[:10]) or "none"
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return None, Diagnostic(
        "error",
        f'{kind} "{ref}" not found',
        hint=f"available {kind}s: {available}{more}",
    )
