"""Simulated compute hosts and the scheduler that places servers on them.

As Nova does it (nova/scheduler/manager.py): placement first keeps the hosts with room
for the flavor (4 vCPUs per vCPU, all of the RAM but 512 MB, all of the disk), then the
filters (server group policy, `different_host` / `same_host` hints), then the weighers
choose: soft group policies first, then the most free RAM (so servers spread), then the
host's order. A request for several servers places them one
by one, each counting the ones before it, and fails whole when one cannot be placed.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..context import HostCapacity, Settings
from ..formats import new_id, now
from ..lifecycle import RESIZE_TASKS, state_of
from .common import invalid

CPU_ALLOCATION_RATIO = 4.0
RESERVED_HOST_MEMORY_MB = 512
NO_CANDIDATES = "No valid host was found. "
NOT_ENOUGH_HOSTS = "No valid host was found. There are not enough hosts available."
CONTROL_SERVICES = ("nova-scheduler", "nova-conductor")
"""The services besides nova-compute that os-services lists (their uuids are kept in meta)."""


def host_names(settings: Settings) -> list[str]:
    """realstack's naming: the first host has the base name, the others `-2`, `-3`..."""
    base = settings.compute_host
    return [base if i == 1 else f"{base}-{i}" for i in range(1, settings.hosts + 1)]


def ensure_hosts(conn: sqlite3.Connection, settings: Settings) -> None:
    """Give each configured host a row (stable ids across restarts); forget the others.

    Servers on a host that is no longer configured keep its name, as instances keep a
    deleted compute service's."""
    names = host_names(settings)
    known = {row["name"] for row in conn.execute("SELECT name FROM compute_hosts")}
    for index, name in enumerate(names, start=1):
        if name not in known:
            conn.execute(
                "INSERT OR REPLACE INTO compute_hosts (id, name, uuid, service_uuid, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (index, name, new_id(), new_id(), now()),
            )
    conn.execute(
        f"DELETE FROM compute_hosts WHERE name NOT IN ({','.join('?' * len(names))})", names
    )
    for binary in CONTROL_SERVICES:
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (f"service:{binary}", new_id())
        )


@dataclass(frozen=True)
class Flavor:
    """The resources a server takes on its host."""

    vcpus: int
    ram: int
    disk: int

    @staticmethod
    def of(flavor: sqlite3.Row | dict[str, Any]) -> Flavor:
        return Flavor(int(flavor["vcpus"]), int(flavor["ram"]), int(flavor["disk"]))


@dataclass
class HostUsage:
    """What a host has given out: resources of the servers on it (and of resizes it is the
    source of, until they are confirmed or reverted) and how many servers it runs."""

    vcpus: int = 0
    ram: int = 0
    disk: int = 0
    servers: int = 0
    busy: int = 0

    def add(self, flavor: Flavor, count_server: bool = True) -> None:
        self.vcpus += flavor.vcpus
        self.ram += flavor.ram
        self.disk += flavor.disk
        self.servers += int(count_server)


def resize_pending(row: sqlite3.Row, at: float) -> bool:
    """A resize not yet confirmed or reverted: the source host still holds the old flavor."""
    if row["old_flavor"] is None or row["old_host"] is None:
        return False
    state = state_of(row, at)
    return state.vm_state == "resized" or state.task_state in (*RESIZE_TASKS, "resize_reverting")


def usage(conn: sqlite3.Connection, at: float) -> dict[str, HostUsage]:
    """Per host name, what the servers alive at `at` take."""
    used: dict[str, HostUsage] = {}
    for row in conn.execute(
        "SELECT host, COUNT(*) AS n, SUM(vcpus) AS vcpus, SUM(ram) AS ram,"
        " SUM(json_extract(flavor, '$.disk')) AS disk,"
        " SUM(task_until > ? AND task_state IS NOT NULL) AS busy FROM servers"
        " WHERE host IS NOT NULL AND (deleted_at IS NULL OR deleted_at > ?) GROUP BY host",
        (at, at),
    ):
        used[row["host"]] = HostUsage(
            int(row["vcpus"]),
            int(row["ram"]),
            int(row["disk"] or 0),
            int(row["n"]),
            int(row["busy"] or 0),
        )
    for row in conn.execute(
        "SELECT * FROM servers WHERE old_host IS NOT NULL"
        " AND (deleted_at IS NULL OR deleted_at > ?)",
        (at,),
    ):
        if resize_pending(row, at):
            old = json.loads(row["old_flavor"])
            used.setdefault(row["old_host"], HostUsage()).add(Flavor.of(old), count_server=False)
    return used


def fits(capacity: HostCapacity, used: HostUsage, flavor: Flavor) -> bool:
    """Placement's check: is there room for one more `flavor` on the host?"""
    return (
        used.vcpus + flavor.vcpus <= capacity.vcpus * CPU_ALLOCATION_RATIO
        and used.ram + flavor.ram <= capacity.memory_mb - RESERVED_HOST_MEMORY_MB
        and used.disk + flavor.disk <= capacity.local_gb
    )


@dataclass(frozen=True)
class Group:
    """A server group as the scheduler sees it: policy, rules, and its members' hosts."""

    policy: str
    max_per_host: int
    member_hosts: Counter[str] = field(default_factory=Counter)


def group_for_scheduling(
    conn: sqlite3.Connection, group_id: str, at: float, leaving: str | None = None
) -> Group:
    """The group with the hosts of its live members (but `leaving`, a server being moved)."""
    row = conn.execute(
        "SELECT policy, rules FROM server_groups WHERE id = ?", (group_id,)
    ).fetchone()
    rules = json.loads(row["rules"])
    hosts: Counter[str] = Counter()
    for member in conn.execute(
        "SELECT s.id, s.host FROM server_group_members m JOIN servers s ON s.id = m.server_id"
        " WHERE m.group_id = ? AND s.host IS NOT NULL"
        " AND (s.deleted_at IS NULL OR s.deleted_at > ?)",
        (group_id, at),
    ):
        if member["id"] != leaving:
            hosts[member["host"]] += 1
    return Group(row["policy"], int(rules.get("max_server_per_host", 1)), hosts)


