"""Networks (neutron/api/v2, db_base_plugin_v2.py)."""

from __future__ import annotations

import sqlite3
from typing import Any

from ..context import Call
from ..http import Response
from .common import (
    collection,
    neutron_error,
    stamps,
    visible_networks,
)


def network_view(row: sqlite3.Row, subnet_ids: list[str]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "admin_state_up": True,
        "status": "ACTIVE",
        "shared": bool(row["shared"]),
        "router:external": False,
        "mtu": row["mtu"],
        "port_security_enabled": True,
        "subnets": subnet_ids,
        "availability_zone_hints": [],
        "availability_zones": [],
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "qinq": False,
        "vlan_transparent": False,
        **stamps(row["created_at"]),
    }


def _networks(conn: sqlite3.Connection, call: Call) -> list[dict[str, Any]]:
    subnets: dict[str, list[str]] = {}
    for row in conn.execute("SELECT id, network_id FROM subnets ORDER BY created_at"):
        subnets.setdefault(row["network_id"], []).append(row["id"])
    return [
        network_view(row, subnets.get(row["id"], []))
        for row in visible_networks(conn, call.user.project_id, call.user.is_admin)
    ]


def list_networks(call: Call, _: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        return collection(call, "networks", _networks(conn, call))


def show_network(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        for item in _networks(conn, call):
            if item["id"] == params["id"]:
                return Response(200, {"network": item})
    raise neutron_error(404, "NetworkNotFound", f"Network {params['id']} could not be found.")
