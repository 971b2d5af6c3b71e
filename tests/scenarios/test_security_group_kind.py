"""Security groups the spec defines: created and owned (even beside an unowned group
of the same name), rules changed one by one without touching servers, deleted on
destroy while the stranger survives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.scenarios.conftest import Stack, Target, when_free


@pytest.fixture
def stranger(target: Target) -> Iterator[Any]:
    """A group named `web` that the stack does not own (request it before `stack`)."""
    conn = target.connection()
    group = conn.network.create_security_group(name="web", description="not the stack's")
    yield group
    when_free(lambda: conn.network.delete_security_group(group, ignore_missing=True))


def groups_of(stack: Stack) -> dict[str, Any]:
    conn = stack.target.connection()
    tag = f"declstack:stack={stack.name}"
    return {g.name: g for g in conn.network.security_groups() if tag in (g.tags or [])}


def ingress(group: Any) -> set[tuple[Any, ...]]:
    return {
        (r["protocol"], r["port_range_min"], r["remote_ip_prefix"], r["remote_group_id"])
        for r in group.security_group_rules
        if r["direction"] == "ingress"
    }


def test_owned_groups_with_rules_changed_in_place(stranger: Any, stack: Stack) -> None:
    web = {
        "description": "front door",
        "rules": [
            {"protocol": "tcp", "port": 22, "remote_ip_prefix": "0.0.0.0/0"},
            {"protocol": "tcp", "port": 443},
        ],
    }
    app = {"rules": [{"protocol": "tcp", "port": 8080, "remote_group": "web"}]}
    servers = [
        {"name": "web", "count": 2, "security_groups": ["web"]},
        {"name": "app", "security_groups": ["app"]},
    ]

    def write(groups: dict[str, Any]) -> None:
        stack.write(servers)
        doc = stack.path.read_text() + _yaml({"security_groups": groups})
        stack.path.write_text(doc)

    write({"web": web, "app": app})
    stack.ok("apply", "--yes")
    owned = groups_of(stack)
    assert set(owned) == {"web", "app"} and owned["web"].id != stranger.id
    assert ingress(owned["web"]) == {("tcp", 22, None, None), ("tcp", 443, None, None)}
    assert ingress(owned["app"]) == {("tcp", 8080, None, owned["web"].id)}
    conn = stack.target.connection()
    web_1 = conn.compute.get_server(stack.servers()["web-1"].id)
    assert {g["name"] for g in web_1.security_groups} == {"web"}
    ports = list(conn.network.ports(device_id=web_1.id))
    assert [p.security_group_ids for p in ports] == [[owned["web"].id]], "ours, not the stranger"
    assert stack.ok("plan", "--detailed-exitcode").exit_code == 0

    ids = {name: server.id for name, server in stack.servers().items()}
    changed = {
        **web,
        "rules": [{"protocol": "tcp", "port": 22}, {"protocol": "udp", "ports": "60000-61000"}],
    }
    write({"web": changed, "app": app})
    plan = stack.ok("plan", "--detailed-exitcode", code=2)
    assert "~ security_group.web" in plan.stdout
    assert "Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy." in plan.stdout
    stack.ok("apply", "--yes")
    assert {name: s.id for name, s in stack.servers().items()} == ids, "no server replaced"
    assert ingress(groups_of(stack)["web"]) == {
        ("tcp", 22, None, None),
        ("udp", 60000, None, None),
    }
    assert stack.ok("plan", "--detailed-exitcode").exit_code == 0

    stack.ok("destroy", "--yes")
    assert groups_of(stack) == {}
    assert conn.network.get_security_group(stranger.id).name == "web", "the stranger survives"


def _yaml(doc: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(doc, sort_keys=False)
