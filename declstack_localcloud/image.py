"""Glance v2: version discovery and images (create, list, show, PATCH, delete) as Glance 33 answers.

The rules and the messages are Glance's own (glance/api/v2/images.py, glance/domain,
glance/db/sqlalchemy/api.py, the default policies), checked against a real Glance:
- create takes a client-chosen id, once only: an id that exists or ever existed (Glance
  keeps deleted rows) answers 409, and of racing creates exactly one wins;
- PATCH takes JSON patch (`application/openstack-images-v2.1-json-patch`, or 2.0's draft 4);
- non-admins may not publicize, nor touch or delete what their project does not own.
No image data: every image made here stays `queued` (no upload, import or locations).
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from . import image_schema
from .context import Call
from .formats import iso_seconds, now, parse_iso
from .http import ApiError, Response, Router

DEFAULT_LIMIT = 25
MAX_LIMIT = 1000
TAG_QUOTA = 128
PROPERTY_QUOTA = 128
MAX_DB_INT = 2**31 - 1
RESERVED_NAMESPACE = "os_glance"
PATCH_TYPES = {
    "application/openstack-images-v2.0-json-patch": 4,
    "application/openstack-images-v2.1-json-patch": 10,
}
OPERATIONS = ("add", "remove", "replace")
IMPORT_METHODS = "glance-direct,web-download,copy-image"
STORE_IDS = "fs,os_glance_staging_store,os_glance_tasks_store"
"""What a create answers in OpenStack-image-import-methods and -store-ids (as realstack's)."""

# What a create or PATCH may not name (RequestDeserializer and ImageFactory, in their order).
DISALLOWED = ("direct_url", "self", "file", "schema", "stores")
FACTORY_READONLY = (
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "size",
    "virtual_size",
)
FACTORY_RESERVED = ("owner", "locations", "deleted", "deleted_at", *DISALLOWED[:4])
PATCH_READONLY = (
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "size",
    "virtual_size",
    "direct_url",
    "self",
    "file",
    "schema",
    "id",
    "os_hash_algo",
    "os_hash_value",
)
RESERVED = ("location", "deleted", "deleted_at")
BASE_PROPERTIES = (
    "checksum",
    "created_at",
    "container_format",
    "disk_format",
    "id",
    "min_disk",
    "min_ram",
    "name",
    "size",
    "virtual_size",
    "status",
    "owner",
    "updated_at",
    "visibility",
    "protected",
    "os_hidden",
)
"""Body keys that are image attributes; every other key of a create body is a property."""
WRITABLE = (
    "name",
    "visibility",
    "os_hidden",
    "min_disk",
    "min_ram",
    "protected",
    "owner",
    "disk_format",
    "container_format",
    "tags",
)
"""The attributes a PATCH can set (the others are read-only); they can never be removed."""

EXPLANATIONS = {
    400: "The server could not comply with the request since it is either malformed or "
    "otherwise incorrect.",
    403: "Access was denied to this resource.",
    404: "The resource could not be found.",
    409: "There was a conflict when trying to complete your request.",
    413: "The request is larger than the server is willing or able to process.",
}
TITLES = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
}


def glance_error(status: int, explanation: str | None = None, detail: str = "") -> ApiError:
    """webob's error page, which Glance sends as JSON.

    Glance raises some errors with an explanation (`HTTPConflict(explanation=msg)`) and
    others with a detail under webob's stock explanation (`HTTPForbidden(msg)`)."""
    title = TITLES[status]
    message = f"{explanation or EXPLANATIONS[status]}<br /><br />\n{detail}\n\n"
    return ApiError(
        Response(status, {"code": f"{status} {title}", "title": title, "message": message})
    )


def _not_authorized(action: str) -> ApiError:
    return glance_error(403, f"You are not authorized to complete {action} action.")


