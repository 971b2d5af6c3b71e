"""Ports (neutron/db/db_base_plugin_v2.py, ipam) and the ports Nova makes for servers.

A port holds one fixed IP (the local cloud's simplification): ports are rows with
(subnet_id, ip_int) unique, so an address is never handed out twice.
"""

from __future__ import annotations

import ipaddress
import json
import sqlite3
from typing import Any

from ..context import Call
from ..formats import new_id, now
from ..http import Response
from ..seed import ensure_default_security_group
from .common import (
    body_of,
    bump,
    collection,
    invalid_input,
    neutron_error,
    random_mac,
    reject_unknown,
    stamps,
    tags_by_id,
)
from .networks import load_network
from .subnets import pools_of

PORT_KEYS = {
    "name",
    "network_id",
    "fixed_ips",
    "device_id",
    "device_owner",
    "security_groups",
    "description",
    "admin_state_up",
    "mac_address",
    "tenant_id",
    "project_id",
    "port_security_enabled",
    "allowed_address_pairs",
    "binding:vnic_type",
}


def _free_address(conn: sqlite3.Connection, subnet: sqlite3.Row) -> int | None:
    """A free address of the subnet's allocation pools (the lowest, or the one after the
    highest taken: fast for 10,000 ports, and real Neutron does not promise an order)."""
    for first, last in pools_of(subnet):
        low, top = conn.execute(
            "SELECT MIN(ip_int), MAX(ip_int) FROM ports"
            " WHERE subnet_id = ? AND ip_int BETWEEN ? AND ?",
            (subnet["id"], first, last),
        ).fetchone()
        if top is None or int(low) > first:
            return first
        if int(top) < last:
            return int(top) + 1
        gap = conn.execute(
            "SELECT p.ip_int + 1 FROM ports p WHERE p.subnet_id = :s AND p.ip_int BETWEEN :a AND :b"
            " AND NOT EXISTS (SELECT 1 FROM ports q WHERE q.subnet_id = :s"
            " AND q.ip_int = p.ip_int + 1) ORDER BY 1 LIMIT 1",
            {"s": subnet["id"], "a": first, "b": last},
        ).fetchone()
        if gap is not None and int(gap[0]) <= last:
            return int(gap[0])
    return None


def _check_requested(conn: sqlite3.Connection, subnet: sqlite3.Row, address: str) -> int:
    """ipam: an address outside the subnet is 400 InvalidIpForSubnet, a taken one 409."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError as exc:
        raise invalid_input(f"'{address}' is not a valid IP address") from exc
    net = ipaddress.ip_network(subnet["cidr"])
    if ip not in net or ip in (net.network_address, net.broadcast_address):
        raise neutron_error(
            400,
            "InvalidIpForSubnet",
            f"IP address {address} is not a valid IP for the specified subnet.",
        )
    if conn.execute(
        "SELECT 1 FROM ports WHERE subnet_id = ? AND ip_int = ?", (subnet["id"], int(ip))
    ).fetchone():
        raise neutron_error(
            409,
            "IpAddressAlreadyAllocated",
            f"IP address {address} already allocated in subnet {subnet['id']}",
        )
    return int(ip)


def insert_port(
    conn: sqlite3.Connection,
    network_id: str,
    project_id: str,
    device_id: str,
    device_owner: str,
    security_group_ids: list[str],
    subnet_id: str | None = None,
    ip_address: str | None = None,
    name: str = "",
    description: str = "",
) -> sqlite3.Row:
    """A port with one fixed IP: the requested one, or a free one of the network's subnets."""
    if subnet_id is not None:
        subnets = conn.execute("SELECT * FROM subnets WHERE id = ?", (subnet_id,)).fetchall()
    else:
        subnets = conn.execute(
            "SELECT * FROM subnets WHERE network_id = ? ORDER BY created_at", (network_id,)
        ).fetchall()
    if ip_address is not None and subnet_id is None:
        subnets = [
            s
            for s in subnets
            if ipaddress.ip_address(ip_address) in ipaddress.ip_network(s["cidr"])
        ]
        if not subnets:
            raise neutron_error(
                400,
                "InvalidIpForNetwork",
                f"IP address {ip_address} is not a valid IP for any of the subnets on the"
                " specified network.",
            )
    for subnet in subnets:
        if ip_address is not None:
            candidate: int | None = _check_requested(conn, subnet, ip_address)
        else:
            candidate = _free_address(conn, subnet)
        if candidate is None:
            continue
        port_id = new_id()
        t = now()
        conn.execute(
            "INSERT INTO ports (id, name, network_id, subnet_id, ip_int, ip_address, mac_address,"
            " device_id, device_owner, project_id, security_groups, created_at, description,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                port_id,
                name,
                network_id,
                subnet["id"],
                candidate,
                str(ipaddress.ip_address(candidate)),
                random_mac(),
                device_id,
                device_owner,
                project_id,
                json.dumps(security_group_ids),
                t,
                description,
                t,
            ),
        )
        row: sqlite3.Row = conn.execute("SELECT * FROM ports WHERE id = ?", (port_id,)).fetchone()
        return row
    if not subnets:
        raise neutron_error(
            400,
            "BadRequest",
            f"Bad port request: the local cloud gives every port a fixed IP, and network"
            f" {network_id} has no subnet.",
        )
    raise neutron_error(
        409,
        "IpAddressGenerationFailure",
        f"No more IP addresses available on network {network_id}.",
    )


