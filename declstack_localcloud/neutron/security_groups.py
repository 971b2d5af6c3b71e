"""Security groups and their rules (neutron/db/securitygroups_db.py)."""

from __future__ import annotations

import sqlite3
from typing import Any

from ..context import Call
from ..http import Response
from ..seed import ensure_default_security_group
from .common import (
    collection,
    neutron_error,
    stamps,
)


def rule_view(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "security_group_id": row["security_group_id"],
        "direction": row["direction"],
        "ethertype": row["ethertype"],
        "protocol": row["protocol"],
        "port_range_min": row["port_range_min"],
        "port_range_max": row["port_range_max"],
        "remote_ip_prefix": row["remote_ip_prefix"],
        "remote_group_id": row["remote_group_id"],
        "remote_address_group_id": None,
        "normalized_cidr": None,
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "belongs_to_default_sg": None,
        "standard_attr_id": abs(hash(row["id"])) % 100000,
        **stamps(row["created_at"]),
        "description": None,
        "revision_number": 0,
    }


def security_group_view(row: sqlite3.Row, rules: list[sqlite3.Row]) -> dict[str, Any]:
    return {
        **stamps(row["created_at"]),
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "stateful": True,
        "shared": False,
        "security_group_rules": [rule_view(r) for r in rules],
    }


def _security_groups(call: Call) -> list[dict[str, Any]]:
    with call.runtime.store.write() as conn:
        ensure_default_security_group(conn, call.user.project_id)
    with call.runtime.store.read() as conn:
        rules: dict[str, list[sqlite3.Row]] = {}
        for rule in conn.execute("SELECT * FROM security_group_rules ORDER BY created_at"):
            rules.setdefault(rule["security_group_id"], []).append(rule)
        rows = conn.execute("SELECT * FROM security_groups ORDER BY created_at").fetchall()
    return [
        security_group_view(row, rules.get(row["id"], []))
        for row in rows
        if call.user.is_admin or row["project_id"] == call.user.project_id
    ]


def list_security_groups(call: Call, _: dict[str, str]) -> Response:
    return collection(call, "security_groups", _security_groups(call))


def show_security_group(call: Call, params: dict[str, str]) -> Response:
    for item in _security_groups(call):
        if item["id"] == params["id"]:
            return Response(200, {"security_group": item})
    raise neutron_error(
        404, "SecurityGroupNotFound", f"Security group {params['id']} does not exist"
    )


def list_security_group_rules(call: Call, _: dict[str, str]) -> Response:
    rules = [rule for group in _security_groups(call) for rule in group["security_group_rules"]]
    return collection(call, "security_group_rules", rules)
