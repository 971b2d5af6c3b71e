"""GET /servers/{id}/ips (compute/ips.py)."""

from __future__ import annotations

from ..formats import now
from ..http import Response
from .common import (
    NovaCall,
    load_server,
)
from .views import load_extras, server_view


def server_ips(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.read() as conn:
        row = load_server(nc, conn, params["id"])
        extras = load_extras(conn, [row])
        view = server_view(nc, row, extras, now())
    return Response(
        200,
        {
            "addresses": {
                net: [{"version": a["version"], "addr": a["addr"]} for a in addrs]
                for net, addrs in view["addresses"].items()
            }
        },
    )
