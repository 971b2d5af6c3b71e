"""Security groups and their rules (neutron/db/securitygroups_db.py,
neutron/extensions/securitygroup.py for the exceptions and their messages)."""

from __future__ import annotations

import ipaddress
import sqlite3
from typing import Any

from ..context import Call
from ..formats import new_id, now
from ..http import Response
from ..seed import ensure_default_security_group
from .common import (
    body_of,
    bump,
    collection,
    invalid_input,
    neutron_error,
    reject_unknown,
    stamps,
    tags_by_id,
)


def _template_rule(row: sqlite3.Row) -> bool:
    """A rule Neutron made itself from its template (a new group's two egress rules, the
    default group's four): stored with no description, so shown as null; a rule made
    through the API without one gets the attribute default "" (as realstack shows)."""
    return not row["description"] and all(
        row[k] is None for k in ("protocol", "port_range_min", "port_range_max", "remote_ip_prefix")
    )


def rule_view(row: sqlite3.Row, in_default: bool = False, embedded: bool = False) -> dict[str, Any]:
    """A rule as Neutron shows it. `belongs_to_default_sg` is false in any other group
    (null for the default group's rules, as realstack lists them); `standard_attr_id` and
    `tags` only appear in rules embedded in a group, never in the rule API's bodies."""
    view = {
        "id": row["id"],
        "security_group_id": row["security_group_id"],
        "direction": row["direction"],
        "ethertype": row["ethertype"],
        "protocol": row["protocol"],
        "port_range_min": row["port_range_min"],
        "port_range_max": row["port_range_max"],
        "remote_ip_prefix": row["remote_ip_prefix"],
        "remote_group_id": row["remote_group_id"],
        "remote_address_group_id": None,
        "normalized_cidr": _normalized_cidr(row["remote_ip_prefix"]),
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "belongs_to_default_sg": None if in_default else False,
        "standard_attr_id": abs(hash(row["id"])) % 100000,
        **stamps(row),
        "description": None if _template_rule(row) else row["description"],
        "revision_number": 0,
    }
    if not embedded:
        del view["standard_attr_id"], view["tags"]
    return view


def _in_default(conn: sqlite3.Connection, group_id: str) -> bool:
    row = conn.execute("SELECT name FROM security_groups WHERE id = ?", (group_id,)).fetchone()
    return row is not None and row["name"] == "default"


def _normalized_cidr(prefix: str | None) -> str | None:
    """Neutron keeps `remote_ip_prefix` as given (`10.1.2.3/8`) and shows the network
    (`10.0.0.0/8`) as `normalized_cidr`."""
    return str(ipaddress.ip_network(prefix, strict=False)) if prefix else None


def security_group_view(
    row: sqlite3.Row, rules: list[sqlite3.Row], tags: dict[str, list[str]]
) -> dict[str, Any]:
    return {
        **stamps(row, tags),
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "stateful": True,
        "shared": False,
        "security_group_rules": [
            rule_view(r, in_default=row["name"] == "default", embedded=True) for r in rules
        ],
    }


def _security_groups(call: Call) -> list[dict[str, Any]]:
    with call.runtime.store.write() as conn:
        ensure_default_security_group(conn, call.user.project_id)
    with call.runtime.store.read() as conn:
        rules: dict[str, list[sqlite3.Row]] = {}
        for rule in conn.execute("SELECT * FROM security_group_rules ORDER BY created_at"):
            rules.setdefault(rule["security_group_id"], []).append(rule)
        rows = conn.execute("SELECT * FROM security_groups ORDER BY created_at").fetchall()
        tags = tags_by_id(conn)
    return [
        security_group_view(row, rules.get(row["id"], []), tags)
        for row in rows
        if call.user.is_admin or row["project_id"] == call.user.project_id
    ]


def list_security_groups(call: Call, _: dict[str, str]) -> Response:
    return collection(call, "security_groups", _security_groups(call))


