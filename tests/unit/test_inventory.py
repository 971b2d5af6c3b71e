"""The Ansible inventory: groups, ansible_host, host vars, and the three renderings, exactly."""

from __future__ import annotations

import ast
import json
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from declstack import cli, inventory
from declstack.errors import UserError
from declstack.model import ObservedServer, Spec
from declstack.spec import parse_spec
from tests.fakes import FakeCloud
from tests.unit.builders import server
from tests.unit.test_cli import assert_exited

pytestmark = pytest.mark.unit

SPEC = """\
version: 1
stack: demo
defaults: {image: cirros, flavor: m1.tiny, networks: [private], tags: [demo]}
servers:
  - name: web
    count: 3
    metadata: {role: web, port: "8080", motd: "it's #1 {ok}"}
    tags: [frontend, blue.green]
  - name: db-main
    metadata: {role: db}
  - name: worker
    count: 1
"""


def the_spec(text: str = SPEC) -> Spec:
    return parse_spec(text, "spec.yaml")


def observed(spec: Spec) -> list[ObservedServer]:
    """The stack in every state an inventory meets: floating, two networks, BUILD, ERROR,
    a duplicate left by an interrupted run, and a server the spec no longer has."""
    by_name = {s.name: s for s in spec.servers}
    gone = parse_spec(SPEC.replace("name: worker", "name: old")).servers[-1]
    return [
        server(
            by_name["web-1"],
            id="id-w1",
            addresses=(("private", "10.0.0.5"), ("private", "172.24.4.10")),
            floating_ips=("172.24.4.10",),
        ),
        server(
            by_name["web-2"],
            id="id-w2",
            addresses=(("private", "10.0.0.6"), ("public", "203.0.113.6")),
        ),
        server(by_name["web-2"], id="id-w2-dup", status="BUILD"),
        server(by_name["web-3"], id="id-w3", status="BUILD"),
        server(
            by_name["db-main"], id="id-db", status="ERROR", addresses=(("private", "10.0.0.7"),)
        ),
        server(by_name["worker-1"], id="id-wk", addresses=(("private", "10.0.0.8"),)),
        server(gone, id="id-old", addresses=(("private", "10.0.0.9"),)),
    ]


def build(network: str | None = None) -> inventory.Inventory:
    spec = the_spec()
    return inventory.build(spec, observed(spec), network)


WEB_METADATA = '{"motd":"it\'"\'"\'s #1 {ok}","port":"8080","role":"web"}'
INI = f"""\
[db_main]
db-main ansible_host=10.0.0.7 declstack_id=id-db declstack_status=ERROR \
declstack_addresses='{{"private":["10.0.0.7"]}}' declstack_floating_ips='[]' \
declstack_metadata='{{"role":"db"}}'

[tag_blue_green]
web-1
web-2
web-3

[tag_demo]
db-main
web-1
web-2
web-3
worker-1

[tag_frontend]
web-1
web-2
web-3

[web]
web-1 ansible_host=172.24.4.10 declstack_id=id-w1 declstack_status=ACTIVE \
declstack_addresses='{{"private":["10.0.0.5","172.24.4.10"]}}' \
declstack_floating_ips='["172.24.4.10"]' declstack_metadata='{WEB_METADATA}'
web-2 ansible_host=10.0.0.6 declstack_id=id-w2 declstack_status=ACTIVE \
declstack_addresses='{{"private":["10.0.0.6"],"public":["203.0.113.6"]}}' \
declstack_floating_ips='[]' declstack_metadata='{WEB_METADATA}'
web-3 declstack_id=id-w3 declstack_status=BUILD declstack_addresses='{{}}' \
declstack_floating_ips='[]' declstack_metadata='{WEB_METADATA}'

[worker]
worker-1 ansible_host=10.0.0.8 declstack_id=id-wk declstack_status=ACTIVE \
declstack_addresses='{{"private":["10.0.0.8"]}}' declstack_floating_ips='[]' \
declstack_metadata='{{}}'
"""

