"""Issue 8's stack end to end: servers people can reach.

Three web servers with floating IPs, a `web` group allowing 22 and 443, an `app`
group allowing 8080 from `web` only, a key pair from a file, an app server with a
claimed floating IP; an unowned security group named `web` exists beside them, and
a key pair the spec also defines already exists with the same key (used as is).
Second plan no-op; rules changed in place; a create-time change (the flavor: both
clouds have two) replaces the web servers and they keep their addresses; count
3 -> 2 releases the third address; destroy removes every owned resource and
nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from tests.scenarios.conftest import REPO, Stack, Target, floating_address, when_free

PUBLIC_KEY = (REPO / "specs" / "deploy.pub").read_text().strip()


@dataclass
class Strangers:
    group: Any
    keypair: Any
    fip: Any


@pytest.fixture
def strangers(target: Target, stack: Stack) -> Iterator[Strangers]:
    """Unowned resources: a group `web`, a key pair `<stack>-shared` with the spec's key,
    and a floating IP to claim. Removed after the stack is destroyed."""
    conn = target.connection()
    group = conn.network.create_security_group(name="web", description="not the stack's")
    keypair = conn.compute.create_keypair(name=f"{stack.name}-shared", public_key=PUBLIC_KEY)
    public = conn.network.find_network("public")
    fip = conn.network.create_ip(floating_network_id=public.id)
    yield Strangers(group, keypair, fip)
    conn.compute.delete_keypair(keypair, ignore_missing=True)
    conn.network.delete_ip(fip, ignore_missing=True)
    when_free(lambda: conn.network.delete_security_group(group, ignore_missing=True))


def spec(
    stack: Stack,
    strangers: Strangers,
    web_count: int,
    web_rules: list[dict[str, Any]],
    web_flavor: str | None = None,
) -> None:
    (stack.path.parent / "deploy.pub").write_text(PUBLIC_KEY + "\n")
    web: dict[str, Any] = {
        "name": "web",
        "count": web_count,
        "floating_ip": True,
        "security_groups": ["web"],
        "key_name": f"{stack.name}-ops",
    }
    if web_flavor:
        web["flavor"] = web_flavor
    doc = {
        "version": 1,
        "stack": stack.name,
        "defaults": {
            "image": stack.target.image,
            "flavor": stack.target.flavor,
            "networks": [stack.target.network],
        },
        "keypairs": {
            f"{stack.name}-ops": {"public_key": {"file": "deploy.pub"}},
            f"{stack.name}-shared": {"public_key": PUBLIC_KEY},
        },
        "security_groups": {
            "web": {"description": "front door", "rules": web_rules},
            "app": {"rules": [{"protocol": "tcp", "port": 8080, "remote_group": "web"}]},
        },
        "servers": [
            web,
            {
                "name": "app",
                "security_groups": ["app"],
                "key_name": f"{stack.name}-shared",
                "floating_ip": {"address": strangers.fip.floating_ip_address},
            },
        ],
    }
    stack.path.write_text(yaml.safe_dump(doc, sort_keys=False))


def owned(stack: Stack) -> dict[str, set[str]]:
    conn = stack.target.connection()
    tag = f"declstack:stack={stack.name}"
    return {
        "groups": {g.name for g in conn.network.security_groups() if tag in (g.tags or [])},
        "ips": {f.floating_ip_address for f in conn.network.ips(tags=tag)},
        "keypairs": {k.name for k in conn.compute.keypairs() if k.public_key.split()[-1] == tag},
    }


SSH = {"protocol": "tcp", "port": 22}
HTTPS = {"protocol": "tcp", "port": 443}
HTTP = {"protocol": "tcp", "port": 80}


def test_a_stack_people_can_reach(strangers: Strangers, stack: Stack) -> None:
    spec(stack, strangers, 3, [SSH, HTTPS])
    stack.ok("apply", "--yes")
    have = owned(stack)
    assert have["groups"] == {"web", "app"} and have["keypairs"] == {f"{stack.name}-ops"}
    assert len(have["ips"]) == 3
    addresses = {name: floating_address(stack, name) for name in ("web-1", "web-2", "web-3")}
    assert set(addresses.values()) == have["ips"]
    assert floating_address(stack, "app") == strangers.fip.floating_ip_address
    assert stack.ok("plan", "--detailed-exitcode").exit_code == 0

    ids = {name: s.id for name, s in stack.servers().items()}
    spec(stack, strangers, 3, [SSH, HTTP])  # 443 out, 80 in
    plan = stack.ok("plan", "--detailed-exitcode", code=2)
    assert "Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy." in plan.stdout
    stack.ok("apply", "--yes")
    assert {name: s.id for name, s in stack.servers().items()} == ids

    # A create-time change replaces the web servers; each keeps its address.
    other = stack.target.other_flavor
    spec(stack, strangers, 3, [SSH, HTTP], web_flavor=other)
    stack.ok("apply", "--yes")
    for name in ("web-1", "web-2", "web-3"):
        assert stack.servers()[name].id != ids[name]
        assert floating_address(stack, name) == addresses[name]
    assert stack.ok("plan", "--detailed-exitcode").exit_code == 0

    # Scale 3 -> 2: web-3 and its address go; the others keep theirs.
    spec(stack, strangers, 2, [SSH, HTTP], web_flavor=other)
    stack.ok("apply", "--yes")
    assert owned(stack)["ips"] == {addresses["web-1"], addresses["web-2"]}
    conn = stack.target.connection()
    assert conn.network.find_ip(addresses["web-3"]) is None

    stack.ok("destroy", "--yes")
    assert owned(stack) == {"groups": set(), "ips": set(), "keypairs": set()}
    assert conn.network.get_security_group(strangers.group.id).name == "web"
    assert conn.compute.find_keypair(strangers.keypair.name) is not None, "used, never owned"
    assert conn.network.get_ip(strangers.fip.id).floating_ip_address == (
        strangers.fip.floating_ip_address
    ), "the claimed address is still allocated"
