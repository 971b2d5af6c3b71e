"""/servers/{id}/os-volume_attachments (compute/volume_attachments.py) and the block device
mappings a server's volumes are held by: attach, detach, and what a server's delete does to them.

An attachment row is Nova's block device mapping and Cinder's attachment at once: Nova lists
it from the request on, Cinder shows it once the attach is done; both drop it when a detach
is done. The volume's statuses are set alongside: reserved, attaching, in-use; detaching,
available (or deleting, for delete_on_termination when the server goes).
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

from ..cinder import set_course, status_at, step_seconds
from ..cinder.states import Phases
from ..context import Runtime
from ..formats import new_id, now
from ..http import Response
from .common import NovaCall, invalid, load_server, nova_error, require_state

ATTACHABLE_VM_STATES = (
    "active",
    "paused",
    "stopped",
    "resized",
    "soft-delete",
    "shelved",
    "shelved_offloaded",
)
DEVICE = re.compile(r"(^/dev/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*$")
UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
BOOLEANS = {
    True: True,
    "True": True,
    "TRUE": True,
    "true": True,
    "1": True,
    "ON": True,
    "On": True,
    "on": True,
    "YES": True,
    "Yes": True,
    "yes": True,
    False: False,
    "False": False,
    "FALSE": False,
    "false": False,
    "0": False,
    "OFF": False,
    "Off": False,
    "off": False,
    "NO": False,
    "No": False,
    "no": False,
}
RESERVABLE = ("available", "downloading")


def active_mappings(
    conn: sqlite3.Connection, server_ids: Sequence[str], at: float
) -> dict[str, list[sqlite3.Row]]:
    """Each server's block device mappings with a volume that exist at `at`, oldest first."""
    found: dict[str, list[sqlite3.Row]] = {}
    for start in range(0, len(server_ids), 900):
        chunk = list(server_ids[start : start + 900])
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT * FROM volume_attachments WHERE server_id IN ({marks}) AND created_at <= ?"
            " AND (detached_at IS NULL OR detached_at > ?) ORDER BY seq",
            [*chunk, at, at],
        ):
            found.setdefault(row["server_id"], []).append(row)
    return found


def volumes_attached(nc: NovaCall, mappings: Sequence[sqlite3.Row]) -> list[dict[str, Any]]:
    """The server's `os-extended-volumes:volumes_attached` (delete_on_termination from 2.3)."""
    shown = []
    for row in mappings:
        item: dict[str, Any] = {"id": row["volume_id"]}
        if nc.at_least(2, 3):
            item["delete_on_termination"] = bool(row["delete_on_termination"])
        shown.append(item)
    return shown


def _request_id() -> str:
    return f"req-{uuid.uuid4()}"


def cinder_refusal(volume: sqlite3.Row, status: str) -> str | None:
    """Why Cinder's attachment_create would refuse this volume (as Nova reports it), or None."""
    if "error" in status:
        reason = (
            "Invalid volume: Volume attachments can not be created if the volume is in an error"
            f" state. The Volume {volume['id']} currently has a status of: {status} "
        )
    elif status not in RESERVABLE:
        reason = (
            f"Invalid volume: Volume {volume['id']} status must be available or downloading to"
            f" reserve, but the current status is {status}."
        )
    else:
        return None
    return f"Invalid input received: {reason} (HTTP 400) (Request-ID: {_request_id()})"


ROOT_DEVICE = "/dev/sda"
"""The root disk's name under Nova's fake virt driver (realstack's), so data volumes get
/dev/sdb, /dev/sdc, ... (compute_utils.get_next_device_name)."""


def next_device(mappings: Sequence[sqlite3.Row]) -> str:
    """The first free /dev/sdX after the root disk."""
    used = {str(row["device"]) for row in mappings if row["device"]}
    for letter in "bcdefghijklmnopqrstuvwxyz":
        if f"/dev/sd{letter}" not in used:
            return f"/dev/sd{letter}"
    raise nova_error(
        403,
        "The maximum allowed number of disk devices (26) to attach to a single"
        " instance has been exceeded.",
    )


def add_mapping(
    conn: sqlite3.Connection,
    runtime: Runtime,
    server_id: str,
    volume_id: str,
    device: str,
    at: float,
    *,
    attached_at: float | None = None,
    tag: str | None = None,
    delete_on_termination: bool = False,
    boot_index: int | None = None,
    phases: Phases | None = None,
    listed_at: float | None = None,
) -> None:
    """Record the mapping and set the volume on its way to in-use: through `phases`, by
    default reserved then attaching, done at `attached_at` (by default one step on). Nova
    lists the mapping from `listed_at` (by default at once; a volume the compute host makes
    at boot has no id in its mapping until it is attached)."""
    step = step_seconds(runtime)
    done = attached_at if attached_at is not None else at + step
    conn.execute(
        "INSERT INTO volume_attachments (id, bdm_id, volume_id, server_id, device, tag,"
        " boot_index, delete_on_termination, created_at, attached_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            new_id(),
            new_id(),
            volume_id,
            server_id,
            device,
            tag,
            boot_index,
            int(delete_on_termination),
            at if listed_at is None else listed_at,
            done,
        ),
    )
    if phases is None:
        phases = [("reserved", at + (done - at) / 3), ("attaching", done)]
    set_course(conn, volume_id, phases, "in-use", at)


