"""Subnets (neutron/db/db_base_plugin_v2.py, ipam)."""

from __future__ import annotations

import ipaddress
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


def subnet_view(row: sqlite3.Row) -> dict[str, Any]:
    net = ipaddress.ip_network(row["cidr"])
    return {
        "id": row["id"],
        "name": row["name"],
        "network_id": row["network_id"],
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "cidr": row["cidr"],
        "gateway_ip": row["gateway_ip"],
        "ip_version": row["ip_version"],
        "enable_dhcp": True,
        "allocation_pools": [
            {
                "start": str(net.network_address + 2),
                "end": str(net.broadcast_address - 1),
            }
        ],
        "dns_nameservers": [],
        "host_routes": [],
        "ipv6_address_mode": None,
        "ipv6_ra_mode": None,
        "subnetpool_id": None,
        "service_types": [],
        "router:external": False,
        **stamps(row["created_at"]),
    }


def _subnets(conn: sqlite3.Connection, call: Call) -> list[dict[str, Any]]:
    network_ids = {
        row["id"] for row in visible_networks(conn, call.user.project_id, call.user.is_admin)
    }
    return [
        subnet_view(row)
        for row in conn.execute("SELECT * FROM subnets ORDER BY created_at")
        if row["network_id"] in network_ids
    ]


def list_subnets(call: Call, _: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        return collection(call, "subnets", _subnets(conn, call))


def show_subnet(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        for item in _subnets(conn, call):
            if item["id"] == params["id"]:
                return Response(200, {"subnet": item})
    raise neutron_error(404, "SubnetNotFound", f"Subnet {params['id']} could not be found.")
