"""SQLite state: schema, a small connection pool, and read/write transactions.

WAL plus a busy timeout lets many request threads read while one writes; every write
runs in BEGIN IMMEDIATE so check-then-insert (quota, IP allocation) is atomic.
"""

from __future__ import annotations

import queue
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from .lifecycle import sql_status

IMAGES = """CREATE TABLE IF NOT EXISTS images (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE COLLATE NOCASE, name TEXT,
    status TEXT NOT NULL, visibility TEXT NOT NULL, owner TEXT,
    disk_format TEXT, container_format TEXT, size INTEGER,
    min_disk INTEGER NOT NULL, min_ram INTEGER NOT NULL, checksum TEXT,
    os_hash_value TEXT, properties TEXT NOT NULL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL,
    protected INTEGER NOT NULL DEFAULT 0, os_hidden INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '[]');"""
"""Glance's images, live ones only. An image without data (`queued`) has no formats, size or
checksum yet, so those are NULL; `tags` and `properties` are JSON. Ids compare without case,
as in Glance on MySQL. `image_ids` keeps every id ever created: Glance keeps a deleted
image's row, so its id can never be created again (409)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, domain_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, password TEXT NOT NULL,
    project_id TEXT NOT NULL, roles TEXT NOT NULL, domain_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roles (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, project_id TEXT NOT NULL,
    methods TEXT NOT NULL, audit_id TEXT NOT NULL,
    issued_at REAL NOT NULL, expires_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS tokens_expiry ON tokens (expires_at);
CREATE TABLE IF NOT EXISTS flavors (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, vcpus INTEGER NOT NULL,
    ram INTEGER NOT NULL, disk INTEGER NOT NULL, ephemeral INTEGER NOT NULL,
    swap INTEGER NOT NULL, is_public INTEGER NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS image_ids (
    id TEXT NOT NULL PRIMARY KEY COLLATE NOCASE, deleted_at REAL);
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, project_id TEXT NOT NULL,
    shared INTEGER NOT NULL, mtu INTEGER NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS subnets (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, network_id TEXT NOT NULL,
    project_id TEXT NOT NULL, cidr TEXT NOT NULL, gateway_ip TEXT NOT NULL,
    ip_version INTEGER NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ports (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, network_id TEXT NOT NULL,
    subnet_id TEXT NOT NULL, ip_int INTEGER NOT NULL, ip_address TEXT NOT NULL,
    mac_address TEXT NOT NULL, device_id TEXT NOT NULL, device_owner TEXT NOT NULL,
    project_id TEXT NOT NULL, security_groups TEXT NOT NULL, created_at REAL NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS ports_ip ON ports (subnet_id, ip_int);
CREATE INDEX IF NOT EXISTS ports_device ON ports (device_id);
CREATE INDEX IF NOT EXISTS ports_network ON ports (network_id);
CREATE TABLE IF NOT EXISTS security_groups (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL,
    project_id TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS security_group_rules (
    id TEXT PRIMARY KEY, security_group_id TEXT NOT NULL, direction TEXT NOT NULL,
    ethertype TEXT NOT NULL, protocol TEXT, port_range_min INTEGER,
    port_range_max INTEGER, remote_ip_prefix TEXT, remote_group_id TEXT,
    project_id TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS keypairs (
    user_id TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
    public_key TEXT NOT NULL, fingerprint TEXT NOT NULL, created_at REAL NOT NULL,
    PRIMARY KEY (user_id, name));
CREATE TABLE IF NOT EXISTS servers (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, project_id TEXT NOT NULL,
    user_id TEXT NOT NULL, image_id TEXT NOT NULL, flavor TEXT NOT NULL,
    flavor_id TEXT NOT NULL, vcpus INTEGER NOT NULL, ram INTEGER NOT NULL,
    key_name TEXT, availability_zone TEXT NOT NULL, description TEXT,
    metadata TEXT NOT NULL, security_groups TEXT NOT NULL, user_data TEXT,
    reservation_id TEXT NOT NULL, launch_index INTEGER NOT NULL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, launched_at REAL,
    vm_state TEXT NOT NULL, prev_vm_state TEXT NOT NULL,
    task_state TEXT, task_started REAL NOT NULL, task_until REAL NOT NULL,
    fault_message TEXT, fault_code INTEGER,
    delete_requested_at REAL, deleted_at REAL, reap_at REAL, locked INTEGER NOT NULL,
    config_drive TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS servers_project ON servers (project_id, deleted_at);
CREATE INDEX IF NOT EXISTS servers_reap ON servers (reap_at) WHERE reap_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS servers_updated ON servers (updated_at);
CREATE TABLE IF NOT EXISTS server_tags (
    server_id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (server_id, tag));
CREATE INDEX IF NOT EXISTS server_tags_tag ON server_tags (tag, server_id);
CREATE TABLE IF NOT EXISTS routers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, project_id TEXT NOT NULL,
    description TEXT NOT NULL, external_network_id TEXT, enable_snat INTEGER NOT NULL,
    admin_state_up INTEGER NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    revision INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS floatingips (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL, network_id TEXT NOT NULL,
    address TEXT NOT NULL, own_port_id TEXT NOT NULL, port_id TEXT, fixed_ip_address TEXT,
    router_id TEXT, description TEXT NOT NULL, created_at REAL NOT NULL,
    updated_at REAL NOT NULL, revision INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS floatingips_port ON floatingips (port_id);
CREATE TABLE IF NOT EXISTS neutron_tags (
    resource_id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (resource_id, tag));
CREATE TABLE IF NOT EXISTS compute_hosts (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, uuid TEXT NOT NULL,
    service_uuid TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS server_groups (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    policy TEXT NOT NULL, rules TEXT NOT NULL, project_id TEXT NOT NULL,
    user_id TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS server_group_members (
    server_id TEXT NOT NULL PRIMARY KEY, group_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS server_group_members_group ON server_group_members (group_id);
"""
SCHEMA += IMAGES

