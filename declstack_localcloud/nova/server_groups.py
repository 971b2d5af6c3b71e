"""Server groups: create, list, show, delete (compute/server_groups.py), and a server's group.

Answers as Nova 34 does on realstack: create is a 200; `policies` (a one-item list, soft
policies from 2.15) before 2.64, `policy` and `rules` (`max_server_per_host`, for
anti-affinity only) from 2.64; `project_id` / `user_id` from 2.13; `members` lists the
group's servers that are not deleted, the ones that went to ERROR included. Deleting a
group with members is a 204: the servers stay, outside any group.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from ..formats import new_id, now
from ..http import Response
from .common import NovaCall, invalid, nova_error

POLICIES = ("anti-affinity", "affinity")
SOFT_POLICIES = ("soft-anti-affinity", "soft-affinity")
NAME_PATTERN = re.compile(r"^(?!\s)[^\x00-\x1f]*(?<!\s)$")


def _policies_offered(nc: NovaCall) -> tuple[str, ...]:
    return POLICIES + SOFT_POLICIES if nc.at_least(2, 15) else POLICIES


def _one_of(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _validated(nc: NovaCall, data: dict[str, Any]) -> tuple[str, str, dict[str, int]]:
    """(name, policy, rules) from a create body, or the 400 Nova's JSON schema gives."""
    new_style = nc.at_least(2, 64)
    required = ("name", "policy") if new_style else ("name", "policies")
    allowed = {"name", "policy", "rules"} if new_style else {"name", "policies"}
    for key in data:
        if key not in allowed:
            raise invalid(
                "server_group",
                data,
                f"Additional properties are not allowed ('{key}' was unexpected)",
            )
    for key in required:
        if key not in data:
            raise invalid("server_group", data, f"'{key}' is a required property")
    name = data["name"]
    if not isinstance(name, str):
        raise invalid("name", name, f"{name!r} is not of type 'string'")
    if not name:
        raise invalid("name", name, "'' should be non-empty")
    if len(name) > 255:
        raise invalid("name", name, f"{name!r} is too long")
    if not NAME_PATTERN.match(name):
        raise invalid(
            "name", name, f"{name!r} does not match 'name' (no leading or trailing spaces)"
        )
    offered = _policies_offered(nc)
    if not new_style:
        policies = data["policies"]
        if not isinstance(policies, list):
            raise invalid("policies", policies, f"{policies!r} is not of type 'array'")
        if len(policies) != 1:
            reason = "should be non-empty" if not policies else "is too long"
            raise invalid("policies", policies, f"{policies!r} {reason}")
        if policies[0] not in offered:
            raise invalid("0", policies[0], f"{policies[0]!r} is not one of {_one_of(offered)}")
        return name, str(policies[0]), {}
    policy = data["policy"]
    if policy not in offered:
        raise invalid("policy", policy, f"{policy!r} is not one of {_one_of(offered)}")
    rules = data.get("rules", {})
    if not isinstance(rules, dict):
        raise invalid("rules", rules, f"{rules!r} is not of type 'object'")
    for key in rules:
        if key != "max_server_per_host":
            raise invalid(
                "rules", rules, f"Additional properties are not allowed ('{key}' was unexpected)"
            )
    cleaned: dict[str, int] = {}
    if "max_server_per_host" in rules:
        value = rules["max_server_per_host"]
        text = str(value)
        if isinstance(value, bool) or not isinstance(value, int | str) or not text.isdigit():
            raise invalid("max_server_per_host", value, f"{value!r} does not match '^[0-9]*$'")
        if int(text) < 1:
            raise invalid("max_server_per_host", value, f"{value!r} is less than the minimum of 1")
        cleaned["max_server_per_host"] = int(text)
    if policy != "anti-affinity" and cleaned:
        raise nova_error(400, "Only anti-affinity policy supports rules.")
    return name, str(policy), cleaned


def members_of(conn: sqlite3.Connection, group_ids: list[str], at: float) -> dict[str, list[str]]:
    """Per group, its servers that are not deleted at `at`, oldest first."""
    found: dict[str, list[str]] = {g: [] for g in group_ids}
    for start in range(0, len(group_ids), 900):
        chunk = group_ids[start : start + 900]
        for row in conn.execute(
            "SELECT m.group_id, s.id FROM server_group_members m JOIN servers s"
            f" ON s.id = m.server_id WHERE m.group_id IN ({','.join('?' * len(chunk))})"
            " AND (s.deleted_at IS NULL OR s.deleted_at > ?) ORDER BY s.seq",
            [*chunk, at],
        ):
            found[row["group_id"]].append(row["id"])
    return found


def group_view(nc: NovaCall, row: sqlite3.Row, members: list[str]) -> dict[str, Any]:
    """A group at the caller's microversion (views in compute/server_groups.py)."""
    group: dict[str, Any] = {"id": row["id"], "name": row["name"]}
    if nc.at_least(2, 64):
        group["policy"] = row["policy"]
        group["rules"] = json.loads(row["rules"])
    else:
        group["policies"] = [row["policy"]]
        group["metadata"] = {}
    group["members"] = members
    if nc.at_least(2, 13):
        group["project_id"] = row["project_id"]
        group["user_id"] = row["user_id"]
    return group


