"""Servers: create, list (filters, paging), show, update, delete (compute/servers.py)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import secrets
import sqlite3
from typing import Any
from urllib.parse import urlencode

from ..formats import new_id, now, parse_iso
from ..http import Response
from ..lifecycle import SCHEDULING_SHARE
from ..neutron import allocate_port, nova_networks, reap
from ..seed import AVAILABILITY_ZONE, ensure_default_security_group
from .block_devices import (
    attach_for_boot,
    build_failed,
    check_block_devices,
    parse_block_devices,
)
from .common import (
    MAX_LIMIT,
    MAX_USER_DATA,
    NO_VALID_HOST,
    SERVER_KEYS,
    NovaCall,
    check_metadata_quota,
    invalid,
    links,
    load_server,
    nova_error,
    ref_id,
    touch,
    unexpected,
    validate_metadata,
    validate_tags,
)
from .scheduler import Flavor, place_new, scheduler_hints
from .server_groups import join_group, requested_group
from .views import load_extras, server_groups_field, server_view
from .volume_attachments import release_mappings

TRUE_STRINGS = ("1", "t", "true", "on", "y", "yes")
FALSE_STRINGS = ("0", "f", "false", "off", "n", "no")

# ---- servers ---------------------------------------------------------------------------------


def _resolve_networks(
    nc: NovaCall, conn: sqlite3.Connection, requested: Any
) -> list[tuple[str, str | None]]:
    """(network id, fixed IP asked for) to attach, following Nova's 2.37 rules for
    auto/none/explicit lists."""
    principal = nc.call.user
    available = nova_networks(conn, principal.project_id)
    if requested is None:
        if nc.at_least(2, 37):
            raise invalid(
                "server",
                "{...}",
                "'networks' is a required property",
            )
        return [(row["id"], None) for row in available]
    if requested == "none":
        if not nc.at_least(2, 37):
            raise invalid(
                "networks",
                "none",
                "'none' is not of type 'array'",
            )
        return []
    if requested == "auto":
        if not nc.at_least(2, 37):
            raise invalid(
                "networks",
                "auto",
                "'auto' is not of type 'array'",
            )
        if len(available) > 1:
            raise nova_error(
                409, "Multiple possible networks found, use a Network ID to be more specific."
            )
        if not available:
            raise nova_error(400, "Unable to automatically allocate a network for project")
        return [(available[0]["id"], None)]
    if not isinstance(requested, list):
        raise invalid(
            "networks",
            requested,
            f"{requested!r} is not of type 'array'",
        )
    ids = {row["id"] for row in available}
    chosen: list[tuple[str, str | None]] = []
    for item in requested:
        if not isinstance(item, dict):
            raise nova_error(
                400, f"Invalid input for field/attribute networks. Value: {requested}."
            )
        if item.get("port"):
            raise nova_error(
                400, "Booting with pre-created ports is not supported by the local cloud."
            )
        uuid = str(item.get("uuid", ""))
        if uuid not in ids:
            raise nova_error(400, f"Network {uuid} could not be found.")
        fixed_ip = item.get("fixed_ip")
        if fixed_ip is not None:
            fixed_ip = _fixed_ip(conn, uuid, fixed_ip)
        chosen.append((uuid, fixed_ip))
    return chosen


def _fixed_ip(conn: sqlite3.Connection, network_id: str, value: Any) -> str:
    """A requested fixed IP: well formed (the API schema), and not in use on the network
    (network/neutron.py validate_networks, checked before anything is created)."""
    try:
        address = str(ipaddress.ip_address(str(value)))
    except ValueError:
        raise invalid("fixed_ip", value, f"{value!r} is not a 'ip-address'") from None
    port = conn.execute(
        "SELECT device_id FROM ports WHERE network_id = ? AND ip_address = ?",
        (network_id, address),
    ).fetchone()
    if port is not None:
        raise nova_error(
            400,
            f"Fixed IP address {address} is already in use on instance {port['device_id']}.",
        )
    return address


def _port_refused(
    conn: sqlite3.Connection, principal: Any, network_id: str, fixed_ip: str | None
) -> bool:
    """Would Neutron refuse the port the compute host asks for? Choosing the address is
    for the network's owner or an admin (policy create_port:fixed_ips:ip_address), and
    it must be in one of the network's subnets; either failure fails the build."""
    if fixed_ip is None:
        return False
    network = conn.execute("SELECT project_id FROM networks WHERE id = ?", (network_id,)).fetchone()
    if network is None or (
        network["project_id"] != principal.project_id and not principal.is_admin
    ):
        return True
    subnets = conn.execute("SELECT cidr FROM subnets WHERE network_id = ?", (network_id,))
    address = ipaddress.ip_address(fixed_ip)
    return not any(address in ipaddress.ip_network(row["cidr"]) for row in subnets)