def release_mappings(
    conn: sqlite3.Connection, runtime: Runtime, server_id: str, done: float, at: float
) -> None:
    """What deleting a server does to its volumes once it is gone (at `done`): each is
    detached, and deleted after that when its mapping says delete_on_termination."""
    rows = conn.execute(
        "SELECT * FROM volume_attachments WHERE server_id = ?"
        " AND (detached_at IS NULL OR detached_at > ?)",
        (server_id, at),
    ).fetchall()
    for row in rows:
        conn.execute(
            "UPDATE volume_attachments SET detached_at = ? WHERE id = ?", (done, row["id"])
        )
        if row["delete_on_termination"]:
            gone = done + runtime.settings.delete_seconds
            set_course(
                conn, row["volume_id"], [("detaching", done), ("deleting", gone)], "deleting", at
            )
            conn.execute("UPDATE volumes SET deleted_at = ? WHERE id = ?", (gone, row["volume_id"]))
        else:
            set_course(conn, row["volume_id"], [("detaching", done)], "available", at)


# ---- the API ------------------------------------------------------------------------------


def _view(nc: NovaCall, row: sqlite3.Row) -> dict[str, Any]:
    """_translate_attachment_detail_view at the request's microversion."""
    view: dict[str, Any] = {}
    if not nc.at_least(2, 89):
        view["id"] = row["volume_id"]
    view["volumeId"] = row["volume_id"]
    view["serverId"] = row["server_id"]
    if row["device"]:
        view["device"] = row["device"]
    if nc.at_least(2, 70):
        view["tag"] = row["tag"]
    if nc.at_least(2, 79):
        view["delete_on_termination"] = bool(row["delete_on_termination"])
    if nc.at_least(2, 89):
        view["attachment_id"] = row["id"]
        view["bdm_uuid"] = row["bdm_id"]
    return view


def _paging(nc: NovaCall) -> tuple[int, int]:
    """common.limited: offset and limit, both non-negative integers."""
    values = []
    for name, default in (("offset", 0), ("limit", 1000)):
        text = nc.call.request.param(name)
        if text is None:
            values.append(default)
            continue
        if not text.isdigit():
            raise nova_error(
                400,
                f"Invalid input for query parameters {name}. Value: {text}. '{text}' does not"
                " match '^[0-9]*$'",
            )
        values.append(int(text))
    return values[0], min(values[1] or 1000, 1000)


def list_attachments(nc: NovaCall, params: dict[str, str]) -> Response:
    offset, limit = _paging(nc)
    at = now()
    with nc.call.runtime.store.read() as conn:
        server = load_server(nc, conn, params["id"])
        rows = active_mappings(conn, [server["id"]], at).get(server["id"], [])
    page = rows[offset : offset + limit]
    return Response(200, {"volumeAttachments": [_view(nc, r) for r in page]})


def _not_attached(server_id: str, volume_id: str) -> Exception:
    return nova_error(404, f"Instance {server_id} is not attached to volume {volume_id}")


def show_attachment(nc: NovaCall, params: dict[str, str]) -> Response:
    at = now()
    with nc.call.runtime.store.read() as conn:
        server = load_server(nc, conn, params["id"])
        rows = active_mappings(conn, [server["id"]], at).get(server["id"], [])
    found = next((r for r in rows if r["volume_id"] == params["volume_id"]), None)
    if found is None:
        raise _not_attached(params["id"], params["volume_id"])
    return Response(200, {"volumeAttachment": _view(nc, found)})


def _attach_body(nc: NovaCall) -> dict[str, Any]:
    """The schema: volumeId (a UUID) required; device; tag from 2.49; delete_on_termination
    from 2.79; nothing else."""
    data = nc.body("volumeAttachment")
    allowed = {"volumeId", "device"}
    if nc.at_least(2, 49):
        allowed.add("tag")
    if nc.at_least(2, 79):
        allowed.add("delete_on_termination")
    for key in data:
        if key not in allowed:
            raise invalid(
                "volumeAttachment",
                data,
                f"Additional properties are not allowed ('{key}' was unexpected)",
            )
    if "volumeId" not in data:
        raise invalid("volumeAttachment", data, "'volumeId' is a required property")
    volume_id = data["volumeId"]
    if not isinstance(volume_id, str) or not UUID.match(volume_id):
        raise invalid("volumeId", volume_id, f"'{volume_id}' is not a 'uuid'")
    device = data.get("device")
    if device is not None and (not isinstance(device, str) or not DEVICE.search(device)):
        raise invalid(
            "device",
            device,
            f"'{device}' does not match '(^/dev/x{{0,1}}[a-z]{{0,1}}d{{0,1}})([a-z]+)[0-9]*$'",
        )
    tag = data.get("tag")
    if tag is not None and (
        not isinstance(tag, str) or not 1 <= len(tag) <= 60 or "/" in tag or "," in tag
    ):
        raise invalid("tag", tag, f"'{tag}' does not match '^[^,/]*$'")
    if "delete_on_termination" in data and data["delete_on_termination"] not in BOOLEANS:
        value = data["delete_on_termination"]
        raise invalid(
            "delete_on_termination",
            value,
            f"{value!r} is not one of [True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on',"
            " 'YES', 'Yes', 'yes', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off',"
            " 'NO', 'No', 'no']",
        )
    return data


