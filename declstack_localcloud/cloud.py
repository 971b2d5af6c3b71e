"""LocalCloud: the embeddable handle that owns the state file, the server thread and faults."""

from __future__ import annotations

import errno
import ipaddress
import math
import os
import socket
import sqlite3
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from .app import Application
from .context import HostCapacity, Runtime, Settings
from .errors import LocalCloudError
from .faults import FaultInjector, Faults
from .http import Server
from .nova.scheduler import ensure_hosts
from .seed import REGION, seed
from .store import ForeignDatabase, Store

USERS = {"demo": ("demo", "demo-secret"), "admin": ("admin", "admin-secret")}
STATE_HINT = "Move it aside or choose another state file; a missing one is created fresh."
MAX_HOSTS = 1000


def is_loopback(host: str) -> bool:
    """True when `host` only accepts connections from this machine (127.0.0.0/8, ::1, localhost).

    Anything else, including 0.0.0.0, "" and other host names, counts as reachable from outside.
    """
    name = host.strip().rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _check_seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LocalCloudError(f"{name} must be a number of seconds, not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise LocalCloudError(f"{name} must be a finite number of seconds >= 0, not {value!r}")
    return float(value)


def _check_hosts(hosts: int, capacity: HostCapacity) -> None:
    if isinstance(hosts, bool) or not isinstance(hosts, int) or not 1 <= hosts <= MAX_HOSTS:
        raise LocalCloudError(
            f"hosts must be a whole number of compute hosts from 1 to {MAX_HOSTS}, not {hosts!r}"
        )
    for name in ("vcpus", "memory_mb", "local_gb"):
        value = getattr(capacity, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise LocalCloudError(
                f"host_capacity.{name} must be a whole number >= 1, not {value!r}"
            )


def _check_port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise LocalCloudError(
            f"port {port!r} is out of range", hint="Use 1-65535, or 0 for any free port."
        )
    return port


def open_state(path: Path, settings: Settings) -> Store:
    """Open (or create, mode 0600) a state file seeded for `settings` (its compute hosts);
    every way it can fail is a LocalCloudError."""
    if path.is_dir():
        raise LocalCloudError(
            f"{path}: the state path is a folder, not a file",
            hint="Give the path of a file (it is created if missing).",
        )
    folder = path.parent
    if not folder.is_dir():
        raise LocalCloudError(
            f"{path}: the folder {folder} does not exist",
            hint="Create it, or choose a state file in an existing folder.",
        )
    created = False
    if not path.exists():
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            created = True
        except FileExistsError:
            pass
        except OSError as exc:
            raise LocalCloudError(
                f"{path}: cannot create the state file in {folder}: {exc.strerror}",
                hint="Choose a state file in a folder you can write to.",
            ) from None
    elif not os.access(folder, os.W_OK):
        raise LocalCloudError(
            f"{path}: the folder {folder} is not writable"
            f" (SQLite keeps {path.name}-wal and {path.name}-shm next to the state file)",
            hint="Make the folder writable, or choose a state file in a folder you can write to.",
        )
    try:
        store = Store(path)
        try:
            with store.write() as conn:
                seed(conn)
                ensure_hosts(conn, settings)
        except BaseException:
            store.close()
            raise
    except ForeignDatabase as exc:
        raise LocalCloudError(f"{path}: not a local-cloud state file ({exc})", STATE_HINT) from None
    except sqlite3.DatabaseError as exc:
        if created:
            path.unlink(missing_ok=True)
        detail = str(exc)
        if "not a database" in detail or "malformed" in detail:
            raise LocalCloudError(
                f"{path}: not a local-cloud state file (SQLite says: {detail})", STATE_HINT
            ) from None
        raise LocalCloudError(
            f"{path}: cannot open the state file (SQLite says: {detail})", STATE_HINT
        ) from None
    return store


def bind(host: str, port: int, app: Application) -> Server:
    """Listen on host:port; an unknown host, a busy port, a foreign address: LocalCloudError."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        return Server(host, port, app)
    except socket.gaierror as exc:
        raise LocalCloudError(
            f"cannot listen on {host!r}: unknown host name or address ({exc.strerror})",
            hint="Use an address of this machine, 'localhost', or 0.0.0.0 for every interface.",
        ) from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise LocalCloudError(
                f"cannot listen on {where}: the port is already in use",
                hint="Stop what is using it, or choose another port (0 picks a free one).",
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise LocalCloudError(
                f"cannot listen on {where}: {host} is not an address of this machine",
                hint="Use an address of this machine, 'localhost', or 0.0.0.0 for every interface.",
            ) from None
        if exc.errno == errno.EACCES:
            raise LocalCloudError(
                f"cannot listen on {where}: permission denied",
                hint="Ports below 1024 need root; choose a higher port.",
            ) from None
        raise LocalCloudError(f"cannot listen on {where}: {exc.strerror or exc}") from None


class LocalCloud:
    """An OpenStack-compatible cloud on loopback, for demos and tests (see docs/localcloud.md).

    Bad arguments and an unusable state file raise LocalCloudError here; an unusable
    address or port raises it from `start()` / `with` (which then releases the state file).
    """

    def __init__(
        self,
        state_path: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        boot_seconds: float = 1.0,
        delete_seconds: float = 0.5,
        token_ttl: float = 3600.0,
        faults: dict[str, Any] | None = None,
        hosts: int = 3,
        host_capacity: HostCapacity | None = None,
    ) -> None:
        boot_seconds = _check_seconds("boot_seconds", boot_seconds)
        delete_seconds = _check_seconds("delete_seconds", delete_seconds)
        capacity = host_capacity or HostCapacity()
        _check_hosts(hosts, capacity)
        settings = Settings(
            boot_seconds=boot_seconds,
            delete_seconds=delete_seconds,
            hosts=hosts,
            host_capacity=capacity,
        )
        self.host = host
        self.port = _check_port(port)
        initial = Faults(token_ttl=token_ttl).changed(dict(faults or {}))
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if state_path is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="localcloud-")
            state_path = Path(self._tempdir.name) / "state.sqlite"
        self.state_path = Path(state_path)
        try:
            self.store = open_state(self.state_path, settings)
        except BaseException:
            if self._tempdir is not None:
                self._tempdir.cleanup()
            raise
        self.runtime = Runtime(
            store=self.store,
            faults=FaultInjector(initial),
            settings=settings,
            admin_token_required=not is_loopback(host),
        )
        self._server: Server | None = None

    def start(self) -> LocalCloud:
        """Bind and serve in a daemon thread; returns self so `LocalCloud().start()` reads well."""
        if self._server is not None:
            return self
        server = bind(self.host, self.port, Application(self.runtime))
        self.port = server.port
        self.runtime.base_url = self.url
        server.start_background()
        self._server = server
        return self

    def serve_forever(self) -> None:
        """Bind and serve in the calling thread until `stop()` is called from elsewhere."""
        server = bind(self.host, self.port, Application(self.runtime))
        self.port = server.port
        self.runtime.base_url = self.url
        self._server = server
        server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.store.close()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> LocalCloud:
        try:
            return self.start()
        except BaseException:
            self.stop()  # `with` will not call __exit__: release the state file here
            raise

    @property
    def admin_token_required(self) -> bool:
        """Whether /admin/* wants an admin X-Auth-Token (when listening beyond loopback)."""
        return self.runtime.admin_token_required

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def auth_url(self) -> str:
        return f"{self.url}/identity/v3"

    def _config(self, user: str) -> dict[str, Any]:
        project, password = USERS[user]
        return {
            "auth": {
                "auth_url": self.auth_url,
                "username": user,
                "password": password,
                "project_name": project,
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "region_name": REGION,
            "identity_api_version": 3,
            "interface": "public",
        }

    def cloud_config(self) -> dict[str, Any]:
        """A clouds.yaml entry for the demo user (a normal tenant)."""
        return self._config("demo")

    def admin_cloud_config(self) -> dict[str, Any]:
        return self._config("admin")

    @property
    def faults(self) -> dict[str, Any]:
        return self.runtime.faults.faults.as_dict()

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change fault injection while serving; returns the full new settings."""
        return self.runtime.faults.update(changes).as_dict()

    def __repr__(self) -> str:
        return f"LocalCloud(url={self.url!r}, state_path={os.fspath(self.state_path)!r})"