@dataclass(frozen=True)
class Request:
    """What one server needs from the scheduler."""

    flavor: Flavor
    group: Group | None = None
    different_hosts: frozenset[str] = frozenset()
    same_hosts: frozenset[str] | None = None


class NoValidHost(Exception):
    """No host passes; `message` is the fault Nova records on the server."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _passes(host: str, request: Request, placed: Counter[str]) -> bool:
    if host in request.different_hosts:
        return False
    if request.same_hosts is not None and host not in request.same_hosts:
        return False
    group = request.group
    if group is None:
        return True
    members = group.member_hosts[host] + placed[host]
    if group.policy == "anti-affinity":
        return members < group.max_per_host
    if group.policy == "affinity":
        chosen = {h for h, n in (group.member_hosts + placed).items() if n}
        return not chosen or host in chosen
    return True


def _weight(
    host: str, index: int, request: Request, free_ram: int, placed: Counter[str]
) -> tuple[int, ...]:
    """Smaller is better: the soft policy, then the most free RAM, then the host's order."""
    group = request.group
    members = 0 if group is None else group.member_hosts[host] + placed[host]
    soft = 0
    if group is not None and group.policy == "soft-anti-affinity":
        soft = members
    elif group is not None and group.policy == "soft-affinity":
        soft = -members
    return (soft, -free_ram, index)


def select_hosts(
    names: Sequence[str],
    capacity: HostCapacity,
    used: dict[str, HostUsage],
    request: Request,
    count: int,
) -> list[str]:
    """A host for each of `count` servers, or NoValidHost for them all."""
    used = {name: _copy(used.get(name)) for name in names}
    if not any(fits(capacity, used[name], request.flavor) for name in names):
        raise NoValidHost(NO_CANDIDATES)
    placed: Counter[str] = Counter()
    chosen: list[str] = []
    for _ in range(count):
        candidates = [
            (index, name)
            for index, name in enumerate(names)
            if fits(capacity, used[name], request.flavor) and _passes(name, request, placed)
        ]
        if not candidates:
            raise NoValidHost(NOT_ENOUGH_HOSTS)
        _, best = min(
            (
                _weight(
                    name,
                    index,
                    request,
                    capacity.memory_mb - RESERVED_HOST_MEMORY_MB - used[name].ram,
                    placed,
                ),
                name,
            )
            for index, name in candidates
        )
        used[best].add(request.flavor)
        placed[best] += 1
        chosen.append(best)
    return chosen


def _copy(usage: HostUsage | None) -> HostUsage:
    if usage is None:
        return HostUsage()
    return HostUsage(usage.vcpus, usage.ram, usage.disk, usage.servers, usage.busy)


def hosts_of(conn: sqlite3.Connection, server_ids: Iterable[str]) -> frozenset[str]:
    """The hosts the given servers run on (for the different_host / same_host hints)."""
    ids = list(server_ids)
    if not ids:
        return frozenset()
    rows = conn.execute(
        f"SELECT host FROM servers WHERE id IN ({','.join('?' * len(ids))}) AND host IS NOT NULL",
        ids,
    )
    return frozenset(row["host"] for row in rows)


def _uuid_like(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def scheduler_hints(body: Any) -> dict[str, list[Any]]:
    """`os:scheduler_hints` (or `OS-SCH-HNT:scheduler_hints`) of a create body, each value a
    list as Nova's RequestSpec keeps them; `group` and `different_host` must be uuids."""
    if not isinstance(body, dict):
        return {}
    hints = body.get("os:scheduler_hints", body.get("OS-SCH-HNT:scheduler_hints", {}))
    if not isinstance(hints, dict):
        raise invalid("os:scheduler_hints", hints, f"{hints!r} is not of type 'object'")
    kept: dict[str, list[Any]] = {}
    for key, value in hints.items():
        values = value if isinstance(value, list) else [value]
        if key in ("group", "different_host") and not all(_uuid_like(v) for v in values):
            raise invalid(key, value, f"{value!r} is not valid under any of the given schemas")
        kept[str(key)] = values
    return kept


def request_for(
    conn: sqlite3.Connection,
    flavor: Flavor,
    hints: dict[str, list[Any]],
    group_id: str | None,
    at: float,
    server_id: str | None = None,
) -> Request:
    """A scheduling request from a server's flavor, hints and group (`server_id` when an
    existing server is moved, so it does not count against itself)."""
    same = hints.get("same_host")
    return Request(
        flavor=flavor,
        group=None if group_id is None else group_for_scheduling(conn, group_id, at, server_id),
        different_hosts=hosts_of(conn, [str(v) for v in hints.get("different_host", [])]),
        same_hosts=None if same is None else hosts_of(conn, [str(v) for v in same]),
    )


def place_new(
    conn: sqlite3.Connection,
    settings: Settings,
    flavor: Flavor,
    count: int,
    hints: dict[str, list[Any]],
    group_id: str | None,
    at: float,
) -> tuple[list[str | None], str | None]:
    """Hosts for `count` new servers; or none for any of them, and the fault Nova gives."""
    request = request_for(conn, flavor, hints, group_id, at)
    try:
        hosts = select_hosts(
            host_names(settings), settings.host_capacity, usage(conn, at), request, count
        )
    except NoValidHost as failure:
        return [None] * count, failure.message
    return list[str | None](hosts), None