def _resolve_security_groups(nc: NovaCall, conn: sqlite3.Connection, requested: Any) -> list[str]:
    project_id = nc.call.user.project_id
    ensure_default_security_group(conn, project_id)
    names = ["default"]
    if requested:
        if not isinstance(requested, list) or not all(
            isinstance(g, dict) and isinstance(g.get("name"), str) for g in requested
        ):
            raise nova_error(
                400, f"Invalid input for field/attribute security_groups. Value: {requested}."
            )
        names = list(dict.fromkeys(g["name"] for g in requested))
    ids = []
    for name in names:
        row = conn.execute(
            "SELECT id FROM security_groups WHERE project_id = ? AND (name = ? OR id = ?)",
            (project_id, name, name),
        ).fetchone()
        if row is None:
            raise nova_error(400, f"Security group {name} not found for project {project_id}.")
        ids.append(row["id"])
    return ids


def _quota_check(
    nc: NovaCall, conn: sqlite3.Connection, min_count: int, max_count: int, vcpus: int, ram: int
) -> int:
    """How many servers (min_count..max_count) fit in the quotas, or Nova's 403."""
    faults = nc.call.runtime.faults.faults
    used = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(vcpus), 0), COALESCE(SUM(ram), 0) FROM servers"
        " WHERE project_id = ? AND (deleted_at IS NULL OR deleted_at > ?)",
        (nc.call.user.project_id, now()),
    ).fetchone()
    checks = (
        ("instances", 1, int(used[0]), faults.quota_instances),
        ("cores", vcpus, int(used[1]), faults.quota_cores),
        ("ram", ram, int(used[2]), faults.quota_ram),
    )
    fits = min((allowed - already) // max(per, 1) for _, per, already, allowed in checks)
    if fits >= min_count:
        return min(fits, max_count)
    for resource, per, already, allowed in checks:
        if already + per * min_count > allowed:
            raise nova_error(
                403,
                f"Quota exceeded for {resource}: Requested {per * min_count}, but already used "
                f"{already} of {allowed} {resource}",
            )
    raise nova_error(403, "Quota exceeded")


def _config_drive(value: Any) -> str:
    """Nova keeps config_drive in a string column: "True", or "" for false (compute/api.py
    _check_config_drive; the Instance object's StringField turns True into "True").
    The schema (parameter_types.boolean) takes a JSON boolean or true/false, 1/0, on/off,
    yes/no as strings."""
    if value is None or value is False:
        return ""
    if value is True:
        return "True"
    text = value.lower() if isinstance(value, str) else None
    if text in ("true", "1", "on", "yes"):
        return "True"
    if text in ("false", "0", "off", "no"):
        return ""
    raise invalid(
        "config_drive",
        value,
        f"{value!r} is not one of [True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES',"
        " 'Yes', 'yes', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No',"
        " 'no']",
    )


def generate_password(length: int = 12) -> str:
    """nova.utils.generate_password: 12 characters without look-alikes."""
    symbols = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    return "".join(secrets.choice(symbols) for _ in range(length))


def _all_tenants(nc: NovaCall, detail: bool) -> bool:
    """common.is_all_tenants, then the get_all_tenants policy (admin only by default)."""
    values = nc.call.request.query.get("all_tenants")
    if values is None:
        return False
    raw = values[-1].strip().lower()
    if raw == "" or raw in TRUE_STRINGS:
        wanted = True
    elif raw in FALSE_STRINGS:
        wanted = False
    else:
        raise nova_error(
            400,
            f"Invalid input received: Unrecognized value '{values[-1]}', acceptable values are:"
            " '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'",
        )
    if wanted and not nc.call.user.is_admin:
        policy = "detail:get_all_tenants" if detail else "index:get_all_tenants"
        raise nova_error(
            403, f"Policy doesn't allow os_compute_api:servers:{policy} to be performed."
        )
    return wanted


def create_server(nc: NovaCall, _: dict[str, str]) -> Response:
    data = nc.body("server")
    allowed = set(SERVER_KEYS)
    if nc.at_least(2, 19):
        allowed.add("description")
    if nc.at_least(2, 52):
        allowed.add("tags")
    if nc.at_least(2, 74):
        allowed.update({"host", "hypervisor_hostname"})
    if nc.at_least(2, 90):
        allowed.add("hostname")
    if nc.at_least(2, 57):
        allowed.discard("personality")
    for key in data:
        if key not in allowed:
            raise unexpected(key)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise nova_error(
            400,
            f"Invalid input for field/attribute name. Value: {name}. 'name' is a required property",
        )
    description = data.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 255):
        raise nova_error(
            400, f"Invalid input for field/attribute description. Value: {description}."
        )
    metadata = validate_metadata(data.get("metadata", {}))
    check_metadata_quota(metadata)
    tags = validate_tags(data.get("tags", []))
    admin_pass = data.get("adminPass")
    if admin_pass is not None and not isinstance(admin_pass, str):
        raise invalid("adminPass", admin_pass, f"{admin_pass!r} is not of type 'string'")
    config_drive = _config_drive(data.get("config_drive"))
    user_data = data.get("user_data")
    if user_data is not None:
        if not isinstance(user_data, str) or len(user_data) > MAX_USER_DATA:
            raise invalid(
                "user_data",
                str(user_data)[:40] + "...",
                f"is too long (max {MAX_USER_DATA})",
            )
        try:
            base64.b64decode(user_data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise nova_error(400, "User data needs to be valid base 64.") from exc
    zone = data.get("availability_zone") or AVAILABILITY_ZONE
    if str(zone).split(":", 1)[0] != AVAILABILITY_ZONE:
        raise nova_error(400, f"The requested availability zone is not available: {zone}")
    try:
        min_count = int(data.get("min_count", 1))
        max_count = int(data.get("max_count", min_count))
    except (TypeError, ValueError) as exc:
        raise nova_error(400, "min_count and max_count must be integers") from exc
    if min_count < 1 or max_count < min_count:
        raise nova_error(400, "min_count must be <= max_count and both must be >= 1")
    block_devices = parse_block_devices(nc, data)
    if not data.get("imageRef") and not block_devices:
        raise nova_error(400, "Missing imageRef attribute")
    principal = nc.call.user
    runtime = nc.call.runtime
    faults = runtime.faults.faults
    hints = scheduler_hints(nc.call.request.json())
    with runtime.store.write() as conn:
        t = now()
        reap(conn, t)
        image_id = ref_id(data["imageRef"]) if data.get("imageRef") else ""
        image = conn.execute("SELECT status FROM images WHERE id = ?", (image_id,)).fetchone()
        if image_id and image is None:
            raise nova_error(400, "Can not find requested image")
        if image_id and image["status"] != "active":
            raise nova_error(400, f"Image {image_id} is not active.")
        flavor_id = ref_id(data.get("flavorRef", ""))
        flavor = conn.execute("SELECT * FROM flavors WHERE id = ?", (flavor_id,)).fetchone()
        if flavor is None:
            raise nova_error(400, f"Flavor {flavor_id} could not be found.")
        key_name = data.get("key_name")
        if (
            key_name is not None
            and conn.execute(
                "SELECT 1 FROM keypairs WHERE user_id = ? AND name = ?",
                (principal.user_id, key_name),
            ).fetchone()
            is None
        ):
            raise nova_error(400, "Invalid key_name provided.")
        attachments = _resolve_networks(nc, conn, data.get("networks"))
        network_ids = [network_id for network_id, _ in attachments]
        if max_count > 1 and any(ip for _, ip in attachments):
            raise nova_error(
                400,
                "Failed to launch instances: max_count cannot be greater than 1 if an "
                "fixed_ip is specified.",
            )
        boot_volumes = check_block_devices(nc, conn, block_devices, flavor, max_count, t)
        group_ids = _resolve_security_groups(nc, conn, data.get("security_groups"))
        count = _quota_check(nc, conn, min_count, max_count, flavor["vcpus"], flavor["ram"])
        group = requested_group(nc, conn, next(iter(hints.get("group", [])), None), count)
        hosts, unplaced = place_new(
            conn,
            runtime.settings,
            Flavor.of(flavor),
            count,
            hints,
            None if group is None else group["id"],
            t,
        )
        flavor_json = json.dumps(
            {k: flavor[k] for k in ("name", "vcpus", "ram", "disk", "ephemeral", "swap")}
        )
        reservation_id = "r-" + new_id()[:8]
        created: list[str] = []
        for index in range(count):
            server_id = new_id()
            refused = any(
                _port_refused(conn, principal, network_id, ip) for network_id, ip in attachments
            )
            fails = refused or runtime.faults.roll_boot_failure() or hosts[index] is None
            fault = (
                "Exceeded maximum number of retries. Exhausted all hosts available for retrying "
                f"build failures for instance {server_id}."
                if refused
                else unplaced or NO_VALID_HOST
            )
            boot_end = t + runtime.settings.boot_seconds + faults.boot_extra_seconds
            if hosts[index] is None:
                # the scheduler says no at once: ERROR when the scheduling phase ends
                boot_end = t + SCHEDULING_SHARE * (boot_end - t)
            server_name = f"{name}-{index + 1}" if max_count > 1 else name
            conn.execute(
                "INSERT INTO servers (id, name, project_id, user_id, image_id, flavor, flavor_id,"
                " vcpus, ram, key_name, availability_zone, description, metadata, security_groups,"
                " user_data, reservation_id, launch_index, created_at, updated_at, launched_at,"
                " vm_state, prev_vm_state, task_state, task_started, task_until, fault_message,"
                " fault_code, reap_at, locked, config_drive, host, scheduler_hints) VALUES"
                f" ({', '.join('?' * 21)}, 'building', 'spawning', ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                (
                    server_id,
                    server_name,
                    principal.project_id,
                    principal.user_id,
                    image_id,
                    flavor_json,
                    flavor_id,
                    flavor["vcpus"],
                    flavor["ram"],
                    key_name,
                    # no host took it: Nova keeps only the zone the request asked for
                    str(
                        zone if not fails or refused else data.get("availability_zone") or ""
                    ).split(":", 1)[0],
                    description,
                    json.dumps(metadata),
                    json.dumps(group_ids if network_ids else []),
                    user_data,
                    reservation_id,
                    index,
                    t,
                    t,
                    None if fails else boot_end,
                    "error" if fails else "active",
                    t,
                    boot_end,
                    fault if fails else None,
                    500 if fails else None,
                    boot_end if fails else None,
                    config_drive,
                    None if fails else hosts[index],
                    json.dumps(hints),
                ),
            )
            if group is not None:
                join_group(conn, group["id"], server_id)
            conn.executemany(
                "INSERT INTO server_tags (server_id, tag) VALUES (?, ?)",
                [(server_id, tag) for tag in tags],
            )
            if boot_volumes and not fails:
                volume_fault = attach_for_boot(
                    conn, runtime, principal, server_id, boot_volumes, t, boot_end
                )
                if volume_fault is not None:
                    build_failed(conn, server_id, volume_fault, boot_end)
            if not refused:
                for network_id, ip in attachments:
                    allocate_port(conn, network_id, server_id, principal.project_id, group_ids, ip)
            created.append(server_id)
    if data.get("return_reservation_id"):
        return Response(202, {"reservation_id": reservation_id})
    first = created[0]
    body: dict[str, Any] = {
        "id": first,
        "links": links(nc, "servers", first),
        "OS-DCF:diskConfig": "MANUAL",
        # Nova returns the requested adminPass, or a generated one (servers.py,
        # _get_server_admin_password), when enable_instance_password is on (default).
        "adminPass": admin_pass if admin_pass is not None else generate_password(),
    }
    body["security_groups"] = [
        {"name": g["name"] if isinstance(g, dict) else g}
        for g in (data.get("security_groups") or [{"name": "default"}])
    ]
    return Response(202, {"server": body}, headers={"Location": f"{nc.url}/v2.1/servers/{first}"})


