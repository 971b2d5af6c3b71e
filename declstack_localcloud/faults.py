"""Fault injection: what can go wrong, and a seeded dice roll per request and per boot."""

from __future__ import annotations

import dataclasses
import random
import threading
from dataclasses import dataclass
from enum import Enum
from typing import Any


@dataclass(frozen=True)
class Faults:
    """Every knob, with defaults that describe a healthy, roomy cloud.

    Rates are probabilities in [0, 1] rolled once per compute/image/network request
    (`rate_*`) or once per server boot (`boot_error_rate`).
    """

    rate_500: float = 0.0
    rate_503: float = 0.0
    rate_429: float = 0.0
    rate_413: float = 0.0
    rate_drop: float = 0.0
    rate_drop_after: float = 0.0
    #: Hold the request `stall_seconds` before answering: a silent endpoint, for
    #: clients' timeouts (the connection stays open, nothing is sent meanwhile).
    rate_stall: float = 0.0
    stall_seconds: float = 30.0
    retry_after: int = 1
    boot_error_rate: float = 0.0
    boot_extra_seconds: float = 0.0
    quota_instances: int = 20_000
    quota_cores: int = 200_000
    quota_ram: int = 256_000_000
    #: Nova's defaults, which realstack keeps
    quota_server_groups: int = 10
    quota_server_group_members: int = 10
    #: Cinder's per-project quotas (Cinder's own defaults are 10 and 1,000 GB).
    quota_volumes: int = 10_000
    quota_gigabytes: int = 1_000_000
    token_ttl: float = 3600.0
    seed: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def changed(self, changes: dict[str, Any]) -> Faults:
        """A copy with `changes` applied; unknown names and out-of-range values are refused."""
        known = {f.name: f for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(unknown)}; known: {sorted(known)}")
        coerced: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "seed":
                coerced[name] = None if value is None else int(value)
            elif name.startswith("rate_") or name == "boot_error_rate":
                rate = float(value)
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
                coerced[name] = rate
            elif name in ("boot_extra_seconds", "token_ttl", "stall_seconds"):
                seconds = float(value)
                if seconds < 0:
                    raise ValueError(f"{name} must not be negative, got {value!r}")
                coerced[name] = seconds
            else:
                number = int(value)
                if number < 0:
                    raise ValueError(f"{name} must not be negative, got {value!r}")
                coerced[name] = number
        return dataclasses.replace(self, **coerced)


class RequestFault(Enum):
    """What the dice decided for one API request."""

    NONE = "none"
    DROP = "drop"
    DROP_AFTER = "drop after handling"
    ERROR_500 = "500"
    ERROR_503 = "503"
    RATE_LIMIT_429 = "429"
    OVER_LIMIT_413 = "413"
    STALL = "stall"


class FaultInjector:
    """Holds the current Faults and one seeded RNG, both safe to use from many threads."""

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self._faults = faults
        self._random = random.Random(faults.seed)

    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    def update(self, changes: dict[str, Any]) -> Faults:
        with self._lock:
            new = self._faults.changed(changes)
            if "seed" in changes:
                self._random = random.Random(new.seed)
            self._faults = new
            return new

    def roll_request(self) -> RequestFault:
        """At most one fault per request, checked in a fixed order so seeds reproduce."""
        with self._lock:
            f = self._faults
            for rate, outcome in (
                (f.rate_drop, RequestFault.DROP),
                (f.rate_drop_after, RequestFault.DROP_AFTER),
                (f.rate_500, RequestFault.ERROR_500),
                (f.rate_503, RequestFault.ERROR_503),
                (f.rate_429, RequestFault.RATE_LIMIT_429),
                (f.rate_413, RequestFault.OVER_LIMIT_413),
                (f.rate_stall, RequestFault.STALL),
            ):
                if rate > 0 and self._random.random() < rate:
                    return outcome
            return RequestFault.NONE

    def roll_boot_failure(self) -> bool:
        with self._lock:
            rate = self._faults.boot_error_rate
            return rate > 0 and self._random.random() < rate
