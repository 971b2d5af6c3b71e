"""Identifiers and timestamps in the exact textual forms OpenStack services use."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> float:
    return time.time()


def iso_seconds(ts: float) -> str:
    """Nova / Glance / Neutron style: 2025-01-02T03:04:05Z."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_micro(ts: float) -> str:
    """Nova's microsecond form (OS-SRV-USG:launched_at, fault created): no zone suffix."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


def iso_keystone(ts: float) -> str:
    """Keystone token timestamps: 2025-01-02T03:04:05.000000Z."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> float:
    """Parse the ISO 8601 forms clients send (changes-since); raise ValueError otherwise."""
    cleaned = text.strip().replace(" ", "+")
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    parsed = datetime.fromisoformat(cleaned)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()
