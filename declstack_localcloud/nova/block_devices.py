"""block_device_mapping_v2 at server create: boot from a volume made from an image, attach
existing or new blank volumes at boot (nova/block_device.py from_api, compute/api.py
_validate_bdm, virt/block_device.py), and what the compute host does with them.

Supported: image -> volume (the boot volume, made by Nova, named ""), volume -> volume (an
existing volume, reserved at once), blank -> volume (a new empty volume), and image -> local
with boot_index 0 beside imageRef (what clients add for the image they boot from). Snapshots
do not exist in the local cloud, so a snapshot source is "failed to get snapshot".
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from ..cinder import NewVolume, insert_volume, status_at
from ..cinder.quotas import over_quota, usage
from ..cinder.states import Phases
from ..cinder.types import VolumeType, default_type, type_by_name_or_id
from ..context import Principal, Runtime
from ..http import ApiError
from .common import NovaCall, invalid, nova_error
from .volume_attachments import BOOLEANS, ROOT_DEVICE, add_mapping, cinder_refusal

ITEM_KEYS = {
    "virtual_name",
    "volume_id",
    "snapshot_id",
    "volume_size",
    "device_name",
    "delete_on_termination",
    "no_device",
    "connection_info",
    "source_type",
    "uuid",
    "image_id",
    "destination_type",
    "guest_format",
    "device_type",
    "disk_bus",
    "boot_index",
}
SOURCE_TYPES = ("volume", "image", "snapshot", "blank")
DESTINATION_TYPES = ("local", "volume")
GIB = 1024**3


@dataclass(frozen=True)
class Mapping:
    """One requested block device, validated as far as the request alone allows."""

    source_type: str
    destination_type: str
    uuid: str | None
    boot_index: int | None
    volume_size: int | None
    delete_on_termination: bool
    device_name: str | None
    tag: str | None
    volume_type: str | None
    guest_format: str | None


@dataclass(frozen=True)
class Planned:
    """A mapping checked against the cloud: what to make or attach for each new server."""

    mapping: Mapping
    volume: sqlite3.Row | None
    image: sqlite3.Row | None
    volume_type: VolumeType | None


def _size(value: Any) -> int:
    """parameter_types.volume_size: an integer or string of digits, 1 to 2**31-1."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise invalid("volume_size", value, f"{value!r} is not of type 'integer', 'string'")
    if isinstance(value, str) and not re.fullmatch(r"[0-9]+", value):
        raise invalid("volume_size", value, f"{value!r} does not match '^[0-9]+$'")
    number = int(value)
    if number < 1:
        raise invalid("volume_size", number, f"{number} is less than the minimum of 1")
    if number > 0x7FFFFFFF:
        raise invalid("volume_size", number, f"{number} is greater than the maximum of 2147483647")
    return number


def _bdm_error(details: str) -> ApiError:
    return nova_error(400, f"Block Device Mapping is Invalid: {details}")


def _one(nc: NovaCall, item: Any, image_uuid_given: bool) -> Mapping:
    if not isinstance(item, dict):
        raise invalid("block_device_mapping_v2", item, f"{item!r} is not of type 'object'")
    allowed = set(ITEM_KEYS)
    if nc.version == (2, 32) or nc.at_least(2, 42):
        allowed.add("tag")
    if nc.at_least(2, 67):
        allowed.add("volume_type")
    for key in item:
        if key not in allowed:
            raise invalid(
                "block_device_mapping_v2",
                item,
                f"Additional properties are not allowed ('{key}' was unexpected)",
            )
    source = item.get("source_type")
    if source is not None and source not in SOURCE_TYPES:
        raise invalid("source_type", source, f"{source!r} is not one of {list(SOURCE_TYPES)}")
    destination = item.get("destination_type")
    if destination is not None and destination not in DESTINATION_TYPES:
        raise invalid(
            "destination_type",
            destination,
            f"{destination!r} is not one of {list(DESTINATION_TYPES)}",
        )
    boot_index = item.get("boot_index")
    if boot_index is not None:
        if isinstance(boot_index, bool) or not isinstance(boot_index, int | str):
            raise invalid(
                "boot_index",
                boot_index,
                f"{boot_index!r} is not of type 'integer', 'string', 'null'",
            )
        if isinstance(boot_index, str) and not re.fullmatch(r"-?[0-9]+", boot_index):
            raise invalid("boot_index", boot_index, f"{boot_index!r} does not match '^-?[0-9]+$'")
        boot_index = int(boot_index)
    size = _size(item["volume_size"]) if "volume_size" in item else None
    delete = item.get("delete_on_termination", False)
    if delete not in BOOLEANS:
        raise invalid("delete_on_termination", delete, f"{delete!r} is not a boolean")
    device_uuid = item.get("uuid")
    volume_type = item.get("volume_type")
    # BlockDeviceDict.from_api
    if source == "blank" and device_uuid:
        raise _bdm_error("Invalid device UUID.")
    if source != "blank" and not device_uuid:
        raise _bdm_error("Missing device UUID.")
    if source == "image" and destination == "local" and not (image_uuid_given and boot_index == 0):
        raise _bdm_error("Mapping image to local is not supported.")
    if destination == "local" and volume_type:
        raise _bdm_error("Specifying a volume_type with destination_type=local is not supported.")
    if source == "volume" and volume_type:
        raise _bdm_error("Specifying volume type to existing volume is not supported.")
    return Mapping(
        source_type=str(source),
        destination_type=str(destination or "volume"),
        uuid=None if device_uuid is None else str(device_uuid),
        boot_index=boot_index,
        volume_size=size,
        delete_on_termination=BOOLEANS[delete],
        device_name=item.get("device_name"),
        tag=item.get("tag"),
        volume_type=volume_type,
        guest_format=item.get("guest_format"),
    )


