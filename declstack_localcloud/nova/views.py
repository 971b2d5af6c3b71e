"""The server view builder (nova/api/openstack/compute/views/servers.py)."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from dataclasses import dataclass, field, replace
from typing import Any

from ..formats import iso_micro, iso_seconds, now
from ..lifecycle import ServerState, state_of
from .common import (
    NovaCall,
    links,
)
from .server_groups import group_of
from .volume_attachments import active_mappings, volumes_attached

# ---- views -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extras:
    """Per-page side data loaded in bulk so a 1,000-server page costs a few queries."""

    tags: dict[str, list[str]]
    addresses: dict[str, dict[str, list[dict[str, Any]]]]
    group_names: dict[str, str]
    server_groups: dict[str, str]

    volumes: dict[str, list[sqlite3.Row]] = field(default_factory=dict)


def load_extras(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> Extras:
    """Tags, addresses, groups and the volumes attached (block device mappings) of a page."""
    extras = _base_extras(conn, rows)
    return replace(extras, volumes=active_mappings(conn, [row["id"] for row in rows], now()))


def _base_extras(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> Extras:
    ids = [row["id"] for row in rows]
    tags: dict[str, list[str]] = {}
    addresses: dict[str, dict[str, list[dict[str, Any]]]] = {}
    if ids:
        network_names = {r["id"]: r["name"] for r in conn.execute("SELECT id, name FROM networks")}
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for tag_row in conn.execute(
                f"SELECT server_id, tag FROM server_tags WHERE server_id IN ({marks})", chunk
            ):
                tags.setdefault(tag_row["server_id"], []).append(tag_row["tag"])
            for port in conn.execute(
                f"SELECT p.device_id, p.network_id, p.ip_address, p.mac_address,"
                f" f.address AS floating FROM ports p LEFT JOIN floatingips f ON f.port_id = p.id"
                f" WHERE p.device_id IN ({marks}) ORDER BY p.created_at",
                chunk,
            ):
                by_net = addresses.setdefault(port["device_id"], {})
                entries = by_net.setdefault(network_names.get(port["network_id"], "unknown"), [])
                entries.append(
                    {
                        "version": 4,
                        "addr": port["ip_address"],
                        "OS-EXT-IPS:type": "fixed",
                        "OS-EXT-IPS-MAC:mac_addr": port["mac_address"],
                    }
                )
                if port["floating"]:
                    # Nova's network info cache lists the floating IP after the fixed one,
                    # under the fixed IP's network.
                    entries.append(
                        {
                            "version": 4,
                            "addr": port["floating"],
                            "OS-EXT-IPS:type": "floating",
                            "OS-EXT-IPS-MAC:mac_addr": port["mac_address"],
                        }
                    )
    groups = {r["id"]: r["name"] for r in conn.execute("SELECT id, name FROM security_groups")}
    return Extras(tags, addresses, groups, group_of(conn, ids))


def _leaving(row: sqlite3.Row, state: ServerState, at: float, what: str) -> bool:
    """Does Nova still show the `what` ("host" or "flavor") a resize or its revert leaves?
    On realstack a resize moves the host at resize_migrated and the flavor at
    resize_finish; a revert shows the resized host and flavor for its first half."""
    if row["old_flavor"] is None:
        return False
    if state.task_state == "resize_reverting":
        started, until = float(row["task_started"]), float(row["task_until"])
        return at - started < (until - started) / 2
    if what == "host":
        return state.task_state in ("resize_prep", "resize_migrating")
    return state.task_state in ("resize_prep", "resize_migrating", "resize_migrated")


def shown_host(row: sqlite3.Row, state: ServerState, at: float) -> str | None:
    """The compute host Nova would name now (none while the server is being scheduled)."""
    if state.gone or (state.vm_state == "building" and state.task_state == "scheduling"):
        return None
    host: str | None = row["old_host"] if _leaving(row, state, at, "host") else row["host"]
    return host


def _flavor_in_server(
    nc: NovaCall, row: sqlite3.Row, state: ServerState, at: float
) -> dict[str, Any]:
    flavor = json.loads(row["old_flavor"] if _leaving(row, state, at, "flavor") else row["flavor"])
    flavor_id = flavor.get("id", row["flavor_id"])
    if not nc.at_least(2, 47):
        return {
            "id": flavor_id,
            "links": [{"rel": "bookmark", "href": f"{nc.url}/flavors/{flavor_id}"}],
        }
    return {
        "vcpus": flavor["vcpus"],
        "ram": flavor["ram"],
        "disk": flavor["disk"],
        "ephemeral": flavor["ephemeral"],
        "swap": flavor["swap"],
        "original_name": flavor["name"],
        "extra_specs": {},
    }


def _image(nc: NovaCall, row: sqlite3.Row) -> dict[str, Any] | str:
    """The image it was built from, or "" for a server booted from a volume without one."""
    if not row["image_id"]:
        return ""
    return {
        "id": row["image_id"],
        "links": [{"rel": "bookmark", "href": f"{nc.url}/images/{row['image_id']}"}],
    }


def server_view(nc: NovaCall, row: sqlite3.Row, extras: Extras, at: float) -> dict[str, Any]:
    """A server exactly as Nova's detail view shows it at microversion `nc.version`."""
    state = state_of(row, at)
    principal = nc.call.user
    host = shown_host(row, state, at)
    server: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "status": state.status,
        "tenant_id": row["project_id"],
        "user_id": row["user_id"],
        "metadata": json.loads(row["metadata"]),
        "hostId": ""
        if state.vm_state in ("building", "error", "deleted") or not host
        else hashlib.sha224((row["project_id"] + host).encode()).hexdigest(),
        "image": _image(nc, row),
        "flavor": _flavor_in_server(nc, row, state, at),
        "created": iso_seconds(row["created_at"]),
        "updated": iso_seconds(state.updated_at),
        "addresses": extras.addresses.get(row["id"], {}) if state.networked else {},
        "accessIPv4": "",
        "accessIPv6": "",
        "links": links(nc, "servers", row["id"]),
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": row["availability_zone"]
        if state.vm_state != "building"
        else "",
        "config_drive": row["config_drive"],
        "key_name": row["key_name"],
        "OS-SRV-USG:launched_at": iso_micro(row["launched_at"])
        if state.launched and row["launched_at"] is not None
        else None,
        "OS-SRV-USG:terminated_at": iso_micro(row["deleted_at"]) if state.gone else None,
        "OS-EXT-STS:task_state": state.task_state,
        "OS-EXT-STS:vm_state": state.vm_state,
        "OS-EXT-STS:power_state": state.power_state,
        "os-extended-volumes:volumes_attached": volumes_attached(
            nc, extras.volumes.get(row["id"], [])
        ),
    }
    if state.status in ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"):
        server["progress"] = 0
    groups = json.loads(row["security_groups"])
    if groups and extras.addresses.get(row["id"]) and not state.gone:
        server["security_groups"] = [{"name": extras.group_names.get(g, g)} for g in groups]
    if principal.is_admin:
        server.update(_extended_attributes(nc, row, state, host))
    if state.status in ("ERROR", "DELETED") and row["fault_message"]:
        server["fault"] = {
            "code": row["fault_code"],
            "created": iso_seconds(row["task_until"]),
            "message": row["fault_message"],
        }
        if principal.is_admin:
            server["fault"]["details"] = "Traceback (most recent call last): ... NoValidHost"
    if nc.at_least(2, 9):
        server["locked"] = bool(row["locked"])
    if nc.at_least(2, 16) and principal.is_admin:
        server["host_status"] = "UP" if host else ""
    if nc.at_least(2, 19):
        server["description"] = row["description"]
    if nc.at_least(2, 26):
        server["tags"] = sorted(extras.tags.get(row["id"], []))
    if nc.at_least(2, 63):
        server["trusted_image_certificates"] = None
    if nc.at_least(2, 73):
        server["locked_reason"] = None
    if nc.at_least(2, 90):
        server["OS-EXT-SRV-ATTR:hostname"] = hostname(row["name"])
    if nc.at_least(2, 96):
        server["pinned_availability_zone"] = None
    if nc.at_least(2, 98) and server["image"]:
        server["image"]["properties"] = {}
    if nc.at_least(2, 100):
        hints = {k: v for k, v in json.loads(row["scheduler_hints"]).items() if k != "group"}
        if row["id"] in extras.server_groups:
            hints["group"] = [extras.server_groups[row["id"]]]
        server["scheduler_hints"] = hints
    return server


