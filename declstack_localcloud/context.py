"""What every handler gets: the request, who is calling, and the shared runtime."""

from __future__ import annotations

from dataclasses import dataclass

from .faults import FaultInjector
from .http import Request
from .store import Store


@dataclass(frozen=True)
class HostCapacity:
    """What each simulated compute host has, by default what Nova's fake virt driver reports
    (realstack's hosts): placement allows 4 vCPUs per vCPU and keeps 512 MB of RAM back."""

    vcpus: int = 1000
    memory_mb: int = 800_000
    local_gb: int = 600_000


@dataclass(frozen=True)
class Settings:
    """Timings of the simulated lifecycle, and the compute hosts servers are scheduled on."""

    boot_seconds: float = 1.0
    delete_seconds: float = 0.5
    compute_host: str = "localcloud-compute"
    hosts: int = 3
    host_capacity: HostCapacity = HostCapacity()


@dataclass(frozen=True)
class Principal:
    """The identity behind a valid token."""

    token: str
    user_id: str
    user_name: str
    project_id: str
    project_name: str
    roles: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


@dataclass
class Runtime:
    """Shared, long-lived parts; `base_url` is known only once the socket is bound.

    `admin_token_required`: /admin/* needs an admin user's token (beyond loopback).
    """

    store: Store
    faults: FaultInjector
    settings: Settings
    base_url: str = ""
    admin_token_required: bool = False


@dataclass(frozen=True)
class Call:
    request: Request
    principal: Principal | None
    runtime: Runtime

    @property
    def user(self) -> Principal:
        """The caller; only used behind the auth check, which guarantees one."""
        assert self.principal is not None
        return self.principal