WEB_META_YAML = """\
          declstack_metadata:
            motd: 'it''s #1 {ok}'
            port: '8080'
            role: web
"""
YAML = f"""\
all:
  children:
    db_main:
      hosts:
        db-main:
          ansible_host: 10.0.0.7
          declstack_id: id-db
          declstack_status: ERROR
          declstack_addresses:
            private:
            - 10.0.0.7
          declstack_floating_ips: []
          declstack_metadata:
            role: db
    tag_blue_green:
      hosts:
        web-1: {{}}
        web-2: {{}}
        web-3: {{}}
    tag_demo:
      hosts:
        db-main: {{}}
        web-1: {{}}
        web-2: {{}}
        web-3: {{}}
        worker-1: {{}}
    tag_frontend:
      hosts:
        web-1: {{}}
        web-2: {{}}
        web-3: {{}}
    web:
      hosts:
        web-1:
          ansible_host: 172.24.4.10
          declstack_id: id-w1
          declstack_status: ACTIVE
          declstack_addresses:
            private:
            - 10.0.0.5
            - 172.24.4.10
          declstack_floating_ips:
          - 172.24.4.10
{WEB_META_YAML}\
        web-2:
          ansible_host: 10.0.0.6
          declstack_id: id-w2
          declstack_status: ACTIVE
          declstack_addresses:
            private:
            - 10.0.0.6
            public:
            - 203.0.113.6
          declstack_floating_ips: []
{WEB_META_YAML}\
        web-3:
          declstack_id: id-w3
          declstack_status: BUILD
          declstack_addresses: {{}}
          declstack_floating_ips: []
{WEB_META_YAML}\
    worker:
      hosts:
        worker-1:
          ansible_host: 10.0.0.8
          declstack_id: id-wk
          declstack_status: ACTIVE
          declstack_addresses:
            private:
            - 10.0.0.8
          declstack_floating_ips: []
          declstack_metadata: {{}}
"""

WEB_META = {"motd": "it's #1 {ok}", "port": "8080", "role": "web"}
JSON: dict[str, Any] = {
    "_meta": {
        "hostvars": {
            "db-main": {
                "ansible_host": "10.0.0.7",
                "declstack_id": "id-db",
                "declstack_status": "ERROR",
                "declstack_addresses": {"private": ["10.0.0.7"]},
                "declstack_floating_ips": [],
                "declstack_metadata": {"role": "db"},
            },
            "web-1": {
                "ansible_host": "172.24.4.10",
                "declstack_id": "id-w1",
                "declstack_status": "ACTIVE",
                "declstack_addresses": {"private": ["10.0.0.5", "172.24.4.10"]},
                "declstack_floating_ips": ["172.24.4.10"],
                "declstack_metadata": WEB_META,
            },
            "web-2": {
                "ansible_host": "10.0.0.6",
                "declstack_id": "id-w2",
                "declstack_status": "ACTIVE",
                "declstack_addresses": {"private": ["10.0.0.6"], "public": ["203.0.113.6"]},
                "declstack_floating_ips": [],
                "declstack_metadata": WEB_META,
            },
            "web-3": {
                "declstack_id": "id-w3",
                "declstack_status": "BUILD",
                "declstack_addresses": {},
                "declstack_floating_ips": [],
                "declstack_metadata": WEB_META,
            },
            "worker-1": {
                "ansible_host": "10.0.0.8",
                "declstack_id": "id-wk",
                "declstack_status": "ACTIVE",
                "declstack_addresses": {"private": ["10.0.0.8"]},
                "declstack_floating_ips": [],
                "declstack_metadata": {},
            },
        }
    },
    "all": {"children": ["db_main", "tag_blue_green", "tag_demo", "tag_frontend", "web", "worker"]},
    "db_main": {"hosts": ["db-main"]},
    "tag_blue_green": {"hosts": ["web-1", "web-2", "web-3"]},
    "tag_demo": {"hosts": ["db-main", "web-1", "web-2", "web-3", "worker-1"]},
    "tag_frontend": {"hosts": ["web-1", "web-2", "web-3"]},
    "web": {"hosts": ["web-1", "web-2", "web-3"]},
    "worker": {"hosts": ["worker-1"]},
}


def test_ini_is_exact() -> None:
    assert inventory.render_ini(build()) == INI


def test_yaml_is_exact() -> None:
    assert inventory.render_yaml(build()) == YAML


def test_json_is_exact() -> None:
    assert inventory.render_json(build()) == json.dumps(JSON, indent=2) + "\n"


def test_left_out_names_servers_the_spec_no_longer_has_but_not_duplicates() -> None:
    inv = build()
    assert inv.left_out == ("old-1",)
    assert [host.id for host in inv.hosts] == ["id-db", "id-w1", "id-w2", "id-w3", "id-wk"]


def test_the_three_formats_carry_one_structure() -> None:
    """What Ansible's yaml and ini plugins would read equals the JSON, host by host."""
    inv = build()
    listed = inventory.to_dict(inv)
    from_yaml = yaml.safe_load(inventory.render_yaml(inv))["all"]["children"]
    assert sorted(from_yaml) == listed["all"]["children"]
    yaml_vars: dict[str, Any] = {}
    for group, body in from_yaml.items():
        assert list(body["hosts"]) == listed[group]["hosts"]
        for name, variables in body["hosts"].items():
            if variables:
                assert name not in yaml_vars
                yaml_vars[name] = variables
    assert yaml_vars == listed["_meta"]["hostvars"]
    assert ini_hostvars(inventory.render_ini(inv)) == listed["_meta"]["hostvars"]