VOLUMES = """CREATE TABLE IF NOT EXISTS volumes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, project_id TEXT NOT NULL,
    user_id TEXT NOT NULL, name TEXT, description TEXT, size INTEGER NOT NULL,
    volume_type_id TEXT NOT NULL, availability_zone TEXT NOT NULL, metadata TEXT NOT NULL,
    image_id TEXT, image_metadata TEXT, created_at REAL NOT NULL, updated_at REAL,
    status TEXT NOT NULL, phases TEXT NOT NULL, old_size INTEGER, resized_at REAL,
    deleted_at REAL);
CREATE INDEX IF NOT EXISTS volumes_project ON volumes (project_id, deleted_at);
CREATE TABLE IF NOT EXISTS volume_attachments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, bdm_id TEXT NOT NULL,
    volume_id TEXT NOT NULL, server_id TEXT NOT NULL, device TEXT, tag TEXT,
    boot_index INTEGER, delete_on_termination INTEGER NOT NULL, created_at REAL NOT NULL,
    attached_at REAL NOT NULL, detached_at REAL);
CREATE INDEX IF NOT EXISTS volume_attachments_volume ON volume_attachments (volume_id);
CREATE INDEX IF NOT EXISTS volume_attachments_server ON volume_attachments (server_id);
"""
"""Cinder's volumes and the attachments Nova makes (its block device mappings with a volume).

A volume row holds the status it ends in and `phases`, a JSON list of [status, until] it
passes through first (creating, downloading, attaching, extending, detaching, deleting), so
every read computes what Cinder would say at that instant, as servers do; `old_size` is
shown until `resized_at` (an extend in progress); a deleted volume keeps its row with
`deleted_at`. An attachment is Nova's from `created_at`, Cinder's (attach_status attached)
from `attached_at`, and neither's from `detached_at`."""
SCHEMA += VOLUMES


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _regexp(pattern: str | None, value: str | None) -> bool:
    """SQLite REGEXP as Nova's sqlite backend does it: re.search, invalid pattern = no match."""
    if pattern is None or value is None:
        return False
    compiled = _compiled(pattern)
    return compiled is not None and compiled.search(value) is not None


