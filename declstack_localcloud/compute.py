"""Nova v2.1 subset: microversions, servers and their sub-resources, flavors, key pairs, limits."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from . import keys
from .context import Call
from .formats import iso_micro, iso_seconds, new_id, now, parse_iso
from .http import ApiError, Response, Router
from .lifecycle import ServerState, state_of
from .network import allocate_port, reap, visible_networks
from .seed import AVAILABILITY_ZONE, ensure_default_security_group

MIN_VERSION = (2, 1)
MAX_VERSION = (2, 104)
MAX_LIMIT = 1000
MAX_TAGS = 50
MAX_TAG_LENGTH = 60
MAX_METADATA_ITEMS = 128
MAX_USER_DATA = 65535
METADATA_KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."
FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}
SERVER_KEYS = {
    "name",
    "imageRef",
    "flavorRef",
    "networks",
    "key_name",
    "security_groups",
    "metadata",
    "user_data",
    "availability_zone",
    "min_count",
    "max_count",
    "return_reservation_id",
    "config_drive",
    "adminPass",
    "accessIPv4",
    "accessIPv6",
    "block_device_mapping",
    "block_device_mapping_v2",
    "OS-DCF:diskConfig",
    "personality",
}


def version_text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def nova_error(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> ApiError:
    """An error in Nova's shape: {"itemNotFound": {"code": 404, "message": ...}}."""
    name = FAULT_NAMES.get(status, "computeFault")
    return ApiError(
        Response(status, {name: {"code": status, "message": message, **extra}}, headers or {})
    )


def invalid(field: str, value: Any, reason: str) -> ApiError:
    """Nova's JSON-schema 400: "Invalid input for field/attribute X. Value: V. reason"."""
    return nova_error(400, f"Invalid input for field/attribute {field}. Value: {value}. {reason}")


def over_limit(status: int, retry_after: int) -> ApiError:
    message = (
        "This request was rate-limited."
        if status == 429
        else "Over limit: too many requests, retry later."
    )
    return nova_error(
        status, message, {"Retry-After": str(retry_after)}, retryAfter=str(retry_after)
    )


def parse_version(call: Call) -> tuple[int, int]:
    """Nova's microversion negotiation from either header; 'latest' means the maximum."""
    raw = ""
    for part in call.request.header("OpenStack-API-Version").split(","):
        service, _, value = part.strip().partition(" ")
        if service.lower() == "compute":
            raw = value.strip()
    if not raw:
        raw = call.request.header("X-OpenStack-Nova-API-Version").strip()
    if not raw:
        return MIN_VERSION
    if raw.lower() == "latest":
        return MAX_VERSION
    found = re.fullmatch(r"(\d+)\.(\d+)", raw)
    if found is None:
        raise nova_error(
            400,
            f"API Version String {raw} is of invalid format. Must be of format MajorNum.MinorNum.",
        )
    version = (int(found.group(1)), int(found.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise nova_error(
            406,
            f"Version {raw} is not supported by the API. Minimum is "
            f"{version_text(MIN_VERSION)} and maximum is {version_text(MAX_VERSION)}.",
        )
    return version


@dataclass(frozen=True)
class NovaCall:
    """A compute request with its negotiated microversion."""

    call: Call
    version: tuple[int, int]

    def at_least(self, major: int, minor: int) -> bool:
        return self.version >= (major, minor)

    @property
    def url(self) -> str:
        return f"{self.call.runtime.base_url}/compute"

    def body(self, key: str) -> dict[str, Any]:
        try:
            data = self.call.request.json()
        except ValueError as exc:
            raise nova_error(400, "Malformed request body") from exc
        if not isinstance(data, dict) or not isinstance(data.get(key), dict):
            raise invalid(
                key,
                data,
                f"'{key}' is a required property",
            )
        value: dict[str, Any] = data[key]
        return value


def microversion_headers(version: tuple[int, int]) -> dict[str, str]:
    text = version_text(version)
    return {
        "OpenStack-API-Version": f"compute {text}",
        "X-OpenStack-Nova-API-Version": text,
        "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
    }


def _version_doc(base: str) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": version_text(MAX_VERSION),
        "min_version": version_text(MIN_VERSION),
        "updated": "2013-07-23T11:33:21Z",
        "links": [
            {"rel": "self", "href": f"{base}/compute/v2.1/"},
            {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
        ],
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ],
    }


def versions(call: Call, _: dict[str, str]) -> Response:
    base = call.runtime.base_url
    v20 = {
        "id": "v2.0",
        "status": "DEPRECATED",
        "version": "",
        "min_version": "",
        "updated": "2025-07-04T12:00:00Z",
        "links": [{"rel": "self", "href": f"{base}/compute/v2/"}],
    }
    v21 = {k: v for k, v in _version_doc(base).items() if k != "media-types"}
    v21["links"] = [{"rel": "self", "href": f"{base}/compute/v2.1/"}]
    return Response(200, {"versions": [v20, v21]})


def version_v21(call: Call, _: dict[str, str]) -> Response:
    return Response(200, {"version": _version_doc(call.runtime.base_url)})


# ---- lookups ---------------------------------------------------------------------------------


def _ref_id(ref: Any) -> str:
    """imageRef / flavorRef may be a bare id or a URL ending in it."""
    return str(ref).rstrip("/").rsplit("/", 1)[-1]


def _load_server(nc: NovaCall, conn: sqlite3.Connection, server_id: str) -> sqlite3.Row:
    """The caller's server if it exists and is not fully deleted, else Nova's 404."""
    principal = nc.call.user
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM servers WHERE id = ?", (server_id,)
    ).fetchone()
    if (
        row is None
        or (row["project_id"] != principal.project_id and not principal.is_admin)
        or (row["deleted_at"] is not None and row["deleted_at"] <= now())
    ):
        raise nova_error(404, f"Instance {server_id} could not be found.")
    return row


def _require_state(
    row: sqlite3.Row, action: str, vm_states: Iterable[str], allow_task: bool = False
) -> ServerState:
    """Nova's check_instance_state: 409 when the vm_state or a running task forbids `action`."""
    state = state_of(row, now())
    if state.vm_state not in vm_states:
        raise nova_error(
            409,
            f"Cannot '{action}' instance {row['id']} while it is in vm_state {state.vm_state}",
        )
    if state.task_state is not None and not allow_task:
        raise nova_error(
            409,
            f"Cannot '{action}' instance {row['id']} while it is in task_state {state.task_state}",
        )
    return state


