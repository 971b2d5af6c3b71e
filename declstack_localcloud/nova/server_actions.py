"""POST /servers/{id}/action: start, stop, reboot, add/removeSecurityGroup."""

from __future__ import annotations

import json
import sqlite3
import uuid

from ..formats import now
from ..http import Response
from ..lifecycle import state_of
from .common import (
    NovaCall,
    invalid,
    load_server,
    nova_error,
    require_state,
)
from .security_groups import group_for_action, set_groups

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
        row = load_server(nc, conn, params["id"])
        if action == "os-stop":
            require_state(row, "stop", ("active", "error"))
            _transition(conn, row, "powering-off", "stopped", quick)
        elif action == "os-start":
            require_state(row, "start", ("stopped",))
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
                require_state(row, "reboot", ("active",))
            else:
                require_state(row, "reboot", ("active", "stopped", "error"))
            task = "reboot_started" if kind == "SOFT" else "reboot_started_hard"
            _transition(conn, row, task, "active", quick)
        elif action == "addSecurityGroup":
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
            if (
                conn.execute("SELECT 1 FROM ports WHERE device_id = ?", (row["id"],)).fetchone()
                is None
            ):
                raise nova_error(
                    404, f"instance_id {row['id']} could not be found as device id on any ports"
                )
            set_groups(conn, row["id"], [*groups, group["id"]])
        elif action == "removeSecurityGroup":
            group = group_for_action(nc, conn, payload)
            groups = json.loads(row["security_groups"])
            if group["id"] not in groups:
                raise nova_error(
                    404,
                    f"Security group {group['name']} not associated with the instance {row['id']}",
                )
            set_groups(conn, row["id"], [g for g in groups if g != group["id"]])
        else:
            raise nova_error(400, f"There is no such action: {action}")
    return Response(202)