@dataclass(frozen=True)
class Image:
    """One image as Glance's domain model holds it."""

    id: str
    name: str | None
    status: str
    visibility: str
    owner: str | None
    disk_format: str | None
    container_format: str | None
    size: int | None
    min_disk: int
    min_ram: int
    checksum: str | None
    os_hash_value: str | None
    protected: bool
    os_hidden: bool
    tags: tuple[str, ...]
    properties: Mapping[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Image:
        return cls(
            id=row["id"],
            name=row["name"],
            status=row["status"],
            visibility=row["visibility"],
            owner=row["owner"],
            disk_format=row["disk_format"],
            container_format=row["container_format"],
            size=row["size"],
            min_disk=row["min_disk"],
            min_ram=row["min_ram"],
            checksum=row["checksum"],
            os_hash_value=row["os_hash_value"],
            protected=bool(row["protected"]),
            os_hidden=bool(row["os_hidden"]),
            tags=tuple(json.loads(row["tags"])),
            properties=json.loads(row["properties"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def view(self) -> dict[str, Any]:
        """The JSON Glance's ResponseSerializer writes, in its key order."""
        body: dict[str, Any] = dict(self.properties)
        body.update(
            name=self.name,
            disk_format=self.disk_format,
            container_format=self.container_format,
            visibility=self.visibility,
            size=self.size,
            virtual_size=self.size if self.disk_format == "raw" else None,
            status=self.status,
            checksum=self.checksum,
            protected=self.protected,
            min_ram=self.min_ram,
            min_disk=self.min_disk,
            owner=self.owner,
            os_hidden=self.os_hidden,
            os_hash_algo="sha512" if self.os_hash_value else None,
            os_hash_value=self.os_hash_value,
            id=self.id,
            created_at=iso_seconds(self.created_at),
            updated_at=iso_seconds(self.updated_at),
            tags=list(self.tags),
            self=f"/v2/images/{self.id}",
            file=f"/v2/images/{self.id}/file",
            schema="/v2/schemas/image",
        )
        if self.size is not None:
            body["stores"] = "fs"  # only an image with data has a location
        return body


def image_view(row: sqlite3.Row) -> dict[str, Any]:
    return Image.from_row(row).view()


# --- version discovery -------------------------------------------------------------------


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


# --- who may see and change what (Glance's default policies) -----------------------------


def _visible(call: Call) -> tuple[str, list[Any]]:
    """Images the caller can see: an admin all; others public, community and their own
    (images shared through members would be too, but the local cloud has no members)."""
    if call.user.is_admin:
        return "1 = 1", []
    return (
        "(owner IS NULL OR visibility IN ('public', 'community') OR owner = ?)",
        [call.user.project_id],
    )


def _is_project_member(call: Call, owner: str | None) -> bool:
    """Glance's `role:member and project_id:%(owner)s`, or an admin."""
    user = call.user
    return user.is_admin or ("member" in user.roles and user.project_id == owner)


def _check_visibility(call: Call, visibility: object, owner: str | None) -> None:
    """publicize_image is admin only; communitize_image needs a member of the owner."""
    if visibility == "public" and not call.user.is_admin:
        raise _not_authorized("publicize_image")
    if visibility == "community" and not _is_project_member(call, owner):
        raise _not_authorized("communitize_image")


def _find(conn: sqlite3.Connection, call: Call, image_id: str) -> Image | None:
    where, args = _visible(call)
    row = conn.execute(
        f"SELECT * FROM images WHERE id = ? AND {where}", [image_id, *args]
    ).fetchone()
    return None if row is None else Image.from_row(row)


# --- request bodies ----------------------------------------------------------------------


def _body(call: Call) -> Any:
    """The JSON body as Glance's JSONRequestDeserializer reads it (a dict or a list)."""
    raw = call.request.body
    if not raw:
        raise glance_error(400, "Body expected in request.")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise glance_error(400, "Malformed JSON in request body.") from exc
    if not isinstance(body, dict | list):
        raise glance_error(400, "Unexpected body type. Expected list/dict.")
    return body


def _check_schema(image: Mapping[str, Any]) -> None:
    problem = image_schema.validate(image)
    if problem is not None:
        raise glance_error(400, problem)


def _check_property_names(properties: Mapping[str, Any]) -> None:
    for key in properties:
        if len(key) > 255:
            raise glance_error(400, "Custom property should not be greater than 255 characters.")
        if key in RESERVED or key.startswith(RESERVED_NAMESPACE):
            raise glance_error(403, detail=f"Attribute '{key}' is reserved.")


def _check_counts(image: Image) -> None:
    """Glance's image_property_quota (os_glance_* not counted) and its database int range."""
    counted = [k for k in image.properties if not k.startswith(RESERVED_NAMESPACE)]
    if len(counted) > PROPERTY_QUOTA:
        raise glance_error(
            413,
            "The limit has been exceeded on the number of allowed image properties. "
            f"Attempted: {len(counted)}, Maximum: {PROPERTY_QUOTA}",
        )
    for name in ("min_disk", "min_ram"):
        if getattr(image, name) > MAX_DB_INT:
            raise glance_error(400, f"'{name}' value out of range, must not exceed {MAX_DB_INT}.")


def _set_attribute(image: Image, name: str, value: Any) -> Image:
    """Image attribute setters, with the checks of Glance's domain model."""
    if name in ("min_disk", "min_ram"):
        if value and value < 0:
            raise glance_error(
                400, f"Invalid value '{value}' for parameter '{name}': Cannot be a negative value"
            )
        number: dict[str, Any] = {name: int(value or 0)}
        return replace(image, **number)
    if name in ("disk_format", "container_format") and image.status not in ("queued", "importing"):
        raise glance_error(403, f"Attribute {name} can be only replaced for a queued image.")
    if name == "tags":
        return replace(image, tags=tuple(dict.fromkeys(value)))
    if name == "owner":
        return replace(image, owner=value or None)
    return replace(image, **{name: value})


# --- create ------------------------------------------------------------------------------


def create_image(call: Call, _: dict[str, str]) -> Response:
    body = _body(call)
    if not isinstance(body, dict):
        raise glance_error(400, "Request body must be a JSON object.")
    for key in DISALLOWED:
        if key in body:
            raise glance_error(403, f"Attribute '{key}' is read-only.")
    _check_schema(body)
    properties = dict(body)
    tags: list[str] = properties.pop("tags", [])
    base = {key: properties.pop(key) for key in BASE_PROPERTIES if key in properties}
    _check_property_names(properties)
    user = call.user
    owner = base.pop("owner", user.project_id)
    if not _is_project_member(call, owner):
        if owner != user.project_id:
            raise glance_error(
                403, detail=f"You are not permitted to create images owned by '{owner}'"
            )
        raise _not_authorized("add_image")
    _check_visibility(call, base.get("visibility"), owner)
    if len(tags) > TAG_QUOTA:
        raise glance_error(
            413,
            "The limit has been exceeded on the number of allowed image tags. "
            f"Attempted: {len(tags)}, Maximum: {TAG_QUOTA}",
        )
    for key in FACTORY_READONLY:
        if key in base:
            raise glance_error(403, f"Attribute '{key}' is read-only.")
    for key in FACTORY_RESERVED:
        if key in properties:
            raise glance_error(403, f"Attribute '{key}' is reserved.")
    t = now()
    image = Image(
        id=base.get("id") or str(uuid.uuid4()),
        name=base.get("name"),
        status="queued",
        visibility=base.get("visibility", "shared"),
        owner=owner or None,
        disk_format=None,
        container_format=None,
        size=None,
        min_disk=0,
        min_ram=0,
        checksum=None,
        os_hash_value=None,
        protected=bool(base.get("protected", False)),
        os_hidden=bool(base.get("os_hidden", False)),
        tags=tuple(dict.fromkeys(tags)),
        properties=properties,
        created_at=t,
        updated_at=t,
    )
    for name in ("min_disk", "min_ram", "disk_format", "container_format"):
        if name in base:
            image = _set_attribute(image, name, base[name])
    _check_counts(image)
    with call.runtime.store.write() as conn:
        try:
            conn.execute("INSERT INTO image_ids (id) VALUES (?)", (image.id,))
        except sqlite3.IntegrityError as exc:
            raise glance_error(409, f"Image ID {image.id} already exists!") from exc
        _insert(conn, image)
    headers = {
        "Location": f"{call.runtime.base_url}/image/v2/images/{image.id}",
        "OpenStack-image-import-methods": IMPORT_METHODS,
        "OpenStack-image-store-ids": STORE_IDS,
    }
    return Response(201, image.view(), headers)


def _insert(conn: sqlite3.Connection, image: Image) -> None:
    conn.execute(
        "INSERT INTO images (id, name, status, visibility, owner, disk_format,"
        " container_format, size, min_disk, min_ram, checksum, os_hash_value, properties,"
        " created_at, updated_at, protected, os_hidden, tags)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            image.id,
            image.name,
            image.status,
            image.visibility,
            image.owner,
            image.disk_format,
            image.container_format,
            image.size,
            image.min_disk,
            image.min_ram,
            image.checksum,
            image.os_hash_value,
            json.dumps(dict(image.properties)),
            image.created_at,
            image.updated_at,
            int(image.protected),
            int(image.os_hidden),
            json.dumps(list(image.tags)),
        ),
    )


# --- PATCH (JSON patch) ------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One JSON-patch operation on an image attribute or property."""

    op: str
    path: tuple[str, ...]
    value: Any
    draft: int

    @property
    def root(self) -> str:
        return self.path[0]


def _unsupported_media_type(content_type: str) -> ApiError:
    allowed = ", ".join(sorted(PATCH_TYPES))
    message = (
        f"The request media type {content_type} is not supported by this server.\n"
        f"<br /><br />\nImage PATCH expects Content-Type one of: {allowed}"
    )
    body = {"code": "415 Unsupported Media Type", "title": TITLES[415], "message": message}
    return ApiError(Response(415, body, {"Accept-Patch": allowed}))


def _decode_pointer(pointer: object) -> tuple[str, ...]:
    """A JSON pointer in the limited form Glance accepts, as its parts."""
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        raise glance_error(400, f'Pointer `{pointer}` does not start with "/".')
    if re.search(r"/\s*?/", pointer[1:]):
        raise glance_error(400, f'Pointer `{pointer}` contains adjacent "/".')
    if len(pointer) > 1 and pointer.endswith("/"):
        raise glance_error(400, f'Pointer `{pointer}` end with "/".')
    if pointer[1:].strip() == "/":
        raise glance_error(400, f"Pointer `{pointer}` does not contains valid token.")
    if re.search("~[^01]", pointer) or pointer.endswith("~"):
        raise glance_error(
            400, f'Pointer `{pointer}` contains "~" not part of a recognized escape sequence.'
        )
    return tuple(
        part.replace("~1", "/").replace("~0", "~").strip()
        for part in pointer.lstrip("/").split("/")
    )


def _operation(raw: Mapping[str, Any], draft: int) -> tuple[str, object]:
    """The op and the pointer of one change, in draft 10 (`op`, `path`) or draft 4 form."""
    available = ", ".join(OPERATIONS)
    if draft == 4:
        named = [key for key in OPERATIONS if key in raw]
        if len(named) > 1:
            raise glance_error(
                400,
                'Operation objects must contain only one member named "add", "remove", '
                'or "replace".',
            )
        if not named:
            raise glance_error(
                400,
                'Operation objects must contain exactly one member named "add", "remove", '
                'or "replace".',
            )
        return named[0], raw[named[0]]
    op = raw.get("op")
    if op is None:
        raise glance_error(
            400,
            f"Unable to find `op` in JSON Schema change. It must be one of the "
            f"following: {available}.",
        )
    if op not in OPERATIONS:
        raise glance_error(
            400, f"Invalid operation: `{op}`. It must be one of the following: {available}."
        )
    if "path" not in raw:
        raise glance_error(400, "Unable to find 'path' in JSON Schema change")
    return str(op), raw["path"]


def _parse_change(raw: object, draft: int) -> Change:
    """One operation checked as Glance's RequestDeserializer.update does, before any lookup."""
    if not isinstance(raw, dict):
        raise glance_error(400, "Operations must be JSON objects.")
    op, pointer = _operation(raw, draft)
    path = _decode_pointer(pointer)
    depth = {"add": 2, "remove": 2, "replace": 1}[op] if path[0] == "locations" else 1
    if len(path) != depth:
        raise glance_error(400, f"Invalid JSON pointer for this resource: '/{'/'.join(path)}'")
    if op != "remove" and "value" not in raw:
        raise glance_error(400, f'Operation "{op}" requires a member named "value".')
    change = Change(op, path, raw.get("value"), draft)
    root = change.root
    if root in PATCH_READONLY:
        raise glance_error(403, f"Attribute '{root}' is read-only.")
    if root in RESERVED or root.startswith(RESERVED_NAMESPACE):
        raise glance_error(403, f"Attribute '{root}' is reserved.")
    if op != "remove":
        if len(path) == 1:
            _check_schema({root: change.value})
        elif root == "locations":
            _check_schema({root: [change.value]})
    return change


def _may_modify(call: Call, image: Image, name: str, value: object = None) -> None:
    """Glance's ImageAPIPolicy.update_property: visibility's own rule, then modify_image."""
    if name == "visibility":
        _check_visibility(call, value, image.owner)
    if not _is_project_member(call, image.owner):
        raise _not_authorized("modify_image")


def _apply(call: Call, image: Image, change: Change) -> Image:
    """One operation as ImagesController._do_add / _do_replace / _do_remove apply it."""
    root, value = change.root, change.value
    if root == "locations":
        if change.op == "replace" and not value:
            raise glance_error(403, detail="Cannot set locations to empty list.")
        raise glance_error(403, detail="The local cloud keeps no image data or locations.")
    if change.op == "replace" and root == "owner" and not call.user.is_admin:
        raise glance_error(403, detail="Owner can't be updated by non admin.")
    _may_modify(call, image, root, value)
    if change.op == "remove":
        if root in WRITABLE:
            raise glance_error(403, detail=f"Property {root} may not be removed.")
        if root not in image.properties:
            raise glance_error(409, detail=f"Property {root} does not exist.")
        return replace(image, properties={k: v for k, v in image.properties.items() if k != root})
    exists = root in WRITABLE or root in image.properties
    if change.op == "replace" and not exists:
        raise glance_error(409, detail=f"Property {root} does not exist.")
    if change.op == "add" and change.draft == 4 and exists:
        raise glance_error(409, detail=f"Property {root} already present.")
    if root in WRITABLE:
        return _set_attribute(image, root, value)
    return replace(image, properties={**image.properties, root: value})


def update_image(call: Call, params: dict[str, str]) -> Response:
    content_type = call.request.header("Content-Type")
    draft = PATCH_TYPES.get(content_type.split(";")[0].strip().lower())
    if draft is None:
        raise _unsupported_media_type(content_type)
    body = _body(call)
    if not isinstance(body, list):
        raise glance_error(400, "Request body must be a JSON array of operation objects.")
    changes = [_parse_change(raw, draft) for raw in body]
    with call.runtime.store.write() as conn:
        image = _find(conn, call, params["id"])
        if image is None:
            raise glance_error(404, f"No image found with ID {params['id']}")
        for change in changes:
            image = _apply(call, image, change)
        if changes:
            _check_counts(image)
            image = replace(image, updated_at=now())
            _save(conn, image)
    return Response(200, image.view())


def _save(conn: sqlite3.Connection, image: Image) -> None:
    conn.execute(
        "UPDATE images SET name = ?, visibility = ?, owner = ?, disk_format = ?,"
        " container_format = ?, min_disk = ?, min_ram = ?, properties = ?, updated_at = ?,"
        " protected = ?, os_hidden = ?, tags = ? WHERE id = ?",
        (
            image.name,
            image.visibility,
            image.owner,
            image.disk_format,
            image.container_format,
            image.min_disk,
            image.min_ram,
            json.dumps(dict(image.properties)),
            image.updated_at,
            int(image.protected),
            int(image.os_hidden),
            json.dumps(list(image.tags)),
            image.id,
        ),
    )


# --- delete ------------------------------------------------------------------------------


def delete_image(call: Call, params: dict[str, str]) -> Response:
    """204; the id stays in `image_ids`, so it can never be created again."""
    with call.runtime.store.write() as conn:
        image = _find(conn, call, params["id"])
        if image is None:
            raise glance_error(404, f"Failed to find image {params['id']} to delete")
        if not _is_project_member(call, image.owner):
            raise _not_authorized("delete_image")
        if image.protected:
            raise glance_error(403, f"Image {image.id} is protected and cannot be deleted.")
        conn.execute("DELETE FROM images WHERE id = ?", (image.id,))
        conn.execute("UPDATE image_ids SET deleted_at = ? WHERE id = ?", (now(), image.id))
    return Response(204)


# --- list and show -----------------------------------------------------------------------


SORT_KEYS = (
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "id",
    "created_at",
    "updated_at",
)
OPERATOR_FILTERS = ("name", "id", "status", "container_format", "disk_format")
RANGE_COLUMNS = ("size", "min_disk", "min_ram")
COLUMN_FILTERS = ("owner", "checksum", "os_hash_value", "size", "min_disk", "min_ram")
TIME_OPERATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=", "neq": "!="}
ORDER = ("CAST(created_at AS INTEGER)", "id")
"""Glance's default order: created_at (a MySQL DATETIME, whole seconds), then id, both
descending; so images made in the same second come in the order of their ids."""
NOT_FILTERS = ("limit", "marker", "member_status", "tag", "sort", "sort_key", "sort_dir")


def _last_values(query: Mapping[str, list[str]]) -> dict[str, str]:
    """`dict(request.params)` in WebOb: one value per key, the last one."""
    return {key: values[-1] for key, values in query.items() if values}


def _split_operator(expression: str) -> tuple[str, str]:
    """Glance's split_filter_op: `op:value`, or `eq` (an ISO 8601 time keeps its colons)."""
    left, sep, right = expression.partition(":")
    if not sep:
        return "eq", left
    try:
        parse_iso(expression)
    except ValueError:
        return left, right
    return "eq", expression


def _split_in_values(value: str) -> list[str]:
    """Glance's split_filter_value_for_quotes: comma separated, double quotes allowed."""
    open_quote = True
    for i, char in enumerate(value):
        if char != '"' or (i and value[i - 1] == "\\"):
            continue
        if open_quote and i and value[i - 1] != ",":
            raise glance_error(
                400,
                f"Invalid filter value {value}. There is no comma before opening quotation mark.",
            )
        if not open_quote and i + 1 != len(value) and value[i + 1] != ",":
            raise glance_error(
                400,
                f"Invalid filter value {value}. There is no comma after closing quotation mark.",
            )
        open_quote = not open_quote
    if not open_quote:
        raise glance_error(400, f"Invalid filter value {value}. The quote is not closed.")
    found = re.findall(r'"([^\"\\]*(?:\\.[^\"\\]*)*)",?|([^,]+),?|,', value)
    return [quoted or plain for quoted, plain in found]


def _check_sorting(query: Mapping[str, list[str]]) -> None:
    """Glance's _get_sorting_params checks. The local cloud always lists newest first."""
    keys: list[str] = []
    directions: list[str] = []
    if "sort" in query:
        if "sort_key" in query or "sort_dir" in query:
            raise glance_error(400, "Old and new sorting syntax cannot be combined")
        for part in query["sort"][0].strip().split(","):
            key, _, direction = part.partition(":")
            keys.append(key.strip())
            directions.append(direction.strip() or "desc")
    else:
        keys = [key.strip() for key in query.get("sort_key", [])]
        directions = [direction.strip() for direction in query.get("sort_dir", [])]
    for key in keys:
        if key not in SORT_KEYS:
            raise glance_error(
                400,
                f"Invalid sort key: {key}. It must be one of the following: "
                f"{', '.join(SORT_KEYS)}.",
            )
    for direction in directions:
        if direction not in ("asc", "desc"):
            raise glance_error(400, f"Invalid sort direction: {direction}")
    if "sort" not in query and len(directions) > 1 and len(directions) != len(keys):
        raise glance_error(400, "Number of sort dirs does not match the number of sort keys")


def _check_paging(query: Mapping[str, list[str]]) -> int:
    """The page size, after Glance's checks of limit, member_status and sorting."""
    params = _last_values(query)
    member_status = params.get("member_status", "accepted")
    if member_status not in ("pending", "accepted", "rejected", "all"):
        raise glance_error(400, f"Invalid status: {member_status}")
    _check_sorting(query)
    if "limit" not in params:
        return DEFAULT_LIMIT
    try:
        limit = int(params["limit"])
    except ValueError as exc:
        raise glance_error(400, "limit param must be an integer") from exc
    if limit < 0:
        raise glance_error(400, "limit param must be positive")
    return min(limit, MAX_LIMIT)


def _boolean_filter(params: Mapping[str, str], name: str, default: str | None) -> bool | None:
    value = params.get(name, default)
    if value is None:
        return None
    value = value.lower() if name == "os_hidden" else value
    if value not in ("true", "false"):
        raise glance_error(
            400,
            f"Invalid value '{value}' for '{name}' filter. Valid values are 'true' or 'false'.",
        )
    return value == "true"


def _filters(call: Call, query: Mapping[str, list[str]]) -> tuple[list[str], list[Any]]:
    """SQL conditions for Glance's list filters (glance/db/sqlalchemy/api.py)."""
    where, args = _visible(call)
    clauses, params = [where], _last_values(query)
    visibility = params.get("visibility")
    if visibility is not None and visibility != "":
        if visibility not in ("community", "public", "private", "shared", "all"):
            raise glance_error(400, f"Invalid visibility value: {visibility}")
        if visibility != "all":
            clauses.append("visibility = ?")
            args.append(visibility)
    else:  # community images are listed only when asked for, or when they are one's own
        clauses.append("(owner = ? OR visibility != 'community')")
        args.append(call.user.project_id)
    if params.get("changes-since"):
        raise glance_error(400, 'The "changes-since" filter is no longer available on v2.')
    for name, default in (("os_hidden", "false"), ("protected", None)):
        wanted = _boolean_filter(params, name, default)
        if wanted is not None:
            clauses.append(f"{name} = ?")
            args.append(int(wanted))
    for tag in query.get("tag", []):
        clauses.append("EXISTS (SELECT 1 FROM json_each(images.tags) WHERE value = ?)")
        args.append(tag.strip())
    handled = {*NOT_FILTERS, "visibility", "changes-since", "os_hidden", "protected"}
    for key, value in params.items():
        if key in handled:
            continue
        clause, values = _filter(key, value)
        clauses.append(clause)
        args.extend(values)
    return clauses, args


def _filter(key: str, value: str) -> tuple[str, list[Any]]:
    """One filter: an operator on a column, a range, a time, a column, or a property."""
    column = key[:-4]
    if key.endswith(("_min", "_max")) and column in RANGE_COLUMNS:
        try:
            bound = int(value)
        except ValueError as exc:
            raise glance_error(
                400, "Unable to filter on a range with a non-numeric value."
            ) from exc
        return f"{column} {'>=' if key.endswith('_min') else '<='} ?", [bound]
    if key in ("created_at", "updated_at"):
        op, text = _split_operator(value)
        try:
            moment = parse_iso(text)
        except ValueError as exc:
            raise glance_error(
                400, f'Bad "{key}" query filter format. Use ISO 8601 DateTime notation.'
            ) from exc
        if op not in TIME_OPERATORS:
            raise glance_error(400, "Unable to filter on a unknown operator.")
        return f"CAST({key} AS INTEGER) {TIME_OPERATORS[op]} ?", [int(moment)]
    if key in OPERATOR_FILTERS:
        op, text = _split_operator(value)
        if op == "in":
            options = _split_in_values(text)
            return f"{key} IN ({','.join('?' * len(options))})", options
        if op != "eq":
            raise glance_error(400, f"Unable to filter by unknown operator '{op}'.")
        return f"{key} = ?", [text]
    if key in COLUMN_FILTERS:
        return f"{key} = ?", [value]
    return "EXISTS (SELECT 1 FROM json_each(images.properties) WHERE key = ? AND value = ?)", [
        key,
        value,
    ]


def list_images(call: Call, _: dict[str, str]) -> Response:
    query = call.request.query
    limit = _check_paging(query)
    clauses, args = _filters(call, query)
    marker = call.request.param("marker")
    with call.runtime.store.read() as conn:
        if marker is not None:
            found = conn.execute("SELECT * FROM images WHERE id = ?", (marker,)).fetchone()
            if found is None:
                raise glance_error(400, f"No image found with ID {marker}")
            if _find(conn, call, marker) is None:
                raise glance_error(403, f"Forbidding request, image {marker} not visible")
            clauses.append(f"({ORDER[0]}, id) < (?, ?)")
            args.extend((int(found["created_at"]), found["id"]))
        rows = conn.execute(
            f"SELECT * FROM images WHERE {' AND '.join(clauses)}"
            f" ORDER BY {ORDER[0]} DESC, {ORDER[1]} DESC LIMIT ?",
            [*args, limit],
        ).fetchall()
    links = {k: v for k, v in _last_values(query).items() if k != "marker"}
    body: dict[str, Any] = {
        "images": [image_view(r) for r in rows],
        "first": "/v2/images" + (f"?{urlencode(links)}" if links else ""),
        "schema": "/v2/schemas/images",
    }
    if rows and len(rows) == limit:
        body["next"] = f"/v2/images?{urlencode({**links, 'marker': rows[-1]['id']})}"
    return Response(200, body)


def show_image(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        image = _find(conn, call, params["id"])
    if image is None:
        raise glance_error(404, f"No image found with ID {params['id']}")
    return Response(200, image.view())


def routes() -> Router[Call]:
    router: Router[Call] = Router()
    router.add("GET", "/image/?", versions)
    router.add("GET", "/image/versions", versions_ok)
    router.add("GET", "/image/v2/images", list_images)
    router.add("POST", "/image/v2/images", create_image)
    router.add("GET", "/image/v2/images/(?P<id>[^/]+)", show_image)
    router.add("PATCH", "/image/v2/images/(?P<id>[^/]+)", update_image)
    router.add("DELETE", "/image/v2/images/(?P<id>[^/]+)", delete_image)
    return router
