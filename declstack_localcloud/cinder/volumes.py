"""Volumes: create, list (filters, paging), show, update, delete (cinder/api/v3/volumes.py)."""

from __future__ import annotations

import ast
import json
import sqlite3
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ..context import Principal, Runtime
from ..formats import new_id, now
from ..http import Response
from .common import (
    AVAILABILITY_ZONE,
    MAX_LIMIT,
    CinderCall,
    cinder_error,
    invalid,
    load_volume,
    not_found_volume,
    quota_error,
    reject_extra,
    require_object,
    validate_metadata,
    validate_size,
    validate_text,
)
from .quotas import over_quota, usage
from .states import DELETABLE, Phases, phases_json, set_course, status_at, step_seconds
from .types import VolumeType, default_type, type_by_name_or_id
from .views import load_attachments, volume_detail, volume_summary

GB = 1024**3
CREATE_KEYS = {
    "name",
    "description",
    "display_name",
    "display_description",
    "volume_type",
    "metadata",
    "snapshot_id",
    "source_volid",
    "consistencygroup_id",
    "size",
    "availability_zone",
    "multiattach",
    "image_id",
    "imageRef",
}
UPDATE_KEYS = {"name", "description", "display_name", "display_description", "metadata"}
VOLUME_FILTERS = (
    "name",
    "status",
    "metadata",
    "bootable",
    "migration_status",
    "availability_zone",
    "group_id",
    "size",
    "created_at",
    "updated_at",
    "consumes_quota",
)
"""Cinder's resource_filters.json for volumes: what a non-admin may filter on from 3.31."""
PAGING_KEYS = ("limit", "marker", "offset", "sort", "sort_key", "sort_dir", "with_count")
TRUE_STRINGS = ("1", "t", "true", "on", "y", "yes")
FALSE_STRINGS = ("0", "f", "false", "off", "n", "no")
MULTIATTACH_REMOVED = (
    "multiattach parameter has been removed. The default behavior is to use multiattach"
    " enabled volume types. Contact your administrator to create a multiattach enabled volume"
    " type and use it to create multiattach volumes."
)


@dataclass(frozen=True)
class NewVolume:
    """What a new volume row holds besides its course of statuses."""

    project_id: str
    user_id: str
    size: int
    volume_type: VolumeType
    name: str | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None
    image: sqlite3.Row | None = None


def image_metadata(image: sqlite3.Row) -> dict[str, str]:
    """volume_image_metadata: Glance's attributes and properties, as strings."""
    meta = {
        "image_id": image["id"],
        "image_name": image["name"] or "",
        "checksum": image["checksum"] or "",
        "container_format": image["container_format"] or "",
        "disk_format": image["disk_format"] or "",
        "min_disk": str(image["min_disk"]),
        "min_ram": str(image["min_ram"]),
        "size": str(image["size"] or 0),
    }
    meta.update({k: str(v) for k, v in json.loads(image["properties"]).items()})
    return meta


def insert_volume(
    conn: sqlite3.Connection, new: NewVolume, phases: Phases, final: str, at: float
) -> str:
    """Add a volume that passes through `phases` from `at` and then stays `final`."""
    volume_id = new_id()
    conn.execute(
        "INSERT INTO volumes (id, project_id, user_id, name, description, size, volume_type_id,"
        " availability_zone, metadata, image_id, image_metadata, created_at, updated_at,"
        " status, phases) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
        (
            volume_id,
            new.project_id,
            new.user_id,
            new.name,
            new.description,
            new.size,
            new.volume_type.id,
            AVAILABILITY_ZONE,
            json.dumps(new.metadata or {}),
            None if new.image is None else new.image["id"],
            None if new.image is None else json.dumps(image_metadata(new.image)),
            at,
            final,
            phases_json(phases),
        ),
    )
    return volume_id


def creation_phases(runtime: Runtime, at: float, from_image: bool) -> Phases:
    """creating, then (from an image) downloading, then available."""
    step = step_seconds(runtime)
    phases: Phases = [("creating", at + step)]
    if from_image:
        phases.append(("downloading", at + 2 * step))
    return phases


def find_image(conn: sqlite3.Connection, principal: Principal, ref: str) -> sqlite3.Row | None:
    """An image the caller can see, by id or else by name (VolumeController._image_uuid_from_ref);
    several of that name is Cinder's 409."""
    where = "1 = 1"
    args: list[Any] = []
    if not principal.is_admin:
        where = "(owner IS NULL OR visibility IN ('public', 'community') OR owner = ?)"
        args = [principal.project_id]
    image_uuid = ref.split("/")[-1]
    row: sqlite3.Row | None = conn.execute(
        f"SELECT * FROM images WHERE id = ? AND {where}", [image_uuid, *args]
    ).fetchone()
    if row is not None:
        return row
    named = conn.execute(
        f"SELECT * FROM images WHERE name = ? AND {where}", [ref, *args]
    ).fetchall()
    if len(named) > 1:
        raise cinder_error(
            409, f"Multiple matches found for '{ref}', use an ID to be more specific."
        )
    return named[0] if named else None


