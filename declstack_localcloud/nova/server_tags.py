"""Server tags, every verb, from microversion 2.26 (compute/server_tags.py)."""

from __future__ import annotations

import sqlite3

from ..http import Response
from .common import (
    MAX_TAGS,
    NovaCall,
    load_server,
    nova_error,
    touch,
    validate_tag,
    validate_tags,
)

# ---- tags ------------------------------------------------------------------------------------


def _require_tags(nc: NovaCall) -> None:
    if not nc.at_least(2, 26):
        raise nova_error(404, "The resource could not be found.")


def _tags_of(conn: sqlite3.Connection, server_id: str) -> list[str]:
    return sorted(
        r[0] for r in conn.execute("SELECT tag FROM server_tags WHERE server_id = ?", (server_id,))
    )


def list_tags(nc: NovaCall, params: dict[str, str]) -> Response:
    _require_tags(nc)
    with nc.call.runtime.store.read() as conn:
        row = load_server(nc, conn, params["id"])
        return Response(200, {"tags": _tags_of(conn, row["id"])})


def replace_tags(nc: NovaCall, params: dict[str, str]) -> Response:
    _require_tags(nc)
    try:
        data = nc.call.request.json()
    except ValueError as exc:
        raise nova_error(400, "Malformed request body") from exc
    if not isinstance(data, dict) or "tags" not in data:
        raise nova_error(
            400, "Invalid input for field/attribute tags. 'tags' is a required property"
        )
    tags = validate_tags(data["tags"])
    with nc.call.runtime.store.write() as conn:
        row = load_server(nc, conn, params["id"])
        conn.execute("DELETE FROM server_tags WHERE server_id = ?", (row["id"],))
        conn.executemany(
            "INSERT INTO server_tags (server_id, tag) VALUES (?, ?)", [(row["id"], t) for t in tags]
        )
        touch(conn, row["id"])
        return Response(200, {"tags": _tags_of(conn, row["id"])})


def delete_tags(nc: NovaCall, params: dict[str, str]) -> Response:
    _require_tags(nc)
    with nc.call.runtime.store.write() as conn:
        row = load_server(nc, conn, params["id"])
        conn.execute("DELETE FROM server_tags WHERE server_id = ?", (row["id"],))
        touch(conn, row["id"])
    return Response(204)


def check_tag(nc: NovaCall, params: dict[str, str]) -> Response:
    _require_tags(nc)
    with nc.call.runtime.store.read() as conn:
        row = load_server(nc, conn, params["id"])
        if params["tag"] not in _tags_of(conn, row["id"]):
            raise nova_error(404, f"Server {row['id']} has no tag '{params['tag']}'")
    return Response(204)


def add_tag(nc: NovaCall, params: dict[str, str]) -> Response:
    _require_tags(nc)
    tag = validate_tag(params["tag"])
    with nc.call.runtime.store.write() as conn:
        row = load_server(nc, conn, params["id"])
        existing = _tags_of(conn, row["id"])
        if tag in existing:
            return Response(204)
        if len(existing) >= MAX_TAGS:
            raise nova_error(400, f"The number of tags exceeded the per-server limit {MAX_TAGS}")
        conn.execute("INSERT INTO server_tags (server_id, tag) VALUES (?, ?)", (row["id"], tag))
        touch(conn, row["id"])
    location = f"{nc.url}/v2.1/servers/{row['id']}/tags/{tag}"
    return Response(201, None, headers={"Location": location})


def delete_tag(nc: NovaCall, params: dict[str, str]) -> Response:
    _require_tags(nc)
    with nc.call.runtime.store.write() as conn:
        row = load_server(nc, conn, params["id"])
        gone = conn.execute(
            "DELETE FROM server_tags WHERE server_id = ? AND tag = ?", (row["id"], params["tag"])
        ).rowcount
        if not gone:
            raise nova_error(404, f"Server {row['id']} has no tag '{params['tag']}'")
        touch(conn, row["id"])
    return Response(204)