def allocate_port(
    conn: sqlite3.Connection,
    network_id: str,
    device_id: str,
    project_id: str,
    security_group_ids: list[str],
    ip_address: str | None = None,
) -> sqlite3.Row:
    """The port Nova asks Neutron for when it boots a server (with the fixed IP asked for)."""
    return insert_port(
        conn,
        network_id,
        project_id,
        device_id,
        "compute:nova",
        security_group_ids,
        ip_address=ip_address,
    )


def release_floating_ips(conn: sqlite3.Connection, port_ids: list[str]) -> None:
    """Deleting a port disassociates its floating IPs (l3_db.disassociate_floatingips)."""
    for start in range(0, len(port_ids), 900):
        chunk = port_ids[start : start + 900]
        conn.execute(
            "UPDATE floatingips SET port_id = NULL, fixed_ip_address = NULL, router_id = NULL,"
            " updated_at = ?, revision = revision + 1"
            f" WHERE port_id IN ({','.join('?' * len(chunk))})",
            [now(), *chunk],
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
    port_ids = [
        r[0] for r in conn.execute(f"SELECT id FROM ports WHERE device_id IN ({marks})", ids)
    ]
    release_floating_ips(conn, port_ids)
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


def port_view(row: sqlite3.Row, tags: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "network_id": row["network_id"],
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "mac_address": row["mac_address"],
        "admin_state_up": True,
        "status": "ACTIVE" if row["device_owner"] else "DOWN",
        "device_id": row["device_id"],
        "device_owner": row["device_owner"],
        "fixed_ips": [{"subnet_id": row["subnet_id"], "ip_address": row["ip_address"]}],
        "security_groups": json.loads(row["security_groups"]),
        "port_security_enabled": True,
        "allowed_address_pairs": [],
        "extra_dhcp_opts": [],
        "binding:vnic_type": "normal",
        **stamps(row, tags),
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
    tags = tags_by_id(conn)
    return [port_view(row, tags) for row in conn.execute(sql + " ORDER BY created_at", args)]


def list_ports(call: Call, _: dict[str, str]) -> Response:
    reap_if_due(call)
    with call.runtime.store.read() as conn:
        return collection(call, "ports", _ports(conn, call))


def load_port(conn: sqlite3.Connection, call: Call, port_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM ports WHERE id = ?", (port_id,)
    ).fetchone()
    if row is None or (not call.user.is_admin and row["project_id"] != call.user.project_id):
        raise neutron_error(404, "PortNotFound", f"Port {port_id} could not be found.")
    return row


def show_port(call: Call, params: dict[str, str]) -> Response:
    reap_if_due(call)
    with call.runtime.store.read() as conn:
        row = load_port(conn, call, params["id"])
        return Response(200, {"port": port_view(row, tags_by_id(conn))})


def security_group_ids(conn: sqlite3.Connection, call: Call, requested: Any) -> list[str]:
    """Requested groups must exist and be the caller's: else 404 SecurityGroupNotFound."""
    if not isinstance(requested, list):
        raise invalid_input(f"'{requested}' is not a list")
    ids = []
    for group_id in dict.fromkeys(str(g) for g in requested):
        row = conn.execute("SELECT * FROM security_groups WHERE id = ?", (group_id,)).fetchone()
        if row is None or (not call.user.is_admin and row["project_id"] != call.user.project_id):
            raise neutron_error(
                404, "SecurityGroupNotFound", f"Security group {group_id} does not exist"
            )
        ids.append(group_id)
    return ids


def create_port(call: Call, _: dict[str, str]) -> Response:
    data = body_of(call, "port")
    reject_unknown(data, PORT_KEYS)
    if "network_id" not in data:
        raise invalid_input(
            "Failed to parse request. Required attribute 'network_id' not specified"
        )
    fixed = data.get("fixed_ips")
    if fixed is not None and (not isinstance(fixed, list) or len(fixed) > 1):
        raise neutron_error(
            400, "BadRequest", "Bad port request: the local cloud gives a port one fixed IP."
        )
    wanted: dict[str, Any] = fixed[0] if fixed else {}
    if not isinstance(wanted, dict):
        raise invalid_input(f"Invalid data format for fixed IP: '{wanted}'")
    project_id = call.user.project_id
    with call.runtime.store.write() as conn:
        network = load_network(conn, call, str(data["network_id"]))
        subnet_id = wanted.get("subnet_id")
        if subnet_id is not None:
            subnet = conn.execute(
                "SELECT * FROM subnets WHERE id = ? AND network_id = ?", (subnet_id, network["id"])
            ).fetchone()
            if subnet is None:
                raise neutron_error(
                    404, "SubnetNotFound", f"Subnet {subnet_id} could not be found."
                )
        owner = str(data.get("device_owner", ""))
        if "security_groups" in data:
            groups = security_group_ids(conn, call, data["security_groups"])
        elif owner.startswith("network:"):
            groups = []
        else:
            groups = [ensure_default_security_group(conn, project_id)]
        row = insert_port(
            conn,
            network["id"],
            project_id,
            str(data.get("device_id", "")),
            owner,
            groups,
            subnet_id=subnet_id,
            ip_address=wanted.get("ip_address"),
            name=str(data.get("name", "")),
            description=str(data.get("description", "")),
        )
        return Response(201, {"port": port_view(row, tags_by_id(conn))})


def update_port(call: Call, params: dict[str, str]) -> Response:
    data = body_of(call, "port")
    reject_unknown(
        data,
        {
            "name",
            "description",
            "device_id",
            "device_owner",
            "security_groups",
            "admin_state_up",
            "fixed_ips",
            "port_security_enabled",
            "allowed_address_pairs",
            "binding:vnic_type",
        },
    )
    with call.runtime.store.write() as conn:
        row = load_port(conn, call, params["id"])
        for field in ("name", "description", "device_id", "device_owner"):
            if field in data:
                conn.execute(
                    f"UPDATE ports SET {field} = ? WHERE id = ?", (str(data[field]), row["id"])
                )
        if "security_groups" in data:
            groups = security_group_ids(conn, call, data["security_groups"] or [])
            conn.execute(
                "UPDATE ports SET security_groups = ? WHERE id = ?", (json.dumps(groups), row["id"])
            )
        if data.get("fixed_ips"):
            wanted = data["fixed_ips"][0]
            address = wanted.get("ip_address") if isinstance(wanted, dict) else None
            if address is not None and address != row["ip_address"]:
                subnet = conn.execute(
                    "SELECT * FROM subnets WHERE id = ?",
                    (wanted.get("subnet_id") or row["subnet_id"],),
                ).fetchone()
                ip_int = _check_requested(conn, subnet, address)
                conn.execute(
                    "UPDATE ports SET subnet_id = ?, ip_int = ?, ip_address = ? WHERE id = ?",
                    (subnet["id"], ip_int, address, row["id"]),
                )
        bump(conn, "ports", row["id"])
        row = load_port(conn, call, row["id"])
        return Response(200, {"port": port_view(row, tags_by_id(conn))})


def delete_port(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.write() as conn:
        row = load_port(conn, call, params["id"])
        if row["device_owner"] == "network:router_interface":
            raise neutron_error(
                409,
                "L3PortInUse",
                f"Port {row['id']} has owner network:router_interface and therefore cannot be"
                " deleted directly via the port API.",
            )
        release_floating_ips(conn, [row["id"]])
        conn.execute("DELETE FROM neutron_tags WHERE resource_id = ?", (row["id"],))
        conn.execute("DELETE FROM ports WHERE id = ?", (row["id"],))
    return Response(204)