def check_image(image: sqlite3.Row, size: int) -> None:
    """volume_utils.check_image_metadata: active, fits in the volume, meets min_disk."""
    if image["status"] != "active":
        raise cinder_error(400, f"Invalid input received: Image {image['id']} is not active.")
    image_gb = (int(image["size"] or 0) + GB - 1) // GB
    if image_gb > size:
        raise cinder_error(
            400,
            f"Invalid input received: Size of specified image {image_gb}GB is larger than volume"
            f" size {size}GB.",
        )
    if size < int(image["min_disk"]):
        raise cinder_error(
            400,
            f"Invalid input received: Volume size {size}GB cannot be smaller than the image"
            f" minDisk size {image['min_disk']}GB.",
        )


def create_volume(cc: CinderCall, _: dict[str, str]) -> Response:
    data = cc.body()
    volume = require_object(data, "volume")
    reject_extra(data, {"volume", "OS-SCH-HNT:scheduler_hints"})
    allowed = set(CREATE_KEYS)
    if cc.at_least(3, 13):
        allowed.add("group_id")
    if cc.at_least(3, 47):
        allowed.add("backup_id")
    if cc.at_least(3, 53):
        reject_extra(volume, allowed, "volume")
    name = validate_text("name", volume.get("name", volume.get("display_name")))
    description = validate_text(
        "description", volume.get("description", volume.get("display_description")), 65535
    )
    metadata = validate_metadata("metadata", volume.get("metadata"), allow_null=True)
    size = validate_size("size", volume.get("size"), allow_null=True)
    zone = volume.get("availability_zone")
    if volume.get("multiattach") in (True, "true", "True", "1", 1):
        raise cinder_error(400, MULTIATTACH_REMOVED)
    principal = cc.call.user
    runtime = cc.call.runtime
    type_ref = volume.get("volume_type")
    if type_ref is not None and not isinstance(type_ref, str):
        raise invalid("volume_type", type_ref, f"{type_ref!r} is not of type 'string', 'null'")
    volume_type = type_by_name_or_id(type_ref) if type_ref else default_type()
    if volume.get("snapshot_id"):
        raise cinder_error(404, f"Snapshot {volume['snapshot_id']} could not be found.")
    for key in ("consistencygroup_id", "group_id"):
        if volume.get(key):
            raise cinder_error(404, f"Group {volume[key]} could not be found.")
    if volume.get("backup_id"):
        raise cinder_error(404, f"Backup {volume['backup_id']} could not be found.")
    image_ref = volume.get("imageRef", volume.get("image_id"))
    with runtime.store.write() as conn:
        t = now()
        source = None
        if volume.get("source_volid"):
            source = load_volume(cc, conn, str(volume["source_volid"]))
            if size is None:
                size = int(source["size"])
        image = None
        if image_ref is not None:
            image = find_image(conn, principal, str(image_ref))
            if image is None:
                raise cinder_error(
                    400, "Invalid image identifier or unable to access requested image."
                )
        if size is None:
            # the flow's size check meets None and fails with a TypeError: webob's bare 400
            raise cinder_error(
                400,
                "The server could not comply with the request since it is either malformed or"
                " otherwise incorrect.",
            )
        if source is not None:
            _check_source(source, size, t)
        if image is not None:
            check_image(image, size)
        if zone is not None and zone != AVAILABILITY_ZONE:
            raise cinder_error(400, f"Availability zone '{zone}' is invalid.")
        problem = over_quota(usage(conn, principal.project_id, t), runtime.faults.faults, 1, size)
        if problem is not None:
            raise quota_error(problem)
        if source is not None and source["image_id"] is not None:
            image = conn.execute(
                "SELECT * FROM images WHERE id = ?", (source["image_id"],)
            ).fetchone()
        new = NewVolume(
            principal.project_id,
            principal.user_id,
            size,
            volume_type,
            name,
            description,
            metadata,
            image,
        )
        phases = creation_phases(runtime, t, from_image=image is not None and source is None)
        volume_id = insert_volume(conn, new, phases, "available", t)
        row = load_volume(cc, conn, volume_id)
        body = volume_detail(cc, conn, row, [], t, extended=False, fresh=True)
    return Response(202, {"volume": body})


