"""Keystone v3 subset: version discovery, password/token auth, token validation, catalog."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import uuid
from typing import Any

from .context import Call, Principal, Runtime
from .formats import iso_keystone, now
from .http import ApiError, Response, Router
from .seed import DOMAIN_ID, DOMAIN_NAME, REGION

SERVICES = (
    ("identity", "keystone", "/identity"),
    ("compute", "nova", "/compute/v2.1"),
    ("image", "glance", "/image"),
    ("network", "neutron", "/network"),
    ("placement", "placement", "/placement"),
    # Cinder under the type clients look up and the older alias Nova's [cinder] uses; the
    # URL carries no project id (Cinder takes it from the token since 3.67), as realstack's
    ("block-storage", "cinder", "/volume/v3"),
    ("volumev3", "cinderv3", "/volume/v3"),
)
VERSION_UPDATED = "2024-04-01T00:00:00Z"


def keystone_error(status: int, title: str, message: str) -> ApiError:
    return ApiError(
        Response(status, {"error": {"code": status, "title": title, "message": message}})
    )


def unauthorized(base_url: str) -> ApiError:
    """Keystone/keystonemiddleware's 401, with the header that tells clients where to log in."""
    error = keystone_error(
        401, "Unauthorized", "The request you have made requires authentication."
    )
    return ApiError(
        Response(
            401,
            error.response.body,
            headers={"WWW-Authenticate": f'Keystone uri="{base_url}/identity"'},
        )
    )


def catalog(base_url: str) -> list[dict[str, Any]]:
    entries = []
    for service_type, name, path in SERVICES:
        endpoints = [
            {
                "id": uuid.uuid5(uuid.NAMESPACE_URL, f"{service_type}/{interface}").hex,
                "interface": interface,
                "region": REGION,
                "region_id": REGION,
                "url": base_url + path,
            }
            for interface in ("public", "internal", "admin")
        ]
        entries.append(
            {
                "endpoints": endpoints,
                "id": uuid.uuid5(uuid.NAMESPACE_URL, service_type).hex,
                "type": service_type,
                "name": name,
            }
        )
    return entries


