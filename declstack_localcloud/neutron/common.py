"""Neutron plumbing shared by every resource: errors, list semantics, visibility."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from typing import Any

from ..context import Call
from ..formats import iso_seconds
from ..http import ApiError, Response

RESERVED_LIST_PARAMS = {"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse"}


def neutron_error(status: int, kind: str, message: str) -> ApiError:
    return ApiError(
        Response(status, {"NeutronError": {"type": kind, "message": message, "detail": ""}})
    )


def random_mac() -> str:
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))


def visible_networks(conn: sqlite3.Connection, project_id: str, admin: bool) -> list[sqlite3.Row]:
    if admin:
        return conn.execute("SELECT * FROM networks ORDER BY created_at").fetchall()
    return conn.execute(
        "SELECT * FROM networks WHERE shared = 1 OR project_id = ? ORDER BY created_at",
        (project_id,),
    ).fetchall()


def security_groups_by_id(conn: sqlite3.Connection) -> dict[str, sqlite3.Row]:
    return {row["id"]: row for row in conn.execute("SELECT * FROM security_groups")}


def stamps(created: float) -> dict[str, Any]:
    return {
        "created_at": iso_seconds(created),
        "updated_at": iso_seconds(created),
        "revision_number": 1,
        "description": "",
        "tags": [],
    }


def matches(item: dict[str, Any], key: str, wanted: list[str]) -> bool:
    value = item.get(key)
    if isinstance(value, bool):
        return str(value).lower() in [w.lower() for w in wanted]
    if isinstance(value, list):
        return any(str(v) in wanted for v in value)
    return str(value) in wanted


def collection(call: Call, key: str, items: list[dict[str, Any]]) -> Response:
    """Neutron's generic list semantics: attribute filters, limit/marker, fields."""
    query = call.request.query
    for name, wanted in query.items():
        if name in RESERVED_LIST_PARAMS or not wanted:
            continue
        items = [item for item in items if matches(item, name, wanted)]
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


def empty(key: str) -> Callable[[Call, dict[str, str]], Response]:
    def handler(call: Call, _: dict[str, str]) -> Response:
        return collection(call, key, [])

    return handler
