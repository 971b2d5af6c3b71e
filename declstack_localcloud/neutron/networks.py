"""Networks (neutron/db/db_base_plugin_v2.py, external_net_db.py)."""

from __future__ import annotations

import sqlite3
from typing import Any

from ..context import Call
from ..formats import new_id, now
from ..http import Response
from .common import (
    as_bool,
    body_of,
    bump,
    collection,
    neutron_error,
    reject_unknown,
    stamps,
    tags_by_id,
    visible_networks,
)

NETWORK_KEYS = {
    "name",
    "admin_state_up",
    "shared",
    "router:external",
    "description",
    "mtu",
    "port_security_enabled",
    "tenant_id",
    "project_id",
    "availability_zone_hints",
    "dns_domain",
}


def network_view(
    row: sqlite3.Row, subnet_ids: list[str], tags: dict[str, list[str]]
) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "admin_state_up": True,
        "status": "ACTIVE",
        "shared": bool(row["shared"]),
        "router:external": bool(row["external"]),
        "mtu": row["mtu"],
        "port_security_enabled": True,
        "subnets": subnet_ids,
        "availability_zone_hints": [],
        "availability_zones": [],
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "qinq": False,
        "vlan_transparent": False,
        **stamps(row, tags),
        # auto_allocate's extend hook shows is_default on external networks only
        **({"is_default": False} if row["external"] else {}),
    }


def _networks(conn: sqlite3.Connection, call: Call) -> list[dict[str, Any]]:
    subnets: dict[str, list[str]] = {}
    for row in conn.execute("SELECT id, network_id FROM subnets ORDER BY created_at"):
        subnets.setdefault(row["network_id"], []).append(row["id"])
    tags = tags_by_id(conn)
    return [
        network_view(row, subnets.get(row["id"], []), tags)
        for row in visible_networks(conn, call.user.project_id, call.user.is_admin)
    ]


def _not_found(network_id: str) -> Exception:
    return neutron_error(404, "NetworkNotFound", f"Network {network_id} could not be found.")


def load_network(conn: sqlite3.Connection, call: Call, network_id: str) -> sqlite3.Row:
    for row in visible_networks(conn, call.user.project_id, call.user.is_admin):
        if row["id"] == network_id:
            return row
    raise _not_found(network_id)


def network_item(conn: sqlite3.Connection, call: Call, network_id: str) -> dict[str, Any]:
    for item in _networks(conn, call):
        if item["id"] == network_id:
            return item
    raise _not_found(network_id)


def list_networks(call: Call, _: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        return collection(call, "networks", _networks(conn, call))


def show_network(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        return Response(200, {"network": network_item(conn, call, params["id"])})


def _admin_only(call: Call, data: dict[str, Any], field: str) -> None:
    """shared and router:external are admin-only attributes under the default policy."""
    if field in data and not call.user.is_admin:
        raise neutron_error(
            403,
            "HTTPForbidden",
            f"(rule:create_network and rule:create_network:{field}) is disallowed by policy",
        )


def create_network(call: Call, _: dict[str, str]) -> Response:
    data = body_of(call, "network")
    reject_unknown(data, NETWORK_KEYS)
    for field in ("shared", "router:external"):
        _admin_only(call, data, field)
    project_id = str(data.get("project_id") or data.get("tenant_id") or call.user.project_id)
    network_id = new_id()
    t = now()
    with call.runtime.store.write() as conn:
        conn.execute(
            "INSERT INTO networks (id, name, project_id, shared, mtu, created_at, external,"
            " description, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                network_id,
                str(data.get("name", "")),
                project_id,
                int(as_bool(data.get("shared", False), "shared")),
                int(data.get("mtu", 1450)),
                t,
                int(as_bool(data.get("router:external", False), "router:external")),
                str(data.get("description", "")),
                t,
            ),
        )
        item = network_item(conn, call, network_id)
    # the POST answer carries the request's attributes with their defaults, is_default too
    item.setdefault("is_default", False)
    return Response(201, {"network": item})


def update_network(call: Call, params: dict[str, str]) -> Response:
    data = body_of(call, "network")
    reject_unknown(data, NETWORK_KEYS - {"tenant_id", "project_id"})
    for field in ("shared", "router:external"):
        _admin_only(call, data, field)
    with call.runtime.store.write() as conn:
        row = load_network(conn, call, params["id"])
        if not call.user.is_admin and row["project_id"] != call.user.project_id:
            raise _not_found(row["id"])
        for field, column in (("name", "name"), ("description", "description")):
            if field in data:
                conn.execute(
                    f"UPDATE networks SET {column} = ? WHERE id = ?", (str(data[field]), row["id"])
                )
        for field, column in (("shared", "shared"), ("router:external", "external")):
            if field in data:
                conn.execute(
                    f"UPDATE networks SET {column} = ? WHERE id = ?",
                    (int(as_bool(data[field], field)), row["id"]),
                )
        bump(conn, "networks", row["id"])
        item = network_item(conn, call, row["id"])
    return Response(200, {"network": item})


def delete_network(call: Call, params: dict[str, str]) -> Response:
    """Neutron deletes a network's subnets with it, unless a port other than a DHCP port
    still uses it: 409 NetworkInUse."""
    with call.runtime.store.write() as conn:
        row = load_network(conn, call, params["id"])
        if not call.user.is_admin and row["project_id"] != call.user.project_id:
            raise _not_found(row["id"])
        if conn.execute(
            "SELECT 1 FROM ports WHERE network_id = ? AND device_owner != 'network:dhcp'",
            (row["id"],),
        ).fetchone():
            raise neutron_error(
                409,
                "NetworkInUse",
                f"Unable to complete operation on network {row['id']}. There are one or more"
                " ports still in use on the network.",
            )
        subnet_ids = [
            r[0] for r in conn.execute("SELECT id FROM subnets WHERE network_id = ?", (row["id"],))
        ]
        for resource_id in [row["id"], *subnet_ids]:
            conn.execute("DELETE FROM neutron_tags WHERE resource_id = ?", (resource_id,))
        conn.execute("DELETE FROM ports WHERE network_id = ?", (row["id"],))
        conn.execute("DELETE FROM subnets WHERE network_id = ?", (row["id"],))
        conn.execute("DELETE FROM networks WHERE id = ?", (row["id"],))
    return Response(204)