def _touch(conn: sqlite3.Connection, server_id: str) -> None:
    conn.execute("UPDATE servers SET updated_at = ? WHERE id = ?", (now(), server_id))


# ---- validation ------------------------------------------------------------------------------


def _validate_metadata(metadata: Any, field: str = "metadata") -> dict[str, str]:
    if not isinstance(metadata, dict):
        raise invalid(
            field,
            metadata,
            f"{metadata!r} is not of type 'object'",
        )
    for key, value in metadata.items():
        if not METADATA_KEY.match(str(key)):
            raise invalid(
                field,
                metadata,
                f"Additional properties are not allowed ('{key}' was unexpected)",
            )
        if not isinstance(value, str) or len(value) > 255:
            raise invalid(
                key,
                value,
                f"{value!r} is not of type 'string' or is longer than 255",
            )
    return {str(k): str(v) for k, v in metadata.items()}


def _check_metadata_quota(metadata: dict[str, str]) -> None:
    if len(metadata) > MAX_METADATA_ITEMS:
        raise nova_error(
            403, f"Quota exceeded for resources: ['metadata_items'] (limit {MAX_METADATA_ITEMS})"
        )


def _validate_tag(tag: Any) -> str:
    if isinstance(tag, str) and len(tag) > MAX_TAG_LENGTH:
        raise nova_error(
            400,
            f"Tag '{tag}' is invalid. It must be a non empty string without characters '/' and"
            f" ','. Validation error message: '{tag}' is too long",
        )
    if not isinstance(tag, str) or not 1 <= len(tag) <= MAX_TAG_LENGTH or "/" in tag or "," in tag:
        raise nova_error(
            400,
            f"Invalid input for field/attribute tags. Value: {tag}. Tags must be strings of 1 to "
            f"{MAX_TAG_LENGTH} characters without '/' or ','",
        )
    return tag


def _validate_tags(tags: Any) -> list[str]:
    if not isinstance(tags, list):
        raise invalid(
            "tags",
            tags,
            f"{tags!r} is not of type 'array'",
        )
    cleaned = list(dict.fromkeys(_validate_tag(t) for t in tags))
    if len(cleaned) > MAX_TAGS:
        raise nova_error(400, f"The number of tags exceeded the per-server limit {MAX_TAGS}")
    return cleaned


def _unexpected(key: str) -> ApiError:
    raise invalid(
        "server",
        "{...}",
        f"Additional properties are not allowed ('{key}' was unexpected)",
    )


# ---- views -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extras:
    """Per-page side data loaded in bulk so a 1,000-server page costs a few queries."""

    tags: dict[str, list[str]]
    addresses: dict[str, dict[str, list[dict[str, Any]]]]
    group_names: dict[str, str]


def _load_extras(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> Extras:
    ids = [row["id"] for row in rows]
    tags: dict[str, list[str]] = {}
    addresses: dict[str, dict[str, list[dict[str, Any]]]] = {}
    if ids:
        network_names = {r["id"]: r["name"] for r in conn.execute("SELECT id, name FROM networks")}
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for tag_row in conn.execute(
                f"SELECT server_id, tag FROM server_tags WHERE server_id IN ({marks})", chunk
            ):
                tags.setdefault(tag_row["server_id"], []).append(tag_row["tag"])
            for port in conn.execute(
                f"SELECT device_id, network_id, ip_address, mac_address FROM ports"
                f" WHERE device_id IN ({marks}) ORDER BY created_at",
                chunk,
            ):
                by_net = addresses.setdefault(port["device_id"], {})
                by_net.setdefault(network_names.get(port["network_id"], "unknown"), []).append(
                    {
                        "version": 4,
                        "addr": port["ip_address"],
                        "OS-EXT-IPS:type": "fixed",
                        "OS-EXT-IPS-MAC:mac_addr": port["mac_address"],
                    }
                )
    groups = {r["id"]: r["name"] for r in conn.execute("SELECT id, name FROM security_groups")}
    return Extras(tags, addresses, groups)


def _links(nc: NovaCall, kind: str, item_id: str) -> list[dict[str, str]]:
    return [
        {"rel": "self", "href": f"{nc.url}/v2.1/{kind}/{item_id}"},
        {"rel": "bookmark", "href": f"{nc.url}/{kind}/{item_id}"},
    ]


def _flavor_in_server(nc: NovaCall, row: sqlite3.Row) -> dict[str, Any]:
    if not nc.at_least(2, 47):
        return {
            "id": row["flavor_id"],
            "links": [{"rel": "bookmark", "href": f"{nc.url}/flavors/{row['flavor_id']}"}],
        }
    flavor = json.loads(row["flavor"])
    return {
        "vcpus": flavor["vcpus"],
        "ram": flavor["ram"],
        "disk": flavor["disk"],
        "ephemeral": flavor["ephemeral"],
        "swap": flavor["swap"],
        "original_name": flavor["name"],
        "extra_specs": {},
    }


def server_view(nc: NovaCall, row: sqlite3.Row, extras: Extras, at: float) -> dict[str, Any]:
    """A server exactly as Nova's detail view shows it at microversion `nc.version`."""
    state = state_of(row, at)
    principal = nc.call.user
    server: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "status": state.status,
        "tenant_id": row["project_id"],
        "user_id": row["user_id"],
        "metadata": json.loads(row["metadata"]),
        "hostId": ""
        if state.vm_state in ("building", "error", "deleted")
        else hashlib.sha224(
            (row["project_id"] + nc.call.runtime.settings.compute_host).encode()
        ).hexdigest(),
        "image": {
            "id": row["image_id"],
            "links": [{"rel": "bookmark", "href": f"{nc.url}/images/{row['image_id']}"}],
        },
        "flavor": _flavor_in_server(nc, row),
        "created": iso_seconds(row["created_at"]),
        "updated": iso_seconds(state.updated_at),
        "addresses": extras.addresses.get(row["id"], {}) if state.networked else {},
        "accessIPv4": "",
        "accessIPv6": "",
        "links": _links(nc, "servers", row["id"]),
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": row["availability_zone"]
        if state.vm_state != "building"
        else "",
        "config_drive": "",
        "key_name": row["key_name"],
        "OS-SRV-USG:launched_at": iso_micro(row["launched_at"])
        if state.launched and row["launched_at"] is not None
        else None,
        "OS-SRV-USG:terminated_at": iso_micro(row["deleted_at"]) if state.gone else None,
        "OS-EXT-STS:task_state": state.task_state,
        "OS-EXT-STS:vm_state": state.vm_state,
        "OS-EXT-STS:power_state": state.power_state,
        "os-extended-volumes:volumes_attached": [],
    }
    if state.status in ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"):
        server["progress"] = 0
    groups = json.loads(row["security_groups"])
    if groups and extras.addresses.get(row["id"]) and not state.gone:
        server["security_groups"] = [{"name": extras.group_names.get(g, g)} for g in groups]
    if state.status in ("ERROR", "DELETED") and row["fault_message"]:
        server["fault"] = {
            "code": row["fault_code"],
            "created": iso_seconds(row["task_until"]),
            "message": row["fault_message"],
        }
        if principal.is_admin:
            server["fault"]["details"] = "Traceback (most recent call last): ... NoValidHost"
    if nc.at_least(2, 9):
        server["locked"] = bool(row["locked"])
    if nc.at_least(2, 19):
        server["description"] = row["description"]
    if nc.at_least(2, 26):
        server["tags"] = sorted(extras.tags.get(row["id"], []))
    if nc.at_least(2, 63):
        server["trusted_image_certificates"] = None
    if nc.at_least(2, 73):
        server["locked_reason"] = None
    if nc.at_least(2, 90):
        server["OS-EXT-SRV-ATTR:hostname"] = _hostname(row["name"])
    if nc.at_least(2, 96):
        server["pinned_availability_zone"] = None
    if nc.at_least(2, 98):
        server["image"]["properties"] = {}
    if nc.at_least(2, 100):
        server["scheduler_hints"] = {}
    return server


