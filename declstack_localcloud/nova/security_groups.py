"""A server's security groups: os-security-groups and the add/remove actions."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..formats import now
from ..http import Response
from .common import (
    NovaCall,
    load_server,
    nova_error,
)


def group_for_action(nc: NovaCall, conn: sqlite3.Connection, payload: Any) -> sqlite3.Row:
    name = payload.get("name") if isinstance(payload, dict) else None
    if not isinstance(name, str) or not name:
        raise nova_error(400, "Security group name cannot be empty")
    group: sqlite3.Row | None = conn.execute(
        "SELECT * FROM security_groups WHERE project_id = ? AND (name = ? OR id = ?)",
        (nc.call.user.project_id, name, name),
    ).fetchone()
    if group is None:
        raise nova_error(
            404, f"Security group {name} is not found for project {nc.call.user.project_id}"
        )
    return group


def set_groups(conn: sqlite3.Connection, server_id: str, groups: list[str]) -> None:
    conn.execute(
        "UPDATE servers SET security_groups = ?, updated_at = ? WHERE id = ?",
        (json.dumps(groups), now(), server_id),
    )
    conn.execute(
        "UPDATE ports SET security_groups = ? WHERE device_id = ?", (json.dumps(groups), server_id)
    )


def server_security_groups(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.read() as conn:
        row = load_server(nc, conn, params["id"])
        has_ports = conn.execute("SELECT 1 FROM ports WHERE device_id = ?", (row["id"],)).fetchone()
        groups = json.loads(row["security_groups"]) if has_ports else []
        result = []
        for group_id in groups:
            group = conn.execute(
                "SELECT * FROM security_groups WHERE id = ?", (group_id,)
            ).fetchone()
            if group is None:
                continue
            rules = [
                {
                    "id": rule["id"],
                    "parent_group_id": group_id,
                    "ip_protocol": rule["protocol"],
                    "from_port": rule["port_range_min"],
                    "to_port": rule["port_range_max"],
                    "ip_range": {"cidr": rule["remote_ip_prefix"]}
                    if rule["remote_ip_prefix"]
                    else {},
                    "group": {"name": group["name"], "tenant_id": group["project_id"]}
                    if rule["remote_group_id"]
                    else {},
                }
                for rule in conn.execute(
                    "SELECT * FROM security_group_rules WHERE security_group_id = ?"
                    " AND direction = 'ingress'",
                    (group_id,),
                )
            ]
            result.append(
                {
                    "id": group["id"],
                    "name": group["name"],
                    "description": group["description"],
                    "tenant_id": group["project_id"],
                    "rules": rules,
                }
            )
    return Response(200, {"security_groups": result})
