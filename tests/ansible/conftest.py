"""Locate the Ansible virtualenv built by setup-venv.sh; skip (or fail) when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def ansible_venv() -> Path:
    venv = Path(os.environ.get("DECLSTACK_ANSIBLE_VENV", REPO / ".ansible-venv"))
    if not (venv / "bin" / "ansible-playbook").exists():
        reason = (
            f"no Ansible venv at {venv}: run tests/ansible/setup-venv.sh "
            "(ansible==14.5.0 + openstacksdk==4.14.0, needs Python >= 3.12)"
        )
        if os.environ.get("DECLSTACK_REQUIRE_ANSIBLE") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return venv
