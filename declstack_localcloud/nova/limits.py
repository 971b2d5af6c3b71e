"""GET /limits (compute/limits.py)."""

from __future__ import annotations

from ..formats import now
from ..http import Response
from .common import (
    MAX_METADATA_ITEMS,
    NovaCall,
)


def limits(nc: NovaCall, _: dict[str, str]) -> Response:
    faults = nc.call.runtime.faults.faults
    with nc.call.runtime.store.read() as conn:
        used = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(vcpus), 0), COALESCE(SUM(ram), 0) FROM servers"
            " WHERE project_id = ? AND (deleted_at IS NULL OR deleted_at > ?)",
            (nc.call.user.project_id, now()),
        ).fetchone()
        groups = conn.execute(
            "SELECT COUNT(*) FROM server_groups WHERE project_id = ?", (nc.call.user.project_id,)
        ).fetchone()[0]
    absolute: dict[str, int] = {
        "maxServerMeta": MAX_METADATA_ITEMS,
        "maxTotalInstances": faults.quota_instances,
        "maxTotalCores": faults.quota_cores,
        "maxTotalRAMSize": faults.quota_ram,
        "maxTotalKeypairs": 100,
        "maxServerGroups": faults.quota_server_groups,
        "maxServerGroupMembers": faults.quota_server_group_members,
        "totalInstancesUsed": int(used[0]),
        "totalCoresUsed": int(used[1]),
        "totalRAMUsed": int(used[2]),
        "totalServerGroupsUsed": int(groups),
    }
    if not nc.at_least(2, 36):
        absolute.update(
            {
                "maxSecurityGroups": 10,
                "maxSecurityGroupRules": 20,
                "maxTotalFloatingIps": 10,
                "totalSecurityGroupsUsed": 0,
                "totalFloatingIpsUsed": 0,
            }
        )
    if not nc.at_least(2, 39):
        absolute["maxImageMeta"] = 128
    if not nc.at_least(2, 57):
        absolute.update({"maxPersonality": 5, "maxPersonalitySize": 10240})
    return Response(200, {"limits": {"rate": [], "absolute": absolute}})