def _strict_query(nc: NovaCall, since: tuple[int, int], allowed: tuple[str, ...]) -> None:
    """From `since`, a query parameter the schema does not name is a 400."""
    if not nc.at_least(*since):
        return
    for key in nc.call.request.query:
        if key not in allowed:
            raise nova_error(400, f"Additional properties are not allowed ('{key}' was unexpected)")


def _non_negative(nc: NovaCall, name: str) -> int | None:
    text = nc.call.request.param(name)
    if text is None:
        return None
    if not text.isdigit():
        raise invalid(name, text, f"'{text}' does not match '^[0-9]*$'")
    return int(text)


def create_group(nc: NovaCall, _: dict[str, str]) -> Response:
    name, policy, rules = _validated(nc, nc.body("server_group"))
    principal = nc.call.user
    quota = nc.call.runtime.faults.faults.quota_server_groups
    with nc.call.runtime.store.write() as conn:
        used = conn.execute(
            "SELECT COUNT(*) FROM server_groups WHERE project_id = ?", (principal.project_id,)
        ).fetchone()[0]
        if used + 1 > quota:
            raise nova_error(403, "Quota exceeded, too many server groups.")
        group_id = new_id()
        conn.execute(
            "INSERT INTO server_groups (id, name, policy, rules, project_id, user_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                group_id,
                name,
                policy,
                json.dumps(rules),
                principal.project_id,
                principal.user_id,
                now(),
            ),
        )
        row = conn.execute("SELECT * FROM server_groups WHERE id = ?", (group_id,)).fetchone()
        return Response(200, {"server_group": group_view(nc, row, [])})


def list_groups(nc: NovaCall, _: dict[str, str]) -> Response:
    _strict_query(nc, (2, 75), ("all_projects", "limit", "offset"))
    limit, offset = _non_negative(nc, "limit"), _non_negative(nc, "offset") or 0
    principal = nc.call.user
    everyone = "all_projects" in nc.call.request.query and principal.is_admin
    with nc.call.runtime.store.read() as conn:
        if everyone:
            rows = conn.execute("SELECT * FROM server_groups ORDER BY seq").fetchall()
        else:
            rows = conn.execute(
                "SELECT * FROM server_groups WHERE project_id = ? ORDER BY seq",
                (principal.project_id,),
            ).fetchall()
        rows = rows[offset:]
        rows = rows[: min(limit, 1000)] if limit is not None else rows[:1000]
        members = members_of(conn, [r["id"] for r in rows], now())
    return Response(200, {"server_groups": [group_view(nc, r, members[r["id"]]) for r in rows]})


def _load(nc: NovaCall, conn: sqlite3.Connection, group_id: str, action: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM server_groups WHERE id = ?", (group_id,)
    ).fetchone()
    if row is None:
        raise nova_error(404, f"Instance group {group_id} could not be found.")
    principal = nc.call.user
    if row["project_id"] != principal.project_id and not principal.is_admin:
        raise nova_error(
            403, f"Policy doesn't allow os_compute_api:os-server-groups:{action} to be performed."
        )
    return row


def show_group(nc: NovaCall, params: dict[str, str]) -> Response:
    _strict_query(nc, (2, 102), ())
    with nc.call.runtime.store.read() as conn:
        row = _load(nc, conn, params["id"], "show")
        members = members_of(conn, [row["id"]], now())
    return Response(200, {"server_group": group_view(nc, row, members[row["id"]])})


def delete_group(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.write() as conn:
        row = _load(nc, conn, params["id"], "delete")
        conn.execute("DELETE FROM server_group_members WHERE group_id = ?", (row["id"],))
        conn.execute("DELETE FROM server_groups WHERE id = ?", (row["id"],))
    return Response(204)


# ---- a server's group ------------------------------------------------------------------------


def requested_group(
    nc: NovaCall, conn: sqlite3.Connection, group_id: str | None, count: int
) -> sqlite3.Row | None:
    """The group a create's `group` hint names, if its members quota has room for `count`
    more (compute/api.py _provision_instances: all or none)."""
    if group_id is None:
        return None
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM server_groups WHERE id = ?", (group_id,)
    ).fetchone()
    if row is None:
        raise nova_error(400, f"Instance group {group_id} could not be found.")
    members = members_of(conn, [group_id], now())[group_id]
    if len(members) + count > nc.call.runtime.faults.faults.quota_server_group_members:
        raise nova_error(403, "Quota exceeded, too many servers in group")
    return row


def join_group(conn: sqlite3.Connection, group_id: str, server_id: str) -> None:
    conn.execute(
        "INSERT INTO server_group_members (server_id, group_id) VALUES (?, ?)",
        (server_id, group_id),
    )


def group_of(conn: sqlite3.Connection, server_ids: list[str]) -> dict[str, str]:
    """Per server, the id of the group it is in (only those in one)."""
    found: dict[str, str] = {}
    for start in range(0, len(server_ids), 900):
        chunk = server_ids[start : start + 900]
        for row in conn.execute(
            "SELECT server_id, group_id FROM server_group_members"
            f" WHERE server_id IN ({','.join('?' * len(chunk))})",
            chunk,
        ):
            found[row["server_id"]] = row["group_id"]
    return found
