"""The admin view of the compute hosts: os-hypervisors (compute/hypervisors.py).

Shaped as realstack's fake-driver hosts answer: integer ids before 2.53 and uuids from it
(with `hypervisor_hostname_pattern` and `with_servers`), capacity and usage in the detail
view until 2.88 (`cpu_info` a JSON string before 2.28), `uptime` from 2.88; paging with
`limit` / `marker` from 2.33; `statistics` until 2.87. Admins only, as Nova's policy says.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any
from urllib.parse import urlencode

from ..context import HostCapacity
from ..formats import now
from ..http import Response
from .common import NovaCall, nova_error
from .scheduler import CONTROL_SERVICES, RESERVED_HOST_MEMORY_MB, HostUsage, usage

CPU_INFO = {
    "arch": "x86_64",
    "model": "Nehalem",
    "vendor": "Intel",
    "features": ["pge", "clflush"],
    "topology": {"cores": 1, "threads": 1, "sockets": 4},
}
FIRST_COMPUTE_SERVICE_ID = len(CONTROL_SERVICES) + 1
"""Service ids before 2.53: nova-scheduler 1, nova-conductor 2, then one per compute host."""


def require_admin(nc: NovaCall, policy: str) -> None:
    if not nc.call.user.is_admin:
        raise nova_error(403, f"Policy doesn't allow os_compute_api:{policy} to be performed.")


def service_id(nc: NovaCall, host: sqlite3.Row) -> int | str:
    if nc.at_least(2, 53):
        return str(host["service_uuid"])
    return FIRST_COMPUTE_SERVICE_ID + int(host["id"]) - 1


def hypervisor_id(nc: NovaCall, host: sqlite3.Row) -> int | str:
    return str(host["uuid"]) if nc.at_least(2, 53) else int(host["id"])


def _servers_on(conn: sqlite3.Connection, host: str, at: float) -> list[dict[str, str]]:
    return [
        {"name": row["name"], "uuid": row["id"]}
        for row in conn.execute(
            "SELECT id, name FROM servers WHERE host = ? AND (deleted_at IS NULL OR deleted_at > ?)"
            " ORDER BY seq",
            (host, at),
        )
    ]


def hypervisor_view(
    nc: NovaCall,
    host: sqlite3.Row,
    used: HostUsage,
    detail: bool,
    servers: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    capacity: HostCapacity = nc.call.runtime.settings.host_capacity
    view: dict[str, Any] = {
        "id": hypervisor_id(nc, host),
        "hypervisor_hostname": host["name"],
        "state": "up",
        "status": "enabled",
    }
    if detail:
        view.update(
            {
                "hypervisor_type": "fake",
                "hypervisor_version": 1000,
                "host_ip": "127.0.0.1",
                "service": {
                    "id": service_id(nc, host),
                    "host": host["name"],
                    "disabled_reason": None,
                },
            }
        )
    if detail and not nc.at_least(2, 88):
        ram_used = RESERVED_HOST_MEMORY_MB + used.ram
        view.update(
            {
                "vcpus": capacity.vcpus,
                "memory_mb": capacity.memory_mb,
                "local_gb": capacity.local_gb,
                "vcpus_used": used.vcpus,
                "memory_mb_used": ram_used,
                "local_gb_used": used.disk,
                "free_ram_mb": capacity.memory_mb - ram_used,
                "free_disk_gb": capacity.local_gb - used.disk,
                "current_workload": used.busy,
                "running_vms": used.servers,
                "disk_available_least": 0,
                "cpu_info": CPU_INFO if nc.at_least(2, 28) else json.dumps(CPU_INFO),
            }
        )
    if detail and nc.at_least(2, 88):
        view["uptime"] = None
    if servers:
        view["servers"] = servers
    elif servers is not None and nc.at_least(2, 75):
        view["servers"] = []
    return view


def _with_servers(nc: NovaCall) -> bool:
    """strutils.bool_from_string(strict=True), from 2.53 only."""
    text = nc.call.request.param("with_servers")
    if text is None or not nc.at_least(2, 53):
        return False
    lowered = text.strip().lower()
    if lowered in ("1", "t", "true", "on", "y", "yes"):
        return True
    if lowered in ("0", "f", "false", "off", "n", "no"):
        return False
    raise nova_error(
        400,
        f"Invalid input for query parameters with_servers. Value: {text}. '{text}' is not one of"
        " ['True', 'true', 'False', 'false', '1', '0', 'yes', 'no', 'on', 'off', 'y', 'n', 't',"
        " 'f']",
    )


def _list(nc: NovaCall, detail: bool) -> Response:
    require_admin(nc, "os-hypervisors:list-detail" if detail else "os-hypervisors:list")
    req = nc.call.request
    pattern = req.param("hypervisor_hostname_pattern") if nc.at_least(2, 53) else None
    paging = nc.at_least(2, 33)
    marker = req.param("marker") if paging else None
    limit_text = req.param("limit") if paging else None
    with_servers = _with_servers(nc)
    if pattern is not None and (limit_text is not None or marker):
        raise nova_error(
            400,
            "Paging over hypervisors with the hypervisor_hostname_pattern query parameter is"
            " not supported.",
        )
    try:
        limit = 1000 if limit_text is None else min(int(limit_text), 1000)
    except ValueError:
        raise nova_error(400, f"limit param must be an integer, got {limit_text}") from None
    at = now()
    with nc.call.runtime.store.read() as conn:
        hosts = conn.execute("SELECT * FROM compute_hosts ORDER BY id").fetchall()
        if pattern is not None:
            hosts = [h for h in hosts if pattern.lower() in h["name"].lower()]
            if not hosts:
                raise nova_error(404, f"No hypervisor matching '{pattern}' could be found.")
        if marker:
            ids = [str(hypervisor_id(nc, h)) for h in hosts]
            if marker not in ids:
                raise nova_error(400, f"marker [{marker}] not found")
            hosts = hosts[ids.index(marker) + 1 :]
        hosts = hosts[:limit]
        used = usage(conn, at)
        views = [
            hypervisor_view(
                nc,
                h,
                used.get(h["name"], HostUsage()),
                detail,
                _servers_on(conn, h["name"], at) if with_servers else None,
            )
            for h in hosts
        ]
    body: dict[str, Any] = {"hypervisors": views}
    if paging and pattern is None and views and len(views) == limit:
        query = [(k, v) for k, vs in req.query.items() for v in vs if k not in ("limit", "marker")]
        query += [("limit", str(limit)), ("marker", str(views[-1]["id"]))]
        path = "os-hypervisors/detail" if detail else "os-hypervisors"
        body["hypervisors_links"] = [
            {"rel": "next", "href": f"{nc.url}/v2.1/{path}?{urlencode(query)}"}
        ]
    return Response(200, body)


def list_hypervisors(nc: NovaCall, detail: bool) -> Response:
    return _list(nc, detail)


def show_hypervisor(nc: NovaCall, params: dict[str, str]) -> Response:
    require_admin(nc, "os-hypervisors:show")
    wanted = params["id"]
    not_found = nova_error(404, f"Hypervisor with ID '{wanted}' could not be found.")
    if nc.at_least(2, 53):
        try:
            uuid.UUID(wanted)
        except ValueError:
            raise nova_error(400, f"Invalid uuid {wanted}") from None
        column = "uuid"
    elif not wanted.lstrip("-").isdigit():
        raise not_found
    else:
        column = "id"
    with_servers = _with_servers(nc)
    at = now()
    with nc.call.runtime.store.read() as conn:
        host = conn.execute(
            f"SELECT * FROM compute_hosts WHERE {column} = ?",
            (wanted if column == "uuid" else int(wanted),),
        ).fetchone()
        if host is None:
            raise not_found
        used = usage(conn, at).get(host["name"], HostUsage())
        servers = _servers_on(conn, host["name"], at) if with_servers else None
        view = hypervisor_view(nc, host, used, True, servers)
    return Response(200, {"hypervisor": view})


def hypervisor_statistics(nc: NovaCall, _: dict[str, str]) -> Response:
    """The sum over every host; gone from 2.88 (a 404, as for any unknown route)."""
    if nc.at_least(2, 88):
        raise nova_error(404, "The resource could not be found.")
    require_admin(nc, "os-hypervisors:statistics")
    capacity = nc.call.runtime.settings.host_capacity
    with nc.call.runtime.store.read() as conn:
        names = [row["name"] for row in conn.execute("SELECT name FROM compute_hosts")]
        used = usage(conn, now())
    hosts = [used.get(name, HostUsage()) for name in names]
    total = HostUsage(
        vcpus=sum(h.vcpus for h in hosts),
        ram=sum(h.ram for h in hosts),
        disk=sum(h.disk for h in hosts),
        servers=sum(h.servers for h in hosts),
        busy=sum(h.busy for h in hosts),
    )
    count = len(names)
    ram_used = RESERVED_HOST_MEMORY_MB * count + total.ram
    return Response(
        200,
        {
            "hypervisor_statistics": {
                "count": count,
                "current_workload": total.busy,
                "disk_available_least": 0,
                "free_disk_gb": capacity.local_gb * count - total.disk,
                "free_ram_mb": capacity.memory_mb * count - ram_used,
                "local_gb": capacity.local_gb * count,
                "local_gb_used": total.disk,
                "memory_mb": capacity.memory_mb * count,
                "memory_mb_used": ram_used,
                "running_vms": total.servers,
                "vcpus": capacity.vcpus * count,
                "vcpus_used": total.vcpus,
            }
        },
    )
