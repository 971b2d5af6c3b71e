"""Floating IPs (neutron/db/l3_db.py): allocated on an external network, associated with a
port whose subnet a router connects to that network."""

from __future__ import annotations

import sqlite3
from typing import Any

from ..context import Call
from ..formats import new_id, now
from ..http import Response
from .common import (
    bad_request,
    body_of,
    collection,
    neutron_error,
    reject_unknown,
    stamps,
    tags_by_id,
)
from .ports import insert_port, load_port

FIP_OWNER = "network:floatingip"
FIP_KEYS = {
    "floating_network_id",
    "floating_ip_address",
    "port_id",
    "fixed_ip_address",
    "description",
    "subnet_id",
    "tenant_id",
    "project_id",
    "dns_name",
    "dns_domain",
    "qos_policy_id",
}


def _not_found(fip_id: str) -> Exception:
    return neutron_error(404, "FloatingIPNotFound", f"Floating IP {fip_id} could not be found")


def floatingip_view(
    conn: sqlite3.Connection, row: sqlite3.Row, tags: dict[str, list[str]]
) -> dict[str, Any]:
    """Status: DOWN while unassociated, ACTIVE once associated (the L3 agent's report)."""
    details = None
    if row["port_id"]:
        port = conn.execute("SELECT * FROM ports WHERE id = ?", (row["port_id"],)).fetchone()
        if port is not None:
            details = {
                "name": port["name"],
                "network_id": port["network_id"],
                "mac_address": port["mac_address"],
                "admin_state_up": True,
                "status": "ACTIVE",
                "device_id": port["device_id"],
                "device_owner": port["device_owner"],
            }
    return {
        "id": row["id"],
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "floating_ip_address": row["address"],
        "floating_network_id": row["network_id"],
        "router_id": row["router_id"],
        "port_id": row["port_id"],
        "fixed_ip_address": row["fixed_ip_address"],
        "status": "ACTIVE" if row["port_id"] else "DOWN",
        "port_details": details,
        **stamps(row, tags),
    }


def load_floatingip(conn: sqlite3.Connection, call: Call, fip_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM floatingips WHERE id = ?", (fip_id,)
    ).fetchone()
    if row is None or (not call.user.is_admin and row["project_id"] != call.user.project_id):
        raise _not_found(fip_id)
    return row


def _router_for(conn: sqlite3.Connection, network_id: str, port: sqlite3.Row) -> str:
    """l3_db._get_router_for_floatingip: a router with a gateway on the floating network and
    an interface on the port's subnet, else 404 ExternalGatewayForFloatingIPNotFound."""
    found = conn.execute(
        "SELECT r.id FROM routers r JOIN ports p ON p.device_id = r.id"
        " WHERE r.external_network_id = ? AND p.device_owner = 'network:router_interface'"
        " AND p.subnet_id = ? ORDER BY r.created_at LIMIT 1",
        (network_id, port["subnet_id"]),
    ).fetchone()
    if found is None:
        raise neutron_error(
            404,
            "ExternalGatewayForFloatingIPNotFound",
            f"External network {network_id} is not reachable from subnet {port['subnet_id']}."
            f"  Therefore, cannot associate Port {port['id']} with a Floating IP.",
        )
    return str(found[0])


def _associate(
    conn: sqlite3.Connection, call: Call, row: sqlite3.Row, port_id: Any, fixed: Any
) -> None:
    if port_id is None:
        conn.execute(
            "UPDATE floatingips SET port_id = NULL, fixed_ip_address = NULL, router_id = NULL"
            " WHERE id = ?",
            (row["id"],),
        )
        return
    port = load_port(conn, call, str(port_id))
    if fixed is not None and fixed != port["ip_address"]:
        raise bad_request(
            "floatingip",
            f"Port {port['id']} does not have fixed ip {fixed}",
        )
    other = conn.execute(
        "SELECT * FROM floatingips WHERE port_id = ? AND network_id = ? AND id != ?",
        (port["id"], row["network_id"], row["id"]),
    ).fetchone()
    if other is not None:
        raise neutron_error(
            409,
            "FloatingIPPortAlreadyAssociated",
            f"Cannot associate floating IP {row['address']} ({row['id']}) with port {port['id']}"
            f" using fixed IP {port['ip_address']}, as that fixed IP already has a floating IP on"
            f" external network {row['network_id']}.",
        )
    router_id = _router_for(conn, row["network_id"], port)
    conn.execute(
        "UPDATE floatingips SET port_id = ?, fixed_ip_address = ?, router_id = ? WHERE id = ?",
        (port["id"], port["ip_address"], router_id, row["id"]),
    )