def _list_filters(nc: NovaCall, at: float, detail: bool) -> tuple[list[str], list[Any], bool]:
    """SQL WHERE clauses for Nova's list filters; the flag says whether deleted rows show."""
    req = nc.call.request
    principal = nc.call.user
    clauses: list[str] = []
    args: list[Any] = []
    if not _all_tenants(nc, detail):
        clauses.append("s.project_id = ?")
        args.append(principal.project_id)
    since_text = req.param("changes-since")
    before_text = req.param("changes-before") if nc.at_least(2, 66) else None
    include_deleted = since_text is not None or before_text is not None
    updated = (
        "MAX(s.updated_at, CASE WHEN s.task_until <= :now THEN s.task_until ELSE 0 END,"
        " CASE WHEN s.deleted_at <= :now THEN s.deleted_at ELSE 0 END)"
    ).replace(":now", "?")
    for text, op in ((since_text, ">="), (before_text, "<=")):
        if text is None:
            continue
        try:
            moment = parse_iso(text)
        except ValueError as exc:
            raise nova_error(400, f"Invalid filter field: changes-since. Value: {text}") from exc
        clauses.append(f"{updated} {op} ?")
        args.extend([at, at, moment])
    if not include_deleted:
        clauses.append("(s.deleted_at IS NULL OR s.deleted_at > ?)")
        args.append(at)
    name = req.param("name")
    if name:
        try:
            re.compile(name)
        except re.error as exc:
            raise nova_error(
                400,
                f"Invalid input for query parameters name. Value: {name}."
                f" '{name}' is not a 'regex'",
            ) from exc
        clauses.append("s.name REGEXP ?")
        args.append(name)
    statuses = [s.upper() for s in req.query.get("status", []) if s]
    if statuses:
        clauses.append(
            "server_status(s.vm_state, s.prev_vm_state, s.task_state, s.task_started,"
            f" s.task_until, s.deleted_at, ?) IN ({','.join('?' * len(statuses))})"
        )
        args.extend([at, *statuses])
    for param, column in (("image", "s.image_id"), ("flavor", "s.flavor_id")):
        value = req.param(param)
        if value:
            clauses.append(f"{column} = ?")
            args.append(ref_id(value))
    ip = req.param("ip")
    if ip:
        clauses.append("s.id IN (SELECT device_id FROM ports WHERE ip_address REGEXP ?)")
        args.append(ip)
    reservation = req.param("reservation_id")
    if reservation:
        clauses.append("s.reservation_id = ?")
        args.append(reservation)
    if nc.at_least(2, 26):
        tag_exists = "EXISTS (SELECT 1 FROM server_tags t WHERE t.server_id = s.id AND t.tag = ?)"
        for param, negate, every in (
            ("tags", False, True),
            ("tags-any", False, False),
            ("not-tags", True, True),
            ("not-tags-any", True, False),
        ):
            value = req.param(param)
            if not value:
                continue
            wanted = [t for t in value.split(",") if t]
            joined = (" AND " if every else " OR ").join([tag_exists] * len(wanted))
            clauses.append(f"{'NOT ' if negate else ''}({joined})")
            args.extend(wanted)
    return clauses, args, include_deleted


