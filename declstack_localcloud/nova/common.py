"""Nova plumbing shared by every resource: errors, microversions, lookups, validation."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..context import Call
from ..formats import now
from ..http import ApiError, Response
from ..lifecycle import ServerState, state_of

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


# ---- lookups ---------------------------------------------------------------------------------


def ref_id(ref: Any) -> str:
    """imageRef / flavorRef may be a bare id or a URL ending in it."""
    return str(ref).rstrip("/").rsplit("/", 1)[-1]


def load_server(nc: NovaCall, conn: sqlite3.Connection, server_id: str) -> sqlite3.Row:
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


def require_state(
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


def touch(conn: sqlite3.Connection, server_id: str) -> None:
    conn.execute("UPDATE servers SET updated_at = ? WHERE id = ?", (now(), server_id))


# ---- validation ------------------------------------------------------------------------------


def validate_metadata(metadata: Any, field: str = "metadata") -> dict[str, str]:
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


def check_metadata_quota(metadata: dict[str, str]) -> None:
    if len(metadata) > MAX_METADATA_ITEMS:
        raise nova_error(
            403, f"Quota exceeded for resources: ['metadata_items'] (limit {MAX_METADATA_ITEMS})"
        )


def validate_tag(tag: Any) -> str:
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


def validate_tags(tags: Any) -> list[str]:
    if not isinstance(tags, list):
        raise invalid(
            "tags",
            tags,
            f"{tags!r} is not of type 'array'",
        )
    cleaned = list(dict.fromkeys(validate_tag(t) for t in tags))
    if len(cleaned) > MAX_TAGS:
        raise nova_error(400, f"The number of tags exceeded the per-server limit {MAX_TAGS}")
    return cleaned


def unexpected(key: str) -> ApiError:
    raise invalid(
        "server",
        "{...}",
        f"Additional properties are not allowed ('{key}' was unexpected)",
    )


def links(nc: NovaCall, kind: str, item_id: str) -> list[dict[str, str]]:
    return [
        {"rel": "self", "href": f"{nc.url}/v2.1/{kind}/{item_id}"},
        {"rel": "bookmark", "href": f"{nc.url}/{kind}/{item_id}"},
    ]
