"""Ports (neutron/db/db_base_plugin_v2.py) and Nova's port allocation and clean-up."""

from __future__ import annotations

import ipaddress
import json
import sqlite3
from typing import Any

from ..context import Call
from ..formats import new_id, now
from ..http import Response
from .common import (
    collection,
    neutron_error,
    random_mac,
    stamps,
)


def allocate_port(
    conn: sqlite3.Connection,
    network_id: str,
    device_id: str,
    project_id: str,
    security_group_ids: list[str],
) -> sqlite3.Row:
    """Create a compute port with the lowest free fixed IP of the network's first roomy subnet."""
    for subnet in conn.execute(
        "SELECT * FROM subnets WHERE network_id = ? ORDER BY created_at", (network_id,)
    ).fetchall():
        net = ipaddress.ip_network(subnet["cidr"])
        first = int(net.network_address) + 2
        last = int(net.broadcast_address) - 1
        top = conn.execute(
            "SELECT MAX(ip_int) FROM ports WHERE subnet_id = ?", (subnet["id"],)
        ).fetchone()[0]
        candidate = first if top is None else int(top) + 1
        if candidate > last:
            gap = conn.execute(
                "SELECT p.ip_int + 1 FROM ports p WHERE p.subnet_id = :s AND NOT EXISTS"
                " (SELECT 1 FROM ports q WHERE q.subnet_id = :s AND q.ip_int = p.ip_int + 1)"
                " ORDER BY 1 LIMIT 1",
                {"s": subnet["id"]},
            ).fetchone()
            lowest_taken = conn.execute(
                "SELECT MIN(ip_int) FROM ports WHERE subnet_id = ?", (subnet["id"],)
            ).fetchone()[0]
            if lowest_taken is not None and int(lowest_taken) > first:
                candidate = first
            elif gap is not None and int(gap[0]) <= last:
                candidate = int(gap[0])
            else:
                continue
        port_id = new_id()
        conn.execute(
            "INSERT INTO ports (id, name, network_id, subnet_id, ip_int, ip_address, mac_address,"
            " device_id, device_owner, project_id, security_groups, created_at)"
            " VALUES (?, '', ?, ?, ?, ?, ?, ?, 'compute:nova', ?, ?, ?)",
            (
                port_id,
                network_id,
                subnet["id"],
                candidate,
                str(ipaddress.ip_address(candidate)),
                random_mac(),
                device_id,
                project_id,
                json.dumps(security_group_ids),
                now(),
            ),
        )
        row: sqlite3.Row = conn.execute("SELECT * FROM ports WHERE id = ?", (port_id,)).fetchone()
        return row
    raise neutron_error(
        409,
        "IpAddressGenerationFailure",
        f"No more IP addresses available on network {network_id}.",
    )


def reap(conn: sqlite3.Connection, at: float) -> None:
    """Remove ports of servers whose delete (or failed boot) has completed by `at`."""
    ids = [
        row[0]
        for row in conn.execute(
            "SELECT id FROM servers WHERE reap_at IS NOT NULL AND reap_at <= ?", (at,)
        )
    ]
    if not ids:
        return
    marks = ",".join("?" * len(ids))
    conn.execute(f"DELETE FROM ports WHERE device_id IN ({marks})", ids)
    conn.execute(f"UPDATE servers SET reap_at = NULL WHERE id IN ({marks})", ids)


def reap_if_due(call: Call) -> None:
    with call.runtime.store.read() as conn:
        due = conn.execute(
            "SELECT 1 FROM servers WHERE reap_at IS NOT NULL AND reap_at <= ? LIMIT 1", (now(),)
        ).fetchone()
    if due is not None:
        with call.runtime.store.write() as conn:
            reap(conn, now())


def port_view(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "network_id": row["network_id"],
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "mac_address": row["mac_address"],
        "admin_state_up": True,
        "status": "ACTIVE",
        "device_id": row["device_id"],
        "device_owner": row["device_owner"],
        "fixed_ips": [{"subnet_id": row["subnet_id"], "ip_address": row["ip_address"]}],
        "security_groups": json.loads(row["security_groups"]),
        "port_security_enabled": True,
        "allowed_address_pairs": [],
        "extra_dhcp_opts": [],
        "binding:vnic_type": "normal",
        **stamps(row["created_at"]),
    }


def _ports(conn: sqlite3.Connection, call: Call) -> list[dict[str, Any]]:
    device_ids = call.request.query.get("device_id")
    sql, args = "SELECT * FROM ports", []
    clauses = []
    if device_ids:
        clauses.append(f"device_id IN ({','.join('?' * len(device_ids))})")
        args.extend(device_ids)
    if not call.user.is_admin:
        clauses.append("project_id = ?")
        args.append(call.user.project_id)
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    return [port_view(row) for row in conn.execute(sql + " ORDER BY created_at", args)]


def list_ports(call: Call, _: dict[str, str]) -> Response:
    reap_if_due(call)
    with call.runtime.store.read() as conn:
        return collection(call, "ports", _ports(conn, call))


def show_port(call: Call, params: dict[str, str]) -> Response:
    reap_if_due(call)
    with call.runtime.store.read() as conn:
        row = conn.execute("SELECT * FROM ports WHERE id = ?", (params["id"],)).fetchone()
    if row is None or (not call.user.is_admin and row["project_id"] != call.user.project_id):
        raise neutron_error(404, "PortNotFound", f"Port {params['id']} could not be found.")
    return Response(200, {"port": port_view(row)})