def _visible_volume(nc: NovaCall, conn: sqlite3.Connection, volume_id: str) -> sqlite3.Row:
    """The volume as Nova's cinder API gets it with the user's token: 404 when not there."""
    principal = nc.call.user
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM volumes WHERE id = ?", (volume_id,)
    ).fetchone()
    if (
        row is None
        or (row["project_id"] != principal.project_id and not principal.is_admin)
        or (row["deleted_at"] is not None and row["deleted_at"] <= now())
    ):
        raise nova_error(404, f"Volume {volume_id} could not be found.")
    return row


def _check_unlocked(nc: NovaCall, server: sqlite3.Row) -> None:
    if server["locked"] and not nc.call.user.is_admin:
        raise nova_error(409, f"Instance {server['id']} is locked")


def create_attachment(nc: NovaCall, params: dict[str, str]) -> Response:
    """Attach: 200 with the attachment (device chosen) before 2.101, a bare 202 from then
    on, when the conductor is cast to and a volume Cinder will not reserve stays as it was."""
    data = _attach_body(nc)
    volume_id = str(data["volumeId"])
    delete_on_termination = BOOLEANS[data.get("delete_on_termination", False)]
    runtime = nc.call.runtime
    with runtime.store.write() as conn:
        server = load_server(nc, conn, params["id"])
        _check_unlocked(nc, server)
        require_state(server, "attach_volume", ATTACHABLE_VM_STATES)
        volume = _visible_volume(nc, conn, volume_id)
        t = now()
        holders = conn.execute(
            "SELECT server_id FROM volume_attachments WHERE volume_id = ?"
            " AND (detached_at IS NULL OR detached_at > ?) ORDER BY seq",
            (volume_id, t),
        ).fetchall()
        if holders:
            servers = " ".join(str(h["server_id"]) for h in holders)
            raise nova_error(
                400,
                f"Invalid volume: volume {volume_id} is already attached to instances: {servers}",
            )
        mappings = active_mappings(conn, [server["id"]], t).get(server["id"], [])
        device = data.get("device")
        if device and any(m["device"] == device for m in mappings):
            raise nova_error(409, f"The supplied device path ({device}) is in use.")
        device = device or next_device(mappings)
        refusal = cinder_refusal(volume, status_at(volume, t))
        legacy = not nc.at_least(2, 101)
        if refusal is not None:
            if legacy:
                raise nova_error(400, refusal)
            return Response(202)
        add_mapping(
            conn,
            runtime,
            server["id"],
            volume_id,
            device,
            t,
            tag=data.get("tag"),
            delete_on_termination=delete_on_termination,
        )
    if not legacy:
        return Response(202)
    attachment: dict[str, Any] = {
        "id": volume_id,
        "serverId": server["id"],
        "volumeId": volume_id,
        "device": device,
    }
    if nc.at_least(2, 70):
        attachment["tag"] = data.get("tag")
    if nc.at_least(2, 79):
        attachment["delete_on_termination"] = delete_on_termination
    return Response(200, {"volumeAttachment": attachment})


def delete_attachment(nc: NovaCall, params: dict[str, str]) -> Response:
    """Detach: 202, the volume `detaching` then `available`; never the root volume."""
    runtime = nc.call.runtime
    volume_id = params["volume_id"]
    with runtime.store.write() as conn:
        server = load_server(nc, conn, params["id"])
        volume = _visible_volume(nc, conn, volume_id)
        t = now()
        mappings = active_mappings(conn, [server["id"]], t).get(server["id"], [])
        mapping = next((m for m in mappings if m["volume_id"] == volume_id), None)
        if mapping is None:
            raise _not_attached(server["id"], volume_id)
        if mapping["boot_index"] == 0:
            raise nova_error(400, "Cannot detach a root device volume")
        _check_unlocked(nc, server)
        require_state(server, "detach_volume", ATTACHABLE_VM_STATES)
        if status_at(volume, t) != "in-use":
            raise nova_error(
                400,
                "Invalid volume: Invalid input received: Invalid volume: Unable to detach volume."
                " Volume status must be 'in-use' and attach_status must be 'attached' to detach."
                f" (HTTP 400) (Request-ID: {_request_id()})",
            )
        done = t + step_seconds(runtime)
        conn.execute(
            "UPDATE volume_attachments SET detached_at = ? WHERE id = ?", (done, mapping["id"])
        )
        set_course(conn, volume_id, [("detaching", done)], "available", t)
    return Response(202)
