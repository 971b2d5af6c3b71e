"""A volume's metadata, whole or by key (cinder/api/v3/volume_metadata.py)."""

from __future__ import annotations

import hashlib
import json
import sqlite3

from ..formats import now
from ..http import Response
from .common import (
    CinderCall,
    cinder_error,
    invalid,
    load_volume,
    reject_extra,
    require_object,
    validate_metadata,
)


def _stored(row: sqlite3.Row) -> dict[str, str]:
    metadata: dict[str, str] = json.loads(row["metadata"])
    return metadata


def _save(conn: sqlite3.Connection, volume_id: str, metadata: dict[str, str]) -> None:
    conn.execute(
        "UPDATE volumes SET metadata = ?, updated_at = ? WHERE id = ?",
        (json.dumps(metadata), now(), volume_id),
    )


def get_metadata(cc: CinderCall, params: dict[str, str]) -> Response:
    """From 3.15 the answer carries an Etag (the MD5 of the JSON body)."""
    with cc.call.runtime.store.read() as conn:
        metadata = _stored(load_volume(cc, conn, params["id"]))
    body = {"metadata": metadata}
    headers = {}
    if cc.at_least(3, 15):
        headers["Etag"] = hashlib.md5(json.dumps(body).encode(), usedforsecurity=False).hexdigest()
    return Response(200, body, headers)


def _metadata_body(cc: CinderCall) -> dict[str, str]:
    data = cc.body()
    if isinstance(data, dict):
        reject_extra(data, {"metadata"})
    metadata = require_object(data, "metadata")
    return validate_metadata("metadata", metadata)


def create_metadata(cc: CinderCall, params: dict[str, str]) -> Response:
    """POST merges the given keys into the volume's metadata."""
    metadata = _metadata_body(cc)
    with cc.call.runtime.store.write() as conn:
        row = load_volume(cc, conn, params["id"])
        merged = {**_stored(row), **metadata}
        _save(conn, row["id"], merged)
    return Response(200, {"metadata": merged})


def replace_metadata(cc: CinderCall, params: dict[str, str]) -> Response:
    """PUT replaces the whole of it."""
    metadata = _metadata_body(cc)
    with cc.call.runtime.store.write() as conn:
        row = load_volume(cc, conn, params["id"])
        _save(conn, row["id"], metadata)
    return Response(200, {"metadata": metadata})


def _missing(volume_id: str, key: str) -> Exception:
    return cinder_error(404, f"Volume {volume_id} has no metadata with key {key}.")


def get_metadata_item(cc: CinderCall, params: dict[str, str]) -> Response:
    with cc.call.runtime.store.read() as conn:
        metadata = _stored(load_volume(cc, conn, params["id"]))
    key = params["key"]
    if key not in metadata:
        raise _missing(params["id"], key)
    return Response(200, {"meta": {key: metadata[key]}})


def set_metadata_item(cc: CinderCall, params: dict[str, str]) -> Response:
    data = cc.body()
    if isinstance(data, dict):
        reject_extra(data, {"meta"})
    meta = require_object(data, "meta")
    if len(meta) != 1:
        raise invalid(
            "meta",
            meta,
            f"{meta!r} {'does not have enough' if not meta else 'has too many'} properties",
        )
    item = validate_metadata("meta", meta)
    key = params["key"]
    if key not in item:
        raise cinder_error(400, "Request body and URI mismatch")
    with cc.call.runtime.store.write() as conn:
        row = load_volume(cc, conn, params["id"])
        _save(conn, row["id"], {**_stored(row), **item})
    return Response(200, {"meta": item})


def delete_metadata_item(cc: CinderCall, params: dict[str, str]) -> Response:
    with cc.call.runtime.store.write() as conn:
        row = load_volume(cc, conn, params["id"])
        metadata = _stored(row)
        key = params["key"]
        if key not in metadata:
            raise _missing(row["id"], key)
        del metadata[key]
        _save(conn, row["id"], metadata)
    return Response(200)