def _floatingips(conn: sqlite3.Connection, call: Call) -> list[dict[str, Any]]:
    tags = tags_by_id(conn)
    return [
        floatingip_view(conn, row, tags)
        for row in conn.execute("SELECT * FROM floatingips ORDER BY created_at")
        if call.user.is_admin or row["project_id"] == call.user.project_id
    ]


def list_floatingips(call: Call, _: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        return collection(call, "floatingips", _floatingips(conn, call))


def show_floatingip(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        row = load_floatingip(conn, call, params["id"])
        return Response(200, {"floatingip": floatingip_view(conn, row, tags_by_id(conn))})


def create_floatingip(call: Call, _: dict[str, str]) -> Response:
    data = body_of(call, "floatingip")
    reject_unknown(data, FIP_KEYS)
    network_id = data.get("floating_network_id")
    if not network_id:
        raise neutron_error(
            400,
            "HTTPBadRequest",
            "Failed to parse request. Required attribute 'floating_network_id' not specified",
        )
    with call.runtime.store.write() as conn:
        network = conn.execute("SELECT * FROM networks WHERE id = ?", (network_id,)).fetchone()
        if network is None:
            raise neutron_error(404, "NetworkNotFound", f"Network {network_id} could not be found.")
        if not network["external"]:
            raise bad_request("floatingip", f"Network {network_id} is not a valid external network")
        fip_id = new_id()
        requested = data.get("floating_ip_address")
        if (
            requested is not None
            and conn.execute(
                "SELECT 1 FROM ports p JOIN subnets s ON s.id = p.subnet_id"
                " WHERE s.network_id = ? AND p.ip_address = ?",
                (network["id"], requested),
            ).fetchone()
        ):
            raise neutron_error(
                409,
                "IpAddressInUse",
                f"Unable to complete operation for network {network['id']}. The IP address"
                f" {requested} is in use.",
            )
        port = insert_port(
            conn,
            network["id"],
            "",
            fip_id,
            FIP_OWNER,
            [],
            subnet_id=data.get("subnet_id"),
            ip_address=requested,
        )
        t = now()
        conn.execute(
            "INSERT INTO floatingips (id, project_id, network_id, address, own_port_id, port_id,"
            " fixed_ip_address, router_id, description, created_at, updated_at, revision)"
            " VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?, ?, 0)",
            (
                fip_id,
                call.user.project_id,
                network["id"],
                port["ip_address"],
                port["id"],
                str(data.get("description", "")),
                t,
                t,
            ),
        )
        row = load_floatingip(conn, call, fip_id)
        if data.get("port_id"):
            _associate(conn, call, row, data["port_id"], data.get("fixed_ip_address"))
            row = load_floatingip(conn, call, fip_id)
        return Response(201, {"floatingip": floatingip_view(conn, row, tags_by_id(conn))})


def update_floatingip(call: Call, params: dict[str, str]) -> Response:
    data = body_of(call, "floatingip")
    reject_unknown(data, {"port_id", "fixed_ip_address", "description", "qos_policy_id"})
    with call.runtime.store.write() as conn:
        row = load_floatingip(conn, call, params["id"])
        if "port_id" in data:
            _associate(conn, call, row, data["port_id"], data.get("fixed_ip_address"))
        if "description" in data:
            conn.execute(
                "UPDATE floatingips SET description = ? WHERE id = ?",
                (str(data["description"]), row["id"]),
            )
        conn.execute(
            "UPDATE floatingips SET updated_at = ?, revision = revision + 1 WHERE id = ?",
            (now(), row["id"]),
        )
        row = load_floatingip(conn, call, row["id"])
        return Response(200, {"floatingip": floatingip_view(conn, row, tags_by_id(conn))})


def delete_floatingip(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.write() as conn:
        row = load_floatingip(conn, call, params["id"])
        conn.execute("DELETE FROM ports WHERE id = ?", (row["own_port_id"],))
        conn.execute("DELETE FROM neutron_tags WHERE resource_id = ?", (row["id"],))
        conn.execute("DELETE FROM floatingips WHERE id = ?", (row["id"],))
    return Response(204)
