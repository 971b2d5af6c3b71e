"""Server lifecycle computed from stored timestamps, so state advances with no background thread.

A server row records the state it is heading to (`vm_state`), the state it leaves
(`prev_vm_state`), the task in progress and when that task ends (`task_until`), plus
when a requested delete completes (`deleted_at`). Reading a row at time `now` yields
what Nova would report at that moment; restarts lose nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SCHEDULING_SHARE = 0.3
POWER_RUNNING = 1
POWER_SHUTDOWN = 4
POWER_NOSTATE = 0
RESIZE_TASKS = ("resize_prep", "resize_migrating", "resize_migrated", "resize_finish")
REBUILD_TASKS = ("rebuilding", "rebuild_block_device_mapping", "rebuild_spawning")


@dataclass(frozen=True)
class ServerState:
    """What Nova reports for a server at one instant."""

    status: str
    vm_state: str
    task_state: str | None
    power_state: int
    updated_at: float
    gone: bool
    networked: bool
    launched: bool


def status_of(vm_state: str, task_state: str | None) -> str:
    """Nova's (vm_state, task_state) -> status mapping, for the states simulated here."""
    if vm_state == "building":
        return "BUILD"
    if task_state in RESIZE_TASKS and vm_state in ("active", "stopped"):
        return "RESIZE"
    if task_state in REBUILD_TASKS and vm_state in ("active", "stopped", "error"):
        return "REBUILD"
    if vm_state == "active":
        if task_state == "reboot_started_hard":
            return "HARD_REBOOT"
        if task_state in ("reboot_started", "rebooting"):
            return "REBOOT"
        return "ACTIVE"
    if vm_state == "stopped":
        return "SHUTOFF"
    if vm_state == "resized":
        return "REVERT_RESIZE" if task_state == "resize_reverting" else "VERIFY_RESIZE"
    if vm_state == "error":
        return "ERROR"
    if vm_state == "deleted":
        return "DELETED"
    return "UNKNOWN"


def _phases(task_state: str | None, vm_state: str) -> tuple[str, ...] | None:
    """A stored task that Nova runs as several task states, each for an equal share of its
    time: a resize that found a host, a rebuild."""
    if task_state == "resize_prep" and vm_state == "resized":
        return RESIZE_TASKS
    if task_state == "rebuilding":
        return REBUILD_TASKS
    return None


def _effective(
    vm_state: str,
    prev_vm_state: str,
    task_state: str | None,
    task_started: float,
    task_until: float,
    now: float,
) -> tuple[str, str | None]:
    if now >= task_until:
        return vm_state, None
    if prev_vm_state == "building" and task_state == "spawning":
        split = task_started + SCHEDULING_SHARE * (task_until - task_started)
        return prev_vm_state, "scheduling" if now < split else "spawning"
    phases = _phases(task_state, vm_state)
    if phases and task_until > task_started:
        share = (now - task_started) / (task_until - task_started)
        return prev_vm_state, phases[min(int(share * len(phases)), len(phases) - 1)]
    return prev_vm_state, task_state


def state_of(row: sqlite3.Row | Mapping[str, Any], now: float) -> ServerState:
    """The server as seen at `now`; `row` is a servers table row."""
    deleted_at = row["deleted_at"]
    if deleted_at is not None and deleted_at <= now:
        return ServerState("DELETED", "deleted", None, POWER_NOSTATE, deleted_at, True, False, True)
    vm_state, task_state = _effective(
        row["vm_state"],
        row["prev_vm_state"],
        row["task_state"],
        row["task_started"],
        row["task_until"],
        now,
    )
    if row["delete_requested_at"] is not None:
        task_state = "deleting"
    updated = row["updated_at"]
    if row["task_until"] <= now:
        updated = max(updated, row["task_until"])
    power = {"active": POWER_RUNNING, "stopped": POWER_SHUTDOWN}.get(vm_state, POWER_NOSTATE)
    if vm_state == "resized":
        power = POWER_SHUTDOWN if row["old_vm_state"] == "stopped" else POWER_RUNNING
    networked = vm_state not in ("error", "deleted") and not (
        vm_state == "building" and task_state == "scheduling"
    )
    return ServerState(
        status=status_of(vm_state, task_state),
        vm_state=vm_state,
        task_state=task_state,
        power_state=power,
        updated_at=updated,
        gone=False,
        networked=networked,
        launched=vm_state not in ("building", "error"),
    )


def sql_status(
    vm_state: str,
    prev_vm_state: str,
    task_state: str | None,
    task_started: float,
    task_until: float,
    deleted_at: float | None,
    now: float,
) -> str:
    """The status as a SQLite function, so `?status=` filters page correctly in SQL."""
    if deleted_at is not None and deleted_at <= now:
        return "DELETED"
    vm, task = _effective(vm_state, prev_vm_state, task_state, task_started, task_until, now)
    return status_of(vm, task)
