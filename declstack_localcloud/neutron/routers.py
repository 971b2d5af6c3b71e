"""Routers: external gateway and interfaces (neutron/db/l3_db.py, neutron_lib l3 exceptions)."""

from __future__ import annotations

import sqlite3
from typing import Any

from ..context import Call
from ..formats import new_id, now
from ..http import Response
from .common import (
    as_bool,
    bad_request,
    body_of,
    bump,
    collection,
    neutron_error,
    reject_unknown,
    stamps,
    tags_by_id,
)
from .ports import insert_port, load_port

GATEWAY_OWNER = "network:router_gateway"
INTERFACE_OWNER = "network:router_interface"


def _not_found(router_id: str) -> Exception:
    return neutron_error(404, "RouterNotFound", f"Router {router_id} could not be found")


def load_router(conn: sqlite3.Connection, call: Call, router_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM routers WHERE id = ?", (router_id,)
    ).fetchone()
    if row is None or (not call.user.is_admin and row["project_id"] != call.user.project_id):
        raise _not_found(router_id)
    return row


def router_view(
    conn: sqlite3.Connection, row: sqlite3.Row, tags: dict[str, list[str]]
) -> dict[str, Any]:
    gateway: dict[str, Any] | None = None
    if row["external_network_id"]:
        ips = [
            {"subnet_id": p["subnet_id"], "ip_address": p["ip_address"]}
            for p in conn.execute(
                "SELECT * FROM ports WHERE device_id = ? AND device_owner = ?",
                (row["id"], GATEWAY_OWNER),
            )
        ]
        gateway = {
            "network_id": row["external_network_id"],
            "enable_snat": bool(row["enable_snat"]),
            "external_fixed_ips": ips,
        }
    return {
        "id": row["id"],
        "name": row["name"],
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "admin_state_up": bool(row["admin_state_up"]),
        "status": "ACTIVE",
        "external_gateway_info": gateway,
        "routes": [],
        "availability_zone_hints": [],
        "availability_zones": [],
        "flavor_id": None,
        **stamps(row, tags),
    }


def _external_network(conn: sqlite3.Connection, network_id: Any) -> sqlite3.Row:
    network: sqlite3.Row | None = conn.execute(
        "SELECT * FROM networks WHERE id = ?", (network_id,)
    ).fetchone()
    if network is None:
        raise neutron_error(404, "NetworkNotFound", f"Network {network_id} could not be found.")
    if not network["external"]:
        raise bad_request("router", f"Network {network_id} is not an external network")
    return network


def set_gateway(conn: sqlite3.Connection, router: sqlite3.Row, info: dict[str, Any] | None) -> None:
    """Replace the router's gateway port: one address on the external network; owned by
    no project, as Neutron's gateway ports are."""
    conn.execute(
        "DELETE FROM ports WHERE device_id = ? AND device_owner = ?", (router["id"], GATEWAY_OWNER)
    )
    if not info:
        conn.execute("UPDATE routers SET external_network_id = NULL WHERE id = ?", (router["id"],))
        return
    network = _external_network(conn, info.get("network_id"))
    insert_port(conn, network["id"], "", router["id"], GATEWAY_OWNER, [])
    conn.execute(
        "UPDATE routers SET external_network_id = ?, enable_snat = ? WHERE id = ?",
        (network["id"], int(as_bool(info.get("enable_snat", True), "enable_snat")), router["id"]),
    )


def _routers(conn: sqlite3.Connection, call: Call) -> list[dict[str, Any]]:
    tags = tags_by_id(conn)
    return [
        router_view(conn, row, tags)
        for row in conn.execute("SELECT * FROM routers ORDER BY created_at")
        if call.user.is_admin or row["project_id"] == call.user.project_id
    ]