def list_servers(nc: NovaCall, detail: bool) -> Response:
    req = nc.call.request
    limit_text = req.param("limit")
    try:
        limit = MAX_LIMIT if limit_text is None else min(int(limit_text), MAX_LIMIT)
    except ValueError as exc:
        raise nova_error(400, f"limit param must be an integer, got {limit_text}") from exc
    if limit < 0:
        raise nova_error(400, "limit param must be positive")
    at = now()
    clauses, args, _ = _list_filters(nc, at, detail)
    with nc.call.runtime.store.read() as conn:
        marker = req.param("marker")
        if marker:
            found = conn.execute("SELECT seq FROM servers WHERE id = ?", (marker,)).fetchone()
            if found is None:
                raise nova_error(400, f"marker [{marker}] not found")
            clauses.append("s.seq < ?")
            args.append(found["seq"])
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = conn.execute(
            f"SELECT s.* FROM servers s {where} ORDER BY s.seq DESC LIMIT ?", [*args, limit]
        ).fetchall()
        if detail:
            extras = load_extras(conn, rows)
            servers = [server_view(nc, row, extras, at) for row in rows]
        else:
            servers = [
                {"id": r["id"], "name": r["name"], "links": links(nc, "servers", r["id"])}
                for r in rows
            ]
    body: dict[str, Any] = {"servers": servers}
    if rows and len(rows) == limit:
        query = [
            (k, v)
            for k, values in req.query.items()
            for v in values
            if k not in ("limit", "marker")
        ]
        query += [("limit", str(limit)), ("marker", rows[-1]["id"])]
        path = "servers/detail" if detail else "servers"
        body["servers_links"] = [
            {"rel": "next", "href": f"{nc.url}/v2.1/{path}?{urlencode(query)}"}
        ]
    return Response(200, body)


