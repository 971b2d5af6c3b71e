"""Server metadata, every verb (compute/server_metadata.py)."""

from __future__ import annotations

import json
import sqlite3

from ..formats import now
from ..http import Response
from .common import (
    NovaCall,
    check_metadata_quota,
    load_server,
    nova_error,
    require_state,
    validate_metadata,
)

# ---- metadata --------------------------------------------------------------------------------

METADATA_STATES = ("active", "paused", "suspended", "stopped")


def _metadata_of(row: sqlite3.Row) -> dict[str, str]:
    value: dict[str, str] = json.loads(row["metadata"])
    return value


def _save_metadata(conn: sqlite3.Connection, server_id: str, metadata: dict[str, str]) -> None:
    check_metadata_quota(metadata)
    conn.execute(
        "UPDATE servers SET metadata = ?, updated_at = ? WHERE id = ?",
        (json.dumps(metadata), now(), server_id),
    )


def get_metadata(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.read() as conn:
        return Response(200, {"metadata": _metadata_of(load_server(nc, conn, params["id"]))})


def _write_metadata(nc: NovaCall, params: dict[str, str], replace: bool) -> Response:
    incoming = validate_metadata(nc.body("metadata"))
    with nc.call.runtime.store.write() as conn:
        row = load_server(nc, conn, params["id"])
        require_state(row, "update_metadata", METADATA_STATES)
        merged = incoming if replace else {**_metadata_of(row), **incoming}
        _save_metadata(conn, row["id"], merged)
    return Response(200, {"metadata": merged})


def update_metadata(nc: NovaCall, params: dict[str, str]) -> Response:
    return _write_metadata(nc, params, replace=False)


def replace_metadata(nc: NovaCall, params: dict[str, str]) -> Response:
    return _write_metadata(nc, params, replace=True)


def get_metadata_item(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.read() as conn:
        metadata = _metadata_of(load_server(nc, conn, params["id"]))
    if params["key"] not in metadata:
        raise nova_error(404, "Metadata item was not found")
    return Response(200, {"meta": {params["key"]: metadata[params["key"]]}})


def set_metadata_item(nc: NovaCall, params: dict[str, str]) -> Response:
    meta = validate_metadata(nc.body("meta"), "meta")
    if len(meta) > 1:
        raise nova_error(400, "Request body contains too many items")
    if params["key"] not in meta:
        raise nova_error(400, "Request body and URI mismatch")
    with nc.call.runtime.store.write() as conn:
        row = load_server(nc, conn, params["id"])
        require_state(row, "update_metadata", METADATA_STATES)
        _save_metadata(conn, row["id"], {**_metadata_of(row), **meta})
    return Response(200, {"meta": meta})


def delete_metadata_item(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.write() as conn:
        row = load_server(nc, conn, params["id"])
        metadata = _metadata_of(row)
        if params["key"] not in metadata:
            raise nova_error(404, "Metadata item was not found")
        require_state(row, "delete_metadata", METADATA_STATES)
        del metadata[params["key"]]
        _save_metadata(conn, row["id"], metadata)
    return Response(204)
