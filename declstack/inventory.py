"""The stack as an Ansible inventory: observed servers x spec -> hosts, groups, host vars.

Pure: the CLI lists the stack's servers and picks the format. One structure,
three renderings (YAML and INI as Ansible's `yaml` and `ini` inventory plugins
read them, JSON as `ansible-inventory --list` and script inventories write it),
so the formats can never disagree. `status --output json` shows the same host
facts, from the same functions. Format and rules: docs/inventory.md.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from declstack import planner
from declstack.errors import UserError
from declstack.interpolate import mask_text
from declstack.model import DesiredServer, ObservedServer, Plan, Spec

#: Prefix of the groups made from tags: tag `frontend` -> group `tag_frontend`.
TAG_PREFIX = "tag_"
#: Ansible's implicit groups: an entry with one of these names gets a `_` appended.
RESERVED_GROUPS = frozenset({"all", "ungrouped"})
#: Prefix of declstack's host vars, so they cannot clash with a playbook's own.
VAR_PREFIX = "declstack_"

_NOT_IN_GROUP_NAME = re.compile(r"[^A-Za-z0-9_]")
#: INI values written bare: what shlex leaves alone and Ansible keeps as a string.
_BARE_INI = re.compile(r"^[A-Za-z0-9_.:/@%+-]+$")
_DIGITS = re.compile(r"(\d+)")


def group_name(text: str) -> str:
    """A valid Ansible group name for `text`: every character but letters, digits and
    `_` becomes `_`, a leading digit gets a `_` before it, `all`/`ungrouped` a `_` after.

    Ansible warns about `-` and `.` in group names (they break `group.name` lookups
    in templates), and server entries and tags may hold both.
    """
    name = _NOT_IN_GROUP_NAME.sub("_", text)
    if not name or name[0].isdigit():
        name = "_" + name
    return name + "_" if name in RESERVED_GROUPS else name


def natural_key(text: str) -> tuple[tuple[int, str], ...]:
    """Sort key that puts web-2 before web-10 (humans read inventories)."""
    return tuple(
        (int(part), "") if index % 2 else (0, part)
        for index, part in enumerate(_DIGITS.split(text))
    )


@dataclass(frozen=True)
class Host:
    """One server of the stack as Ansible sees it: its groups and its host vars."""

    name: str
    id: str
    #: Sorted; the first is always the server entry's group.
    groups: tuple[str, ...]
    #: JSON-like values only (str, lists and dicts of str), already masked.
    variables: Mapping[str, Any]


@dataclass(frozen=True)
class Inventory:
    """Every host of the stack, sorted by name, and the owned servers left out."""

    stack: str
    hosts: tuple[Host, ...]
    #: Names of servers the stack owns that the spec no longer has (apply deletes them).
    left_out: tuple[str, ...] = ()

    @property
    def groups(self) -> dict[str, tuple[str, ...]]:
        """group -> host names, both in natural order."""
        members: dict[str, list[str]] = defaultdict(list)
        for host in self.hosts:
            for group in host.groups:
                members[group].append(host.name)
        return {
            group: tuple(sorted(members[group], key=natural_key))
            for group in sorted(members, key=natural_key)
        }

    def by_id(self) -> dict[str, Host]:
        return {host.id: host for host in self.hosts}


def entry_names(spec: Spec) -> dict[str, str]:
    """server name -> the name of the spec entry it was expanded from (`web` for
    web-1..web-3, also for `count: 1`); a server built by hand is its own entry."""
    return {server.name: server.entry or server.name for server in spec.servers}


def ansible_host(server: ObservedServer, network: str | None = None) -> str | None:
    """The address Ansible connects to.

    With `network`: the server's first fixed address on that network (a floating
    address is not preferred then: the caller asked for that network). Without: the
    first floating address, else the first fixed address (networks by name).
    """
    floating = set(server.floating_ips)
    if network is not None:
        return next(
            (ip for net, ip in server.addresses if net == network and ip not in floating), None
        )
    if server.floating_ips:
        return server.floating_ips[0]
    return next((ip for _, ip in server.addresses if ip not in floating), None)


def host_for(
    server: ObservedServer,
    desired: DesiredServer,
    entry: str,
    sensitive: frozenset[str] = frozenset(),
    network: str | None = None,
) -> Host:
    """One server's groups and host vars; every string is masked (`Spec.sensitive`)."""

    def mask(text: str) -> str:
        return mask_text(text, sensitive)

    addresses: dict[str, list[str]] = {}
    for net, ip in server.addresses:
        addresses.setdefault(mask(net), []).append(ip)
    variables: dict[str, Any] = {}
    address = ansible_host(server, network)
    if address is not None:
        variables["ansible_host"] = address
    variables[VAR_PREFIX + "id"] = server.id
    variables[VAR_PREFIX + "status"] = server.status
    variables[VAR_PREFIX + "addresses"] = addresses
    variables[VAR_PREFIX + "floating_ips"] = list(server.floating_ips)
    variables[VAR_PREFIX + "metadata"] = {
        mask(key): mask(value) for key, value in sorted(desired.metadata.items())
    }
    entry_group = group_name(mask(entry))
    tags = {group_name(TAG_PREFIX + mask(tag)) for tag in desired.tags} - {entry_group}
    return Host(
        name=mask(server.name),
        id=server.id,
        groups=(entry_group, *sorted(tags, key=natural_key)),
        variables=variables,
    )