def ini_hostvars(text: str) -> dict[str, dict[str, Any]]:
    """Host vars as Ansible's ini plugin reads host lines: shlex, then literal_eval."""
    found: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        if not line or line.startswith("["):
            continue
        name, *pairs = shlex.split(line, comments=True)
        for pair in pairs:
            key, value = pair.split("=", 1)
            try:
                parsed: Any = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                parsed = value
            found.setdefault(name, {})[key] = parsed
    return found


@pytest.mark.parametrize(
    "value",
    [
        "web",
        "10.0.0.5",
        "fe80::1",
        "1",
        "0x10",
        "1e5",
        "True",
        "None",
        "1_000",
        "1+2j",
        "",
        "a b",
        "it's",
        'say "hi"',
        "#not-a-comment",
        "a=b",
        "back\\slash",
        "line\nbreak",
        "tab\there",
        "café ☕ 😀",
        "{{ not_templated_here }}",
        "[1, 2]",
    ],
)
def test_ini_values_read_back_as_the_same_string(value: str) -> None:
    line = (
        f"h declstack_metadata={inventory._ini_value({'k': value})} v={inventory._ini_value(value)}"
    )
    assert ini_hostvars(line) == {"h": {"declstack_metadata": {"k": value}, "v": value}}


def test_ini_bare_values_only_where_safe() -> None:
    assert inventory._ini_value("10.0.0.5") == "10.0.0.5"
    assert inventory._ini_value("ACTIVE") == "ACTIVE"
    assert inventory._ini_value("1") == "'\"1\"'"
    assert inventory._ini_value([]) == "'[]'"


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("web", "web"),
        ("web-api", "web_api"),
        ("a.b-c_d", "a_b_c_d"),
        ("tag_role:web/x y", "tag_role_web_x_y"),
        ("1web", "_1web"),
        ("all", "all_"),
        ("ungrouped", "ungrouped_"),
        ("All", "All"),
        ("", "_"),
    ],
)
def test_group_names_are_valid_ansible_names(text: str, group: str) -> None:
    assert inventory.group_name(text) == group


def test_natural_order() -> None:
    names = ["web-10", "web-2", "db", "web-1", "web-1a"]
    assert sorted(names, key=inventory.natural_key) == ["db", "web-1", "web-1a", "web-2", "web-10"]


def test_entries_from_count_and_single_servers() -> None:
    spec = the_spec(SPEC + "  - {name: api-v2, count: 2}\n  - {name: solo-1}\n  - {name: solo}\n")
    assert inventory.entry_names(spec) == {
        "web-1": "web",
        "web-2": "web",
        "web-3": "web",
        "db-main": "db-main",
        "worker-1": "worker",  # count: 1 still names its entry
        "api-v2-1": "api-v2",
        "api-v2-2": "api-v2",
        "solo-1": "solo-1",
        "solo": "solo",
    }


def test_ansible_host_choice() -> None:
    spec = the_spec()
    web1, web2 = observed(spec)[:2]
    assert inventory.ansible_host(web1) == "172.24.4.10"  # floating first
    assert inventory.ansible_host(web2) == "10.0.0.6"  # else the first fixed
    assert inventory.ansible_host(web1, "private") == "10.0.0.5"  # the network asked for
    assert inventory.ansible_host(web2, "public") == "203.0.113.6"
    assert inventory.ansible_host(web1, "public") is None
    only_floating = server(
        spec.servers[0], addresses=(("x", "1.2.3.4"),), floating_ips=("1.2.3.4",)
    )
    assert inventory.ansible_host(only_floating, "x") is None
    assert inventory.ansible_host(server(spec.servers[0])) is None


def test_address_network_sets_ansible_host_where_the_network_is() -> None:
    hosts = {host.name: host.variables.get("ansible_host") for host in build("public").hosts}
    assert hosts == {
        "db-main": None,
        "web-1": None,
        "web-2": "203.0.113.6",
        "web-3": None,
        "worker-1": None,
    }


def test_address_network_nobody_has_is_an_error_naming_the_networks() -> None:
    with pytest.raises(UserError) as caught:
        build("privat")
    assert caught.value.message == "no server of stack 'demo' has an address on network 'privat'"
    assert caught.value.hint == "--address-network takes one of: private, public"


