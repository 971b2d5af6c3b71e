"""Cinder plumbing shared by every resource: errors, microversions, lookups, validation."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from ..context import Call
from ..formats import now
from ..http import ApiError, Response

MIN_VERSION = (3, 0)
MAX_VERSION = (3, 71)
"""What Cinder 29 answers (cinder/api/openstack/api_version_request.py)."""
MAX_LIMIT = 1000
DB_MAX_INT = 0x7FFFFFFF
METADATA_KEY = re.compile(r"^[a-zA-Z0-9-_:. /]{1,255}$")
FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    501: "notImplemented",
    503: "serviceUnavailable",
}
BACKEND_HOST = "localcloud-volume@fake#fake"
"""The one cinder-volume backend (what `os-vol-host-attr:host` shows an admin)."""
AVAILABILITY_ZONE = "nova"


def version_text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def cinder_error(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> ApiError:
    """An error in Cinder's shape (cinder/api/openstack/wsgi.py Fault): a 406 is a
    `computeFault`, as Cinder's table of names has no entry for it."""
    name = FAULT_NAMES.get(status, "computeFault")
    return ApiError(
        Response(status, {name: {"code": status, "message": message, **extra}}, headers or {})
    )


def invalid(field: str, value: Any, reason: str) -> ApiError:
    """Cinder's JSON-schema 400 for a value at `field` (cinder/api/validation/validators.py)."""
    return cinder_error(400, f"Invalid input for field/attribute {field}. Value: {value}. {reason}")


def not_found_volume(volume_id: str) -> ApiError:
    return cinder_error(404, f"Volume {volume_id} could not be found.")


def quota_error(message: str) -> ApiError:
    """A QuotaError: 413 named by its class, with Retry-After 0 (it will not pass by waiting)."""
    return cinder_error(413, message, {"Retry-After": "0"}, retryAfter="0")