def parse_block_devices(nc: NovaCall, data: dict[str, Any]) -> list[Mapping]:
    """The request's block_device_mapping_v2, checked as the schema and from_api do."""
    if data.get("block_device_mapping") and data.get("block_device_mapping_v2"):
        raise nova_error(
            400, "Using different block_device_mapping syntaxes is not allowed in the same request."
        )
    if data.get("block_device_mapping"):
        raise nova_error(
            400,
            "The legacy block_device_mapping is not supported by the local cloud; use"
            " block_device_mapping_v2.",
        )
    items = data.get("block_device_mapping_v2") or []
    if not isinstance(items, list):
        raise invalid("block_device_mapping_v2", items, f"{items!r} is not of type 'array'")
    image_given = data.get("imageRef") not in (None, "")
    return [_one(nc, item, image_given) for item in items]


def _visible_image(
    conn: sqlite3.Connection, principal: Principal, image_id: str
) -> sqlite3.Row | None:
    where, args = "1 = 1", []
    if not principal.is_admin:
        where = "(owner IS NULL OR visibility IN ('public', 'community') OR owner = ?)"
        args = [principal.project_id]
    row: sqlite3.Row | None = conn.execute(
        f"SELECT * FROM images WHERE id = ? AND {where}", [image_id, *args]
    ).fetchone()
    return row


def check_block_devices(
    nc: NovaCall,
    conn: sqlite3.Connection,
    mappings: list[Mapping],
    flavor: sqlite3.Row,
    max_count: int,
    at: float,
) -> list[Planned]:
    """compute/api.py's checks before anything is made: boot sequence, each source there and
    usable, sizes, volume types, the flavor's ephemeral and swap."""
    if not mappings:
        return []
    principal = nc.call.user
    if max_count > 1 and any(m.source_type == "volume" for m in mappings):
        raise nova_error(400, "Cannot attach one or more volumes to multiple instances")
    boot = sorted(m.boot_index for m in mappings if m.boot_index is not None and m.boot_index >= 0)
    if not boot or any(i != v for i, v in enumerate(boot)):
        raise nova_error(
            400,
            "Block Device Mapping is Invalid: Boot sequence for the instance and image/block"
            " device mapping combination is not valid.",
        )
    planned = []
    for m in mappings:
        volume_type = None
        if m.volume_type:
            try:
                volume_type = type_by_name_or_id(m.volume_type)
            except ApiError:
                raise nova_error(400, f"Volume type {m.volume_type} could not be found.") from None
        volume = image = None
        if m.source_type == "image":
            image = _visible_image(conn, principal, str(m.uuid))
            if image is None or image["status"] != "active":
                raise _bdm_error(f"failed to get image {m.uuid}.")
            if m.destination_type == "volume" and not m.volume_size:
                raise nova_error(
                    400,
                    "Images with destination_type 'volume' need to have a non-zero size specified",
                )
            if m.boot_index == 0 and m.volume_size and int(image["min_disk"]) > m.volume_size:
                raise nova_error(
                    400,
                    "Volume is smaller than the minimum size specified in image metadata. Volume"
                    f" size is {m.volume_size * GIB} bytes, minimum size is"
                    f" {int(image['min_disk']) * GIB} bytes.",
                )
        elif m.source_type == "volume":
            volume = _usable_volume(nc, conn, str(m.uuid), at)
        elif m.source_type == "snapshot":
            raise _bdm_error(f"failed to get snapshot {m.uuid}.")
        elif m.destination_type == "volume" and not m.volume_size:
            raise nova_error(
                400,
                "Blank volumes (source: 'blank', dest: 'volume') need to have non-zero size",
            )
        elif m.destination_type == "local":
            if m.guest_format == "swap":
                if (m.volume_size or 0) > int(flavor["swap"]):
                    raise nova_error(
                        400, "Swap drive requested is larger than instance type allows."
                    )
            elif (m.volume_size or 0) > int(flavor["ephemeral"]):
                raise nova_error(
                    400,
                    "Ephemeral disks requested are larger than the instance type allows. If no"
                    " size is given in one block device mapping, flavor ephemeral size will be"
                    " used.",
                )
        planned.append(Planned(m, volume, image, volume_type))
    return planned


