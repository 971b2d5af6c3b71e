"""Neutron plumbing shared by every resource: errors, list semantics, visibility."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from typing import Any

from ..context import Call
from ..formats import iso_seconds, now
from ..http import ApiError, Response

RESERVED_LIST_PARAMS = {"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse"}


def neutron_error(status: int, kind: str, message: str) -> ApiError:
    return ApiError(
        Response(status, {"NeutronError": {"type": kind, "message": message, "detail": ""}})
    )


def random_mac() -> str:
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))


def visible_networks(conn: sqlite3.Connection, project_id: str, admin: bool) -> list[sqlite3.Row]:
    """Networks Neutron shows the caller: its own, shared ones and external ones."""
    if admin:
        return conn.execute("SELECT * FROM networks ORDER BY created_at").fetchall()
    return conn.execute(
        "SELECT * FROM networks WHERE shared = 1 OR external = 1 OR project_id = ?"
        " ORDER BY created_at",
        (project_id,),
    ).fetchall()


def nova_networks(conn: sqlite3.Connection, project_id: str) -> list[sqlite3.Row]:
    """Networks Nova may attach a server to (network/neutron.py _get_available_networks):
    the project's own non-shared networks and the shared ones; never an external one."""
    return conn.execute(
        "SELECT * FROM networks WHERE external = 0 AND (shared = 1 OR project_id = ?)"
        " ORDER BY created_at",
        (project_id,),
    ).fetchall()


def security_groups_by_id(conn: sqlite3.Connection) -> dict[str, sqlite3.Row]:
    return {row["id"]: row for row in conn.execute("SELECT * FROM security_groups")}


def tags_by_id(conn: sqlite3.Connection) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {}
    for row in conn.execute("SELECT resource_id, tag FROM neutron_tags ORDER BY tag"):
        tags.setdefault(row[0], []).append(row[1])
    return tags


def stamps(row: sqlite3.Row, tags: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Neutron's standard attributes: timestamps, revision, description, tags."""
    keys = row.keys()
    created = row["created_at"]
    updated = row["updated_at"] if "updated_at" in keys and row["updated_at"] else created
    return {
        "created_at": iso_seconds(created),
        "updated_at": iso_seconds(updated),
        "revision_number": row["revision"] if "revision" in keys else 1,
        "description": row["description"] if "description" in keys else "",
        "tags": (tags or {}).get(row["id"], []),
    }


def bump(conn: sqlite3.Connection, table: str, row_id: str) -> None:
    """An update: Neutron moves updated_at and revision_number."""
    conn.execute(
        f"UPDATE {table} SET updated_at = ?, revision = revision + 1 WHERE id = ?",
        (now(), row_id),
    )


def body_of(call: Call, key: str) -> dict[str, Any]:
    """The resource dict of a POST/PUT body, or Neutron's 400."""
    try:
        data = call.request.json()
    except ValueError as exc:
        raise neutron_error(400, "BadRequest", "Malformed request body") from exc
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise neutron_error(
            400,
            "BadRequest",
            f"Resource body required for '{key}'"
            if data is None
            else f"Unable to find '{key}' in request body",
        )
    value: dict[str, Any] = data[key]
    return value


def bad_request(resource: str, message: str) -> ApiError:
    """neutron_lib BadRequest: "Bad <resource> request: <msg>."."""
    return neutron_error(400, "BadRequest", f"Bad {resource} request: {message}.")


def invalid_input(message: str) -> ApiError:
    return neutron_error(400, "InvalidInput", f"Invalid input for operation: {message}.")


def reject_unknown(data: dict[str, Any], allowed: set[str]) -> None:
    """The API layer refuses attributes the resource does not have."""
    for key in data:
        if key not in allowed:
            raise neutron_error(400, "HTTPBadRequest", f"Unrecognized attribute(s) '{key}'")


def as_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise invalid_input(f"'{value}' cannot be converted to boolean")


def require_owner(call: Call, row: sqlite3.Row, kind: str, message: str) -> None:
    """A tenant cannot see another project's resource: Neutron answers 404."""
    if not call.user.is_admin and row["project_id"] != call.user.project_id:
        raise neutron_error(404, kind, message)


def matches(item: dict[str, Any], key: str, wanted: list[str]) -> bool:
    value = item.get(key)
    if isinstance(value, bool):
        return str(value).lower() in [w.lower() for w in wanted]
    if isinstance(value, list):
        return any(str(v) in wanted for v in value)
    return str(value) in wanted


TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")


def _tag_filter(items: list[dict[str, Any]], name: str, values: list[str]) -> list[dict[str, Any]]:
    """Neutron's tag filters: tags = all of, tags-any = any of, not-* negated."""
    wanted = {t for value in values for t in value.split(",") if t}
    if not wanted:
        return items
    every = name in ("tags", "not-tags")
    negate = name.startswith("not-")
    kept = []
    for item in items:
        have = set(item.get("tags", []))
        hit = wanted <= have if every else bool(wanted & have)
        if hit != negate:
            kept.append(item)
    return kept


def collection(call: Call, key: str, items: list[dict[str, Any]]) -> Response:
    """Neutron's generic list semantics: attribute and tag filters, limit/marker, fields."""
    query = call.request.query
    for name, wanted in query.items():
        if name in RESERVED_LIST_PARAMS or not wanted:
            continue
        if name in TAG_FILTERS:
            items = _tag_filter(items, name, wanted)
            continue
        items = [item for item in items if matches(item, name, wanted)]
    marker = call.request.param("marker")
    if marker:
        ids = [item["id"] for item in items]
        items = items[ids.index(marker) + 1 :] if marker in ids else []
    body: dict[str, Any] = {}
    limit_text = call.request.param("limit")
    if limit_text:
        # As neutron/api/api_common.py get_pagination_links: `next` whenever the page
        # is full (so a client asks once more for an empty page), `previous` after a
        # marker.
        limit = int(limit_text)
        items = items[:limit]
        href = f"{call.runtime.base_url}/network/v2.0/{key.replace('_', '-')}"
        links = []
        if items and len(items) >= limit:
            links.append({"rel": "next", "href": f"{href}?limit={limit}&marker={items[-1]['id']}"})
        if marker and items:
            links.append(
                {
                    "rel": "previous",
                    "href": f"{href}?limit={limit}&marker={items[0]['id']}&page_reverse=True",
                }
            )
        if links:
            body[f"{key}_links"] = links
    fields = query.get("fields")
    if fields:
        items = [{k: v for k, v in item.items() if k in fields} for item in items]
    body[key] = items
    return Response(200, body)


def empty(key: str) -> Callable[[Call, dict[str, str]], Response]:
    def handler(call: Call, _: dict[str, str]) -> Response:
        return collection(call, key, [])

    return handler