def show_security_group(call: Call, params: dict[str, str]) -> Response:
    for item in _security_groups(call):
        if item["id"] == params["id"]:
            return Response(200, {"security_group": item})
    raise neutron_error(
        404, "SecurityGroupNotFound", f"Security group {params['id']} does not exist"
    )


def list_security_group_rules(call: Call, _: dict[str, str]) -> Response:
    rules = [
        {k: v for k, v in rule.items() if k not in ("standard_attr_id", "tags")}
        for group in _security_groups(call)
        for rule in group["security_group_rules"]
    ]
    return collection(call, "security_group_rules", rules)


PROTOCOLS = (
    "ah",
    "dccp",
    "egp",
    "esp",
    "gre",
    "hopopt",
    "icmp",
    "igmp",
    "ipip",
    "ipv6-encap",
    "ipv6-frag",
    "ipv6-icmp",
    "icmpv6",
    "ipv6-nonxt",
    "ipv6-opts",
    "ipv6-route",
    "ospf",
    "pgm",
    "rsvp",
    "sctp",
    "tcp",
    "udp",
    "udplite",
    "vrrp",
)
PORT_PROTOCOLS = ("tcp", "udp", "dccp", "sctp", "udplite", "6", "17", "33", "132", "136")
RULE_KEYS = {
    "security_group_id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
    "description",
    "tenant_id",
    "project_id",
    "remote_address_group_id",
}


def _group_not_found(group_id: str) -> Exception:
    return neutron_error(404, "SecurityGroupNotFound", f"Security group {group_id} does not exist")


def load_group(conn: sqlite3.Connection, call: Call, group_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM security_groups WHERE id = ?", (group_id,)
    ).fetchone()
    if row is None or (not call.user.is_admin and row["project_id"] != call.user.project_id):
        raise _group_not_found(group_id)
    return row


def insert_rule(
    conn: sqlite3.Connection, group_id: str, project_id: str, rule: dict[str, Any]
) -> str:
    rule_id = new_id()
    conn.execute(
        "INSERT INTO security_group_rules (id, security_group_id, direction, ethertype,"
        " protocol, port_range_min, port_range_max, remote_ip_prefix, remote_group_id,"
        " project_id, created_at, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            rule_id,
            group_id,
            rule["direction"],
            rule["ethertype"],
            rule.get("protocol"),
            rule.get("port_range_min"),
            rule.get("port_range_max"),
            rule.get("remote_ip_prefix"),
            rule.get("remote_group_id"),
            project_id,
            now(),
            rule.get("description", ""),
        ),
    )
    return rule_id


