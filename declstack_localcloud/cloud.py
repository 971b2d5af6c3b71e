"""LocalCloud: the embeddable handle that owns the state file, the server thread and faults."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from .app import Application
from .context import Runtime, Settings
from .faults import FaultInjector, Faults
from .http import Server
from .seed import REGION, seed
from .store import Store

USERS = {"demo": ("demo", "demo-secret"), "admin": ("admin", "admin-secret")}


class LocalCloud:
    """An OpenStack-compatible cloud on loopback, for demos and tests (see docs/localcloud.md)."""

    def __init__(
        self,
        state_path: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        boot_seconds: float = 1.0,
        delete_seconds: float = 0.5,
        token_ttl: float = 3600.0,
        faults: dict[str, Any] | None = None,
    ) -> None:
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if state_path is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="localcloud-")
            state_path = Path(self._tempdir.name) / "state.sqlite"
        self.state_path = Path(state_path)
        self.host = host
        self.port = port
        initial = Faults(token_ttl=token_ttl).changed(dict(faults or {}))
        self.store = Store(self.state_path)
        with self.store.write() as conn:
            seed(conn)
        self.runtime = Runtime(
            store=self.store,
            faults=FaultInjector(initial),
            settings=Settings(boot_seconds=boot_seconds, delete_seconds=delete_seconds),
        )
        self._server: Server | None = None

    def start(self) -> LocalCloud:
        """Bind and serve in a daemon thread; returns self so `LocalCloud().start()` reads well."""
        if self._server is not None:
            return self
        server = Server(self.host, self.port, Application(self.runtime))
        self.port = server.port
        self.runtime.base_url = self.url
        server.start_background()
        self._server = server
        return self

    def serve_forever(self) -> None:
        """Bind and serve in the calling thread until `stop()` is called from elsewhere."""
        server = Server(self.host, self.port, Application(self.runtime))
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
        return self.start()

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