def test_sensitive_values_are_masked() -> None:
    text = SPEC.replace('role: web, port: "8080"', 'role: web, port: "${DB_PASSWORD}"')
    spec = parse_spec(
        text, "spec.yaml", environ={"DB_PASSWORD": "hunter22"}, allow_env={"DB_PASSWORD"}
    )
    servers = [server(s, id=f"id-{s.name}") for s in spec.servers]
    rendered = inventory.render_json(inventory.build(spec, servers))
    assert "hunter22" not in rendered
    assert '"port": "(sensitive)"' in rendered


def test_empty_stack_is_a_valid_empty_inventory() -> None:
    inv = inventory.build(the_spec(), [])
    assert inventory.render_yaml(inv) == "all:\n  children: {}\n"
    assert inventory.render_ini(inv) == ""
    assert json.loads(inventory.render_json(inv)) == {
        "_meta": {"hostvars": {}},
        "all": {"children": []},
    }


# --- the CLI, on the strict fake cloud -------------------------------------------------


@pytest.fixture
def on_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    cloud = FakeCloud()
    for item in observed(the_spec()):
        cloud.add(item)

    @contextmanager
    def fake_open(*args: object) -> Iterator[FakeCloud]:
        yield cloud

    monkeypatch.setattr(cli, "_open_cloud", fake_open)
    return path


def test_cli_prints_each_format_and_notes_what_it_left_out(on_fake: Path) -> None:
    runner = CliRunner()
    for args, expected in (
        ((), YAML),
        (("--output", "yaml"), YAML),
        (("--output", "ini"), INI),
        (("-o", "json"), json.dumps(JSON, indent=2) + "\n"),
    ):
        result = runner.invoke(cli.app, ["inventory", str(on_fake), *args])
        assert_exited(result, 0)
        assert result.stdout == expected
        assert result.stderr == (
            "note: left out 1 server(s) the spec no longer has (apply deletes them) (old-1)\n"
        )


def test_cli_address_network(on_fake: Path) -> None:
    result = CliRunner().invoke(
        cli.app, ["inventory", str(on_fake), "-o", "json", "--address-network", "public"]
    )
    assert_exited(result, 0)
    hostvars = json.loads(result.stdout)["_meta"]["hostvars"]
    assert {name: v.get("ansible_host") for name, v in hostvars.items()} == {
        "db-main": None,
        "web-1": None,
        "web-2": "203.0.113.6",
        "web-3": None,
        "worker-1": None,
    }


def test_cli_unknown_address_network_is_an_error_not_a_traceback(on_fake: Path) -> None:
    result = CliRunner().invoke(cli.app, ["inventory", str(on_fake), "--address-network", "privat"])
    assert_exited(result, 1)
    assert result.stdout == ""
    assert result.stderr == (
        "error: no server of stack 'demo' has an address on network 'privat'\n"
        "  hint: --address-network takes one of: private, public\n"
    )


def test_cli_unknown_format_is_a_usage_error(on_fake: Path) -> None:
    result = CliRunner().invoke(cli.app, ["inventory", str(on_fake), "--output", "toml"])
    assert_exited(result, 1)  # usage errors never share the "changes" code
    assert "Invalid value for '--output' / '-o'" in result.stderr
    assert "'toml' is not one of" in result.stderr
    assert result.stdout == ""


def test_cli_missing_spec(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.app, ["inventory", str(tmp_path / "nope.yaml")])
    assert_exited(result, 1)
    assert result.stderr == f"error: {tmp_path / 'nope.yaml'}: no such file\n"


def test_status_json_carries_the_inventory_facts(on_fake: Path) -> None:
    result = CliRunner().invoke(cli.app, ["status", str(on_fake), "--output", "json"])
    assert_exited(result, 0)
    rows = {row["id"]: row for row in json.loads(result.stdout)["servers"]}
    hostvars = JSON["_meta"]["hostvars"]
    groups = {group: body["hosts"] for group, body in JSON.items() if group not in ("_meta", "all")}
    facts = {
        row["name"]: {**row["inventory"], "groups": sorted(row["inventory"]["groups"])}
        for row in rows.values()
        if row["inventory"] is not None
    }
    assert facts == {
        name: {
            "groups": sorted(group for group, hosts in groups.items() if name in hosts),
            "host_vars": variables,
        }
        for name, variables in hostvars.items()
    }
    # the entry's group comes first
    assert rows["id-w1"]["inventory"]["groups"] == [
        "web",
        "tag_blue_green",
        "tag_demo",
        "tag_frontend",
    ]
    assert rows["id-w2-dup"]["inventory"] is None  # a duplicate apply deletes
    assert rows["id-old"]["inventory"] is None  # no longer in the spec
