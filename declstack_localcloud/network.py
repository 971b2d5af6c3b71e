"""Neutron v2.0 subset (networks, subnets, ports, security groups) and port allocation."""

from __future__ import annotations

import ipaddress
import json
import secrets
import sqlite3
from collections.abc import Callable
from typing import Any

from .context import Call
from .formats import iso_seconds, new_id, now
from .http import ApiError, Response, Router
from .seed import ensure_default_security_group

RESERVED_LIST_PARAMS = {"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse"}
EXTENSIONS = (
    ("security-group", "security-group", "The security groups extension."),
    ("port-security", "Port Security", "Provides port security."),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    (
        "external-net",
        "Neutron external network",
        "Adds external network attribute to network resource.",
    ),
    ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding."),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    (
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id is enabled.",
    ),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources.",
    ),
    ("quotas", "Quota management support", "Expose functions for quotas management per project"),
)


def neutron_error(status: int, kind: str, message: str) -> ApiError:
    return ApiError(
        Response(status, {"NeutronError": {"type": kind, "message": message, "detail": ""}})
    )


def random_mac() -> str:
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))


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


def visible_networks(conn: sqlite3.Connection, project_id: str, admin: bool) -> list[sqlite3.Row]:
    if admin:
        return conn.execute("SELECT * FROM networks ORDER BY created_at").fetchall()
    return conn.execute(
        "SELECT * FROM networks WHERE shared = 1 OR project_id = ? ORDER BY created_at",
        (project_id,),
    ).fetchall()


def security_groups_by_id(conn: sqlite3.Connection) -> dict[str, sqlite3.Row]:
    return {row["id"]: row for row in conn.execute("SELECT * FROM security_groups")}


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


def _stamps(created: float) -> dict[str, Any]:
    return {
        "created_at": iso_seconds(created),
        "updated_at": iso_seconds(created),
        "revision_number": 1,
        "description": "",
        "tags": [],
    }


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
        **_stamps(row["created_at"]),
    }


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
        **_stamps(row["created_at"]),
    }


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
        **_stamps(row["created_at"]),
    }


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
        **_stamps(row["created_at"]),
        "description": None,
        "revision_number": 0,
    }


def security_group_view(row: sqlite3.Row, rules: list[sqlite3.Row]) -> dict[str, Any]:
    return {
        **_stamps(row["created_at"]),
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "stateful": True,
        "shared": False,
        "security_group_rules": [rule_view(r) for r in rules],
    }


def _matches(item: dict[str, Any], key: str, wanted: list[str]) -> bool:
    value = item.get(key)
    if isinstance(value, bool):
        return str(value).lower() in [w.lower() for w in wanted]
    if isinstance(value, list):
        return any(str(v) in wanted for v in value)
    return str(value) in wanted


def _collection(call: Call, key: str, items: list[dict[str, Any]]) -> Response:
    """Neutron's generic list semantics: attribute filters, limit/marker, fields."""
    query = call.request.query
    for name, wanted in query.items():
        if name in RESERVED_LIST_PARAMS or not wanted:
            continue
        items = [item for item in items if _matches(item, name, wanted)]
    marker = call.request.param("marker")
    if marker:
        ids = [item["id"] for item in items]
        items = items[ids.index(marker) + 1 :] if marker in ids else []
    body: dict[str, Any] = {}
    limit_text = call.request.param("limit")
    if limit_text:
        limit = int(limit_text)
        if len(items) > limit:
            items = items[:limit]
            next_href = f"{call.runtime.base_url}/network/v2.0/{key.replace('_', '-')}"
            body[f"{key}_links"] = [
                {"rel": "next", "href": f"{next_href}?limit={limit}&marker={items[-1]['id']}"}
            ]
    fields = query.get("fields")
    if fields:
        items = [{k: v for k, v in item.items() if k in fields} for item in items]
    body[key] = items
    return Response(200, body)


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
        return _collection(call, "networks", _networks(conn, call))