def _hostname(name: str) -> str:
    """Nova's sanitized hostname: lower case, [a-z0-9-.] only, at most 63 characters."""
    cleaned = re.sub(r"[^a-z0-9.-]+", "-", name.lower().replace("_", "-")).strip("-.")
    return cleaned[:63] or "server"


# ---- servers ---------------------------------------------------------------------------------


def _resolve_networks(nc: NovaCall, conn: sqlite3.Connection, requested: Any) -> list[str]:
    """Network ids to attach, following Nova's 2.37 rules for auto/none/explicit lists."""
    principal = nc.call.user
    available = visible_networks(conn, principal.project_id, principal.is_admin)
    if requested is None:
        if nc.at_least(2, 37):
            raise invalid(
                "server",
                "{...}",
                "'networks' is a required property",
            )
        return [row["id"] for row in available]
    if requested == "none":
        if not nc.at_least(2, 37):
            raise invalid(
                "networks",
                "none",
                "'none' is not of type 'array'",
            )
        return []
    if requested == "auto":
        if not nc.at_least(2, 37):
            raise invalid(
                "networks",
                "auto",
                "'auto' is not of type 'array'",
            )
        if len(available) > 1:
            raise nova_error(
                409, "Multiple possible networks found, use a Network ID to be more specific."
            )
        if not available:
            raise nova_error(400, "Unable to automatically allocate a network for project")
        return [available[0]["id"]]
    if not isinstance(requested, list):
        raise invalid(
            "networks",
            requested,
            f"{requested!r} is not of type 'array'",
        )
    ids = {row["id"] for row in available}
    chosen: list[str] = []
    for item in requested:
        if not isinstance(item, dict):
            raise nova_error(
                400, f"Invalid input for field/attribute networks. Value: {requested}."
            )
        if item.get("port"):
            raise nova_error(
                400, "Booting with pre-created ports is not supported by the local cloud."
            )
        uuid = str(item.get("uuid", ""))
        if uuid not in ids:
            raise nova_error(400, f"Network {uuid} could not be found.")
        chosen.append(uuid)
    return chosen


def _resolve_security_groups(nc: NovaCall, conn: sqlite3.Connection, requested: Any) -> list[str]:
    project_id = nc.call.user.project_id
    ensure_default_security_group(conn, project_id)
    names = ["default"]
    if requested:
        if not isinstance(requested, list) or not all(
            isinstance(g, dict) and isinstance(g.get("name"), str) for g in requested
        ):
            raise nova_error(
                400, f"Invalid input for field/attribute security_groups. Value: {requested}."
            )
        names = list(dict.fromkeys(g["name"] for g in requested))
    ids = []
    for name in names:
        row = conn.execute(
            "SELECT id FROM security_groups WHERE project_id = ? AND (name = ? OR id = ?)",
            (project_id, name, name),
        ).fetchone()
        if row is None:
            raise nova_error(400, f"Security group {name} not found for project {project_id}.")
        ids.append(row["id"])
    return ids


