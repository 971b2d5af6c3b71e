"""Flavors: list, detail, show, extra specs (compute/flavors.py)."""

from __future__ import annotations

import sqlite3
from typing import Any

from ..http import Response
from .common import (
    NovaCall,
    links,
    nova_error,
)

# ---- flavors ---------------------------------------------------------------------------------


def flavor_view(nc: NovaCall, row: sqlite3.Row, detail: bool) -> dict[str, Any]:
    flavor: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "links": links(nc, "flavors", row["id"]),
    }
    if nc.at_least(2, 55):
        flavor["description"] = row["description"]
    if not detail:
        return flavor
    flavor.update(
        {
            "ram": row["ram"],
            "disk": row["disk"],
            "vcpus": row["vcpus"],
            "swap": row["swap"] if nc.at_least(2, 75) or row["swap"] else "",
            "OS-FLV-EXT-DATA:ephemeral": row["ephemeral"],
            "OS-FLV-DISABLED:disabled": False,
            "os-flavor-access:is_public": bool(row["is_public"]),
            "rxtx_factor": 1.0,
        }
    )
    if nc.at_least(2, 61):
        flavor["extra_specs"] = {}
    return flavor


def list_flavors(nc: NovaCall, detail: bool) -> Response:
    req = nc.call.request
    with nc.call.runtime.store.read() as conn:
        rows = conn.execute("SELECT * FROM flavors").fetchall()
    rows = sorted(rows, key=lambda r: (len(r["id"]), r["id"]))
    min_ram, min_disk = req.param("minRam"), req.param("minDisk")
    if min_ram:
        rows = [r for r in rows if r["ram"] >= int(min_ram)]
    if min_disk:
        rows = [r for r in rows if r["disk"] >= int(min_disk)]
    marker = req.param("marker")
    if marker:
        ids = [r["id"] for r in rows]
        if marker not in ids:
            raise nova_error(400, f"marker [{marker}] not found")
        rows = rows[ids.index(marker) + 1 :]
    limit = req.param("limit")
    if limit:
        rows = rows[: int(limit)]
    return Response(200, {"flavors": [flavor_view(nc, r, detail) for r in rows]})


def show_flavor(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.read() as conn:
        row = conn.execute("SELECT * FROM flavors WHERE id = ?", (params["id"],)).fetchone()
    if row is None:
        raise nova_error(404, f"Flavor {params['id']} could not be found.")
    return Response(200, {"flavor": flavor_view(nc, row, True)})


def flavor_extra_specs(nc: NovaCall, params: dict[str, str]) -> Response:
    show_flavor(nc, params)
    return Response(200, {"extra_specs": {}})
