"""POST /servers/{id}/action: start, stop, reboot, resize (confirm, revert), rebuild,
add/removeSecurityGroup.

Checks run in Nova's order (compute/api.py decorators): the host (a server that was never
scheduled is "not ready"), then the vm_state and task_state, then "must have launched".
A resize is scheduled like a boot, its own host included (realstack sets
allow_resize_to_same_host): RESIZE (resize_prep, resize_migrating, resize_migrated,
resize_finish) -> VERIFY_RESIZE with the new flavor on the chosen host while the old host
keeps the old flavor's resources; when no host can take it, the server is back to what it
was after resize_prep, nothing changed (only Nova's instance action says Error).
confirmResize (204) frees the old host; revertResize (202, REVERT_RESIZE) goes back to the
old flavor and host.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

from ..formats import now
from ..http import Response
from ..lifecycle import ServerState, state_of
from .common import (
    NovaCall,
    check_metadata_quota,
    invalid,
    links,
    load_server,
    nova_error,
    ref_id,
    require_state,
    validate_metadata,
)
from .scheduler import (
    Flavor,
    NoValidHost,
    host_names,
    request_for,
    select_hosts,
    usage,
)
from .security_groups import group_for_action, set_groups
from .server_groups import group_of
from .servers import generate_password
from .views import load_extras, server_groups_field, server_view, shown_host

Action = Callable[[NovaCall, sqlite3.Connection, sqlite3.Row, Any], Response]

# ---- timings ---------------------------------------------------------------------------------


def _quick(nc: NovaCall) -> float:
    """Power changes, reboots, a resize that finds no host: short on the fake driver."""
    return max(0.2, min(nc.call.runtime.settings.boot_seconds, 1.0))


def _long(nc: NovaCall) -> float:
    """A resize or a rebuild: about as long as a boot."""
    return max(0.4, nc.call.runtime.settings.boot_seconds)


def _transition(
    conn: sqlite3.Connection, row: sqlite3.Row, task: str | None, target: str, seconds: float
) -> float:
    """Run `task` from the current vm_state to `target`; returns when it ends."""
    t = now()
    current = state_of(row, t).vm_state
    conn.execute(
        "UPDATE servers SET prev_vm_state = ?, vm_state = ?, task_state = ?, task_started = ?,"
        " task_until = ?, updated_at = ? WHERE id = ?",
        (current, target, task, t, t + seconds, t, row["id"]),
    )
    return t + seconds


def _require_built(row: sqlite3.Row) -> None:
    """os-start / os-stop read the instance from its cell: while it is being scheduled it
    is only a build request there, and the answer is a 404."""
    state = state_of(row, now())
    if state.vm_state == "building" and state.task_state == "scheduling":
        raise nova_error(404, f"Instance {row['id']} could not be found.")


def _require_host(row: sqlite3.Row) -> ServerState:
    """check_instance_host: a server no host took cannot be started, stopped or resized."""
    at = now()
    state = state_of(row, at)
    if shown_host(row, state, at) is None:
        raise nova_error(409, f"Instance {row['id']} is not ready")
    return state


def _require_launched(row: sqlite3.Row, action: str) -> None:
    """check_instance_state(must_have_launched=True): a server that never ran."""
    if row["launched_at"] is None:
        raise nova_error(409, f"Instance {row['id']} is in an invalid state for '{action}'")


# ---- power -----------------------------------------------------------------------------------


def _stop(nc: NovaCall, conn: sqlite3.Connection, row: sqlite3.Row, _: Any) -> Response:
    _require_built(row)
    _require_host(row)
    require_state(row, "stop", ("active", "error"))
    _transition(conn, row, "powering-off", "stopped", _quick(nc))
    return Response(202)


def _start(nc: NovaCall, conn: sqlite3.Connection, row: sqlite3.Row, _: Any) -> Response:
    _require_built(row)
    _require_host(row)
    require_state(row, "start", ("stopped",))
    _transition(conn, row, "powering-on", "active", _quick(nc))
    return Response(202)


def _reboot(nc: NovaCall, conn: sqlite3.Connection, row: sqlite3.Row, payload: Any) -> Response:
    kind = str((payload or {}).get("type", "")).upper() if isinstance(payload, dict) else ""
    if kind not in ("SOFT", "HARD"):
        raise invalid(
            "type",
            kind,
            f"'{kind}' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']",
        )
    if kind == "SOFT":
        require_state(row, "reboot", ("active",))
    else:
        require_state(row, "reboot", ("active", "stopped", "error"))
    task = "reboot_started" if kind == "SOFT" else "reboot_started_hard"
    _transition(conn, row, task, "active", _quick(nc))
    return Response(202)


# ---- security groups -------------------------------------------------------------------------


def _add_security_group(
    nc: NovaCall, conn: sqlite3.Connection, row: sqlite3.Row, payload: Any
) -> Response:
    group = group_for_action(nc, conn, payload)
    groups = json.loads(row["security_groups"])
    if group["id"] in groups:
        # Nova passes on Neutron's port update error, request id and all
        raise nova_error(
            400,
            "Invalid input for security_groups. Reason: Duplicate items in the list:"
            f" '{group['id']}'.\nNeutron server returns request_ids:"
            f" ['req-{uuid.uuid4()}']",
        )
    if conn.execute("SELECT 1 FROM ports WHERE device_id = ?", (row["id"],)).fetchone() is None:
        raise nova_error(
            404, f"instance_id {row['id']} could not be found as device id on any ports"
        )
    set_groups(conn, row["id"], [*groups, group["id"]])
    return Response(202)


def _remove_security_group(
    nc: NovaCall, conn: sqlite3.Connection, row: sqlite3.Row, payload: Any
) -> Response:
    group = group_for_action(nc, conn, payload)
    groups = json.loads(row["security_groups"])
    if group["id"] not in groups:
        raise nova_error(
            404,
            f"Security group {group['name']} not associated with the instance {row['id']}",
        )
    set_groups(conn, row["id"], [g for g in groups if g != group["id"]])
    return Response(202)


# ---- resize ----------------------------------------------------------------------------------


def _flavor_json(flavor: sqlite3.Row) -> str:
    return json.dumps(
        {k: flavor[k] for k in ("id", "name", "vcpus", "ram", "disk", "ephemeral", "swap")}
    )


def _check_upsize_quota(nc: NovaCall, conn: sqlite3.Connection, old: Flavor, new: Flavor) -> None:
    """_check_quota_for_upsize: only growth counts, as cores and ram."""
    faults = nc.call.runtime.faults.faults
    used = conn.execute(
        "SELECT COALESCE(SUM(vcpus), 0), COALESCE(SUM(ram), 0) FROM servers"
        " WHERE project_id = ? AND (deleted_at IS NULL OR deleted_at > ?)",
        (nc.call.user.project_id, now()),
    ).fetchone()
    for resource, delta, already, allowed in (
        ("cores", new.vcpus - old.vcpus, int(used[0]), faults.quota_cores),
        ("ram", new.ram - old.ram, int(used[1]), faults.quota_ram),
    ):
        if delta > 0 and already + delta > allowed:
            raise nova_error(
                403,
                f"Quota exceeded for {resource}: Requested {delta}, but already used"
                f" {already} of {allowed} {resource}",
            )


def _resize_body(payload: Any) -> str:
    if not isinstance(payload, dict):
        raise invalid("resize", payload, f"{payload!r} is not of type 'object'")
    for key in payload:
        if key not in ("flavorRef", "OS-DCF:diskConfig"):
            raise invalid(
                "resize", payload, f"Additional properties are not allowed ('{key}' was unexpected)"
            )
    if "flavorRef" not in payload:
        raise invalid("resize", payload, "'flavorRef' is a required property")
    return ref_id(payload["flavorRef"])


def _resize(nc: NovaCall, conn: sqlite3.Connection, row: sqlite3.Row, payload: Any) -> Response:
    flavor_id = _resize_body(payload)
    state = require_state(row, "resize", ("active", "stopped"))
    _require_host(row)
    _require_launched(row, "resize")
    flavor = conn.execute("SELECT * FROM flavors WHERE id = ?", (flavor_id,)).fetchone()
    if flavor is None:
        raise nova_error(400, f"Flavor {flavor_id} could not be found.")
    if flavor["id"] == row["flavor_id"]:
        raise nova_error(400, "When resizing, instances must change flavor!")
    current = json.loads(row["flavor"])
    new = Flavor.of(flavor)
    _check_upsize_quota(nc, conn, Flavor.of(current), new)
    settings = nc.call.runtime.settings
    at = now()
    group = group_of(conn, [row["id"]]).get(row["id"])
    request = request_for(
        conn,
        new,
        json.loads(row["scheduler_hints"]),
        group,
        at,
        server_id=row["id"],
    )
    try:
        (destination,) = select_hosts(
            host_names(settings), settings.host_capacity, usage(conn, at), request, 1
        )
    except NoValidHost:
        # the conductor puts the server back as it was; only the instance action says Error
        _transition(conn, row, "resize_prep", state.vm_state, _quick(nc))
        return Response(202)
    conn.execute(
        "UPDATE servers SET old_flavor = ?, old_host = host, old_vm_state = ?, flavor = ?,"
        " flavor_id = ?, vcpus = ?, ram = ?, host = ? WHERE id = ?",
        (
            json.dumps({"id": row["flavor_id"], **current}),
            state.vm_state,
            _flavor_json(flavor),
            flavor["id"],
            flavor["vcpus"],
            flavor["ram"],
            destination,
            row["id"],
        ),
    )
    _transition(conn, row, "resize_prep", "resized", _long(nc))
    return Response(202)


def _require_resized(row: sqlite3.Row, action: str) -> None:
    require_state(row, action, ("resized",))
    if row["old_flavor"] is None:
        # the migration is no longer "finished" (a confirm is under way)
        raise nova_error(400, "Instance has not been resized.")


def _confirm_resize(nc: NovaCall, conn: sqlite3.Connection, row: sqlite3.Row, _: Any) -> Response:
    _require_resized(row, "confirmResize")
    conn.execute("UPDATE servers SET old_flavor = NULL, old_host = NULL WHERE id = ?", (row["id"],))
    _transition(conn, row, None, row["old_vm_state"] or "active", _quick(nc))
    return Response(204)


def _revert_resize(nc: NovaCall, conn: sqlite3.Connection, row: sqlite3.Row, _: Any) -> Response:
    _require_resized(row, "revertResize")
    old = json.loads(row["old_flavor"])
    current = json.loads(row["flavor"])
    _check_upsize_quota(nc, conn, Flavor.of(current), Flavor.of(old))
    conn.execute(
        "UPDATE servers SET flavor = ?, flavor_id = ?, vcpus = ?, ram = ?, host = old_host,"
        " old_flavor = ?, old_host = host WHERE id = ?",
        (
            json.dumps({k: v for k, v in old.items() if k != "id"}),
            old["id"],
            old["vcpus"],
            old["ram"],
            json.dumps({"id": row["flavor_id"], **current}),
            row["id"],
        ),
    )
    _transition(conn, row, "resize_reverting", row["old_vm_state"] or "active", _long(nc))
    return Response(202)


# ---- rebuild ---------------------------------------------------------------------------------

REBUILD_KEYS = (
    (None, "imageRef"),
    (None, "name"),
    (None, "adminPass"),
    (None, "metadata"),
    (None, "preserve_ephemeral"),
    (None, "OS-DCF:diskConfig"),
    (None, "accessIPv4"),
    (None, "accessIPv6"),
    ((2, 19), "description"),
    ((2, 54), "key_name"),
    ((2, 57), "user_data"),
    ((2, 63), "trusted_image_certificates"),
    ((2, 90), "hostname"),
)


def _rebuild_body(nc: NovaCall, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise invalid("rebuild", payload, f"{payload!r} is not of type 'object'")
    allowed = {key for since, key in REBUILD_KEYS if since is None or nc.at_least(*since)}
    if not nc.at_least(2, 57):
        allowed.add("personality")
    for key in payload:
        if key not in allowed:
            raise invalid(
                "rebuild",
                payload,
                f"Additional properties are not allowed ('{key}' was unexpected)",
            )
    if "imageRef" not in payload:
        raise invalid("rebuild", payload, "'imageRef' is a required property")
    name = payload.get("name")
    if "name" in payload and (not isinstance(name, str) or not name.strip() or len(name) > 255):
        raise invalid("name", name, f"{name!r} is not a valid name")
    description = payload.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 255):
        raise invalid("description", description, f"{description!r} is not a valid description")
    if "metadata" in payload:
        check_metadata_quota(validate_metadata(payload["metadata"]))
    return payload


def _rebuild(nc: NovaCall, conn: sqlite3.Connection, row: sqlite3.Row, payload: Any) -> Response:
    body = _rebuild_body(nc, payload)
    state = require_state(row, "rebuild", ("active", "stopped", "error"))
    _require_launched(row, "rebuild")
    key_name = body.get("key_name", row["key_name"])
    if "key_name" in body and key_name is not None:
        found = conn.execute(
            "SELECT 1 FROM keypairs WHERE user_id = ? AND name = ?",
            (nc.call.user.user_id, key_name),
        ).fetchone()
        if found is None:
            raise nova_error(400, "Invalid key_name provided.")
    image_id = ref_id(body["imageRef"])
    image = conn.execute("SELECT status FROM images WHERE id = ?", (image_id,)).fetchone()
    if image is None:
        raise nova_error(400, "Cannot find image for rebuild")
    if image["status"] != "active":
        raise nova_error(400, f"Image {image_id} is not active.")
    target = "stopped" if state.vm_state == "stopped" else "active"
    ends = _transition(conn, row, "rebuilding", target, _long(nc))
    conn.execute(
        "UPDATE servers SET image_id = ?, name = ?, metadata = ?, description = ?, key_name = ?,"
        " user_data = ?, launched_at = ? WHERE id = ?",
        (
            image_id,
            body.get("name", row["name"]),
            json.dumps(validate_metadata(body["metadata"]))
            if "metadata" in body
            else row["metadata"],
            body.get("description", row["description"]),
            key_name,
            body.get("user_data", row["user_data"]),
            ends,
            row["id"],
        ),
    )
    rebuilt = load_server(nc, conn, row["id"])
    password = body.get("adminPass")
    return Response(
        202,
        {"server": _rebuild_view(nc, conn, rebuilt, password)},
        headers={"Location": f"{nc.url}/v2.1/servers/{row['id']}"},
    )


REBUILD_VIEW_KEYS = (
    (None, "accessIPv4"),
    (None, "accessIPv6"),
    (None, "addresses"),
    (None, "created"),
    (None, "flavor"),
    (None, "hostId"),
    (None, "id"),
    (None, "image"),
    (None, "links"),
    (None, "metadata"),
    (None, "name"),
    (None, "status"),
    (None, "tenant_id"),
    (None, "user_id"),
    (None, "updated"),
    (None, "OS-DCF:diskConfig"),
    (None, "progress"),
    (None, "fault"),
    ((2, 54), "key_name"),
    ((2, 9), "locked"),
    ((2, 19), "description"),
    ((2, 26), "tags"),
    ((2, 63), "trusted_image_certificates"),
    ((2, 73), "locked_reason"),
)


def _rebuild_view(
    nc: NovaCall, conn: sqlite3.Connection, row: sqlite3.Row, password: str | None
) -> dict[str, Any]:
    """The rebuild answer: before 2.75 a short view (addresses without type and MAC), from
    2.75 the whole detail view; adminPass, and user_data from 2.57."""
    extras = load_extras(conn, [row])
    full = server_view(nc, row, extras, now())
    full.pop("OS-EXT-SRV-ATTR:user_data", None)
    if nc.at_least(2, 75):
        server = full
    else:
        server = {
            key: full[key]
            for since, key in REBUILD_VIEW_KEYS
            if key in full and (since is None or nc.at_least(*since))
        }
        server["addresses"] = {
            network: [{"version": a["version"], "addr": a["addr"]} for a in entries]
            for network, entries in full["addresses"].items()
        }
        server["links"] = links(nc, "servers", row["id"])
    if nc.at_least(2, 71):
        server["server_groups"] = server_groups_field(row, extras)
    server["adminPass"] = password if password is not None else generate_password()
    if nc.at_least(2, 57):
        server["user_data"] = row["user_data"]
    return server


# ---- dispatch --------------------------------------------------------------------------------

ACTIONS: dict[str, Action] = {
    "os-stop": _stop,
    "os-start": _start,
    "reboot": _reboot,
    "resize": _resize,
    "confirmResize": _confirm_resize,
    "revertResize": _revert_resize,
    "rebuild": _rebuild,
    "addSecurityGroup": _add_security_group,
    "removeSecurityGroup": _remove_security_group,
}


def server_action(nc: NovaCall, params: dict[str, str]) -> Response:
    try:
        data = nc.call.request.json()
    except ValueError as exc:
        raise nova_error(400, "Malformed request body") from exc
    if not isinstance(data, dict) or len(data) != 1:
        raise nova_error(400, "Malformed request body")
    action, payload = next(iter(data.items()))
    handler = ACTIONS.get(action)
    if handler is None:
        raise nova_error(400, f"There is no such action: {action}")
    with nc.call.runtime.store.write() as conn:
        row = load_server(nc, conn, params["id"])
        return handler(nc, conn, row, payload)