def _v3_version(base_url: str) -> dict[str, Any]:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": VERSION_UPDATED,
        "links": [{"rel": "self", "href": f"{base_url}/identity/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }


def versions(call: Call, _: dict[str, str]) -> Response:
    body = {"versions": {"values": [_v3_version(call.runtime.base_url)]}}
    return Response(300, body)


def version_v3(call: Call, _: dict[str, str]) -> Response:
    return Response(200, {"version": _v3_version(call.runtime.base_url)})


def _find(conn: sqlite3.Connection, table: str, ref: dict[str, Any] | None) -> sqlite3.Row | None:
    """Look a user or project up by id, or by name within a domain given by id or name."""
    if not isinstance(ref, dict):
        return None
    if "id" in ref:
        row: sqlite3.Row | None = conn.execute(
            f"SELECT * FROM {table} WHERE id = ?", (str(ref["id"]),)
        ).fetchone()
        return row
    domain = ref.get("domain") or {}
    if not isinstance(domain, dict):
        return None
    if domain.get("id", DOMAIN_ID) != DOMAIN_ID or domain.get("name", DOMAIN_NAME) != DOMAIN_NAME:
        return None
    row = conn.execute(f"SELECT * FROM {table} WHERE name = ?", (str(ref.get("name")),)).fetchone()
    return row


def _token_body(
    conn: sqlite3.Connection, runtime: Runtime, token: sqlite3.Row, with_catalog: bool = True
) -> dict[str, Any]:
    user = conn.execute("SELECT * FROM users WHERE id = ?", (token["user_id"],)).fetchone()
    project = conn.execute("SELECT * FROM projects WHERE id = ?", (token["project_id"],)).fetchone()
    role_names = json.loads(user["roles"])
    roles = [
        {"id": str(row["id"]), "name": str(row["name"])}
        for row in conn.execute(
            f"SELECT id, name FROM roles WHERE name IN ({','.join('?' * len(role_names))})",
            role_names,
        )
    ]
    domain = {"id": DOMAIN_ID, "name": DOMAIN_NAME}
    body: dict[str, Any] = {
        "methods": json.loads(token["methods"]),
        "user": {
            "domain": domain,
            "id": user["id"],
            "name": user["name"],
            "password_expires_at": None,
        },
        "audit_ids": [token["audit_id"]],
        "expires_at": iso_keystone(token["expires_at"]),
        "issued_at": iso_keystone(token["issued_at"]),
        "project": {"domain": domain, "id": project["id"], "name": project["name"]},
        "is_domain": False,
        "roles": roles,
    }
    if with_catalog:
        body["catalog"] = catalog(runtime.base_url)
    return {"token": body}


def issue_token(call: Call, _: dict[str, str]) -> Response:
    runtime = call.runtime
    try:
        auth = call.request.json()["auth"]
        identity = auth["identity"]
        methods = list(identity["methods"])
    except (ValueError, KeyError, TypeError) as exc:
        raise keystone_error(
            400, "Bad Request", "Invalid input for field 'identity': 'methods' is required"
        ) from exc
    with runtime.store.write() as conn:
        user: sqlite3.Row | None = None
        if "password" in methods:
            password_user = (identity.get("password") or {}).get("user")
            user = _find(conn, "users", password_user)
            given = str((password_user or {}).get("password", ""))
            if user is None or not secrets.compare_digest(
                hashlib.sha256(given.encode()).hexdigest(), str(user["password"])
            ):
                raise unauthorized(runtime.base_url)
        elif "token" in methods:
            old = _valid_token(conn, str((identity.get("token") or {}).get("id", "")))
            if old is None:
                raise unauthorized(runtime.base_url)
            user = conn.execute("SELECT * FROM users WHERE id = ?", (old["user_id"],)).fetchone()
        if user is None:
            raise unauthorized(runtime.base_url)
        scope = auth.get("scope") or {}
        project_ref = scope.get("project") if isinstance(scope, dict) else None
        if project_ref is None:
            project_ref = {"id": user["project_id"]}
        project = _find(conn, "projects", project_ref)
        if project is None or project["id"] != user["project_id"]:
            raise keystone_error(
                401,
                "Unauthorized",
                "The request you have made requires authentication.",
            )
        issued = now()
        ttl = runtime.faults.faults.token_ttl
        token_id = "gAAAAA" + secrets.token_urlsafe(96)
        conn.execute("DELETE FROM tokens WHERE expires_at < ?", (issued - 86400,))
        conn.execute(
            "INSERT INTO tokens (id, user_id, project_id, methods, audit_id, issued_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                token_id,
                user["id"],
                project["id"],
                json.dumps(methods),
                secrets.token_urlsafe(16)[:22],
                issued,
                issued + ttl,
            ),
        )
        token = conn.execute("SELECT * FROM tokens WHERE id = ?", (token_id,)).fetchone()
        body = _token_body(conn, runtime, token, with_catalog="nocatalog" not in call.request.query)
    return Response(201, body, headers={"X-Subject-Token": token_id})


def _valid_token(conn: sqlite3.Connection, token_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM tokens WHERE id = ? AND expires_at > ?", (token_id, now())
    ).fetchone()
    return row


def authenticate(runtime: Runtime, token_id: str) -> Principal | None:
    """The caller behind an X-Auth-Token, or None when it is unknown or expired."""
    if not token_id:
        return None
    with runtime.store.read() as conn:
        row = conn.execute(
            "SELECT t.id, t.user_id, u.name AS user_name, t.project_id, p.name AS project_name,"
            " u.roles FROM tokens t JOIN users u ON u.id = t.user_id"
            " JOIN projects p ON p.id = t.project_id WHERE t.id = ? AND t.expires_at > ?",
            (token_id, now()),
        ).fetchone()
    if row is None:
        return None
    return Principal(
        token=row["id"],
        user_id=row["user_id"],
        user_name=row["user_name"],
        project_id=row["project_id"],
        project_name=row["project_name"],
        roles=tuple(json.loads(row["roles"])),
    )


def validate_token(call: Call, _: dict[str, str]) -> Response:
    if call.principal is None:
        raise unauthorized(call.runtime.base_url)
    subject = call.request.header("X-Subject-Token")
    with call.runtime.store.read() as conn:
        token = _valid_token(conn, subject)
        if token is None:
            raise keystone_error(404, "Not Found", f"Could not find token: {subject[:8]}...")
        body = _token_body(
            conn, call.runtime, token, with_catalog="nocatalog" not in call.request.query
        )
    return Response(200, body, headers={"X-Subject-Token": subject})


def check_token(call: Call, _: dict[str, str]) -> Response:
    if call.principal is None:
        raise unauthorized(call.runtime.base_url)
    with call.runtime.store.read() as conn:
        if _valid_token(conn, call.request.header("X-Subject-Token")) is None:
            raise keystone_error(404, "Not Found", "Could not find token.")
    return Response(200)


def revoke_token(call: Call, _: dict[str, str]) -> Response:
    if call.principal is None:
        raise unauthorized(call.runtime.base_url)
    with call.runtime.store.write() as conn:
        conn.execute("DELETE FROM tokens WHERE id = ?", (call.request.header("X-Subject-Token"),))
    return Response(204)


def _require_principal(call: Call) -> Principal:
    if call.principal is None:
        raise unauthorized(call.runtime.base_url)
    return call.principal


def _project_view(call: Call, row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "domain_id": row["domain_id"],
        "enabled": True,
        "is_domain": False,
        "parent_id": row["domain_id"],
        "description": "",
        "tags": [],
        "options": {},
        "links": {"self": f"{call.runtime.base_url}/identity/v3/projects/{row['id']}"},
    }


def list_projects(call: Call, _: dict[str, str]) -> Response:
    principal = _require_principal(call)
    with call.runtime.store.read() as conn:
        rows = conn.execute("SELECT * FROM projects ORDER BY name").fetchall()
    visible = [r for r in rows if principal.is_admin or r["id"] == principal.project_id]
    name = call.request.param("name")
    projects = [_project_view(call, r) for r in visible if name is None or r["name"] == name]
    return Response(200, {"projects": projects, "links": {"self": None, "next": None}})


def show_project(call: Call, params: dict[str, str]) -> Response:
    """GET /v3/projects/{id}: Keystone loads the project first (unknown -> 404), then the
    identity:get_project policy lets an admin or a user scoped to that project read it."""
    principal = _require_principal(call)
    with call.runtime.store.read() as conn:
        row = conn.execute("SELECT * FROM projects WHERE id = ?", (params["id"],)).fetchone()
    if row is None:
        raise keystone_error(404, "Not Found", f"Could not find project: {params['id']}.")
    if not principal.is_admin and row["id"] != principal.project_id:
        raise keystone_error(
            403,
            "Forbidden",
            "You are not authorized to perform the requested action: identity:get_project.",
        )
    return Response(200, {"project": _project_view(call, row)})


def get_catalog(call: Call, _: dict[str, str]) -> Response:
    _require_principal(call)
    return Response(200, {"catalog": catalog(call.runtime.base_url)})


def placement_root(call: Call, _: dict[str, str]) -> Response:
    """Placement is only advertised (as real clouds do); its root document satisfies discovery."""
    version = {
        "id": "v1.0",
        "max_version": "1.39",
        "min_version": "1.0",
        "status": "CURRENT",
        "links": [{"rel": "self", "href": ""}],
    }
    return Response(200, {"versions": [version]})


def routes() -> Router[Call]:
    router: Router[Call] = Router()
    router.add("GET", "/identity/?", versions)
    router.add("GET", "/identity/v3/?", version_v3)
    router.add("POST", "/identity/v3/auth/tokens", issue_token)
    router.add("GET", "/identity/v3/auth/tokens", validate_token)
    router.add("HEAD", "/identity/v3/auth/tokens", check_token)
    router.add("DELETE", "/identity/v3/auth/tokens", revoke_token)
    router.add("GET", "/identity/v3/auth/catalog", get_catalog)
    router.add("GET", "/identity/v3/projects", list_projects)
    router.add("GET", "/identity/v3/projects/(?P<id>[^/]+)", show_project)
    router.add("GET", "/placement/?", placement_root)
    return router
