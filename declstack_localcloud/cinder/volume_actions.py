"""POST /volumes/{id}/action: os-extend (cinder/api/contrib/volume_actions.py, volume/api.py)."""

from __future__ import annotations

from typing import Any

from ..formats import now
from ..http import Response
from .common import (
    CinderCall,
    cinder_error,
    load_volume,
    quota_error,
    reject_extra,
    require_object,
    validate_size,
)
from .quotas import over_quota, usage
from .states import set_course, size_at, status_at, step_seconds

ACTIONS = ("os-extend",)


def volume_action(cc: CinderCall, params: dict[str, str]) -> Response:
    data = cc.body()
    if not isinstance(data, dict) or len(data) != 1:
        raise cinder_error(400, "Malformed request body")
    action = next(iter(data))
    if action not in ACTIONS:
        raise cinder_error(
            400,
            f"There is no such action: {action}. Verify the request body and Content-Type header"
            " and try again.",
        )
    return _extend(cc, params["id"], data)


def _extend(cc: CinderCall, volume_id: str, data: dict[str, Any]) -> Response:
    """An available volume, or from 3.42 an in-use one, goes `extending` and back, its size
    growing when the backend is done. The checks come in Cinder's order: the new size must
    be larger, the status must allow it, then the quota must hold the difference."""
    body = require_object(data, "os-extend")
    reject_extra(body, {"new_size"}, "os-extend")
    if "new_size" not in body:
        raise cinder_error(
            400,
            f"Invalid input for field/attribute os-extend. Value: {body}. 'new_size' is a"
            " required property",
        )
    new_size = validate_size("new_size", body["new_size"])
    assert new_size is not None
    runtime = cc.call.runtime
    with runtime.store.write() as conn:
        row = load_volume(cc, conn, volume_id)
        t = now()
        status = status_at(row, t)
        current = size_at(row, t)
        if new_size <= current:
            raise cinder_error(
                400,
                "Invalid input received: New size for extend must be greater than current size."
                f" (current: {current}, extended: {new_size}).",
            )
        expected = "in-use" if cc.at_least(3, 42) and status == "in-use" else "available"
        if status != expected:
            raise cinder_error(
                400,
                f"Invalid volume: Volume {row['id']} status must be '{{'status': '{expected}'}}'"
                f" to extend, currently {status}.",
            )
        growth = new_size - current
        used = usage(conn, row["project_id"], t)
        problem = over_quota(used, runtime.faults.faults, 0, growth)
        if problem is not None:
            raise quota_error(problem)
        done = t + step_seconds(runtime)
        set_course(conn, row["id"], [("extending", done)], expected, t)
        conn.execute(
            "UPDATE volumes SET old_size = ?, size = ?, resized_at = ? WHERE id = ?",
            (current, new_size, done, row["id"]),
        )
    return Response(202)