def parse_version(call: Call) -> tuple[int, int]:
    """Cinder's microversion from `OpenStack-API-Version: volume X` (set_api_version_request):
    the header names the service `volume` (keystoneauth sends that for block-storage too)."""
    header = call.request.header("OpenStack-API-Version")
    if not header:
        return MIN_VERSION
    raw = ""
    for part in header.split(","):
        if "volume" in part:
            raw = part.split()[-1] if part.split() else ""
            break
    if not raw:
        raise cinder_error(
            400,
            "The server could not comply with the request since it is either malformed or"
            " otherwise incorrect.",
        )
    if raw == "latest":
        return MAX_VERSION
    found = re.fullmatch(r"([1-9]\d*)\.([1-9]\d*|0)", raw)
    if found is None:
        raise cinder_error(
            400,
            f"API Version String {raw} is of invalid format. Must be of format MajorNum.MinorNum.",
        )
    version = (int(found.group(1)), int(found.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise cinder_error(
            406,
            f"Version {version_text(version)} is not supported by the API. Minimum is"
            f" {version_text(MIN_VERSION)} and maximum is {version_text(MAX_VERSION)}.",
        )
    return version


def version_headers(version: tuple[int, int]) -> dict[str, str]:
    return {
        "OpenStack-API-Version": f"volume {version_text(version)}",
        "Vary": "OpenStack-API-Version",
    }


@dataclass(frozen=True)
class CinderCall:
    """A block-storage request with its negotiated microversion and the URL's project (if any)."""

    call: Call
    version: tuple[int, int]
    url_project: str | None = None

    def at_least(self, major: int, minor: int) -> bool:
        return self.version >= (major, minor)

    @property
    def base(self) -> str:
        """The versioned endpoint as the request addressed it (with its project id, if given)."""
        project = f"/{self.url_project}" if self.url_project else ""
        return f"{self.call.runtime.base_url}/volume/v3{project}"

    @property
    def bookmark_base(self) -> str:
        project = f"/{self.url_project}" if self.url_project else ""
        return f"{self.call.runtime.base_url}/volume{project}"

    def body(self) -> Any:
        """The JSON body; undecodable is Cinder's 400 (MalformedRequestBody)."""
        try:
            return self.call.request.json()
        except ValueError as exc:
            raise cinder_error(400, "Malformed request body") from exc

    def links(self, collection: str, item_id: str) -> list[dict[str, str]]:
        return [
            {"rel": "self", "href": f"{self.base}/{collection}/{item_id}"},
            {"rel": "bookmark", "href": f"{self.bookmark_base}/{collection}/{item_id}"},
        ]


def load_volume(cc: CinderCall, conn: sqlite3.Connection, volume_id: str) -> sqlite3.Row:
    """The caller's volume (any volume for an admin) unless it is gone, else Cinder's 404."""
    principal = cc.call.user
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM volumes WHERE id = ?", (volume_id,)
    ).fetchone()
    if (
        row is None
        or (row["project_id"] != principal.project_id and not principal.is_admin)
        or (row["deleted_at"] is not None and row["deleted_at"] <= now())
    ):
        raise not_found_volume(volume_id)
    return row


def require_object(data: Any, key: str) -> dict[str, Any]:
    """The body's `key` object, or the schema's 400 ('key' is a required property)."""
    if not isinstance(data, dict):
        raise cinder_error(400, f"{data!r} is not of type 'object'")
    if key not in data:
        raise cinder_error(400, f"'{key}' is a required property")
    value = data[key]
    if not isinstance(value, dict):
        raise invalid(key, value, f"{value!r} is not of type 'object'")
    return value


def reject_extra(data: dict[str, Any], allowed: set[str], field: str | None = None) -> None:
    """additionalProperties: False, with the path the validator reports (none at the top)."""
    extra = sorted(k for k in data if k not in allowed)
    if not extra:
        return
    listed = ", ".join(repr(k) for k in extra)
    verb = "was" if len(extra) == 1 else "were"
    reason = f"Additional properties are not allowed ({listed} {verb} unexpected)"
    if field is None:
        raise cinder_error(400, reason)
    raise invalid(field, data, reason)


def validate_size(field: str, value: Any, allow_null: bool = False) -> int | None:
    """parameter_types.volume_size: an integer, or a string of digits, from 1 to 2**31-1."""
    if value is None and allow_null:
        return None
    types = "'integer', 'string', 'null'" if allow_null else "'integer', 'string'"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise invalid(field, value, f"{value!r} is not of type {types}")
    if isinstance(value, str) and not re.fullmatch(r"[0-9]+", value):
        raise invalid(field, value, f"{value!r} does not match '^[0-9]+$'")
    number = int(value)
    if number < 1:
        raise invalid(field, number, f"{number} is less than the minimum of 1")
    if number > DB_MAX_INT:
        raise invalid(field, number, f"{number} is greater than the maximum of {DB_MAX_INT}")
    return number


def validate_metadata(field: str, metadata: Any, allow_null: bool = False) -> dict[str, str]:
    """parameter_types.extra_specs: keys of [a-zA-Z0-9-_:. /], string values of <= 255."""
    if metadata is None and allow_null:
        return {}
    if not isinstance(metadata, dict):
        kind = "'object', 'null'" if allow_null else "'object'"
        raise invalid(field, metadata, f"{metadata!r} is not of type {kind}")
    for key, value in metadata.items():
        if not METADATA_KEY.match(key):
            raise invalid(
                field,
                metadata,
                f"{key!r} does not match any of the regexes: '{METADATA_KEY.pattern}'",
            )
        if not isinstance(value, str):
            raise invalid(key, value, f"{value!r} is not of type 'string'")
        if len(value) > 255:
            raise invalid(key, value, f"{value!r} is too long")
    return {str(k): str(v) for k, v in metadata.items()}


def validate_text(field: str, value: Any, limit: int = 255) -> str | None:
    """A name or description: a string (surrounding blanks removed) or null."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(field, value, f"{value!r} is not of type 'string', 'null'")
    if len(value) > limit:
        raise cinder_error(
            400, f"Invalid input received: {field} has more than {limit} characters."
        )
    return value.strip()