def _quota_check(
    nc: NovaCall, conn: sqlite3.Connection, min_count: int, max_count: int, vcpus: int, ram: int
) -> int:
    """How many servers (min_count..max_count) fit in the quotas, or Nova's 403."""
    faults = nc.call.runtime.faults.faults
    used = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(vcpus), 0), COALESCE(SUM(ram), 0) FROM servers"
        " WHERE project_id = ? AND (deleted_at IS NULL OR deleted_at > ?)",
        (nc.call.user.project_id, now()),
    ).fetchone()
    checks = (
        ("instances", 1, int(used[0]), faults.quota_instances),
        ("cores", vcpus, int(used[1]), faults.quota_cores),
        ("ram", ram, int(used[2]), faults.quota_ram),
    )
    fits = min((allowed - already) // max(per, 1) for _, per, already, allowed in checks)
    if fits >= min_count:
        return min(fits, max_count)
    for resource, per, already, allowed in checks:
        if already + per * min_count > allowed:
            raise nova_error(
                403,
                f"Quota exceeded for {resource}: Requested {per * min_count}, but already used "
                f"{already} of {allowed} {resource}",
            )
    raise nova_error(403, "Quota exceeded")


def create_server(nc: NovaCall, _: dict[str, str]) -> Response:
    data = nc.body("server")
    allowed = set(SERVER_KEYS)
    if nc.at_least(2, 19):
        allowed.add("description")
    if nc.at_least(2, 52):
        allowed.add("tags")
    if nc.at_least(2, 74):
        allowed.update({"host", "hypervisor_hostname"})
    if nc.at_least(2, 90):
        allowed.add("hostname")
    if nc.at_least(2, 57):
        allowed.discard("personality")
    for key in data:
        if key not in allowed:
            raise _unexpected(key)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise nova_error(
            400,
            f"Invalid input for field/attribute name. Value: {name}. 'name' is a required property",
        )
    description = data.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 255):
        raise nova_error(
            400, f"Invalid input for field/attribute description. Value: {description}."
        )
    metadata = _validate_metadata(data.get("metadata", {}))
    _check_metadata_quota(metadata)
    tags = _validate_tags(data.get("tags", []))
    user_data = data.get("user_data")
    if user_data is not None:
        if not isinstance(user_data, str) or len(user_data) > MAX_USER_DATA:
            raise invalid(
                "user_data",
                str(user_data)[:40] + "...",
                f"is too long (max {MAX_USER_DATA})",
            )
        try:
            base64.b64decode(user_data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise nova_error(400, "User data needs to be valid base 64.") from exc
    zone = data.get("availability_zone") or AVAILABILITY_ZONE
    if str(zone).split(":", 1)[0] != AVAILABILITY_ZONE:
        raise nova_error(400, f"The requested availability zone is not available: {zone}")
    try:
        min_count = int(data.get("min_count", 1))
        max_count = int(data.get("max_count", min_count))
    except (TypeError, ValueError) as exc:
        raise nova_error(400, "min_count and max_count must be integers") from exc
    if min_count < 1 or max_count < min_count:
        raise nova_error(400, "min_count must be <= max_count and both must be >= 1")
    if "imageRef" not in data:
        raise invalid(
            "server",
            "{...}",
            "'imageRef' is a required property",
        )
    principal = nc.call.user
    runtime = nc.call.runtime
    faults = runtime.faults.faults
    with runtime.store.write() as conn:
        t = now()
        reap(conn, t)
        image_id = _ref_id(data["imageRef"])
        image = conn.execute("SELECT status FROM images WHERE id = ?", (image_id,)).fetchone()
        if image is None:
            raise nova_error(400, "Can not find requested image")
        if image["status"] != "active":
            raise nova_error(400, f"Image {image_id} is not active.")
        flavor_id = _ref_id(data.get("flavorRef", ""))
        flavor = conn.execute("SELECT * FROM flavors WHERE id = ?", (flavor_id,)).fetchone()
        if flavor is None:
            raise nova_error(400, f"Flavor {flavor_id} could not be found.")
        key_name = data.get("key_name")
        if (
            key_name is not None
            and conn.execute(
                "SELECT 1 FROM keypairs WHERE user_id = ? AND name = ?",
                (principal.user_id, key_name),
            ).fetchone()
            is None
        ):
            raise nova_error(400, "Invalid key_name provided.")
        network_ids = _resolve_networks(nc, conn, data.get("networks"))
        group_ids = _resolve_security_groups(nc, conn, data.get("security_groups"))
        count = _quota_check(nc, conn, min_count, max_count, flavor["vcpus"], flavor["ram"])
        flavor_json = json.dumps(
            {k: flavor[k] for k in ("name", "vcpus", "ram", "disk", "ephemeral", "swap")}
        )
        reservation_id = "r-" + new_id()[:8]
        created: list[str] = []
        for index in range(count):
            server_id = new_id()
            fails = runtime.faults.roll_boot_failure()
            boot_end = t + runtime.settings.boot_seconds + faults.boot_extra_seconds
            server_name = f"{name}-{index + 1}" if max_count > 1 else name
            conn.execute(
                "INSERT INTO servers (id, name, project_id, user_id, image_id, flavor, flavor_id,"
                " vcpus, ram, key_name, availability_zone, description, metadata, security_groups,"
                " user_data, reservation_id, launch_index, created_at, updated_at, launched_at,"
                " vm_state, prev_vm_state, task_state, task_started, task_until, fault_message,"
                " fault_code, reap_at, locked)"
                f" VALUES ({', '.join('?' * 21)}, 'building', 'spawning', ?, ?, ?, ?, ?, 0)",
                (
                    server_id,
                    server_name,
                    principal.project_id,
                    principal.user_id,
                    image_id,
                    flavor_json,
                    flavor_id,
                    flavor["vcpus"],
                    flavor["ram"],
                    key_name,
                    str(zone).split(":", 1)[0],
                    description,
                    json.dumps(metadata),
                    json.dumps(group_ids if network_ids else []),
                    user_data,
                    reservation_id,
                    index,
                    t,
                    t,
                    None if fails else boot_end,
                    "error" if fails else "active",
                    t,
                    boot_end,
                    NO_VALID_HOST if fails else None,
                    500 if fails else None,
                    boot_end if fails else None,
                ),
            )
            conn.executemany(
                "INSERT INTO server_tags (server_id, tag) VALUES (?, ?)",
                [(server_id, tag) for tag in tags],
            )
            for network_id in network_ids:
                allocate_port(conn, network_id, server_id, principal.project_id, group_ids)
            created.append(server_id)
    if data.get("return_reservation_id"):
        return Response(202, {"reservation_id": reservation_id})
    first = created[0]
    body: dict[str, Any] = {
        "id": first,
        "links": _links(nc, "servers", first),
        "OS-DCF:diskConfig": "MANUAL",
        "adminPass": new_id().replace("-", "")[:12],
    }
    body["security_groups"] = [
        {"name": g["name"] if isinstance(g, dict) else g}
        for g in (data.get("security_groups") or [{"name": "default"}])
    ]
    return Response(202, {"server": body}, headers={"Location": f"{nc.url}/v2.1/servers/{first}"})


def _list_filters(nc: NovaCall, at: float) -> tuple[list[str], list[Any], bool]:
    """SQL WHERE clauses for Nova's list filters; the flag says whether deleted rows show."""
    req = nc.call.request
    principal = nc.call.user
    clauses: list[str] = []
    args: list[Any] = []
    if not (principal.is_admin and req.param("all_tenants") not in (None, "0", "false", "False")):
        clauses.append("s.project_id = ?")
        args.append(principal.project_id)
    since_text = req.param("changes-since")
    before_text = req.param("changes-before") if nc.at_least(2, 66) else None
    include_deleted = since_text is not None or before_text is not None
    updated = (
        "MAX(s.updated_at, CASE WHEN s.task_until <= :now THEN s.task_until ELSE 0 END,"
        " CASE WHEN s.deleted_at <= :now THEN s.deleted_at ELSE 0 END)"
    ).replace(":now", "?")
    for text, op in ((since_text, ">="), (before_text, "<=")):
        if text is None:
            continue
        try:
            moment = parse_iso(text)
        except ValueError as exc:
            raise nova_error(400, f"Invalid filter field: changes-since. Value: {text}") from exc
        clauses.append(f"{updated} {op} ?")
        args.extend([at, at, moment])
    if not include_deleted:
        clauses.append("(s.deleted_at IS NULL OR s.deleted_at > ?)")
        args.append(at)
    name = req.param("name")
    if name:
        try:
            re.compile(name)
        except re.error as exc:
            raise nova_error(
                400,
                f"Invalid input for query parameters name. Value: {name}."
                f" '{name}' is not a 'regex'",
            ) from exc
        clauses.append("s.name REGEXP ?")
        args.append(name)
    statuses = [s.upper() for s in req.query.get("status", []) if s]
    if statuses:
        clauses.append(
            "server_status(s.vm_state, s.prev_vm_state, s.task_state, s.task_started,"
            f" s.task_until, s.deleted_at, ?) IN ({','.join('?' * len(statuses))})"
        )
        args.extend([at, *statuses])
    for param, column in (("image", "s.image_id"), ("flavor", "s.flavor_id")):
        value = req.param(param)
        if value:
            clauses.append(f"{column} = ?")
            args.append(_ref_id(value))
    ip = req.param("ip")
    if ip:
        clauses.append("s.id IN (SELECT device_id FROM ports WHERE ip_address REGEXP ?)")
        args.append(ip)
    reservation = req.param("reservation_id")
    if reservation:
        clauses.append("s.reservation_id = ?")
        args.append(reservation)
    if nc.at_least(2, 26):
        tag_exists = "EXISTS (SELECT 1 FROM server_tags t WHERE t.server_id = s.id AND t.tag = ?)"
        for param, negate, every in (
            ("tags", False, True),
            ("tags-any", False, False),
            ("not-tags", True, True),
            ("not-tags-any", True, False),
        ):
            value = req.param(param)
            if not value:
                continue
            wanted = [t for t in value.split(",") if t]
            joined = (" AND " if every else " OR ").join([tag_exists] * len(wanted))
            clauses.append(f"{'NOT ' if negate else ''}({joined})")
            args.extend(wanted)
    return clauses, args, include_deleted


def list_servers(nc: NovaCall, detail: bool) -> Response:
    req = nc.call.request
    limit_text = req.param("limit")
    try:
        limit = MAX_LIMIT if limit_text is None else min(int(limit_text), MAX_LIMIT)
    except ValueError as exc:
        raise nova_error(400, f"limit param must be an integer, got {limit_text}") from exc
    if limit < 0:
        raise nova_error(400, "limit param must be positive")
    at = now()
    clauses, args, _ = _list_filters(nc, at)
    with nc.call.runtime.store.read() as conn:
        marker = req.param("marker")
        if marker:
            found = conn.execute("SELECT seq FROM servers WHERE id = ?", (marker,)).fetchone()
            if found is None:
                raise nova_error(400, f"marker [{marker}] not found")
            clauses.append("s.seq < ?")
            args.append(found["seq"])
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = conn.execute(
            f"SELECT s.* FROM servers s {where} ORDER BY s.seq DESC LIMIT ?", [*args, limit]
        ).fetchall()
        if detail:
            extras = _load_extras(conn, rows)
            servers = [server_view(nc, row, extras, at) for row in rows]
        else:
            servers = [
                {"id": r["id"], "name": r["name"], "links": _links(nc, "servers", r["id"])}
                for r in rows
            ]
    body: dict[str, Any] = {"servers": servers}
    if rows and len(rows) == limit:
        query = [
            (k, v)
            for k, values in req.query.items()
            for v in values
            if k not in ("limit", "marker")
        ]
        query += [("limit", str(limit)), ("marker", rows[-1]["id"])]
        path = "servers/detail" if detail else "servers"
        body["servers_links"] = [
            {"rel": "next", "href": f"{nc.url}/v2.1/{path}?{urlencode(query)}"}
        ]
    return Response(200, body)


def show_server(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.read() as conn:
        row = _load_server(nc, conn, params["id"])
        extras = _load_extras(conn, [row])
        server = server_view(nc, row, extras, now())
    if nc.at_least(2, 71):
        server["server_groups"] = []
    return Response(200, {"server": server})


def update_server(nc: NovaCall, params: dict[str, str]) -> Response:
    data = nc.body("server")
    allowed = {"name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig"}
    if nc.at_least(2, 19):
        allowed.add("description")
    if nc.at_least(2, 90):
        allowed.add("hostname")
    for key in data:
        if key not in allowed:
            raise _unexpected(key)
    if "name" in data and (not isinstance(data["name"], str) or not data["name"].strip()):
        raise nova_error(400, f"Invalid input for field/attribute name. Value: {data['name']}.")
    with nc.call.runtime.store.write() as conn:
        row = _load_server(nc, conn, params["id"])
        if "name" in data:
            conn.execute("UPDATE servers SET name = ? WHERE id = ?", (data["name"], row["id"]))
        if "description" in data:
            conn.execute(
                "UPDATE servers SET description = ? WHERE id = ?", (data["description"], row["id"])
            )
        _touch(conn, row["id"])
        row = _load_server(nc, conn, params["id"])
        extras = _load_extras(conn, [row])
        return Response(200, {"server": server_view(nc, row, extras, now())})


def delete_server(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.write() as conn:
        row = _load_server(nc, conn, params["id"])
        if row["locked"] and not nc.call.user.is_admin:
            raise nova_error(409, f"Instance {row['id']} is locked")
        if row["delete_requested_at"] is None:
            t = now()
            done = t + nc.call.runtime.settings.delete_seconds
            conn.execute(
                "UPDATE servers SET delete_requested_at = ?, deleted_at = ?, reap_at = ?,"
                " updated_at = ? WHERE id = ?",
                (t, done, done, t, row["id"]),
            )
    return Response(204)


# ---- actions ---------------------------------------------------------------------------------


def _transition(
    conn: sqlite3.Connection, row: sqlite3.Row, task: str, target: str, seconds: float
) -> None:
    t = now()
    current = state_of(row, t).vm_state
    conn.execute(
        "UPDATE servers SET prev_vm_state = ?, vm_state = ?, task_state = ?, task_started = ?,"
        " task_until = ?, updated_at = ? WHERE id = ?",
        (current, target, task, t, t + seconds, t, row["id"]),
    )


def _group_for_action(nc: NovaCall, conn: sqlite3.Connection, payload: Any) -> sqlite3.Row:
    name = payload.get("name") if isinstance(payload, dict) else None
    if not isinstance(name, str) or not name:
        raise nova_error(400, "Security group name cannot be empty")
    group: sqlite3.Row | None = conn.execute(
        "SELECT * FROM security_groups WHERE project_id = ? AND (name = ? OR id = ?)",
        (nc.call.user.project_id, name, name),
    ).fetchone()
    if group is None:
        raise nova_error(
            404, f"Security group {name} not found for project {nc.call.user.project_id}."
        )
    return group


def _set_groups(conn: sqlite3.Connection, server_id: str, groups: list[str]) -> None:
    conn.execute(
        "UPDATE servers SET security_groups = ?, updated_at = ? WHERE id = ?",
        (json.dumps(groups), now(), server_id),
    )
    conn.execute(
        "UPDATE ports SET security_groups = ? WHERE device_id = ?", (json.dumps(groups), server_id)
    )


def server_action(nc: NovaCall, params: dict[str, str]) -> Response:
    try:
        data = nc.call.request.json()
    except ValueError as exc:
        raise nova_error(400, "Malformed request body") from exc
    if not isinstance(data, dict) or len(data) != 1:
        raise nova_error(400, "Malformed request body")
    action, payload = next(iter(data.items()))
    settings = nc.call.runtime.settings
    quick = max(0.2, min(settings.boot_seconds, 1.0))
    with nc.call.runtime.store.write() as conn:
        row = _load_server(nc, conn, params["id"])
        if action == "os-stop":
            _require_state(row, "stop", ("active", "error"))
            _transition(conn, row, "powering-off", "stopped", quick)
        elif action == "os-start":
            _require_state(row, "start", ("stopped",))
            _transition(conn, row, "powering-on", "active", quick)
        elif action == "reboot":
            kind = str((payload or {}).get("type", "")).upper() if isinstance(payload, dict) else ""
            if kind not in ("SOFT", "HARD"):
                raise invalid(
                    "type",
                    kind,
                    f"'{kind}' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']",
                )
            if kind == "SOFT":
                _require_state(row, "reboot", ("active",))
            else:
                _require_state(row, "reboot", ("active", "stopped", "error"))
            task = "reboot_started" if kind == "SOFT" else "reboot_started_hard"
            _transition(conn, row, task, "active", quick)
        elif action == "addSecurityGroup":
            group = _group_for_action(nc, conn, payload)
            groups = json.loads(row["security_groups"])
            if group["id"] in groups:
                raise nova_error(
                    400,
                    f"Security group {group['name']} is already associated with the instance"
                    f" {row['id']}",
                )
            if (
                conn.execute("SELECT 1 FROM ports WHERE device_id = ?", (row["id"],)).fetchone()
                is None
            ):
                raise nova_error(
                    400, "No network interfaces found on the instance to add the security group to."
                )
            _set_groups(conn, row["id"], [*groups, group["id"]])
        elif action == "removeSecurityGroup":
            group = _group_for_action(nc, conn, payload)
            groups = json.loads(row["security_groups"])
            if group["id"] not in groups:
                raise nova_error(
                    400,
                    f"Security group {group['name']} not associated with the instance {row['id']}",
                )
            _set_groups(conn, row["id"], [g for g in groups if g != group["id"]])
        else:
            raise nova_error(400, f"There is no such action: {action}")
    return Response(202)


def server_security_groups(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.read() as conn:
        row = _load_server(nc, conn, params["id"])
        has_ports = conn.execute("SELECT 1 FROM ports WHERE device_id = ?", (row["id"],)).fetchone()
        groups = json.loads(row["security_groups"]) if has_ports else []
        result = []
        for group_id in groups:
            group = conn.execute(
                "SELECT * FROM security_groups WHERE id = ?", (group_id,)
            ).fetchone()
            if group is None:
                continue
            rules = [
                {
                    "id": rule["id"],
                    "parent_group_id": group_id,
                    "ip_protocol": rule["protocol"],
                    "from_port": rule["port_range_min"],
                    "to_port": rule["port_range_max"],
                    "ip_range": {"cidr": rule["remote_ip_prefix"]}
                    if rule["remote_ip_prefix"]
                    else {},
                    "group": {"name": group["name"], "tenant_id": group["project_id"]}
                    if rule["remote_group_id"]
                    else {},
                }
                for rule in conn.execute(
                    "SELECT * FROM security_group_rules WHERE security_group_id = ?"
                    " AND direction = 'ingress'",
                    (group_id,),
                )
            ]
            result.append(
                {
                    "id": group["id"],
                    "name": group["name"],
                    "description": group["description"],
                    "tenant_id": group["project_id"],
                    "rules": rules,
                }
            )
    return Response(200, {"security_groups": result})


def server_interfaces(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.read() as conn:
        row = _load_server(nc, conn, params["id"])
        ports = conn.execute("SELECT * FROM ports WHERE device_id = ?", (row["id"],)).fetchall()
    attachments = [
        {
            "port_state": "ACTIVE",
            "fixed_ips": [{"subnet_id": p["subnet_id"], "ip_address": p["ip_address"]}],
            "port_id": p["id"],
            "net_id": p["network_id"],
            "mac_addr": p["mac_address"],
            **({"tag": None} if nc.at_least(2, 70) else {}),
        }
        for p in ports
    ]
    return Response(200, {"interfaceAttachments": attachments})


def server_ips(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.read() as conn:
        row = _load_server(nc, conn, params["id"])
        extras = _load_extras(conn, [row])
        view = server_view(nc, row, extras, now())
    return Response(
        200,
        {
            "addresses": {
                net: [{"version": a["version"], "addr": a["addr"]} for a in addrs]
                for net, addrs in view["addresses"].items()
            }
        },
    )


# ---- metadata --------------------------------------------------------------------------------

METADATA_STATES = ("active", "paused", "suspended", "stopped")


def _metadata_of(row: sqlite3.Row) -> dict[str, str]:
    value: dict[str, str] = json.loads(row["metadata"])
    return value


def _save_metadata(conn: sqlite3.Connection, server_id: str, metadata: dict[str, str]) -> None:
    _check_metadata_quota(metadata)
    conn.execute(
        "UPDATE servers SET metadata = ?, updated_at = ? WHERE id = ?",
        (json.dumps(metadata), now(), server_id),
    )


def get_metadata(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.read() as conn:
        return Response(200, {"metadata": _metadata_of(_load_server(nc, conn, params["id"]))})


def _write_metadata(nc: NovaCall, params: dict[str, str], replace: bool) -> Response:
    incoming = _validate_metadata(nc.body("metadata"))
    with nc.call.runtime.store.write() as conn:
        row = _load_server(nc, conn, params["id"])
        _require_state(row, "update_metadata", METADATA_STATES)
        merged = incoming if replace else {**_metadata_of(row), **incoming}
        _save_metadata(conn, row["id"], merged)
    return Response(200, {"metadata": merged})


def update_metadata(nc: NovaCall, params: dict[str, str]) -> Response:
    return _write_metadata(nc, params, replace=False)


def replace_metadata(nc: NovaCall, params: dict[str, str]) -> Response:
    return _write_metadata(nc, params, replace=True)


def get_metadata_item(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.read() as conn:
        metadata = _metadata_of(_load_server(nc, conn, params["id"]))
    if params["key"] not in metadata:
        raise nova_error(404, "Metadata item was not found")
    return Response(200, {"meta": {params["key"]: metadata[params["key"]]}})


def set_metadata_item(nc: NovaCall, params: dict[str, str]) -> Response:
    meta = _validate_metadata(nc.body("meta"), "meta")
    if len(meta) > 1:
        raise nova_error(400, "Request body contains too many items")
    if params["key"] not in meta:
        raise nova_error(400, "Request body and URI mismatch")
    with nc.call.runtime.store.write() as conn:
        row = _load_server(nc, conn, params["id"])
        _require_state(row, "update_metadata", METADATA_STATES)
        _save_metadata(conn, row["id"], {**_metadata_of(row), **meta})
    return Response(200, {"meta": meta})


def delete_metadata_item(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.write() as conn:
        row = _load_server(nc, conn, params["id"])
        metadata = _metadata_of(row)
        if params["key"] not in metadata:
            raise nova_error(404, "Metadata item was not found")
        _require_state(row, "delete_metadata", METADATA_STATES)
        del metadata[params["key"]]
        _save_metadata(conn, row["id"], metadata)
    return Response(204)


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
        row = _load_server(nc, conn, params["id"])
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
    tags = _validate_tags(data["tags"])
    with nc.call.runtime.store.write() as conn:
        row = _load_server(nc, conn, params["id"])
        conn.execute("DELETE FROM server_tags WHERE server_id = ?", (row["id"],))
        conn.executemany(
            "INSERT INTO server_tags (server_id, tag) VALUES (?, ?)", [(row["id"], t) for t in tags]
        )
        _touch(conn, row["id"])
        return Response(200, {"tags": _tags_of(conn, row["id"])})


def delete_tags(nc: NovaCall, params: dict[str, str]) -> Response:
    _require_tags(nc)
    with nc.call.runtime.store.write() as conn:
        row = _load_server(nc, conn, params["id"])
        conn.execute("DELETE FROM server_tags WHERE server_id = ?", (row["id"],))
        _touch(conn, row["id"])
    return Response(204)


def check_tag(nc: NovaCall, params: dict[str, str]) -> Response:
    _require_tags(nc)
    with nc.call.runtime.store.read() as conn:
        row = _load_server(nc, conn, params["id"])
        if params["tag"] not in _tags_of(conn, row["id"]):
            raise nova_error(404, f"Server {row['id']} has no tag '{params['tag']}'")
    return Response(204)


def add_tag(nc: NovaCall, params: dict[str, str]) -> Response:
    _require_tags(nc)
    tag = _validate_tag(params["tag"])
    with nc.call.runtime.store.write() as conn:
        row = _load_server(nc, conn, params["id"])
        existing = _tags_of(conn, row["id"])
        if tag in existing:
            return Response(204)
        if len(existing) >= MAX_TAGS:
            raise nova_error(400, f"The number of tags exceeded the per-server limit {MAX_TAGS}")
        conn.execute("INSERT INTO server_tags (server_id, tag) VALUES (?, ?)", (row["id"], tag))
        _touch(conn, row["id"])
    location = f"{nc.url}/v2.1/servers/{row['id']}/tags/{tag}"
    return Response(201, None, headers={"Location": location})


def delete_tag(nc: NovaCall, params: dict[str, str]) -> Response:
    _require_tags(nc)
    with nc.call.runtime.store.write() as conn:
        row = _load_server(nc, conn, params["id"])
        gone = conn.execute(
            "DELETE FROM server_tags WHERE server_id = ? AND tag = ?", (row["id"], params["tag"])
        ).rowcount
        if not gone:
            raise nova_error(404, f"Server {row['id']} has no tag '{params['tag']}'")
        _touch(conn, row["id"])
    return Response(204)


# ---- flavors ---------------------------------------------------------------------------------


def flavor_view(nc: NovaCall, row: sqlite3.Row, detail: bool) -> dict[str, Any]:
    flavor: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "links": _links(nc, "flavors", row["id"]),
    }
    if nc.at_least(2, 55):
        flavor["description"] = row["description"]
    if not detail:
        return flavor
    flavor.update(
        {
            "ram": row["ram"],
            "disk": row["disk"],
            "vcpus": row["vcpus"],
            "swap": row["swap"] if nc.at_least(2, 75) or row["swap"] else "",
            "OS-FLV-EXT-DATA:ephemeral": row["ephemeral"],
            "OS-FLV-DISABLED:disabled": False,
            "os-flavor-access:is_public": bool(row["is_public"]),
            "rxtx_factor": 1.0,
        }
    )
    if nc.at_least(2, 61):
        flavor["extra_specs"] = {}
    return flavor


def list_flavors(nc: NovaCall, detail: bool) -> Response:
    req = nc.call.request
    with nc.call.runtime.store.read() as conn:
        rows = conn.execute("SELECT * FROM flavors").fetchall()
    rows = sorted(rows, key=lambda r: (len(r["id"]), r["id"]))
    min_ram, min_disk = req.param("minRam"), req.param("minDisk")
    if min_ram:
        rows = [r for r in rows if r["ram"] >= int(min_ram)]
    if min_disk:
        rows = [r for r in rows if r["disk"] >= int(min_disk)]
    marker = req.param("marker")
    if marker:
        ids = [r["id"] for r in rows]
        if marker not in ids:
            raise nova_error(400, f"marker [{marker}] not found")
        rows = rows[ids.index(marker) + 1 :]
    limit = req.param("limit")
    if limit:
        rows = rows[: int(limit)]
    return Response(200, {"flavors": [flavor_view(nc, r, detail) for r in rows]})


def show_flavor(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.read() as conn:
        row = conn.execute("SELECT * FROM flavors WHERE id = ?", (params["id"],)).fetchone()
    if row is None:
        raise nova_error(404, f"Flavor {params['id']} could not be found.")
    return Response(200, {"flavor": flavor_view(nc, row, True)})


def flavor_extra_specs(nc: NovaCall, params: dict[str, str]) -> Response:
    show_flavor(nc, params)
    return Response(200, {"extra_specs": {}})


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
    with nc.call.runtime.store.read() as conn:
        rows = conn.execute(
            "SELECT * FROM keypairs WHERE user_id = ? ORDER BY name", (nc.call.user.user_id,)
        ).fetchall()
    return Response(200, {"keypairs": [{"keypair": keypair_view(nc, r, False)} for r in rows]})


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
    if public_key is None:
        if nc.at_least(2, 92):
            raise invalid(
                "keypair",
                "{...}",
                "'public_key' is a required property",
            )
        generated = keys.generate_rsa()
        public_key, private_key = generated.public_key, generated.private_key
    try:
        fingerprint = keys.fingerprint(str(public_key))
    except ValueError as exc:
        raise nova_error(400, "Keypair data is invalid: failed to generate fingerprint") from exc
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


# ---- zones and limits ------------------------------------------------------------------------


def availability_zones(nc: NovaCall, _: dict[str, str]) -> Response:
    zone = {"zoneName": AVAILABILITY_ZONE, "zoneState": {"available": True}, "hosts": None}
    return Response(200, {"availabilityZoneInfo": [zone]})


def limits(nc: NovaCall, _: dict[str, str]) -> Response:
    faults = nc.call.runtime.faults.faults
    with nc.call.runtime.store.read() as conn:
        used = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(vcpus), 0), COALESCE(SUM(ram), 0) FROM servers"
            " WHERE project_id = ? AND (deleted_at IS NULL OR deleted_at > ?)",
            (nc.call.user.project_id, now()),
        ).fetchone()
    absolute: dict[str, int] = {
        "maxServerMeta": MAX_METADATA_ITEMS,
        "maxTotalInstances": faults.quota_instances,
        "maxTotalCores": faults.quota_cores,
        "maxTotalRAMSize": faults.quota_ram,
        "maxTotalKeypairs": 100,
        "maxServerGroups": 10,
        "maxServerGroupMembers": 10,
        "totalInstancesUsed": int(used[0]),
        "totalCoresUsed": int(used[1]),
        "totalRAMUsed": int(used[2]),
        "totalServerGroupsUsed": 0,
    }
    if not nc.at_least(2, 36):
        absolute.update(
            {
                "maxSecurityGroups": 10,
                "maxSecurityGroupRules": 20,
                "maxTotalFloatingIps": 10,
                "totalSecurityGroupsUsed": 0,
                "totalFloatingIpsUsed": 0,
            }
        )
    if not nc.at_least(2, 39):
        absolute["maxImageMeta"] = 128
    if not nc.at_least(2, 57):
        absolute.update({"maxPersonality": 5, "maxPersonalitySize": 10240})
    return Response(200, {"limits": {"rate": [], "absolute": absolute}})


# ---- routing ---------------------------------------------------------------------------------

NovaHandler = Callable[[NovaCall, dict[str, str]], Response]


def _fixed(handler: Callable[[NovaCall, bool], Response], flag: bool) -> NovaHandler:
    def bound(nc: NovaCall, _: dict[str, str]) -> Response:
        return handler(nc, flag)

    return bound


def routes() -> Router[NovaCall]:
    r: Router[NovaCall] = Router()
    base = "/compute/v2.1"
    sid = "(?P<id>[^/]+)"
    r.add("GET", f"{base}/servers", _fixed(list_servers, False))
    r.add("POST", f"{base}/servers", create_server)
    r.add("GET", f"{base}/servers/detail", _fixed(list_servers, True))
    r.add("GET", f"{base}/servers/{sid}", show_server)
    r.add("PUT", f"{base}/servers/{sid}", update_server)
    r.add("DELETE", f"{base}/servers/{sid}", delete_server)
    r.add("POST", f"{base}/servers/{sid}/action", server_action)
    r.add("GET", f"{base}/servers/{sid}/os-security-groups", server_security_groups)
    r.add("GET", f"{base}/servers/{sid}/os-interface", server_interfaces)
    r.add("GET", f"{base}/servers/{sid}/ips", server_ips)
    r.add("GET", f"{base}/servers/{sid}/metadata", get_metadata)
    r.add("POST", f"{base}/servers/{sid}/metadata", update_metadata)
    r.add("PUT", f"{base}/servers/{sid}/metadata", replace_metadata)
    r.add("GET", f"{base}/servers/{sid}/metadata/(?P<key>[^/]+)", get_metadata_item)
    r.add("PUT", f"{base}/servers/{sid}/metadata/(?P<key>[^/]+)", set_metadata_item)
    r.add("DELETE", f"{base}/servers/{sid}/metadata/(?P<key>[^/]+)", delete_metadata_item)
    r.add("GET", f"{base}/servers/{sid}/tags", list_tags)
    r.add("PUT", f"{base}/servers/{sid}/tags", replace_tags)
    r.add("DELETE", f"{base}/servers/{sid}/tags", delete_tags)
    r.add("GET", f"{base}/servers/{sid}/tags/(?P<tag>[^/]+)", check_tag)
    r.add("PUT", f"{base}/servers/{sid}/tags/(?P<tag>[^/]+)", add_tag)
    r.add("DELETE", f"{base}/servers/{sid}/tags/(?P<tag>[^/]+)", delete_tag)
    r.add("GET", f"{base}/flavors", _fixed(list_flavors, False))
    r.add("GET", f"{base}/flavors/detail", _fixed(list_flavors, True))
    r.add("GET", f"{base}/flavors/(?P<id>[^/]+)", show_flavor)
    r.add("GET", f"{base}/flavors/(?P<id>[^/]+)/os-extra_specs", flavor_extra_specs)
    r.add("GET", f"{base}/os-keypairs", list_keypairs)
    r.add("POST", f"{base}/os-keypairs", create_keypair)
    r.add("GET", f"{base}/os-keypairs/(?P<name>[^/]+)", show_keypair)
    r.add("DELETE", f"{base}/os-keypairs/(?P<name>[^/]+)", delete_keypair)
    r.add("GET", f"{base}/os-availability-zone", availability_zones)
    r.add("GET", f"{base}/os-availability-zone/detail", availability_zones)
    r.add("GET", f"{base}/limits", limits)
    return r