def _check_source(source: sqlite3.Row, size: int, at: float) -> None:
    """A clone: its source must be settled, and the clone at least as big (create_volume.py)."""
    status = status_at(source, at)
    if status not in ("available", "in-use"):
        raise cinder_error(
            400,
            "Invalid volume: Originating volume status must be one of available, in-use values",
        )
    if size < int(source["size"]):
        raise cinder_error(
            400,
            f"Invalid input received: Volume size '{size}'GB cannot be smaller than original"
            f" volume size  {source['size']}GB. They must be >= original volume size.",
        )


# ---- list ---------------------------------------------------------------------------------


def _bool_param(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text in TRUE_STRINGS:
        return True
    if text in FALSE_STRINGS:
        return False
    raise cinder_error(400, f"Invalid input received: '{name} = {value}'")


def _filters(cc: CinderCall) -> tuple[dict[str, str], bool]:
    """The list's filters after Cinder's checks, and whether all projects are listed."""
    query = {k: v[-1] for k, v in cc.call.request.query.items() if v}
    filters = {k: v for k, v in query.items() if k not in PAGING_KEYS}
    admin = cc.call.user.is_admin
    all_tenants = False
    if "all_tenants" in filters:
        wanted = _bool_param("all_tenants", filters.pop("all_tenants"))
        all_tenants = wanted and admin
    if not admin:
        if cc.at_least(3, 31):
            like = cc.at_least(3, 34)
            bad = [
                k
                for k in filters
                if k not in VOLUME_FILTERS
                and not (like and k.endswith("~") and k[:-1] in VOLUME_FILTERS)
            ]
            if bad:
                raise cinder_error(
                    400, f"Invalid filters {','.join(bad)} are found in query options."
                )
        else:
            filters = {k: v for k, v in filters.items() if k in VOLUME_FILTERS}
    return filters, all_tenants


def _matches(row: sqlite3.Row, filters: dict[str, str], at: float, strict: bool) -> bool:
    """Cinder's exact-match filters (values read as Python literals), `key~` as a substring."""
    for key, raw in filters.items():
        if key.endswith("~"):
            column = {"name": "name", "description": "description"}.get(key[:-1])
            value = None if column is None else row[column]
            if value is None or raw.lower() not in str(value).lower():
                return False
            continue
        if key == "name":
            if row["name"] != raw:
                return False
        elif key == "status":
            if status_at(row, at) != raw:
                return False
        elif key == "metadata":
            try:
                wanted = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                return False
            if not isinstance(wanted, dict):
                return False
            have = json.loads(row["metadata"])
            if any(have.get(k) != v for k, v in wanted.items()):
                return False
        elif key == "bootable":
            if strict:
                wanted_boot = _bool_param("bootable", raw)
            else:
                wanted_boot = raw not in ("False", "false", "FALSE")
            booted = row["image_id"] is not None and status_at(row, at) not in (
                "creating",
                "downloading",
            )
            if booted != wanted_boot:
                return False
        elif key == "size":
            if str(row["size"]) != raw.strip():
                return False
        elif key == "availability_zone":
            if row["availability_zone"] != raw:
                return False
        elif key in ("group_id", "migration_status"):
            if raw not in ("None", ""):
                return False
        elif key == "consumes_quota":
            if not _bool_param(key, raw):
                return False
        elif key in ("created_at", "updated_at"):
            continue
        else:
            # an admin's filter on something else: Cinder's query matches nothing
            column = {"project_id": "project_id", "user_id": "user_id"}.get(key)
            if column is None or row[column] != raw:
                return False
    return True


def _int_param(cc: CinderCall, name: str, default: int) -> int:
    text = cc.call.request.param(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError as exc:
        raise cinder_error(400, f"{name} param must be an integer") from exc
    if value < 0:
        raise cinder_error(400, f"{name} param must be positive")
    return value


def list_volumes(cc: CinderCall, detail: bool) -> Response:
    req = cc.call.request
    limit = min(_int_param(cc, "limit", MAX_LIMIT), MAX_LIMIT)
    offset = _int_param(cc, "offset", 0)
    filters, all_tenants = _filters(cc)
    strict = cc.at_least(3, 2)
    with_count = False
    if cc.at_least(3, 45) and req.param("with_count") is not None:
        with_count = _bool_param("with_count", req.param("with_count") or "")
    at = now()
    with cc.call.runtime.store.read() as conn:
        if all_tenants:
            rows = conn.execute("SELECT * FROM volumes ORDER BY seq DESC").fetchall()
        else:
            rows = conn.execute(
                "SELECT * FROM volumes WHERE project_id = ? ORDER BY seq DESC",
                (cc.call.user.project_id,),
            ).fetchall()
        live = [r for r in rows if r["deleted_at"] is None or r["deleted_at"] > at]
        chosen = [r for r in live if _matches(r, filters, at, strict)]
        marker = req.param("marker")
        if marker:
            ids = [r["id"] for r in live]
            if marker not in ids:
                raise not_found_volume(marker)
            position = ids.index(marker)
            chosen = [r for r in chosen if ids.index(r["id"]) > position]
        total = len(chosen)
        page = chosen[offset : offset + limit]
        if detail:
            attachments = load_attachments(conn, [r["id"] for r in page])
            volumes = [volume_detail(cc, conn, r, attachments.get(r["id"], []), at) for r in page]
        else:
            volumes = [volume_summary(cc, r) for r in page]
    body: dict[str, Any] = {"volumes": volumes}
    if page and (len(page) == limit and (req.param("limit") is not None or limit == MAX_LIMIT)):
        query = [(k, v) for k, values in req.query.items() for v in values if k != "marker"]
        query.append(("marker", page[-1]["id"]))
        path = "volumes/detail" if detail else "volumes"
        body["volumes_links"] = [{"rel": "next", "href": f"{cc.base}/{path}?{urlencode(query)}"}]
    if with_count:
        body["count"] = total
    return Response(200, body)


def index(cc: CinderCall, _: dict[str, str]) -> Response:
    return list_volumes(cc, False)


def detail(cc: CinderCall, _: dict[str, str]) -> Response:
    return list_volumes(cc, True)


# ---- one volume ---------------------------------------------------------------------------


def show_volume(cc: CinderCall, params: dict[str, str]) -> Response:
    at = now()
    with cc.call.runtime.store.read() as conn:
        row = load_volume(cc, conn, params["id"])
        attachments = load_attachments(conn, [row["id"]]).get(row["id"], [])
        body = volume_detail(cc, conn, row, attachments, at)
    return Response(200, {"volume": body})


def update_volume(cc: CinderCall, params: dict[str, str]) -> Response:
    data = cc.body()
    volume = require_object(data, "volume")
    reject_extra(data, {"volume"})
    reject_extra(volume, UPDATE_KEYS, "volume")
    if cc.at_least(3, 53) and not volume:
        raise invalid("volume", volume, "{} is not valid under any of the given schemas")
    changes: dict[str, Any] = {}
    for field, column, limit in (
        ("name", "name", 255),
        ("display_name", "name", 255),
        ("description", "description", 65535),
        ("display_description", "description", 65535),
    ):
        if field in volume:
            changes[column] = validate_text(field, volume[field], limit)
    if "metadata" in volume:
        changes["metadata"] = json.dumps(validate_metadata("metadata", volume["metadata"]))
    with cc.call.runtime.store.write() as conn:
        row = load_volume(cc, conn, params["id"])
        t = now()
        for column, value in changes.items():
            conn.execute(f"UPDATE volumes SET {column} = ? WHERE id = ?", (value, row["id"]))
        conn.execute("UPDATE volumes SET updated_at = ? WHERE id = ?", (t, row["id"]))
        row = load_volume(cc, conn, params["id"])
        attachments = load_attachments(conn, [row["id"]]).get(row["id"], [])
        body = volume_detail(cc, conn, row, attachments, t, extended=False)
    return Response(200, {"volume": body})


DELETE_REFUSED = (
    "Invalid volume: Volume status must be available or error or error_restoring or"
    " error_extending or error_managing and must not be migrating, attached, belong to a group,"
    " have snapshots, awaiting a transfer, or be disassociated from snapshots after volume"
    " transfer."
)


def delete_volume(cc: CinderCall, params: dict[str, str]) -> Response:
    """202, then `deleting` until gone; refused (400) unless available or in an error state
    (so never while attached, attaching or detaching). `force` (3.23, admins) skips that."""
    force = False
    if cc.at_least(3, 23) and cc.call.request.param("force") is not None:
        force = _bool_param("force", cc.call.request.param("force") or "")
    if force and not cc.call.user.is_admin:
        raise cinder_error(403, "Policy doesn't allow volume:force_delete to be performed.")
    runtime = cc.call.runtime
    with runtime.store.write() as conn:
        row = load_volume(cc, conn, params["id"])
        t = now()
        attached = conn.execute(
            "SELECT 1 FROM volume_attachments WHERE volume_id = ?"
            " AND (detached_at IS NULL OR detached_at > ?)",
            (row["id"], t),
        ).fetchone()
        if not force and (status_at(row, t) not in DELETABLE or attached is not None):
            raise cinder_error(400, DELETE_REFUSED)
        gone = t + runtime.settings.delete_seconds
        set_course(conn, row["id"], [("deleting", gone)], "deleting", t)
        conn.execute("UPDATE volumes SET deleted_at = ? WHERE id = ?", (gone, row["id"]))
    return Response(202)
