"""Default content of a fresh cloud: the devstack-like identities, flavors, images, network."""

from __future__ import annotations

import hashlib
import json
import sqlite3

from .formats import new_id, now

DOMAIN_ID = "default"
DOMAIN_NAME = "Default"
REGION = "RegionOne"
AVAILABILITY_ZONE = "nova"
SUBNET_CIDR = "10.0.0.0/16"
PUBLIC_CIDR = "203.0.113.0/24"
PUBLIC_GATEWAY = "203.0.113.1"
PUBLIC_POOL = ("203.0.113.10", "203.0.113.250")
DEFAULT_PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICHYQoq+nbuYIxoLeS9DWy2IQXHScnZjFAjL2GoNJXXI default"
)

USERS = (
    ("demo", "demo-secret", "demo", ("member", "reader")),
    ("admin", "admin-secret", "admin", ("admin", "member", "reader")),
)

FLAVORS = (
    ("1", "m1.nano", 1, 128, 1),
    ("2", "m1.tiny", 1, 512, 1),
    ("3", "m1.small", 1, 2048, 20),
    ("4", "m1.medium", 2, 4096, 40),
    ("5", "m1.large", 4, 8192, 80),
    ("6", "small", 1, 2048, 10),
)

IMAGES: tuple[tuple[str, int, str, dict[str, str]], ...] = (
    ("cirros", 1048576, "raw", {}),
    ("Ubuntu-14.04", 264241152, "qcow2", {"os_distro": "ubuntu"}),
    ("ubuntu-22.04", 666632192, "qcow2", {"os_distro": "ubuntu"}),
    ("debian-12", 348127232, "qcow2", {"os_distro": "debian"}),
)


def is_seeded(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM meta WHERE key = 'seeded'").fetchone() is not None


def seed(conn: sqlite3.Connection) -> None:
    """Fill an empty state file; a no-op once seeded so restarts keep what users made."""
    if is_seeded(conn):
        return
    from .keys import fingerprint

    t = now()
    roles: dict[str, str] = {}
    for role in ("admin", "member", "reader"):
        roles[role] = new_id().replace("-", "")
        conn.execute("INSERT INTO roles (id, name) VALUES (?, ?)", (roles[role], role))
    projects: dict[str, str] = {}
    users: dict[str, str] = {}
    for user, password, project, user_roles in USERS:
        projects[project] = new_id().replace("-", "")
        users[user] = new_id().replace("-", "")
        conn.execute(
            "INSERT INTO projects (id, name, domain_id) VALUES (?, ?, ?)",
            (projects[project], project, DOMAIN_ID),
        )
        conn.execute(
            "INSERT INTO users (id, name, password, project_id, roles, domain_id)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                users[user],
                user,
                hashlib.sha256(password.encode()).hexdigest(),
                projects[project],
                json.dumps(list(user_roles)),
                DOMAIN_ID,
            ),
        )
    admin_project = projects["admin"]
    for flavor_id, name, vcpus, ram, disk in FLAVORS:
        conn.execute(
            "INSERT INTO flavors (id, name, vcpus, ram, disk, ephemeral, swap, is_public,"
            " description) VALUES (?, ?, ?, ?, ?, 0, 0, 1, NULL)",
            (flavor_id, name, vcpus, ram, disk),
        )
    for name, size, disk_format, properties in IMAGES:
        digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
        image_id = new_id()
        conn.execute("INSERT INTO image_ids (id) VALUES (?)", (image_id,))
        conn.execute(
            "INSERT INTO images (id, name, status, visibility, owner, disk_format,"
            " container_format, size, min_disk, min_ram, checksum, os_hash_value, properties,"
            " created_at, updated_at) VALUES (?, ?, 'active', 'public', ?, ?, 'bare',"
            " ?, 0, 0, ?, ?, ?, ?, ?)",
            (
                image_id,
                name,
                admin_project,
                disk_format,
                size,
                digest,
                hashlib.sha512(name.encode()).hexdigest(),
                json.dumps(properties),
                t,
                t,
            ),
        )
    network_id = new_id()
    conn.execute(
        "INSERT INTO networks (id, name, project_id, shared, mtu, created_at)"
        " VALUES (?, 'private', ?, 1, 1450, ?)",
        (network_id, admin_project, t),
    )
    conn.execute(
        "INSERT INTO subnets (id, name, network_id, project_id, cidr, gateway_ip, ip_version,"
        " created_at) VALUES (?, 'private-subnet', ?, ?, ?, '10.0.0.1', 4, ?)",
        (new_id(), network_id, admin_project, SUBNET_CIDR, t),
    )
    for project_id in projects.values():
        ensure_default_security_group(conn, project_id)
    _seed_public(conn, admin_project, projects["demo"], t)
    conn.execute(
        "INSERT INTO keypairs (user_id, name, type, public_key, fingerprint, created_at)"
        " VALUES (?, 'default', 'ssh', ?, ?, ?)",
        (users["demo"], DEFAULT_PUBLIC_KEY, fingerprint(DEFAULT_PUBLIC_KEY), t),
    )
    conn.execute("INSERT INTO meta (key, value) VALUES ('seeded', ?)", (str(t),))


