"""Glance v2 subset: version discovery, image list (paged, filtered) and show."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from .context import Call
from .formats import iso_seconds
from .http import ApiError, Response, Router

DEFAULT_LIMIT = 25
MAX_LIMIT = 1000
FILTERS = ("name", "status", "visibility", "owner", "disk_format", "container_format", "id")


def glance_error(status: int, title: str, message: str) -> ApiError:
    """Glance answers errors as plain text, as webob does."""
    body = {"code": f"{status} {title}", "title": title, "message": f"{message}<br /><br />\n\n\n"}
    return ApiError(Response(status, body))


def image_view(row: sqlite3.Row) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "status": row["status"],
        "visibility": row["visibility"],
        "owner": row["owner"],
        "protected": False,
        "os_hidden": False,
        "disk_format": row["disk_format"],
        "container_format": row["container_format"],
        "size": row["size"],
        "virtual_size": row["size"] if row["disk_format"] == "raw" else None,
        "min_disk": row["min_disk"],
        "min_ram": row["min_ram"],
        "checksum": row["checksum"],
        "os_hash_algo": "sha512",
        "os_hash_value": row["os_hash_value"],
        "tags": [],
        "created_at": iso_seconds(row["created_at"]),
        "updated_at": iso_seconds(row["updated_at"]),
        "stores": "fs",
        "self": f"/v2/images/{row['id']}",
        "file": f"/v2/images/{row['id']}/file",
        "schema": "/v2/schemas/image",
    }
    view.update(json.loads(row["properties"]))
    return view


def _version_list(call: Call) -> dict[str, Any]:
    href = f"{call.runtime.base_url}/image/v2/"
    ids = (
        "v2.17",
        "v2.16",
        "v2.15",
        "v2.9",
        "v2.7",
        "v2.6",
        "v2.5",
        "v2.4",
        "v2.3",
        "v2.2",
        "v2.1",
        "v2.0",
    )
    return {
        "versions": [
            {
                "id": version,
                "status": "CURRENT" if version == ids[0] else "SUPPORTED",
                "links": [{"rel": "self", "href": href}],
            }
            for version in ids
        ]
    }


def versions(call: Call, _: dict[str, str]) -> Response:
    return Response(300, _version_list(call))


def versions_ok(call: Call, _: dict[str, str]) -> Response:
    return Response(200, _version_list(call))


def _visible(call: Call) -> tuple[str, list[Any]]:
    if call.user.is_admin:
        return "1 = 1", []
    return "(visibility IN ('public', 'community', 'shared') OR owner = ?)", [call.user.project_id]


def list_images(call: Call, _: dict[str, str]) -> Response:
    req = call.request
    where, args = _visible(call)
    clauses = [where]
    for name in FILTERS:
        value = req.param(name)
        if value is None:
            continue
        if value.startswith("in:"):
            options = [v.strip('"') for v in value[3:].split(",")]
            clauses.append(f"{name} IN ({','.join('?' * len(options))})")
            args.extend(options)
        else:
            clauses.append(f"{name} = ?")
            args.append(value)
    try:
        limit = min(int(req.param("limit") or DEFAULT_LIMIT), MAX_LIMIT)
    except ValueError as exc:
        raise glance_error(400, "Bad Request", "limit param must be an integer") from exc
    with call.runtime.store.read() as conn:
        marker = req.param("marker")
        if marker:
            found = conn.execute("SELECT seq FROM images WHERE id = ?", (marker,)).fetchone()
            if found is None:
                raise glance_error(400, "Bad Request", f"marker [{marker}] not found")
            clauses.append("seq < ?")
            args.append(found["seq"])
        rows = conn.execute(
            f"SELECT * FROM images WHERE {' AND '.join(clauses)} ORDER BY seq DESC LIMIT ?",
            [*args, limit],
        ).fetchall()
    body: dict[str, Any] = {
        "images": [image_view(r) for r in rows],
        "first": "/v2/images" + (f"?{urlencode(list(_flat(req.query)))}" if req.query else ""),
        "schema": "/v2/schemas/images",
    }
    if rows and len(rows) == limit:
        query = [(k, v) for k, vs in req.query.items() for v in vs if k not in ("limit", "marker")]
        query += [("marker", rows[-1]["id"]), ("limit", str(limit))]
        body["next"] = f"/v2/images?{urlencode(query)}"
    return Response(200, body)


def _flat(query: Mapping[str, list[str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, values in query.items() for v in values]


def show_image(call: Call, params: dict[str, str]) -> Response:
    where, args = _visible(call)
    with call.runtime.store.read() as conn:
        row = conn.execute(
            f"SELECT * FROM images WHERE id = ? AND {where}", [params["id"], *args]
        ).fetchone()
    if row is None:
        raise glance_error(404, "Not Found", f"No image found with ID {params['id']}")
    return Response(200, image_view(row))


def routes() -> Router[Call]:
    router: Router[Call] = Router()
    router.add("GET", "/image/?", versions)
    router.add("GET", "/image/versions", versions_ok)
    router.add("GET", "/image/v2/images", list_images)
    router.add("GET", "/image/v2/images/(?P<id>[^/]+)", show_image)
    return router