def list_routers(call: Call, _: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        return collection(call, "routers", _routers(conn, call))


def show_router(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        row = load_router(conn, call, params["id"])
        return Response(200, {"router": router_view(conn, row, tags_by_id(conn))})


ROUTER_KEYS = {
    "name",
    "description",
    "admin_state_up",
    "external_gateway_info",
    "tenant_id",
    "project_id",
    "availability_zone_hints",
    "routes",
}


def create_router_row(
    conn: sqlite3.Connection, name: str, project_id: str, description: str = ""
) -> sqlite3.Row:
    router_id = new_id()
    t = now()
    conn.execute(
        "INSERT INTO routers (id, name, project_id, description, external_network_id,"
        " enable_snat, admin_state_up, created_at, updated_at, revision)"
        " VALUES (?, ?, ?, ?, NULL, 1, 1, ?, ?, 1)",
        (router_id, name, project_id, description, t, t),
    )
    row: sqlite3.Row = conn.execute("SELECT * FROM routers WHERE id = ?", (router_id,)).fetchone()
    return row


def create_router(call: Call, _: dict[str, str]) -> Response:
    data = body_of(call, "router")
    reject_unknown(data, ROUTER_KEYS)
    with call.runtime.store.write() as conn:
        row = create_router_row(
            conn, str(data.get("name", "")), call.user.project_id, str(data.get("description", ""))
        )
        if data.get("external_gateway_info"):
            set_gateway(conn, row, data["external_gateway_info"])
        row = load_router(conn, call, row["id"])
        return Response(201, {"router": router_view(conn, row, tags_by_id(conn))})


def update_router(call: Call, params: dict[str, str]) -> Response:
    data = body_of(call, "router")
    reject_unknown(data, ROUTER_KEYS - {"tenant_id", "project_id"})
    with call.runtime.store.write() as conn:
        row = load_router(conn, call, params["id"])
        for field in ("name", "description"):
            if field in data:
                conn.execute(
                    f"UPDATE routers SET {field} = ? WHERE id = ?", (str(data[field]), row["id"])
                )
        if "external_gateway_info" in data:
            if (
                not data["external_gateway_info"]
                and conn.execute(
                    "SELECT 1 FROM floatingips WHERE router_id = ?", (row["id"],)
                ).fetchone()
            ):
                raise neutron_error(
                    409,
                    "RouterExternalGatewayInUseByFloatingIp",
                    f"Gateway cannot be updated for router {row['id']}, since a gateway to"
                    f" external network {row['external_network_id']} is required by one or"
                    " more floating IPs.",
                )
            set_gateway(conn, row, data["external_gateway_info"])
        bump(conn, "routers", row["id"])
        row = load_router(conn, call, row["id"])
        return Response(200, {"router": router_view(conn, row, tags_by_id(conn))})


def delete_router(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.write() as conn:
        row = load_router(conn, call, params["id"])
        if conn.execute(
            "SELECT 1 FROM ports WHERE device_id = ? AND device_owner = ?",
            (row["id"], INTERFACE_OWNER),
        ).fetchone():
            raise neutron_error(409, "RouterInUse", f"Router {row['id']} still has ports")
        conn.execute(
            "DELETE FROM ports WHERE device_id = ? AND device_owner = ?", (row["id"], GATEWAY_OWNER)
        )
        conn.execute("DELETE FROM neutron_tags WHERE resource_id = ?", (row["id"],))
        conn.execute("DELETE FROM routers WHERE id = ?", (row["id"],))
    return Response(204)


def _interface_info(row: sqlite3.Row, port: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "port_id": port["id"],
        "network_id": port["network_id"],
        "subnet_id": port["subnet_id"],
        "subnet_ids": [port["subnet_id"]],
    }


def add_interface(
    conn: sqlite3.Connection, router: sqlite3.Row, subnet: sqlite3.Row
) -> sqlite3.Row:
    """An interface on a subnet takes the subnet's gateway address (l3_db
    _add_interface_by_subnet); a second one on the same subnet is 400."""
    if conn.execute(
        "SELECT 1 FROM ports WHERE device_id = ? AND device_owner = ? AND subnet_id = ?",
        (router["id"], INTERFACE_OWNER, subnet["id"]),
    ).fetchone():
        raise bad_request("router", f"Router already has a port on subnet {subnet['id']}")
    if not subnet["gateway_ip"]:
        raise bad_request("router", "Subnet for router interface must have a gateway IP")
    return insert_port(
        conn,
        subnet["network_id"],
        router["project_id"],
        router["id"],
        INTERFACE_OWNER,
        [],
        subnet_id=subnet["id"],
        ip_address=subnet["gateway_ip"],
    )


def _interface_body(call: Call) -> dict[str, Any]:
    try:
        data = call.request.json()
    except ValueError as exc:
        raise bad_request("router", "Malformed request body") from exc
    if not isinstance(data, dict) or not (data.get("subnet_id") or data.get("port_id")):
        raise bad_request("router", "Either subnet_id or port_id must be specified")
    return data


def add_router_interface(call: Call, params: dict[str, str]) -> Response:
    data = _interface_body(call)
    with call.runtime.store.write() as conn:
        row = load_router(conn, call, params["id"])
        if data.get("port_id"):
            port = load_port(conn, call, str(data["port_id"]))
            if port["device_id"]:
                raise neutron_error(
                    409,
                    "PortInUse",
                    f"Unable to complete operation on port {port['id']} for network"
                    f" {port['network_id']}. Port already has an attached device"
                    f" {port['device_id']}.",
                )
            conn.execute(
                "UPDATE ports SET device_id = ?, device_owner = ? WHERE id = ?",
                (row["id"], INTERFACE_OWNER, port["id"]),
            )
            port = load_port(conn, call, port["id"])
        else:
            subnet = conn.execute(
                "SELECT * FROM subnets WHERE id = ?", (data["subnet_id"],)
            ).fetchone()
            if subnet is None:
                raise neutron_error(
                    404, "SubnetNotFound", f"Subnet {data['subnet_id']} could not be found."
                )
            port = add_interface(conn, row, subnet)
        bump(conn, "routers", row["id"])
        return Response(200, _interface_info(row, port))


def remove_router_interface(call: Call, params: dict[str, str]) -> Response:
    data = _interface_body(call)
    with call.runtime.store.write() as conn:
        row = load_router(conn, call, params["id"])
        if data.get("port_id"):
            port = conn.execute(
                "SELECT * FROM ports WHERE id = ? AND device_id = ? AND device_owner = ?",
                (data["port_id"], row["id"], INTERFACE_OWNER),
            ).fetchone()
            if port is None:
                raise neutron_error(
                    404,
                    "RouterInterfaceNotFound",
                    f"Router {row['id']} does not have an interface with id {data['port_id']}",
                )
        else:
            port = conn.execute(
                "SELECT * FROM ports WHERE subnet_id = ? AND device_id = ? AND device_owner = ?",
                (data["subnet_id"], row["id"], INTERFACE_OWNER),
            ).fetchone()
            if port is None:
                raise neutron_error(
                    404,
                    "RouterInterfaceNotFoundForSubnet",
                    f"Router {row['id']} has no interface on subnet {data['subnet_id']}",
                )
        if conn.execute(
            "SELECT 1 FROM floatingips f JOIN ports p ON p.id = f.port_id"
            " WHERE f.router_id = ? AND p.subnet_id = ?",
            (row["id"], port["subnet_id"]),
        ).fetchone():
            raise neutron_error(
                409,
                "RouterInterfaceInUseByFloatingIP",
                f"Router interface for subnet {port['subnet_id']} on router {row['id']} cannot"
                " be deleted, as it is required by one or more floating IPs.",
            )
        conn.execute("DELETE FROM ports WHERE id = ?", (port["id"],))
        bump(conn, "routers", row["id"])
        return Response(200, _interface_info(row, port))
