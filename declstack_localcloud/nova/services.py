"""os-services, read only (compute/services.py): the scheduler, the conductor and one
nova-compute per simulated host, all up and enabled; admins only."""

from __future__ import annotations

from typing import Any

from ..formats import iso_micro, now
from ..http import Response
from .common import NovaCall
from .hypervisors import require_admin, service_id
from .scheduler import CONTROL_SERVICES

HEARTBEAT_SECONDS = 10


def list_services(nc: NovaCall, _: dict[str, str]) -> Response:
    require_admin(nc, "os-services:list")
    req = nc.call.request
    beat = iso_micro(now() // HEARTBEAT_SECONDS * HEARTBEAT_SECONDS)
    services: list[dict[str, Any]] = []
    with nc.call.runtime.store.read() as conn:
        hosts = conn.execute("SELECT * FROM compute_hosts ORDER BY id").fetchall()
        control = dict(
            conn.execute("SELECT key, value FROM meta WHERE key LIKE 'service:%'").fetchall()
        )
    first = hosts[0]["name"] if hosts else nc.call.runtime.settings.compute_host
    for index, binary in enumerate(CONTROL_SERVICES, start=1):
        identity = control.get(f"service:{binary}", "") if nc.at_least(2, 53) else index
        services.append(_service(nc, identity, binary, first, "internal", beat))
    for host in hosts:
        services.append(
            _service(nc, service_id(nc, host), "nova-compute", host["name"], "nova", beat)
        )
    for param in ("host", "binary"):
        wanted = req.param(param)
        if wanted:
            services = [s for s in services if s[param] == wanted]
    return Response(200, {"services": services})


def _service(
    nc: NovaCall, identity: int | str, binary: str, host: str, zone: str, beat: str
) -> dict[str, Any]:
    service: dict[str, Any] = {
        "binary": binary,
        "host": host,
        "id": identity,
        "zone": zone,
        "status": "enabled",
        "state": "up",
        "updated_at": beat,
        "disabled_reason": None,
    }
    if nc.at_least(2, 11):
        service["forced_down"] = False
    return service
