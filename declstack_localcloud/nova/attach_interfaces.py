"""GET /servers/{id}/os-interface (compute/attach_interfaces.py)."""

from __future__ import annotations

from ..http import Response
from .common import (
    NovaCall,
    load_server,
)


def server_interfaces(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.read() as conn:
        row = load_server(nc, conn, params["id"])
        ports = conn.execute("SELECT * FROM ports WHERE device_id = ?", (row["id"],)).fetchall()
    attachments = [
        {
            "port_state": "ACTIVE",
            "fixed_ips": [{"subnet_id": p["subnet_id"], "ip_address": p["ip_address"]}],
            "port_id": p["id"],
            "net_id": p["network_id"],
            "mac_addr": p["mac_address"],
            **({"tag": None} if nc.at_least(2, 70) else {}),
        }
        for p in ports
    ]
    return Response(200, {"interfaceAttachments": attachments})