# Columns added after state files were first written: (table, column, declaration).
MIGRATIONS = (
    ("servers", "config_drive", "TEXT NOT NULL DEFAULT ''"),
    # the compute host; during a resize until it is confirmed or reverted, the other
    # side: the flavor (JSON with its id) and host it left, and the vm_state to return to
    ("servers", "host", "TEXT"),
    ("servers", "old_flavor", "TEXT"),
    ("servers", "old_host", "TEXT"),
    ("servers", "old_vm_state", "TEXT"),
    ("servers", "scheduler_hints", "TEXT NOT NULL DEFAULT '{}'"),
    ("networks", "external", "INTEGER NOT NULL DEFAULT 0"),
    ("subnets", "enable_dhcp", "INTEGER NOT NULL DEFAULT 1"),
    ("subnets", "allocation_pools", "TEXT"),
    ("security_group_rules", "description", "TEXT NOT NULL DEFAULT ''"),
    *(
        (table, column, declaration)
        for table in ("networks", "subnets", "ports", "security_groups")
        for column, declaration in (
            ("description", "TEXT NOT NULL DEFAULT ''"),
            ("updated_at", "REAL"),
            ("revision", "INTEGER NOT NULL DEFAULT 1"),
        )
    ),
)


def _migrate(conn: sqlite3.Connection) -> None:
    """Add the columns an older state file lacks, so it keeps working after an upgrade."""
    for table, column, declaration in MIGRATIONS:
        present = {str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            if (table, column) == ("servers", "host"):
                # servers made before there were several hosts ran on the one there was
                conn.execute(
                    "UPDATE servers SET host = 'localcloud-compute' WHERE launched_at IS NOT NULL"
                )
    _rebuild_images(conn)


_OLD_IMAGE_COLUMNS = (
    "seq, id, name, status, visibility, owner, disk_format, container_format, size,"
    " min_disk, min_ram, checksum, os_hash_value, properties, created_at, updated_at"
)


def _rebuild_images(conn: sqlite3.Connection) -> None:
    """Give an older state file's read-only `images` table the columns image writes need.

    SQLite cannot drop NOT NULL from a column (a queued image has no size or formats), so
    the table is copied into a new one, seq and all, and its ids go into `image_ids`."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        present = {str(row[1]) for row in conn.execute("PRAGMA table_info(images)")}
        if "tags" not in present:
            conn.execute("ALTER TABLE images RENAME TO images_read_only")
            conn.execute(IMAGES)
            conn.execute(
                f"INSERT INTO images ({_OLD_IMAGE_COLUMNS})"
                f" SELECT {_OLD_IMAGE_COLUMNS} FROM images_read_only"
            )
            conn.execute("DROP TABLE images_read_only")
            conn.execute("INSERT OR IGNORE INTO image_ids (id) SELECT id FROM images")
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


class ForeignDatabase(sqlite3.DatabaseError):
    """A valid SQLite file that holds someone else's tables: never add ours to it."""


class Store:
    """A pool of connections to one SQLite file."""

    def __init__(self, path: Path, pool_size: int = 16) -> None:
        self.path = path
        self._pool: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._pool_size = pool_size
        try:
            with self._borrow() as conn:
                tables = {
                    str(row[0])
                    for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                }
                if tables and "meta" not in tables:
                    raise ForeignDatabase("it is an SQLite database with other tables")
                conn.executescript(SCHEMA)
                _migrate(conn)
        except BaseException:
            self.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.create_function("REGEXP", 2, _regexp, deterministic=True)
        conn.create_function("server_status", 7, sql_status, deterministic=True)
        return conn

    @contextmanager
    def _borrow(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = self._connect()
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.rollback()
            if self._pool.qsize() < self._pool_size:
                self._pool.put(conn)
            else:
                conn.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for the duration of the block."""
        with self._borrow() as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.rollback()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """An exclusive-writer transaction, committed when the block succeeds."""
        with self._borrow() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def get_meta(self, key: str) -> str | None:
        with self.read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return None if row is None else str(row[0])

    def close(self) -> None:
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return