def show_server(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.read() as conn:
        row = load_server(nc, conn, params["id"])
        extras = load_extras(conn, [row])
        server = server_view(nc, row, extras, now())
    if nc.at_least(2, 71):
        server["server_groups"] = server_groups_field(row, extras)
    return Response(200, {"server": server})


def update_server(nc: NovaCall, params: dict[str, str]) -> Response:
    data = nc.body("server")
    allowed = {"name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig"}
    if nc.at_least(2, 19):
        allowed.add("description")
    if nc.at_least(2, 90):
        allowed.add("hostname")
    for key in data:
        if key not in allowed:
            raise unexpected(key)
    if "name" in data and (not isinstance(data["name"], str) or not data["name"].strip()):
        raise nova_error(400, f"Invalid input for field/attribute name. Value: {data['name']}.")
    with nc.call.runtime.store.write() as conn:
        row = load_server(nc, conn, params["id"])
        if "name" in data:
            conn.execute("UPDATE servers SET name = ? WHERE id = ?", (data["name"], row["id"]))
        if "description" in data:
            conn.execute(
                "UPDATE servers SET description = ? WHERE id = ?", (data["description"], row["id"])
            )
        touch(conn, row["id"])
        row = load_server(nc, conn, params["id"])
        extras = load_extras(conn, [row])
        server = server_view(nc, row, extras, now())
        if nc.at_least(2, 71):
            server["server_groups"] = server_groups_field(row, extras)
        return Response(200, {"server": server})


def delete_server(nc: NovaCall, params: dict[str, str]) -> Response:
    with nc.call.runtime.store.write() as conn:
        row = load_server(nc, conn, params["id"])
        if row["locked"] and not nc.call.user.is_admin:
            raise nova_error(409, f"Instance {row['id']} is locked")
        if row["delete_requested_at"] is None:
            t = now()
            done = t + nc.call.runtime.settings.delete_seconds
            conn.execute(
                "UPDATE servers SET delete_requested_at = ?, deleted_at = ?, reap_at = ?,"
                " updated_at = ? WHERE id = ?",
                (t, done, done, t, row["id"]),
            )
            release_mappings(conn, nc.call.runtime, row["id"], done, t)
    return Response(204)
