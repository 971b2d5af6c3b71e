"""The volume view builder (cinder/api/v3/views/volumes.py and the contrib extensions)."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Sequence
from typing import Any

from ..formats import iso_micro
from .common import BACKEND_HOST, CinderCall
from .states import size_at, status_at, updated_at
from .types import type_by_id

SERVICE_UUID = "5a8f8c1e-3b2f-5d0e-9c51-6f1f0c6c9a7e"
"""The uuid of the one cinder-volume service (`service_uuid`, from 3.48)."""


def db_time(ts: float) -> str:
    """A time as Cinder reads it back from MySQL: whole seconds, six zeros after them."""
    return iso_micro(math.floor(ts))


def load_attachments(
    conn: sqlite3.Connection, volume_ids: Sequence[str]
) -> dict[str, list[sqlite3.Row]]:
    """Every attachment row of these volumes, oldest first."""
    found: dict[str, list[sqlite3.Row]] = {}
    for start in range(0, len(volume_ids), 900):
        chunk = list(volume_ids[start : start + 900])
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT * FROM volume_attachments WHERE volume_id IN ({marks}) ORDER BY seq",
            chunk,
        ):
            found.setdefault(row["volume_id"], []).append(row)
    return found


def _server_host(cc: CinderCall, conn: sqlite3.Connection, server_id: str) -> str:
    """The compute host the server runs on (`attached_host`, shown to admins only)."""
    server = conn.execute("SELECT * FROM servers WHERE id = ?", (server_id,)).fetchone()
    try:
        host = None if server is None else server["host"]
    except IndexError:  # a state file from before there were several hosts
        host = None
    return str(host or cc.call.runtime.settings.compute_host)


def _attachments(
    cc: CinderCall,
    conn: sqlite3.Connection,
    volume_id: str,
    rows: Sequence[sqlite3.Row],
    at: float,
) -> list[dict[str, Any]]:
    """Attachments whose attach_status is `attached` at `at` (attach done, detach not)."""
    shown = []
    for row in rows:
        if row["attached_at"] > at or (row["detached_at"] is not None and row["detached_at"] <= at):
            continue
        host = _server_host(cc, conn, row["server_id"]) if cc.call.user.is_admin else None
        shown.append(
            {
                "id": volume_id,
                "attachment_id": row["id"],
                "volume_id": volume_id,
                "server_id": row["server_id"],
                "host_name": host,
                "device": row["device"],
                "attached_at": db_time(row["attached_at"]),
            }
        )
    return shown


def volume_detail(
    cc: CinderCall,
    conn: sqlite3.Connection,
    row: sqlite3.Row,
    attachments: Sequence[sqlite3.Row],
    at: float,
    extended: bool = True,
    fresh: bool = False,
) -> dict[str, Any]:
    """A volume as `detail` builds it at `cc.version`; `extended` adds what the show/detail
    extensions add (tenant attribute, image metadata, and for admins host and migration);
    `fresh` is the answer to a create, not yet read back from the database."""
    status = status_at(row, at)
    admin = cc.call.user.is_admin
    volume_type = type_by_id(row["volume_type_id"])
    updated = updated_at(row, at)
    downloaded = row["image_id"] is not None and status not in ("creating", "downloading")
    volume: dict[str, Any] = {
        "id": row["id"],
        "status": status,
        "size": size_at(row, at),
        "availability_zone": row["availability_zone"],
        "created_at": iso_micro(row["created_at"]) if fresh else db_time(row["created_at"]),
        "updated_at": None if updated is None else db_time(updated),
        "name": row["name"],
        "description": row["description"],
        "volume_type": None if volume_type is None else volume_type.name,
        "snapshot_id": None,
        "source_volid": None,
        "metadata": json.loads(row["metadata"]),
        "links": cc.links("volumes", row["id"]),
        "user_id": row["user_id"],
        "bootable": "true" if downloaded else "false",
        "encrypted": False,
        "replication_status": None,
        "consistencygroup_id": None,
        "multiattach": False,
        "attachments": _attachments(cc, conn, row["id"], attachments, at),
    }
    if admin:
        volume["migration_status"] = None
    if cc.at_least(3, 13):
        volume["group_id"] = None
    if admin and cc.at_least(3, 21):
        volume["provider_id"] = None
    # set by the volume service once it has the volume; until then the columns' defaults
    scheduled = status != "creating"
    if cc.at_least(3, 48):
        volume["shared_targets"] = not scheduled
        volume["service_uuid"] = SERVICE_UUID if scheduled else None
    if admin and cc.at_least(3, 61):
        volume["cluster_name"] = None
    if cc.at_least(3, 63):
        volume["volume_type_id"] = row["volume_type_id"]
    if cc.at_least(3, 65):
        volume["consumes_quota"] = True
    if extended:
        volume["os-vol-tenant-attr:tenant_id"] = row["project_id"]
        if admin:
            volume["os-vol-host-attr:host"] = BACKEND_HOST if scheduled else None
            volume["os-vol-mig-status-attr:migstat"] = None
            volume["os-vol-mig-status-attr:name_id"] = None
        if downloaded and row["image_metadata"]:
            volume["volume_image_metadata"] = json.loads(row["image_metadata"])
    return volume


def volume_summary(cc: CinderCall, row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "links": cc.links("volumes", row["id"])}