def ensure_default_security_group(conn: sqlite3.Connection, project_id: str) -> str:
    """Neutron creates a project's `default` group on first use; return its id."""
    row = conn.execute(
        "SELECT id FROM security_groups WHERE project_id = ? AND name = 'default'", (project_id,)
    ).fetchone()
    if row is not None:
        return str(row[0])
    t = now()
    group_id = new_id()
    conn.execute(
        "INSERT INTO security_groups (id, name, description, project_id, created_at)"
        " VALUES (?, 'default', 'Default security group', ?, ?)",
        (group_id, project_id, t),
    )
    rules = (
        ("ingress", "IPv4", group_id),
        ("ingress", "IPv6", group_id),
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
    )
    for direction, ethertype, remote_group in rules:
        conn.execute(
            "INSERT INTO security_group_rules (id, security_group_id, direction, ethertype,"
            " protocol, port_range_min, port_range_max, remote_ip_prefix, remote_group_id,"
            " project_id, created_at) VALUES (?, ?, ?, ?, NULL, NULL, NULL, NULL, ?, ?, ?)",
            (new_id(), group_id, direction, ethertype, remote_group, project_id, t),
        )
    return group_id


def _seed_public(conn: sqlite3.Connection, admin_project: str, demo_project: str, t: float) -> None:
    """The external network `public` (203.0.113.0/24, no DHCP) and the demo project's
    `router1`: gateway on `public`, an interface on `private-subnet` (realstack has the same)."""
    from .neutron.routers import add_interface, create_router_row, set_gateway

    public_id = new_id()
    conn.execute(
        "INSERT INTO networks (id, name, project_id, shared, mtu, created_at, external)"
        " VALUES (?, 'public', ?, 0, 1500, ?, 1)",
        (public_id, admin_project, t),
    )
    conn.execute(
        "INSERT INTO subnets (id, name, network_id, project_id, cidr, gateway_ip, ip_version,"
        " created_at, enable_dhcp, allocation_pools) VALUES (?, 'public-subnet', ?, ?,"
        " ?, ?, 4, ?, 0, ?)",
        (
            new_id(),
            public_id,
            admin_project,
            PUBLIC_CIDR,
            PUBLIC_GATEWAY,
            t,
            json.dumps([{"start": PUBLIC_POOL[0], "end": PUBLIC_POOL[1]}]),
        ),
    )
    router = create_router_row(conn, "router1", demo_project)
    set_gateway(conn, router, {"network_id": public_id})
    private_subnet = conn.execute("SELECT * FROM subnets WHERE name = 'private-subnet'").fetchone()
    add_interface(conn, router, private_subnet)
