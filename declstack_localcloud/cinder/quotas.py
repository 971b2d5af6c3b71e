"""Cinder's volume quotas (cinder/quota_utils.py process_reserve_over_quota) and limits."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..faults import Faults
from ..formats import now
from ..http import Response
from .common import CinderCall


@dataclass(frozen=True)
class Usage:
    volumes: int
    gigabytes: int


def usage(conn: sqlite3.Connection, project_id: str, at: float) -> Usage:
    """A volume counts against the quota until its delete has completed."""
    row = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM volumes"
        " WHERE project_id = ? AND (deleted_at IS NULL OR deleted_at > ?)",
        (project_id, at),
    ).fetchone()
    return Usage(int(row[0]), int(row[1]))


def over_quota(used: Usage, faults: Faults, volumes: int, gigabytes: int) -> str | None:
    """The message of the QuotaError a reservation of `volumes` and `gigabytes` raises, or
    None when it fits. Cinder sorts what is over, so gigabytes is reported before volumes."""
    if gigabytes and used.gigabytes + gigabytes > faults.quota_gigabytes:
        return (
            "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed"
            f" gigabytes quota. Requested {gigabytes}G, quota is {faults.quota_gigabytes}G and"
            f" {used.gigabytes}G has been consumed."
        )
    if volumes and used.volumes + volumes > faults.quota_volumes:
        return (
            f"VolumeLimitExceeded: Maximum number of volumes allowed ({faults.quota_volumes})"
            " exceeded for quota 'volumes'."
        )
    return None


def limits(cc: CinderCall, _: dict[str, str]) -> Response:
    """GET /limits: Cinder's absolute limits (snapshots and backups: Cinder's defaults, unused)."""
    faults = cc.call.runtime.faults.faults
    with cc.call.runtime.store.read() as conn:
        used = usage(conn, cc.call.user.project_id, now())
    absolute = {
        "totalSnapshotsUsed": 0,
        "maxTotalBackups": 10,
        "maxTotalVolumeGigabytes": faults.quota_gigabytes,
        "maxTotalSnapshots": 10,
        "maxTotalBackupGigabytes": 1000,
        "totalBackupGigabytesUsed": 0,
        "maxTotalVolumes": faults.quota_volumes,
        "totalVolumesUsed": used.volumes,
        "totalBackupsUsed": 0,
        "totalGigabytesUsed": used.gigabytes,
    }
    return Response(200, {"limits": {"rate": [], "absolute": absolute}})
