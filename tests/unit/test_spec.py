"""Spec loading: valid specs become the expected DesiredServers, invalid ones the exact messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from declstack.interpolate import interpolate
from declstack.model import DesiredServer, Lifecycle, SourceLocation
from declstack.spec import SCHEMA_PATH, SpecError, SpecProblem, load_spec, spec_schema

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "specs"

HEADER = "version: 1\nstack: s\n"


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> str:
    (tmp_path / name).write_text(textwrap.dedent(text))
    return name


def load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, env: dict[str, str] | None = None
) -> tuple[DesiredServer, ...]:
    monkeypatch.chdir(tmp_path)
    return load_spec(write(tmp_path, text), environ=env or {}).servers


def problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, env: dict[str, str] | None = None
) -> list[str]:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as caught:
        load_spec(write(tmp_path, text), environ=env or {})
    assert str(caught.value) == "\n".join(str(p) for p in caught.value.problems)
    return [str(p) for p in caught.value.problems]


# -- valid specs --------------------------------------------------------------


def test_minimal_server_gets_model_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers = load(
        tmp_path,
        monkeypatch,
        HEADER + "servers:\n  - name: a\n    image: cirros\n    flavor: m1.tiny\n",
    )
    assert servers == (
        DesiredServer(
            name="a",
            image="cirros",
            flavor="m1.tiny",
            source=SourceLocation("spec.yaml", 4, 5),
            entry="a",
        ),
    )


def test_defaults_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    servers = load(
        tmp_path,
        monkeypatch,
        """\
        version: 1
        stack: s
        defaults:
          image: cirros
          flavor: m1.tiny
          key_name: default
          networks: [private]
          security_groups: [default, web]
          metadata: {team: web, env: prod}
          tags: [base, shared]
          availability_zone: nova
          description: from defaults
          lifecycle: {prevent_destroy: true}
        servers:
          - name: a
          - name: b
            flavor: m1.large
            key_name: null
            networks: none
            security_groups: [db]
            metadata: {env: test, role: db}
            tags: [shared, db]
            description: null
            lifecycle: {create_before_destroy: true}
        """,
    )
    a, b = servers
    assert (a.image, a.flavor, a.key_name, a.networks) == (
        "cirros",
        "m1.tiny",
        "default",
        ("private",),
    )
    assert a.security_groups == ("default", "web")
    assert dict(a.metadata) == {"team": "web", "env": "prod"}
    assert a.tags == ("base", "shared")
    assert (a.availability_zone, a.description) == ("nova", "from defaults")
    assert a.lifecycle == Lifecycle(prevent_destroy=True)

    assert (b.image, b.flavor, b.key_name, b.networks) == ("cirros", "m1.large", None, "none")
    assert b.security_groups == ("db",)
    assert dict(b.metadata) == {"team": "web", "env": "test", "role": "db"}
    assert b.tags == ("base", "shared", "db")
    assert b.description is None
    assert b.lifecycle == Lifecycle(prevent_destroy=True, create_before_destroy=True)


@pytest.mark.parametrize(
    ("count_line", "expected"),
    [
        ("", ["web"]),
        ("    count: 0\n", []),
        ("    count: 1\n", ["web-1"]),
        ("    count: 3\n", ["web-1", "web-2", "web-3"]),
        ("    count: 12\n", [f"web-{n}" for n in range(1, 13)]),
    ],
)
def test_count_expansion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count_line: str, expected: list[str]
) -> None:
    text = (
        HEADER
        + "servers:\n  - name: first\n    image: i\n    flavor: f\n"
        + "  - name: web\n    image: i\n    flavor: f\n"
        + count_line
        + "  - name: last\n    image: i\n    flavor: f\n"
    )
    servers = load(tmp_path, monkeypatch, text)
    assert [s.name for s in servers] == ["first", *expected, "last"]
    assert all(s.source == SourceLocation("spec.yaml", 7, 5) for s in servers[1:-1])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("[private]", ("private",)),
        ("[private, 5f1e-uuid]", ("private", "5f1e-uuid")),
    ],
)
def test_networks_forms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, expected: object
) -> None:
    text = HEADER + f"servers:\n  - name: a\n    image: i\n    flavor: f\n    networks: {value}\n"
    (server,) = load(tmp_path, monkeypatch, text)
    assert server.networks == expected


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A}", {"A": "x"}, "x"),
        ("pre-${A}-post", {"A": "x"}, "pre-x-post"),
        ("${A:-dflt}", {}, "dflt"),
        ("${A:-dflt}", {"A": ""}, "dflt"),
        ("${A:-}", {}, ""),
        ("${A}", {"A": ""}, ""),
        ("${A:-dflt}", {"A": "set"}, "set"),
        ("cost $$5 and $$${A}", {"A": "x"}, "cost $5 and $x"),
        ("$HOME stays, so does $ alone", {"HOME": "/root"}, "$HOME stays, so does $ alone"),
    ],
)
def test_interpolate(text: str, env: dict[str, str], expected: str) -> None:
    assert interpolate(text, env) == (expected, [])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "${NOPE}",
            "environment variable NOPE is not set (set it, or give a default: ${NOPE:-value})",
        ),
        (
            "${1X}",
            "invalid substitution '${1X}': use ${NAME} or ${NAME:-default}, "
            "and '$$' for a literal '$'",
        ),
        (
            "${A:?x}",
            "invalid substitution '${A:?x}': use ${NAME} or ${NAME:-default}, "
            "and '$$' for a literal '$'",
        ),
        ("a ${B", "unterminated '${': close it with '}' or write '$$' for a literal '$'"),
    ],
)
def test_interpolate_errors(text: str, message: str) -> None:
    result, errors = interpolate(text, {"A": "a"})
    assert errors == [message]
    assert result == text


def test_interpolation_in_spec_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = """\
    version: 1
    stack: ${STACK:-s}
    cloud: ${CLOUD}
    servers:
      - name: ${NAME}
        image: ${IMAGE:-cirros}
        flavor: f
        metadata: {owner: "${VALUE}", price: "$$5"}
        tags: ["${VALUE}"]
    """
    monkeypatch.chdir(tmp_path)
    spec = load_spec(write(tmp_path, text), environ={"CLOUD": "prod", "NAME": "api", "VALUE": "v"})
    assert (spec.stack, spec.cloud) == ("s", "prod")
    (server,) = spec.servers
    assert (server.name, server.image) == ("api", "cirros")
    assert dict(server.metadata) == {"owner": "v", "price": "$5"}
    assert server.tags == ("v",)


def test_environ_defaults_to_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECLSTACK_TEST_IMAGE", "debian-12")
    monkeypatch.chdir(tmp_path)
    path = write(
        tmp_path,
        HEADER + "servers:\n  - {name: a, image: '${DECLSTACK_TEST_IMAGE}', flavor: f}\n",
    )
    assert load_spec(path).servers[0].image == "debian-12"


def test_user_data_inline_and_file_relative_to_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "init.yaml").write_text("#cloud-config\nruncmd: [echo $HOME]\n")
    (folder / "spec.yaml").write_text(
        HEADER
        + "defaults: {image: i, flavor: f, user_data: {file: init.yaml}}\n"
        + "servers:\n"
        + "  - name: a\n"
        + "  - name: b\n    user_data: |\n      #!/bin/sh\n      echo $${HOSTNAME} ${GREETING}\n"
        + "  - name: c\n    user_data: null\n"
    )
    monkeypatch.chdir(tmp_path)
    a, b, c = load_spec("conf/spec.yaml", environ={"GREETING": "hi"}).servers
    assert a.user_data == "#cloud-config\nruncmd: [echo $HOME]\n"
    assert b.user_data == "#!/bin/sh\necho ${HOSTNAME} hi\n"
    assert c.user_data is None


def test_anchors_merge_keys_and_x_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    servers = load(
        tmp_path,
        monkeypatch,
        """\
        version: 1
        stack: s
        x-small: &small {image: cirros, flavor: m1.tiny, tags: [small]}
        servers:
          - <<: *small
            name: a
          - <<: *small
            name: b
            flavor: m1.large
        """,
    )
    assert [(s.name, s.image, s.flavor, s.tags) for s in servers] == [
        ("a", "cirros", "m1.tiny", ("small",)),
        ("b", "cirros", "m1.large", ("small",)),
    ]


def test_servers_are_frozen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (server,) = load(
        tmp_path,
        monkeypatch,
        HEADER + "servers:\n  - {name: a, image: i, flavor: f, metadata: {k: v}}\n",
    )
    with pytest.raises(TypeError):
        server.metadata["k"] = "changed"  # type: ignore[index]
    with pytest.raises(AttributeError):
        server.name = "b"  # type: ignore[misc]


def test_empty_servers_list_is_a_valid_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = load_spec(write(tmp_path, HEADER + "servers: []\n"), environ={})
    assert (spec.stack, spec.servers, spec.cloud, spec.path) == ("s", (), None, "spec.yaml")


def test_demo_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    spec = load_spec("specs/demo.yaml", environ={})
    assert (spec.stack, spec.cloud) == ("demo", "local")
    assert [s.name for s in spec.servers] == ["legacy-1", "web-1", "web-2", "web-3", "batch"]
    legacy, web1, *_, batch = spec.servers
    assert (legacy.image, legacy.flavor, legacy.key_name) == ("Ubuntu-14.04", "small", "default")
    assert not legacy.lifecycle.prevent_destroy  # the demo must be destroyable
    assert web1.user_data is not None and web1.user_data.startswith("#cloud-config\n")
    assert web1.metadata["role"] == "web" and web1.metadata["env"] == "demo"
    assert batch.networks == "none" and batch.key_name is None
    assert (
        load_spec("specs/demo.yaml", environ={"DEMO_ENV": "ci"}).servers[0].metadata["env"] == "ci"
    )


@pytest.mark.parametrize("path", sorted((REPO / "specs" / "examples").glob("*.yaml")), ids=str)
def test_examples_are_valid(path: Path) -> None:
    assert load_spec(path, environ={}).servers


def test_schema_is_valid_draft_2020_12_and_published() -> None:
    Draft202012Validator.check_schema(spec_schema())
    published = REPO / "schemas" / "spec-v1.json"
    assert published.is_symlink()
    assert published.resolve() == SCHEMA_PATH.resolve()
    assert json.loads(published.read_text()) == spec_schema()


def test_importing_spec_does_not_import_openstack() -> None:
    code = (
        "import sys; import declstack.spec; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('openstack', 'keystoneauth1')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert result.stdout.strip() == "[]"


def test_problem_str_formats() -> None:
    where = SourceLocation("specs/demo.yaml", 12, 5)
    assert str(SpecProblem(where, "servers[1].flavor", "bad")) == (
        "specs/demo.yaml:12:5: servers[1].flavor: bad"
    )
    assert str(SpecProblem(where, "", "bad")) == "specs/demo.yaml:12:5: bad"
    assert str(SpecProblem(None, "", "cannot read x")) == "cannot read x"


def test_unreadable_file() -> None:
    with pytest.raises(SpecError) as caught:
        load_spec("/nonexistent/spec.yaml")
    assert str(caught.value) == "cannot read /nonexistent/spec.yaml: No such file or directory"


# -- invalid specs: the exact lines validate prints ------------------------------

SERVER = "servers:\n  - name: a\n    image: i\n    flavor: f\n"

INVALID: list[tuple[str, str, list[str]]] = [
    (
        "yaml-syntax",
        "version: 1\nservers: [a\n",
        [
            "spec.yaml:3:1: YAML syntax error: while parsing a flow sequence (line 2), "
            "expected ',' or ']', but got '<stream end>'"
        ],
    ),
    (
        "yaml-tab-indent",
        "version: 1\nstack: s\n\tservers: []\n",
        [
            "spec.yaml:3:1: YAML syntax error: while scanning for the next token, "
            "found character '\\t' that cannot start any token"
        ],
    ),
    (
        "empty",
        "# nothing\n",
        ["spec.yaml:1:1: the spec is empty: it needs at least version, stack and servers"],
    ),
    (
        "not-a-mapping",
        "- name: a\n",
        ["spec.yaml:1:1: the spec must be a mapping (version:, stack:, servers:), got a list"],
    ),
    (
        "future-version",
        "version: 2\nstack: s\nservers: 5\n",
        ["spec.yaml:1:10: version: unsupported spec version 2: this declstack reads version 1"],
    ),
    (
        "version-as-string",
        'version: "1"\nstack: s\nservers: []\n',
        [
            "spec.yaml:1:10: version: must be 1 (the only spec format version this declstack "
            'reads); got the string "1"'
        ],
    ),
    (
        "missing-required",
        "cloud: local\n",
        [
            "spec.yaml:1:1: missing required key 'version'",
            "spec.yaml:1:1: missing required key 'stack'",
            "spec.yaml:1:1: missing required key 'servers'",
        ],
    ),
    (
        "unknown-keys",
        HEADER + "clod: x\nimage: cirros\nfoo: 1\n" + SERVER + "    flavr: m1.tiny\n",
        [
            "spec.yaml:3:1: clod: unknown key 'clod' (did you mean 'cloud'?)",
            "spec.yaml:4:1: image: unknown key 'image' (server settings go under 'defaults:' "
            "or an entry of 'servers:')",
            "spec.yaml:5:1: foo: unknown key 'foo' (expected one of: version, stack, cloud, "
            "defaults, servers, security_groups, keypairs, max_deletions)",
            "spec.yaml:10:5: servers[0].flavr: unknown key 'flavr' (did you mean 'flavor'?)",
        ],
    ),
    (
        "unknown-lifecycle-key",
        HEADER + SERVER + "    lifecycle: {prevent_destroyed: true}\n",
        [
            "spec.yaml:7:17: servers[0].lifecycle.prevent_destroyed: unknown key "
            "'prevent_destroyed' (did you mean 'prevent_destroy'?)"
        ],
    ),
    (
        "duplicate-key",
        HEADER + SERVER + "    flavor: g\n",
        [
            "spec.yaml:7:5: servers[0].flavor: duplicate key 'flavor' (first written at "
            "spec.yaml:6:5); YAML keeps only one of them"
        ],
    ),
    (
        "stack-name",
        "version: 1\nstack: My_Stack\nservers: []\n",
        [
            "spec.yaml:2:8: stack: must be 1-40 lowercase letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit (it becomes the tag "
            "'declstack:stack=<stack>', and Nova tags hold 60 characters); got the string "
            '"My_Stack"'
        ],
    ),
    (
        "stack-name-too-long-for-tag",
        f"version: 1\nstack: {'s' * 41}\nservers: []\n",
        [
            "spec.yaml:2:8: stack: must be 1-40 lowercase letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit (it becomes the tag "
            "'declstack:stack=<stack>', and Nova tags hold 60 characters); got the string "
            f'"{"s" * 41}"'
        ],
    ),
    (
        "metadata-values-must-be-strings",
        HEADER + SERVER + "    metadata: {port: 8080, debug: yes, ratio: 0.5, empty: }\n",
        [
            "spec.yaml:7:22: servers[0].metadata.port: must be a string, got the number 8080; "
            'quote it to keep it as text: "8080"',
            "spec.yaml:7:35: servers[0].metadata.debug: must be a string, got the boolean true; "
            'quote it to keep it as text: "yes"',
            "spec.yaml:7:47: servers[0].metadata.ratio: must be a string, got the number 0.5; "
            'quote it to keep it as text: "0.5"',
            "spec.yaml:7:58: servers[0].metadata.empty: must be a string, "
            "got null (an empty value)",
        ],
    ),
    (
        "metadata-keys",
        HEADER
        + SERVER
        + "    metadata: {'declstack:stack': x, 'a/b': y, ok: "
        + '"'
        + "v" * 256
        + '"}\n',
        [
            'spec.yaml:7:16: servers[0].metadata["declstack:stack"]: metadata keys starting '
            "with 'declstack:' are reserved for declstack's own bookkeeping; got "
            "'declstack:stack'",
            'spec.yaml:7:38: servers[0].metadata["a/b"]: metadata keys must be 1-255 letters, '
            "digits, spaces or '-', '_', ':', '.' (Nova's rule); got 'a/b'",
            "spec.yaml:7:52: servers[0].metadata.ok: must be at most 255 characters, got 256",
        ],
    ),
    (
        "reserved-tag",
        HEADER + SERVER + "    tags: [web, 'declstack:stack=other']\n",
        [
            "spec.yaml:7:17: servers[0].tags[1]: tags starting with 'declstack:' are reserved "
            'for declstack\'s ownership marker; got the string "declstack:stack=other"',
        ],
    ),
    (
        "metadata-bookkeeping-limit",
        HEADER
        + "defaults: {image: i, flavor: f}\nservers:\n  - name: a\n    metadata:\n"
        + "".join(f"      key-number-{n:02}: v\n" for n in range(18)),
        [
            "spec.yaml:7:7: servers[0].metadata: too many metadata keys: declstack records "
            "their names in one metadata value, which would be 289 characters (Nova allows "
            "255); use fewer or shorter keys"
        ],
    ),
    (
        "tags",
        HEADER + SERVER + f"    tags: [a/b, 'c,d', '', {'t' * 61}, ok, ok]\n",
        [
            "spec.yaml:7:12: servers[0].tags[0]: tags cannot contain '/' or ',' (Nova's rule); "
            'got the string "a/b"',
            "spec.yaml:7:17: servers[0].tags[1]: tags cannot contain '/' or ',' (Nova's rule); "
            'got the string "c,d"',
            "spec.yaml:7:24: servers[0].tags[2]: must not be empty",
            "spec.yaml:7:28: servers[0].tags[3]: must be at most 60 characters, got 61",
            'spec.yaml:7:95: servers[0].tags[5]: "ok" is listed twice (first at spec.yaml:7:91)',
        ],
    ),
    (
        "too-many-tags-after-merge",
        HEADER
        + "defaults: {image: i, flavor: f, tags: ["
        + ", ".join("abcdefghijklmnopqrstuvwxyz")
        + "]}\nservers:\n  - name: a\n    tags: ["
        + ", ".join("ABCDEFGHIJKLMNOPQRSTUVWX")
        + "]\n",
        [
            "spec.yaml:6:11: servers[0].tags: 50 tags with defaults merged: at most 49 (Nova "
            "allows 50 per server and declstack adds one)",
        ],
    ),
    (
        "tags-bookkeeping-limit",
        HEADER
        + SERVER
        + "    tags: ["
        + ", ".join(f"tag-number-{n:02}" for n in range(18))
        + "]\n",
        [
            "spec.yaml:7:11: servers[0].tags: too many tags: declstack records them in one "
            "metadata value, which would be 289 characters (Nova allows 255); use fewer or "
            "shorter tags"
        ],
    ),
    (
        "image-flavor-missing-after-defaults",
        HEADER + "defaults: {image: i}\nservers:\n  - name: a\n  - {name: b, flavor: f}\n",
        ["spec.yaml:5:5: servers[0]: missing 'flavor': set it on the server or in defaults"],
    ),
    (
        "name-missing-and-invalid",
        HEADER
        + "servers:\n  - image: i\n    flavor: f\n  - {name: 'web server', image: i, flavor: f}\n",
        [
            "spec.yaml:4:5: servers[0]: missing required key 'name'",
            "spec.yaml:6:12: servers[1].name: must be 1-63 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (Nova derives the hostname from the name, and a "
            'hostname label holds 63 characters); got the string "web server"',
        ],
    ),
    (
        "duplicate-names-after-count",
        HEADER
        + "defaults: {image: i, flavor: f}\nservers:\n"
        + "  - name: web\n    count: 3\n  - name: web-2\n  - name: solo\n  - name: solo\n",
        [
            "spec.yaml:7:11: servers[1].name: duplicate server name 'web-2': servers[0] at "
            "spec.yaml:5:11 already has it",
            "spec.yaml:9:11: servers[3].name: duplicate server name 'solo': servers[2] at "
            "spec.yaml:8:11 already has it",
        ],
    ),
    (
        "count-expansion-collides-with-earlier-name",
        HEADER
        + "defaults: {image: i, flavor: f}\nservers:\n  - name: db-1\n  - {name: db, count: 2}\n",
        [
            "spec.yaml:6:12: servers[1].name: duplicate server name 'db-1' (from name 'db' with "
            "count 2): servers[0] at spec.yaml:5:11 already has it",
        ],
    ),
    (
        "expanded-name-too-long",
        HEADER
        + f"defaults: {{image: i, flavor: f}}\nservers:\n  - {{name: {'n' * 61}, count: 10}}\n",
        [
            f"spec.yaml:5:12: servers[0].name: with count 10 the last name '{'n' * 61}-10' has "
            "64 characters, more than 63: shorten the name",
        ],
    ),
    (
        "count",
        HEADER
        + "defaults: {image: i, flavor: f}\nservers:\n"
        + "  - {name: a, count: -1}\n  - {name: b, count: '${N}'}\n  - {name: c, count: 1.5}\n",
        [
            "spec.yaml:5:22: servers[0].count: must be 0 or more, got -1",
            'spec.yaml:6:22: servers[1].count: must be an integer, got the string "2"',
            "spec.yaml:7:22: servers[2].count: must be an integer, got the number 1.5",
        ],
    ),
    (
        "networks",
        HEADER
        + "defaults: {image: i, flavor: f}\nservers:\n"
        + "  - {name: a, networks: Auto}\n  - {name: b, networks: []}\n"
        + "  - {name: c, networks: [private, 3]}\n  - {name: d, networks: {name: x}}\n",
        [
            'spec.yaml:5:25: servers[0].networks: must be "auto", "none" or a list of network '
            "names or ids (one network: [name]); got the string \"Auto\" (did you mean 'auto'?)",
            'spec.yaml:6:25: servers[1].networks: must list at least one network (write "none" '
            "for a server without network)",
            "spec.yaml:7:35: servers[2].networks[1]: must be a network name or id, or "
            "{network: NAME, fixed_ip: ADDRESS}; got the number 3",
            'spec.yaml:8:25: servers[3].networks: must be "auto", "none" or a list of network '
            "names or ids (one network: [name]); got a mapping",
        ],
    ),
    (
        "security-groups-and-scalars",
        HEADER
        + SERVER
        + "    security_groups: [default, default]\n    key_name: ''\n"
        + f"    description: {'d' * 256}\n    lifecycle: {{prevent_destroy: 'yes'}}\n",
        [
            'spec.yaml:7:32: servers[0].security_groups[1]: "default" is listed twice (first at '
            "spec.yaml:7:23)",
            "spec.yaml:8:15: servers[0].key_name: must not be empty",
            "spec.yaml:9:18: servers[0].description: must be at most 255 characters, got 256",
            "spec.yaml:10:34: servers[0].lifecycle.prevent_destroy: must be true or false, got "
            'the string "yes"',
        ],
    ),
    (
        "environment",
        HEADER + SERVER + "    description: ${MISSING}\n    availability_zone: ${bad-name}\n",
        [
            "spec.yaml:7:18: servers[0].description: environment variable MISSING is not set "
            "(set it, or give a default: ${MISSING:-value})",
            "spec.yaml:8:24: servers[0].availability_zone: invalid substitution '${bad-name}': "
            "use ${NAME} or ${NAME:-default}, and '$$' for a literal '$'",
        ],
    ),
    (
        "user-data-forms",
        HEADER
        + "defaults: {image: i, flavor: f}\nservers:\n"
        + "  - {name: a, user_data: {file: nope.yaml}}\n  - {name: b, user_data: {fille: x}}\n"
        + "  - {name: c, user_data: [x]}\n",
        [
            "spec.yaml:5:33: servers[0].user_data.file: cannot read user_data file 'nope.yaml': "
            "No such file or directory",
            "spec.yaml:6:26: servers[1].user_data: missing required key 'file'",
            "spec.yaml:6:27: servers[1].user_data.fille: unknown key 'fille' "
            "(did you mean 'file'?)",
            "spec.yaml:7:26: servers[2].user_data: must be text, or {file: <path relative to the "
            "spec>}; got a list",
        ],
    ),
    (
        "non-string-tags-get-one-error-each",
        HEADER + SERVER + "    tags: [1, {a: b}]\n",
        [
            "spec.yaml:7:12: servers[0].tags[0]: must be a string, got the number 1; quote it "
            'to keep it as text: "1"',
            "spec.yaml:7:15: servers[0].tags[1]: must be a string, got a mapping",
        ],
    ),
    (
        "count-float-and-too-large",
        HEADER
        + "defaults: {image: i, flavor: f}\nservers:\n"
        + "  - {name: a, count: 2.0}\n  - {name: b, count: 10001}\n",
        [
            "spec.yaml:5:22: servers[0].count: must be an integer, got the number 2.0",
            "spec.yaml:6:22: servers[1].count: must be 10000 or less, got 10001",
        ],
    ),
    (
        "too-many-servers-in-total",
        HEADER
        + "defaults: {image: i, flavor: f}\nservers:\n"
        + "  - {name: a, count: 6000}\n  - {name: b, count: 6000}\n  - {name: c, count: 9}\n",
        [
            "spec.yaml:6:22: servers[1].count: too many servers: this entry brings the spec to "
            "12000, and declstack plans at most 10000 per spec; split the stack",
        ],
    ),
    (
        "control-character",
        HEADER + SERVER + "    description: a\x00b\n",
        [
            "spec.yaml:7:19: YAML syntax error: the character U+0000 is not allowed in YAML "
            'text; inside a double-quoted string write it as an escape ("\\u0000") if you '
            "really mean it"
        ],
    ),
    (
        "lone-surrogate",
        HEADER + SERVER + '    description: "\\ud800"\n',
        [
            "spec.yaml:7:18: servers[0].description: contains U+D800, half of a UTF-16 "
            "surrogate pair, which is not text; write the character itself or its \\U escape"
        ],
    ),
    (
        "bad-explicit-values",
        HEADER
        + SERVER
        + "    description: 2024-02-30\n    key_name: !!bool maybe\n    count: "
        + "9" * 5000
        + "\n",
        [
            "spec.yaml:7:18: servers[0].description: cannot read this value: not a valid "
            "timestamp: day is out of range for month",
            "spec.yaml:8:15: servers[0].key_name: cannot read this value: not a valid bool",
            "spec.yaml:9:12: servers[0].count: cannot read this value: a number with 5000 "
            "digits is too long",
        ],
    ),
    (
        "unknown-yaml-tag",
        HEADER + "servers:\n  - name: a\n    image: !ref base\n    flavor: f\n",
        [
            "spec.yaml:5:12: servers[0].image: cannot read this value: could not determine a "
            "constructor for the tag '!ref'"
        ],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_specs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: list[str]
) -> None:
    assert problems(tmp_path, monkeypatch, text, env={"N": "2"}) == expected


@pytest.mark.parametrize(
    ("size", "ok"),
    [(49149, True), (49152, False)],
    ids=["65532-base64-chars", "65536-base64-chars"],
)
def test_user_data_size_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, ok: bool
) -> None:
    (tmp_path / "big.txt").write_text("x" * size)
    text = HEADER + SERVER + "    user_data: {file: big.txt}\n"
    if ok:
        (server,) = load(tmp_path, monkeypatch, text)
        assert server.user_data is not None and len(server.user_data) == size
    else:
        assert problems(tmp_path, monkeypatch, text) == [
            "spec.yaml:7:23: servers[0].user_data.file: user_data is too large: 49152 bytes are "
            "65536 characters in base64, Nova accepts at most 65535 (about 48 KiB of text)"
        ]


def test_problems_from_defaults_are_reported_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = HEADER + "defaults: {image: i, flavor: f, user_data: {file: gone.sh}}\n"
    text += "servers:\n  - name: a\n  - name: b\n"
    assert problems(tmp_path, monkeypatch, text) == [
        "spec.yaml:3:51: defaults.user_data.file: cannot read user_data file 'gone.sh': "
        "No such file or directory"
    ]


def test_alias_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 7)]
    found = problems(tmp_path, monkeypatch, "\n".join(lines) + "\n")
    assert len(found) == 1
    assert "document too large: more than 100000 values" in found[0]


def test_spec_file_not_utf8_is_positioned(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_bytes(b"version: 1\nstack: \xc3\xa9\xff\n")
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path / "spec.yaml", environ={})
    assert str(caught.value) == (
        f"{tmp_path / 'spec.yaml'}:2:9: not UTF-8 text: byte 0xff (invalid start byte); "
        "save it as UTF-8"
    )


def test_fixture_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    assert [s.name for s in load_spec("valid-full.yaml", environ={}).servers] == [
        "api-1",
        "api-2",
        "worker",
    ]
    with pytest.raises(SpecError) as caught:
        load_spec("invalid-many.yaml", environ={})
    assert str(caught.value) == (FIXTURES / "invalid-many.expected").read_text().rstrip("\n")