def _usable_volume(
    nc: NovaCall, conn: sqlite3.Connection, volume_id: str, at: float
) -> sqlite3.Row:
    """An existing volume to attach at boot: visible, not attached, reservable by Cinder."""
    principal = nc.call.user
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM volumes WHERE id = ?", (volume_id,)
    ).fetchone()
    if (
        row is None
        or (row["project_id"] != principal.project_id and not principal.is_admin)
        or status_at(row, at) == "deleted"
    ):
        raise _bdm_error(f"failed to get volume {volume_id}.")
    refusal = cinder_refusal(row, status_at(row, at))
    if refusal is not None:
        raise nova_error(400, f"Invalid volume: {refusal}")
    return row


def attach_for_boot(
    conn: sqlite3.Connection,
    runtime: Runtime,
    principal: Principal,
    server_id: str,
    planned: list[Planned],
    at: float,
    boot_end: float,
) -> str | None:
    """What the compute host does while the server builds: make the volumes (image and blank
    sources), then attach every volume, all in use by `boot_end`. Returns the build fault
    when Cinder refuses a volume for its quota (the server then ends in ERROR)."""
    span = max(boot_end - at, 0.0)
    attached_at = at + 0.9 * span
    used = usage(conn, principal.project_id, at)
    wanted = [p for p in planned if p.mapping.destination_type == "volume" and p.volume is None]
    gigabytes = sum(p.mapping.volume_size or 0 for p in wanted)
    problem = over_quota(used, runtime.faults.faults, len(wanted), gigabytes)
    if problem is not None:
        return f"Build of instance {server_id} aborted: {problem}"
    devices = iter(f"/dev/sd{letter}" for letter in "bcdefghijklmnopqrstuvwxyz")
    taken = {p.mapping.device_name for p in planned if p.mapping.device_name}
    for p in planned:
        m = p.mapping
        if m.destination_type != "volume":
            continue
        if m.boot_index == 0:
            device = ROOT_DEVICE
        else:
            device = m.device_name or next(d for d in devices if d not in taken)
        if p.volume is not None:
            volume_id = str(p.volume["id"])
            phases: Phases = [("reserved", at + 0.6 * span), ("attaching", attached_at)]
        else:
            new = NewVolume(
                principal.project_id,
                principal.user_id,
                int(m.volume_size or 0),
                p.volume_type or default_type(),
                "",
                "",
                None,
                p.image,
            )
            phases = [("creating", at + 0.25 * span)]
            if p.image is not None:
                phases.append(("downloading", at + 0.5 * span))
            phases += [("reserved", at + 0.6 * span), ("attaching", attached_at)]
            volume_id = insert_volume(conn, new, phases, "in-use", at)
        add_mapping(
            conn,
            runtime,
            server_id,
            volume_id,
            device,
            at,
            attached_at=attached_at,
            tag=m.tag,
            delete_on_termination=m.delete_on_termination,
            boot_index=m.boot_index,
            phases=phases,
            listed_at=at if p.volume is not None else attached_at,
        )
    return None


def build_failed(conn: sqlite3.Connection, server_id: str, fault: str, at: float) -> None:
    """The server ends in ERROR with the fault instead of going ACTIVE (its ports are
    released when `reap_at` comes, as for any failed build)."""
    conn.execute(
        "UPDATE servers SET vm_state = 'error', launched_at = NULL, fault_message = ?,"
        " fault_code = 500, reap_at = ? WHERE id = ?",
        (fault, at, server_id),
    )


__all__ = [
    "Mapping",
    "Planned",
    "attach_for_boot",
    "build_failed",
    "check_block_devices",
    "parse_block_devices",
]
