"""Key pairs the spec defines: created with the stack's marker, used by servers; a
changed key replaces the key pair and no server; an existing key pair with the same
key is used as is and survives destroy."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.scenarios.conftest import REPO, Stack, Target

KEY_A = (REPO / "specs" / "deploy.pub").read_text().strip()


def another_key() -> str:
    """A second valid ed25519 public key line (random key bytes, valid encoding)."""
    name = b"ssh-ed25519"
    blob = len(name).to_bytes(4, "big") + name + (32).to_bytes(4, "big") + os.urandom(32)
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} other@test"


@pytest.fixture
def theirs(target: Target, stack: Stack) -> Iterator[Any]:
    """A key pair made by hand with KEY_A, under a name the spec then uses."""
    conn = target.connection()
    keypair = conn.compute.create_keypair(name=f"{stack.name}-shared", public_key=KEY_A)
    yield keypair
    conn.compute.delete_keypair(keypair, ignore_missing=True)


def test_keypairs_owned_used_and_left_alone(stack: Stack, theirs: Any) -> None:
    conn = stack.target.connection()
    deploy = f"{stack.name}-deploy"

    def write(key: str) -> None:
        stack.write(
            [
                {"name": "keyed", "key_name": deploy},
                {"name": "shared-user", "key_name": theirs.name},
            ]
        )
        doc = stack.path.read_text() + (
            f'keypairs:\n  {deploy}:\n    public_key: "{key}"\n'
            f'  {theirs.name}:\n    public_key: "{KEY_A}"\n'
        )
        stack.path.write_text(doc)

    write(KEY_A)
    plan = stack.ok("plan", "--detailed-exitcode", code=2)
    assert f"+ keypair.{deploy}" in plan.stdout
    assert (
        "used as is, not owned by the stack" in stack.ok("plan", "--show-unchanged", code=0).stdout
    )
    stack.ok("apply", "--yes")
    made = conn.compute.get_keypair(deploy)
    assert made.public_key.split()[-1] == f"declstack:stack={stack.name}"
    assert made.public_key.split()[:2] == KEY_A.split()[:2]
    assert conn.compute.get_server(stack.servers()["keyed"].id).key_name == deploy
    assert stack.ok("plan", "--detailed-exitcode").exit_code == 0

    before = {name: s.id for name, s in stack.servers().items()}
    write(another_key())
    plan = stack.ok("plan", "--detailed-exitcode", code=2)
    assert f"-/+ keypair.{deploy}" in plan.stdout and "running servers keep the key" in plan.stdout
    stack.ok("apply", "--yes")
    assert {name: s.id for name, s in stack.servers().items()} == before, "no server replaced"

    stack.ok("destroy", "--yes")
    assert conn.compute.find_keypair(deploy) is None
    assert conn.compute.find_keypair(theirs.name) is not None, "not the stack's: it stays"
