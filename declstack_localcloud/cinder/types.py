"""Volume types (cinder/api/v3/types.py): a fixed set, as a deployment's operator made them.

Cinder makes `__DEFAULT__` itself; realstack adds the public type `standard` for its one
backend and makes it cinder.conf's default_volume_type, and so does the local cloud.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from ..http import Response
from .common import CinderCall, cinder_error


@dataclass(frozen=True)
class VolumeType:
    name: str
    description: str | None
    extra_specs: dict[str, str] = field(default_factory=dict)
    is_public: bool = True

    @property
    def id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"localcloud/volume-type/{self.name}"))


VOLUME_TYPES = (
    VolumeType("standard", "the local cloud's fake backend", {"volume_backend_name": "fake"}),
    VolumeType("__DEFAULT__", "Default Volume Type"),
)
"""Newest first, the order Cinder lists them in."""
DEFAULT_TYPE = "standard"
USER_VISIBLE_EXTRA_SPECS = ("RESKEY:availability_zones", "multiattach", "replication_enabled")


def type_by_id(type_id: str) -> VolumeType | None:
    return next((t for t in VOLUME_TYPES if t.id == type_id), None)


def default_type() -> VolumeType:
    found = next(t for t in VOLUME_TYPES if t.name == DEFAULT_TYPE)
    return found


def type_by_name_or_id(ref: str) -> VolumeType:
    """objects.VolumeType.get_by_name_or_id: an id if it looks like one, else a name; 404."""
    try:
        uuid.UUID(ref)
        looks_like_id = True
    except ValueError:
        looks_like_id = False
    by_name = next((t for t in VOLUME_TYPES if t.name == ref), None)
    if looks_like_id:
        found = type_by_id(ref) or by_name
        if found is None:
            raise cinder_error(404, f"Volume type {ref} could not be found.")
        return found
    if by_name is None:
        raise cinder_error(404, f"Volume type with name {ref} could not be found.")
    return by_name


def type_view(cc: CinderCall, volume_type: VolumeType) -> dict[str, Any]:
    """A reader sees only the user-visible extra specs; an admin all, and qos_specs_id."""
    admin = cc.call.user.is_admin
    view: dict[str, Any] = {
        "id": volume_type.id,
        "name": volume_type.name,
        "is_public": volume_type.is_public,
        "description": volume_type.description,
        "extra_specs": {
            k: v
            for k, v in volume_type.extra_specs.items()
            if admin or k in USER_VISIBLE_EXTRA_SPECS
        },
    }
    if admin:
        view["qos_specs_id"] = None
    view["os-volume-type-access:is_public"] = volume_type.is_public
    return view


def list_types(cc: CinderCall, _: dict[str, str]) -> Response:
    return Response(200, {"volume_types": [type_view(cc, t) for t in VOLUME_TYPES]})


def show_type(cc: CinderCall, params: dict[str, str]) -> Response:
    ref = params["id"]
    found = default_type() if ref == "default" else type_by_id(ref)
    if found is None:
        raise cinder_error(404, f"Volume type {ref} could not be found.")
    return Response(200, {"volume_type": type_view(cc, found)})