def from_plan(plan: Plan, spec: Spec, network: str | None = None) -> Inventory:
    """The inventory of the servers a plan found: each kept server the spec has.

    Servers the spec no longer has are left out (named in `left_out`), and so are
    duplicates an interrupted run left (apply deletes both): Ansible host names
    are unique, and a playbook should not reach a server about to go.
    """
    entries = entry_names(spec)
    in_spec = {change.name for change in plan.changes if change.after is not None}
    hosts: list[Host] = []
    left_out: list[str] = []
    for change in plan.changes:
        server = change.before
        if server is None or server.is_gone:
            continue
        if change.after is None:
            if change.name not in in_spec:  # else a duplicate of a kept server
                left_out.append(mask_text(server.name, spec.sensitive))
            continue
        entry = entries.get(change.after.name, change.after.name)
        hosts.append(host_for(server, change.after, entry, spec.sensitive, network))
    if network is not None:
        _check_network(network, hosts, plan)
    hosts.sort(key=lambda host: natural_key(host.name))
    return Inventory(plan.stack, tuple(hosts), tuple(sorted(left_out, key=natural_key)))


def build(spec: Spec, observed: Sequence[ObservedServer], network: str | None = None) -> Inventory:
    """The inventory of `observed` (the stack's servers), paired with the spec as plan does."""
    return from_plan(planner.plan(spec, observed), spec, network)


def _check_network(network: str, hosts: Iterable[Host], plan: Plan) -> None:
    """A network no server has an address on is a typo, not a stack of unreachable hosts."""
    seen = sorted(
        {net for c in plan.changes if c.before and c.after for net, _ in c.before.addresses}
    )
    if seen and network not in seen and not any("ansible_host" in h.variables for h in hosts):
        raise UserError(
            f"no server of stack {plan.stack!r} has an address on network {network!r}",
            hint=f"--address-network takes one of: {', '.join(seen)}",
        )


def host_vars(inventory: Inventory) -> dict[str, dict[str, Any]]:
    return {host.name: dict(host.variables) for host in inventory.hosts}


def to_dict(inventory: Inventory) -> dict[str, Any]:
    """The `ansible-inventory --list` / script inventory structure."""
    groups = inventory.groups
    result: dict[str, Any] = {
        "_meta": {"hostvars": host_vars(inventory)},
        "all": {"children": list(groups)},
    }
    for group, names in groups.items():
        result[group] = {"hosts": list(names)}
    return result


def render_json(inventory: Inventory) -> str:
    return json.dumps(to_dict(inventory), indent=2, ensure_ascii=False) + "\n"


def render_yaml(inventory: Inventory) -> str:
    """For Ansible's yaml plugin: host vars under the entry's group, tag groups list names."""
    by_name = {host.name: host for host in inventory.hosts}
    children: dict[str, Any] = {}
    for group, names in inventory.groups.items():
        children[group] = {
            "hosts": {
                name: dict(by_name[name].variables) if by_name[name].groups[0] == group else {}
                for name in names
            }
        }
    document = {"all": {"children": children}}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1_000_000)


def render_ini(inventory: Inventory) -> str:
    """For Ansible's ini plugin: `[group]` sections, host vars inline on the entry's line.

    Inline values are read with Python's `ast.literal_eval`; a value is written bare
    only when it stays the same string that way, else as a quoted JSON literal.
    """
    by_name = {host.name: host for host in inventory.hosts}
    sections: list[str] = []
    for group, names in inventory.groups.items():
        lines = [f"[{group}]"]
        for name in names:
            host = by_name[name]
            if host.groups[0] != group:
                lines.append(name)
                continue
            pairs = (f"{key}={_ini_value(value)}" for key, value in host.variables.items())
            lines.append(" ".join((name, *pairs)))
        sections.append("\n".join(lines) + "\n")
    return "\n".join(sections)


def _ini_value(value: Any) -> str:
    if isinstance(value, str) and _BARE_INI.match(value):
        try:
            ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value  # Ansible keeps it as this very string
    return shlex.quote(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