def server_groups_field(row: sqlite3.Row, extras: Extras) -> list[str]:
    """`server_groups` (show, update and rebuild from 2.71): the group the server is in."""
    group = extras.server_groups.get(row["id"])
    return [group] if group else []


def _extended_attributes(
    nc: NovaCall, row: sqlite3.Row, state: ServerState, host: str | None
) -> dict[str, Any]:
    """OS-EXT-SRV-ATTR:*, which Nova's default policy shows to admins only."""
    attributes: dict[str, Any] = {
        "OS-EXT-SRV-ATTR:host": host,
        "OS-EXT-SRV-ATTR:instance_name": f"instance-{row['seq']:08x}",
        "OS-EXT-SRV-ATTR:hypervisor_hostname": host,
    }
    if nc.at_least(2, 3):
        attributes.update(
            {
                "OS-EXT-SRV-ATTR:hostname": hostname(row["name"]),
                "OS-EXT-SRV-ATTR:kernel_id": "",
                "OS-EXT-SRV-ATTR:launch_index": row["launch_index"],
                "OS-EXT-SRV-ATTR:ramdisk_id": "",
                "OS-EXT-SRV-ATTR:reservation_id": row["reservation_id"],
                "OS-EXT-SRV-ATTR:root_device_name": "/dev/sda" if row["host"] else None,
                "OS-EXT-SRV-ATTR:user_data": row["user_data"],
            }
        )
    return attributes


def hostname(name: str) -> str:
    """Nova's sanitized hostname: lower case, [a-z0-9-.] only, at most 63 characters."""
    cleaned = re.sub(r"[^a-z0-9.-]+", "-", name.lower().replace("_", "-")).strip("-.")
    return cleaned[:63] or "server"
