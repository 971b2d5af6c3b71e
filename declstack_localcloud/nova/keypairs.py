"""Key pairs: list, create or import, show, delete (compute/keypairs.py)."""

from __future__ import annotations

import re
import sqlite3
from typing import Any
from urllib.parse import urlencode

from .. import keys
from ..formats import iso_micro, now
from ..http import Response
from .common import (
    MAX_LIMIT,
    NovaCall,
    invalid,
    nova_error,
)

# ---- key pairs -------------------------------------------------------------------------------


def keypair_view(nc: NovaCall, row: sqlite3.Row, full: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "name": row["name"],
        "public_key": row["public_key"],
        "fingerprint": row["fingerprint"],
    }
    if nc.at_least(2, 2):
        view["type"] = row["type"]
    if full:
        view.update(
            {
                "user_id": row["user_id"],
                "created_at": iso_micro(row["created_at"]),
                "deleted": False,
                "deleted_at": None,
                "updated_at": None,
                "id": abs(hash((row["user_id"], row["name"]))) % 100000,
            }
        )
    return view


def list_keypairs(nc: NovaCall, _: dict[str, str]) -> Response:
    """The user's key pairs by name; from 2.35 paged with limit/marker (the marker a
    name), a full page ending in a `keypairs_links` next link, as Nova's index does."""
    limit: int | None = None
    marker: str | None = None
    if nc.at_least(2, 35):
        req = nc.call.request
        limit_text = req.param("limit")
        if limit_text is not None and not re.fullmatch(r"\d+", limit_text):
            raise nova_error(
                400,
                f"Invalid input for query parameters limit. Value: {limit_text}."
                f" '{limit_text}' does not match '^[0-9]*$'",
            )
        limit = MAX_LIMIT if limit_text is None else min(int(limit_text), MAX_LIMIT)
        marker = req.param("marker")
    user_id = nc.call.user.user_id
    with nc.call.runtime.store.read() as conn:
        where, args = "user_id = ?", [user_id]
        if marker is not None:
            if not conn.execute(
                "SELECT 1 FROM keypairs WHERE user_id = ? AND name = ?", (user_id, marker)
            ).fetchone():
                raise nova_error(400, f"Marker {marker} could not be found.")
            where += " AND name > ?"
            args.append(marker)
        query = f"SELECT * FROM keypairs WHERE {where} ORDER BY name"
        if limit is not None:
            query += f" LIMIT {limit}"
        rows = conn.execute(query, args).fetchall()
    body: dict[str, Any] = {"keypairs": [{"keypair": keypair_view(nc, r, False)} for r in rows]}
    if limit and len(rows) == limit:
        req = nc.call.request
        params = [(k, v) for k, vs in req.query.items() for v in vs if k != "marker"]
        params.append(("marker", rows[-1]["name"]))
        body["keypairs_links"] = [
            {"rel": "next", "href": f"{nc.url}/v2.1/os-keypairs?{urlencode(params)}"}
        ]
    return Response(200, body)


def create_keypair(nc: NovaCall, _: dict[str, str]) -> Response:
    data = nc.body("keypair")
    name = data.get("name")
    pattern = r"^[a-zA-Z0-9 _\-@.]{1,255}$" if nc.at_least(2, 92) else r"^[a-zA-Z0-9 _\-]{1,255}$"
    if not isinstance(name, str) or not re.match(pattern, name):
        raise nova_error(400, f"Invalid input for field/attribute name. Value: {name}.")
    key_type = str(data.get("type", "ssh")) if nc.at_least(2, 2) else "ssh"
    if key_type not in ("ssh", "x509"):
        raise nova_error(400, f"Invalid input for field/attribute type. Value: {key_type}.")
    public_key = data.get("public_key")
    private_key = None
    try:
        if "public_key" in data:
            if not isinstance(public_key, str):
                raise invalid("public_key", public_key, f"{public_key!r} is not of type 'string'")
            if key_type == "x509":
                fingerprint = keys.x509_fingerprint(public_key)
            else:
                fingerprint = keys.fingerprint(public_key)
        else:
            if nc.at_least(2, 92):
                raise invalid("keypair", "{...}", "'public_key' is a required property")
            generated = (
                keys.generate_x509(nc.call.user.user_id)
                if key_type == "x509"
                else keys.generate_rsa()
            )
            public_key, private_key = generated.public_key, generated.private_key
            fingerprint = generated.fingerprint
    except keys.InvalidKeypair as exc:
        raise nova_error(400, f"Keypair data is invalid: {exc}") from exc
    with nc.call.runtime.store.write() as conn:
        if conn.execute(
            "SELECT 1 FROM keypairs WHERE user_id = ? AND name = ?", (nc.call.user.user_id, name)
        ).fetchone():
            raise nova_error(409, f"Key pair '{name}' already exists.")
        conn.execute(
            "INSERT INTO keypairs (user_id, name, type, public_key, fingerprint, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (nc.call.user.user_id, name, key_type, public_key, fingerprint, now()),
        )
        row = conn.execute(
            "SELECT * FROM keypairs WHERE user_id = ? AND name = ?", (nc.call.user.user_id, name)
        ).fetchone()
    view = keypair_view(nc, row, False)
    view["user_id"] = row["user_id"]
    if private_key is not None:
        view["private_key"] = private_key
    return Response(201 if nc.at_least(2, 2) else 200, {"keypair": view})


def show_keypair(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.read() as conn:
        row = conn.execute(
            "SELECT * FROM keypairs WHERE user_id = ? AND name = ?",
            (nc.call.user.user_id, params["name"]),
        ).fetchone()
    if row is None:
        raise nova_error(404, f"Keypair {params['name']} not found for user {nc.call.user.user_id}")
    return Response(200, {"keypair": keypair_view(nc, row, True)})


def delete_keypair(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.write() as conn:
        gone = conn.execute(
            "DELETE FROM keypairs WHERE user_id = ? AND name = ?",
            (nc.call.user.user_id, params["name"]),
        ).rowcount
    if not gone:
        raise nova_error(404, f"Keypair {params['name']} not found for user {nc.call.user.user_id}")
    return Response(204 if nc.at_least(2, 2) else 202)