def _group_item(conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    rules = conn.execute(
        "SELECT * FROM security_group_rules WHERE security_group_id = ? ORDER BY created_at",
        (row["id"],),
    ).fetchall()
    return security_group_view(row, rules, tags_by_id(conn))


def create_security_group(call: Call, _: dict[str, str]) -> Response:
    """securitygroups_db.create_security_group: a new group gets the template's two egress
    rules (IPv4 and IPv6, any protocol, anywhere)."""
    data = body_of(call, "security_group")
    if "tags" in data:
        # Tags are allow_post only on ports (tagging.TAG_ATTRIBUTE_MAP_PORTS); a group is
        # tagged after it is made (PUT .../tags, or POST .../tags with tag-creation).
        raise neutron_error(400, "HTTPBadRequest", "Attribute 'tags' not allowed in POST")
    reject_unknown(data, {"name", "description", "stateful", "tenant_id", "project_id"})
    name = str(data.get("name", ""))
    project_id = call.user.project_id
    with call.runtime.store.write() as conn:
        ensure_default_security_group(conn, project_id)
        if name == "default":
            raise neutron_error(
                409, "SecurityGroupDefaultAlreadyExists", "Default security group already exists."
            )
        group_id = new_id()
        t = now()
        conn.execute(
            "INSERT INTO security_groups (id, name, description, project_id, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (group_id, name, str(data.get("description", "")), project_id, t, t),
        )
        for ethertype in ("IPv4", "IPv6"):
            insert_rule(conn, group_id, project_id, {"direction": "egress", "ethertype": ethertype})
        row = load_group(conn, call, group_id)
        return Response(201, {"security_group": _group_item(conn, row)})


def update_security_group(call: Call, params: dict[str, str]) -> Response:
    data = body_of(call, "security_group")
    reject_unknown(data, {"name", "description", "stateful"})
    with call.runtime.store.write() as conn:
        row = load_group(conn, call, params["id"])
        if row["name"] == "default" and "name" in data and data["name"] != "default":
            raise neutron_error(
                409,
                "SecurityGroupCannotUpdateDefault",
                "Updating default security group not allowed.",
            )
        for field in ("name", "description"):
            if field in data:
                conn.execute(
                    f"UPDATE security_groups SET {field} = ? WHERE id = ?",
                    (str(data[field]), row["id"]),
                )
        bump(conn, "security_groups", row["id"])
        row = load_group(conn, call, row["id"])
        return Response(200, {"security_group": _group_item(conn, row)})


def delete_security_group(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.write() as conn:
        row = load_group(conn, call, params["id"])
        if row["name"] == "default" and not call.user.is_admin:
            raise neutron_error(
                409,
                "SecurityGroupCannotRemoveDefault",
                "Insufficient rights for removing default security group.",
            )
        pattern = f'%"{row["id"]}"%'
        if conn.execute("SELECT 1 FROM ports WHERE security_groups LIKE ?", (pattern,)).fetchone():
            raise neutron_error(409, "SecurityGroupInUse", f"Security Group {row['id']} in use.")
        # Rules of other groups naming this one as their remote group go with it
        # (SecurityGroupRule.remote_group_id: ForeignKey(..., ondelete="CASCADE")).
        conn.execute(
            "DELETE FROM security_group_rules WHERE security_group_id = ? OR remote_group_id = ?",
            (row["id"], row["id"]),
        )
        conn.execute("DELETE FROM neutron_tags WHERE resource_id = ?", (row["id"],))
        conn.execute("DELETE FROM security_groups WHERE id = ?", (row["id"],))
    return Response(204)


def _port(value: Any, field: str) -> int | None:
    if value is None:
        return None
    try:
        port = int(value)
    except (TypeError, ValueError) as exc:
        raise neutron_error(
            400, "SecurityGroupInvalidPortValue", f"Invalid value for port {value}"
        ) from exc
    return port


def _validate_rule(conn: sqlite3.Connection, call: Call, data: dict[str, Any]) -> dict[str, Any]:
    """securitygroups_db._validate_security_group_rule and the API's attribute checks."""
    direction = data.get("direction")
    if direction not in ("ingress", "egress"):
        raise invalid_input(
            f"Invalid input for direction. Reason: '{direction}' is not in ['ingress', 'egress']"
        )
    ethertype = data.get("ethertype") or "IPv4"
    if ethertype not in ("IPv4", "IPv6"):
        raise invalid_input(
            f"Invalid input for ethertype. Reason: '{ethertype}' is not in ['IPv4', 'IPv6']"
        )
    protocol = data.get("protocol")
    if protocol is not None:
        protocol = str(protocol).lower()
        if protocol == "any":
            protocol = None
        elif not (protocol in PROTOCOLS or (protocol.isdigit() and 0 <= int(protocol) <= 255)):
            raise neutron_error(
                400,
                "SecurityGroupRuleInvalidProtocol",
                f"Security group rule protocol {data['protocol']} not supported. Only protocol"
                f" values {list((None, *PROTOCOLS))} and integer representations [0 to 255] are"
                " supported.",
            )
    low = _port(data.get("port_range_min"), "port_range_min")
    high = _port(data.get("port_range_max"), "port_range_max")
    if (low is not None or high is not None) and protocol is None:
        raise neutron_error(
            400,
            "SecurityGroupProtocolRequiredWithPorts",
            "Must also specify protocol if port range is given.",
        )
    if protocol in PORT_PROTOCOLS:
        for value in (low, high):
            if value is not None and not 1 <= value <= 65535:
                raise neutron_error(
                    400, "SecurityGroupInvalidPortValue", f"Invalid value for port {value}"
                )
        if low is not None and high is not None and low > high:
            raise neutron_error(
                400,
                "SecurityGroupInvalidPortRange",
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
            )
        if low is not None and high is None:
            high = low
    elif protocol in ("icmp", "ipv6-icmp", "icmpv6", "1", "58"):
        for field, value in (("type", low), ("code", high)):
            if value is not None and not 0 <= value <= 255:
                raise neutron_error(
                    400,
                    "SecurityGroupInvalidIcmpValue",
                    f"Invalid value for ICMP {field}"
                    f" (port-range-{'min' if field == 'type' else 'max'}) {value}."
                    " It must be 0 to 255.",
                )
    prefix = data.get("remote_ip_prefix")
    remote_group = data.get("remote_group_id")
    if prefix is not None and remote_group is not None:
        raise neutron_error(
            400,
            "SecurityGroupMultipleRemoteEntites",
            "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be"
            " provided.",
        )
    if prefix is not None:
        try:
            net = ipaddress.ip_network(str(prefix), strict=False)
        except ValueError as exc:
            raise invalid_input(
                f"Invalid input for remote_ip_prefix. Reason: '{prefix}' is not a valid IP subnet"
            ) from exc
        if f"IPv{net.version}" != ethertype:
            raise neutron_error(
                400,
                "SecurityGroupRuleParameterConflict",
                f"Conflicting value ethertype {ethertype} for CIDR {prefix}",
            )
        # netaddr.IPNetwork keeps the host bits: 10.1.2.3/8 stays, 10.1.2.3 -> 10.1.2.3/32.
        prefix = str(ipaddress.ip_interface(str(prefix)))
    if remote_group is not None:
        load_group(conn, call, str(remote_group))
    return {
        "direction": direction,
        "ethertype": ethertype,
        "protocol": protocol,
        "port_range_min": low,
        "port_range_max": high,
        "remote_ip_prefix": prefix,
        "remote_group_id": remote_group,
        "description": str(data.get("description", "")),
    }


#: IP protocol numbers by name (neutron_lib.constants.IP_PROTOCOL_MAP), for comparing rules.
PROTOCOL_NUMBERS = {
    "ah": 51,
    "dccp": 33,
    "egp": 8,
    "esp": 50,
    "gre": 47,
    "hopopt": 0,
    "icmp": 1,
    "igmp": 2,
    "ipip": 4,
    "ipv6-encap": 41,
    "ipv6-frag": 44,
    "ipv6-icmp": 58,
    "icmpv6": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ipv6-route": 43,
    "ospf": 89,
    "pgm": 113,
    "rsvp": 46,
    "sctp": 132,
    "tcp": 6,
    "udp": 17,
    "udplite": 136,
    "vrrp": 112,
}
ANY_ADDRESS = ("0.0.0.0/0", "::/0")


def _rule_key(rule: Any) -> tuple[Any, ...]:
    """securitygroups_db._rule_to_key: a protocol name and its number are the same rule,
    and so are a null remote_ip_prefix and 0.0.0.0/0 (::/0)."""
    protocol = rule["protocol"]
    if protocol is not None:
        number = PROTOCOL_NUMBERS.get(str(protocol), str(protocol))
        if rule["ethertype"] == "IPv6" and str(number) == "1":
            number = 58  # legacy: icmp in an IPv6 rule is ipv6-icmp
        protocol = str(number)
    prefix = rule["remote_ip_prefix"]
    return (
        rule["direction"],
        rule["ethertype"],
        rule["port_range_max"],
        rule["port_range_min"],
        protocol,
        rule["remote_group_id"],
        None if prefix in (None, *ANY_ADDRESS) else prefix,
    )


def _rule_items(call: Call) -> tuple[list[dict[str, Any]], bool]:
    """The rules of a POST: one (`security_group_rule`) or Neutron's bulk form
    (`security_group_rules`, each item bare or wrapped); True for the bulk form."""
    try:
        data = call.request.json()
    except ValueError as exc:
        raise neutron_error(400, "BadRequest", "Malformed request body") from exc
    if not isinstance(data, dict) or "security_group_rules" not in data:
        return [body_of(call, "security_group_rule")], False
    items = data["security_group_rules"]
    if not isinstance(items, list):
        raise neutron_error(400, "HTTPBadRequest", "Body contains invalid data")
    if not items:
        raise neutron_error(400, "HTTPBadRequest", "Resources required")
    rules = []
    for item in items:
        rule = item.get("security_group_rule", item) if isinstance(item, dict) else item
        if not isinstance(rule, dict):
            raise neutron_error(
                400, "HTTPBadRequest", "Object 'security_group_rule' contains invalid data"
            )
        reject_unknown(rule, RULE_KEYS)
        rules.append(rule)
    return rules, True


def create_security_group_rule(call: Call, _: dict[str, str]) -> Response:
    """One rule, or several at once (create_security_group_rule_bulk_native): all in one
    group, all validated and checked for duplicates before any is made, so a bulk POST
    creates every rule or none."""
    items, bulk = _rule_items(call)
    if not bulk:
        reject_unknown(items[0], RULE_KEYS)
    with call.runtime.store.write() as conn:
        group_ids = {str(item.get("security_group_id")) for item in items}
        if len(group_ids) > 1:
            raise neutron_error(
                400,
                "SecurityGroupNotSingleGroupRules",
                "Only allowed to update rules for one security profile at a time",
            )
        group = load_group(conn, call, group_ids.pop())
        rules = [_validate_rule(conn, call, item) for item in items]
        keys = [_rule_key(rule) for rule in rules]
        if len(set(keys)) < len(keys):
            raise neutron_error(
                409, "DuplicateSecurityGroupRuleInPost", "Duplicate Security Group Rule in POST."
            )
        for existing in conn.execute(
            "SELECT * FROM security_group_rules WHERE security_group_id = ?", (group["id"],)
        ):
            if _rule_key(existing) in keys:
                raise neutron_error(
                    409,
                    "SecurityGroupRuleExists",
                    f"Security group rule already exists. Rule id is {existing['id']}.",
                )
        made = [insert_rule(conn, group["id"], group["project_id"], rule) for rule in rules]
        bump(conn, "security_groups", group["id"])
        views = [
            rule_view(
                conn.execute(
                    "SELECT * FROM security_group_rules WHERE id = ?", (rule_id,)
                ).fetchone(),
                in_default=group["name"] == "default",
            )
            for rule_id in made
        ]
    if bulk:
        return Response(201, {"security_group_rules": views})
    return Response(201, {"security_group_rule": views[0]})


def _load_rule(conn: sqlite3.Connection, call: Call, rule_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM security_group_rules WHERE id = ?", (rule_id,)
    ).fetchone()
    if row is None or (not call.user.is_admin and row["project_id"] != call.user.project_id):
        raise neutron_error(
            404, "SecurityGroupRuleNotFound", f"Security group rule {rule_id} does not exist"
        )
    return row


def show_security_group_rule(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.read() as conn:
        row = _load_rule(conn, call, params["id"])
        view = rule_view(row, in_default=_in_default(conn, row["security_group_id"]))
        return Response(200, {"security_group_rule": view})


def delete_security_group_rule(call: Call, params: dict[str, str]) -> Response:
    with call.runtime.store.write() as conn:
        row = _load_rule(conn, call, params["id"])
        conn.execute("DELETE FROM security_group_rules WHERE id = ?", (row["id"],))
        bump(conn, "security_groups", row["security_group_id"])
    return Response(204)
