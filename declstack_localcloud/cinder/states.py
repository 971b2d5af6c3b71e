"""Volume statuses computed from stored timestamps, as servers' are (../lifecycle.py).

A volume row holds the status it ends in and the phases it passes through first, each a
[status, until] pair; reading a row at `at` gives what Cinder would report then. Every
change (create, attach, extend, detach, delete) replaces the phases from its moment on.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from ..context import Runtime

Row = sqlite3.Row | Mapping[str, Any]
Phases = list[tuple[str, float]]

DELETABLE = ("available", "error", "error_restoring", "error_extending", "error_managing")


def step_seconds(runtime: Runtime) -> float:
    """How long one transition (creating, attaching, extending, ...) takes: half a boot."""
    return runtime.settings.boot_seconds / 2


def status_at(row: Row, at: float) -> str:
    """The status Cinder reports at `at`; "deleted" once a delete has completed."""
    if row["deleted_at"] is not None and row["deleted_at"] <= at:
        return "deleted"
    for status, until in json.loads(row["phases"]):
        if at < until:
            return str(status)
    return str(row["status"])


def size_at(row: Row, at: float) -> int:
    """An extend shows the old size until the backend has grown the volume."""
    if row["resized_at"] is not None and at < row["resized_at"] and row["old_size"] is not None:
        return int(row["old_size"])
    return int(row["size"])


def updated_at(row: Row, at: float) -> float | None:
    """Cinder stamps updated_at on every status change: the last one passed by `at`."""
    stamp: float | None = row["updated_at"]
    for _, until in json.loads(row["phases"]):
        if until <= at and (stamp is None or until > stamp):
            stamp = until
    return stamp


def phases_json(phases: Sequence[tuple[str, float]]) -> str:
    return json.dumps([[status, until] for status, until in phases])


def set_course(
    conn: sqlite3.Connection, volume_id: str, phases: Phases, final: str, at: float
) -> None:
    """From `at` on, the volume passes through `phases` and then stays `final`."""
    conn.execute(
        "UPDATE volumes SET phases = ?, status = ?, updated_at = ? WHERE id = ?",
        (phases_json(phases), final, at, volume_id),
    )