def show_network(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        for item in _networks(conn, call):
            if item["id"] == params["id"]:
                return Response(200, {"network": item})
    raise neutron_error(404, "NetworkNotFound", f"Network {params['id']} could not be found.")


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
        return _collection(call, "subnets", _subnets(conn, call))


def show_subnet(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        for item in _subnets(conn, call):
            if item["id"] == params["id"]:
                return Response(200, {"subnet": item})
    raise neutron_error(404, "SubnetNotFound", f"Subnet {params['id']} could not be found.")


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
        return _collection(call, "ports", _ports(conn, call))


def show_port(call: Call, params: dict[str, str]) -> Response:
    reap_if_due(call)
    with call.runtime.store.read() as conn:
        row = conn.execute("SELECT * FROM ports WHERE id = ?", (params["id"],)).fetchone()
    if row is None or (not call.user.is_admin and row["project_id"] != call.user.project_id):
        raise neutron_error(404, "PortNotFound", f"Port {params['id']} could not be found.")
    return Response(200, {"port": port_view(row)})


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
    return _collection(call, "security_groups", _security_groups(call))


def show_security_group(call: Call, params: dict[str, str]) -> Response:
    for item in _security_groups(call):
        if item["id"] == params["id"]:
            return Response(200, {"security_group": item})
    raise neutron_error(
        404, "SecurityGroupNotFound", f"Security group {params['id']} does not exist"
    )


def list_security_group_rules(call: Call, _: dict[str, str]) -> Response:
    rules = [rule for group in _security_groups(call) for rule in group["security_group_rules"]]
    return _collection(call, "security_group_rules", rules)


def _empty(key: str) -> Callable[[Call, dict[str, str]], Response]:
    def handler(call: Call, _: dict[str, str]) -> Response:
        return _collection(call, key, [])

    return handler


def list_extensions(call: Call, _: dict[str, str]) -> Response:
    extensions = [
        {
            "alias": alias,
            "name": name,
            "description": text,
            "updated": "2013-01-01T10:00:00-00:00",
            "links": [],
        }
        for alias, name, text in EXTENSIONS
    ]
    return Response(200, {"extensions": extensions})


def versions(call: Call, _: dict[str, str]) -> Response:
    link = {"href": f"{call.runtime.base_url}/network/v2.0/", "rel": "self"}
    return Response(200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [link]}]})


def resources(call: Call, _: dict[str, str]) -> Response:
    names = ("network", "subnet", "port", "security_group", "security_group_rule")
    base = f"{call.runtime.base_url}/network/v2.0"
    return Response(
        200,
        {
            "resources": [
                {
                    "name": name,
                    "collection": f"{name}s",
                    "links": [
                        {
                            "href": f"{base}/{name.replace('_', '-')}s",
                            "rel": "self",
                        }
                    ],
                }
                for name in names
            ]
        },
    )


def routes() -> Router[Call]:
    router: Router[Call] = Router()
    router.add("GET", "/network/?", versions)
    router.add("GET", "/network/v2.0/?", resources)
    router.add("GET", "/network/v2.0/extensions", list_extensions)
    router.add("GET", "/network/v2.0/networks", list_networks)
    router.add("GET", "/network/v2.0/networks/(?P<id>[^/]+)", show_network)
    router.add("GET", "/network/v2.0/subnets", list_subnets)
    router.add("GET", "/network/v2.0/subnets/(?P<id>[^/]+)", show_subnet)
    router.add("GET", "/network/v2.0/ports", list_ports)
    router.add("GET", "/network/v2.0/ports/(?P<id>[^/]+)", show_port)
    router.add("GET", "/network/v2.0/security-groups", list_security_groups)
    router.add("GET", "/network/v2.0/security-groups/(?P<id>[^/]+)", show_security_group)
    router.add("GET", "/network/v2.0/security-group-rules", list_security_group_rules)
    router.add("GET", "/network/v2.0/floatingips", _empty("floatingips"))
    router.add("GET", "/network/v2.0/routers", _empty("routers"))
    return router
