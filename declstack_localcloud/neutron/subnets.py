"""Subnets (neutron/db/db_base_plugin_v2.py, ipam_backend_mixin.py)."""

from __future__ import annotations

import ipaddress
import json
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
    invalid_input,
    neutron_error,
    reject_unknown,
    stamps,
    tags_by_id,
    visible_networks,
)
from .networks import load_network

SUBNET_KEYS = {
    "name",
    "network_id",
    "cidr",
    "ip_version",
    "gateway_ip",
    "allocation_pools",
    "enable_dhcp",
    "dns_nameservers",
    "host_routes",
    "description",
    "tenant_id",
    "project_id",
    "ipv6_address_mode",
    "ipv6_ra_mode",
    "subnetpool_id",
    "service_types",
}


def pools_of(row: sqlite3.Row) -> list[tuple[int, int]]:
    """The allocation pools as integer ranges; by default every host address after the
    gateway (Neutron's default pool when the gateway is the first address)."""
    if row["allocation_pools"]:
        return [
            (int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
            for p in json.loads(row["allocation_pools"])
        ]
    net = ipaddress.ip_network(row["cidr"])
    return [(int(net.network_address) + 2, int(net.broadcast_address) - 1)]


def subnet_view(row: sqlite3.Row, external: bool, tags: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "network_id": row["network_id"],
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "cidr": row["cidr"],
        "gateway_ip": row["gateway_ip"] or None,
        "ip_version": row["ip_version"],
        "enable_dhcp": bool(row["enable_dhcp"]),
        "allocation_pools": [
            {"start": str(ipaddress.ip_address(a)), "end": str(ipaddress.ip_address(b))}
            for a, b in pools_of(row)
        ],
        "dns_nameservers": [],
        "host_routes": [],
        "ipv6_address_mode": None,
        "ipv6_ra_mode": None,
        "subnetpool_id": None,
        "service_types": [],
        "router:external": external,
        **stamps(row, tags),
    }


def _subnets(conn: sqlite3.Connection, call: Call) -> list[dict[str, Any]]:
    networks = {
        row["id"]: bool(row["external"])
        for row in visible_networks(conn, call.user.project_id, call.user.is_admin)
    }
    tags = tags_by_id(conn)
    return [
        subnet_view(row, networks[row["network_id"]], tags)
        for row in conn.execute("SELECT * FROM subnets ORDER BY created_at")
        if row["network_id"] in networks
    ]


def _not_found(subnet_id: str) -> Exception:
    return neutron_error(404, "SubnetNotFound", f"Subnet {subnet_id} could not be found.")


def subnet_item(conn: sqlite3.Connection, call: Call, subnet_id: str) -> dict[str, Any]:
    for item in _subnets(conn, call):
        if item["id"] == subnet_id:
            return item
    raise _not_found(subnet_id)


def list_subnets(call: Call, _: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        return collection(call, "subnets", _subnets(conn, call))


def show_subnet(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        return Response(200, {"subnet": subnet_item(conn, call, params["id"])})


def _address(value: Any, field: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(str(value))
    except ValueError as exc:
        raise invalid_input(f"'{value}' is not a valid IP address") from exc


def _pools(data: dict[str, Any], net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str | None:
    pools = data.get("allocation_pools")
    if not pools:
        return None
    if not isinstance(pools, list):
        raise invalid_input(f"Invalid data format for IP pool: '{pools}'")
    checked = []
    for pool in pools:
        if not isinstance(pool, dict) or not {"start", "end"} <= set(pool):
            raise invalid_input(f"Invalid data format for IP pool: '{pool}'")
        start, end = _address(pool["start"], "start"), _address(pool["end"], "end")
        if start not in net or end not in net or int(start) > int(end):
            raise neutron_error(
                400,
                "InvalidAllocationPool",
                f"The allocation pool {start}-{end} spans beyond the subnet cidr {net}.",
            )
        checked.append({"start": str(start), "end": str(end)})
    return json.dumps(checked)


def create_subnet(call: Call, _: dict[str, str]) -> Response:
    data = body_of(call, "subnet")
    reject_unknown(data, SUBNET_KEYS)
    if "network_id" not in data:
        raise invalid_input(
            "Failed to parse request. Required attribute 'network_id' not specified"
        )
    if "cidr" not in data:
        raise neutron_error(
            400,
            "BadRequest",
            "Bad subnet request: a subnetpool must be specified in the absence of a cidr.",
        )
    try:
        net = ipaddress.ip_network(str(data["cidr"]), strict=False)
    except ValueError as exc:
        raise invalid_input(
            f"Invalid input for cidr. Reason: '{data['cidr']}' is not a valid IP subnet"
        ) from exc
    version = int(data.get("ip_version", 4))
    if version != net.version:
        raise invalid_input(f"Invalid input for ip_version. Reason: '{version}' is not in [4, 6]")
    gateway: str | None
    if "gateway_ip" in data and data["gateway_ip"] is None:
        gateway = None
    elif "gateway_ip" in data:
        gateway_ip = _address(data["gateway_ip"], "gateway_ip")
        gateway = str(gateway_ip)
    else:
        gateway = str(net.network_address + 1)
    pools = _pools(data, net)
    t = now()
    subnet_id = new_id()
    with call.runtime.store.write() as conn:
        network = load_network(conn, call, str(data["network_id"]))
        if not call.user.is_admin and network["project_id"] != call.user.project_id:
            raise neutron_error(
                403,
                "HTTPForbidden",
                "(rule:create_subnet and (rule:create_subnet:network_owner)) is disallowed by"
                " policy",
            )
        conn.execute(
            "INSERT INTO subnets (id, name, network_id, project_id, cidr, gateway_ip, ip_version,"
            " created_at, enable_dhcp, allocation_pools, description, updated_at, revision)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
            (
                subnet_id,
                str(data.get("name", "")),
                network["id"],
                str(data.get("project_id") or data.get("tenant_id") or call.user.project_id),
                str(net),
                gateway or "",
                version,
                t,
                int(as_bool(data.get("enable_dhcp", True), "enable_dhcp")),
                pools,
                str(data.get("description", "")),
                t,
            ),
        )
        bump(conn, "networks", network["id"])
        item = subnet_item(conn, call, subnet_id)
    return Response(201, {"subnet": item})


def _own_subnet(conn: sqlite3.Connection, call: Call, subnet_id: str) -> sqlite3.Row:
    subnet_item(conn, call, subnet_id)
    row: sqlite3.Row = conn.execute("SELECT * FROM subnets WHERE id = ?", (subnet_id,)).fetchone()
    if not call.user.is_admin and row["project_id"] != call.user.project_id:
        raise _not_found(subnet_id)
    return row


def update_subnet(call: Call, params: dict[str, str]) -> Response:
    data = body_of(call, "subnet")
    reject_unknown(
        data,
        {
            "name",
            "description",
            "enable_dhcp",
            "gateway_ip",
            "allocation_pools",
            "dns_nameservers",
            "host_routes",
        },
    )
    with call.runtime.store.write() as conn:
        row = _own_subnet(conn, call, params["id"])
        for field in ("name", "description"):
            if field in data:
                conn.execute(
                    f"UPDATE subnets SET {field} = ? WHERE id = ?", (str(data[field]), row["id"])
                )
        if "enable_dhcp" in data:
            conn.execute(
                "UPDATE subnets SET enable_dhcp = ? WHERE id = ?",
                (int(as_bool(data["enable_dhcp"], "enable_dhcp")), row["id"]),
            )
        if "gateway_ip" in data:
            gateway = "" if data["gateway_ip"] is None else str(_address(data["gateway_ip"], ""))
            conn.execute("UPDATE subnets SET gateway_ip = ? WHERE id = ?", (gateway, row["id"]))
        if "allocation_pools" in data:
            pools = _pools(data, ipaddress.ip_network(row["cidr"]))
            conn.execute("UPDATE subnets SET allocation_pools = ? WHERE id = ?", (pools, row["id"]))
        bump(conn, "subnets", row["id"])
        item = subnet_item(conn, call, row["id"])
    return Response(200, {"subnet": item})


def delete_subnet(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.write() as conn:
        row = _own_subnet(conn, call, params["id"])
        if conn.execute(
            "SELECT 1 FROM ports WHERE subnet_id = ? AND device_owner != 'network:dhcp'",
            (row["id"],),
        ).fetchone():
            raise neutron_error(
                409,
                "SubnetInUse",
                f"Unable to complete operation on subnet {row['id']}: One or more ports have an"
                " IP allocation from this subnet.",
            )
        conn.execute("DELETE FROM neutron_tags WHERE resource_id = ?", (row["id"],))
        conn.execute("DELETE FROM subnets WHERE id = ?", (row["id"],))
        bump(conn, "networks", row["network_id"])
    return Response(204)
