"""Standard-attribute tags (neutron/extensions/tagging.py, services/tag/tag_plugin.py)."""

from __future__ import annotations

import sqlite3
from typing import Any

from ..context import Call
from ..http import Response
from .common import invalid_input, neutron_error

# URL collection -> (table, NotFound type, message) of the resources that carry tags.
TAGGABLE = {
    "networks": ("networks", "NetworkNotFound", "Network {} could not be found."),
    "subnets": ("subnets", "SubnetNotFound", "Subnet {} could not be found."),
    "ports": ("ports", "PortNotFound", "Port {} could not be found."),
    "security-groups": (
        "security_groups",
        "SecurityGroupNotFound",
        "Security group {} does not exist",
    ),
    "floatingips": ("floatingips", "FloatingIPNotFound", "Floating IP {} could not be found"),
    "routers": ("routers", "RouterNotFound", "Router {} could not be found"),
}
MAX_TAG_LENGTH = 255


def _resource(conn: sqlite3.Connection, call: Call, params: dict[str, str]) -> str:
    table, kind, message = TAGGABLE[params["collection"]]
    row = conn.execute(f"SELECT * FROM {table} WHERE id = ?", (params["id"],)).fetchone()
    visible = row is not None and (
        call.user.is_admin
        or row["project_id"] == call.user.project_id
        or (table == "networks" and (row["shared"] or row["external"]))
    )
    if not visible:
        raise neutron_error(404, kind, message.format(params["id"]))
    return str(params["id"])


def _tags(conn: sqlite3.Connection, resource_id: str) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT tag FROM neutron_tags WHERE resource_id = ? ORDER BY tag", (resource_id,)
        )
    ]


def _validate(tag: Any) -> str:
    if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG_LENGTH:
        raise invalid_input(f"'{tag}' is not a valid tag")
    return tag


def _touch(conn: sqlite3.Connection, params: dict[str, str]) -> None:
    table = TAGGABLE[params["collection"]][0]
    conn.execute(f"UPDATE {table} SET revision = revision + 1 WHERE id = ?", (params["id"],))


def get_tags(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        return Response(200, {"tags": _tags(conn, _resource(conn, call, params))})


def get_tag(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        if params["tag"] not in _tags(conn, _resource(conn, call, params)):
            raise neutron_error(404, "TagNotFound", f"Tag {params['tag']} could not be found.")
    return Response(204)


def add_tag(call: Call, params: dict[str, str]) -> Response:
    tag = _validate(params["tag"])
    with call.runtime.store.write() as conn:
        resource_id = _resource(conn, call, params)
        conn.execute(
            "INSERT OR IGNORE INTO neutron_tags (resource_id, tag) VALUES (?, ?)",
            (resource_id, tag),
        )
        _touch(conn, params)
    return Response(201)


def replace_tags(call: Call, params: dict[str, str]) -> Response:
    try:
        data = call.request.json()
    except ValueError as exc:
        raise invalid_input("Malformed request body") from exc
    if not isinstance(data, dict) or not isinstance(data.get("tags"), list):
        raise invalid_input("Invalid tags body")
    sent = [_validate(t) for t in data["tags"]]
    tags = sorted(set(sent))
    with call.runtime.store.write() as conn:
        resource_id = _resource(conn, call, params)
        conn.execute("DELETE FROM neutron_tags WHERE resource_id = ?", (resource_id,))
        conn.executemany(
            "INSERT INTO neutron_tags (resource_id, tag) VALUES (?, ?)",
            [(resource_id, t) for t in tags],
        )
        _touch(conn, params)
    # tagging.py update_all answers with the request's list, in the order sent (GET sorts)
    return Response(200, {"tags": sent})


def delete_tag(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.write() as conn:
        resource_id = _resource(conn, call, params)
        gone = conn.execute(
            "DELETE FROM neutron_tags WHERE resource_id = ? AND tag = ?",
            (resource_id, params["tag"]),
        ).rowcount
        if not gone:
            raise neutron_error(404, "TagNotFound", f"Tag {params['tag']} could not be found.")
        _touch(conn, params)
    return Response(204)


def delete_tags(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.write() as conn:
        resource_id = _resource(conn, call, params)
        conn.execute("DELETE FROM neutron_tags WHERE resource_id = ?", (resource_id,))
        _touch(conn, params)
    return Response(204)
