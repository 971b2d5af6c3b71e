"""Test tiers by folder: unit (pure), localcloud/scenarios/integration/chaos (HTTP), conformance
(real OpenStack)."""

from __future__ import annotations

from pathlib import Path

import pytest

TIERS = {
    "unit": "unit",
    "localcloud": "integration",
    "scenarios": "integration",
    "integration": "integration",
    "conformance": "conformance",
    "ansible": "ansible",
    "chaos": "integration",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its tier, from the folder it lives in."""
    root = Path(__file__).parent
    for item in items:
        try:
            folder = Path(item.fspath).relative_to(root).parts[0]
        except ValueError:
            continue
        tier = TIERS.get(folder)
        if tier and not any(m.name in TIERS.values() for m in item.iter_markers()):
            item.add_marker(getattr(pytest.mark, tier))
