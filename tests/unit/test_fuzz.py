"""Property-based tests of the spec loader: whatever the input, a Spec or a positioned SpecError.

Never another exception, never unbounded time or memory. Derandomized with a
fixed number of examples, so CI runs the same inputs every time. Each bug the
fuzzing found is kept as an @example (see the comments there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from declstack.model import Spec
from declstack.spec import MAX_SPEC_BYTES, SpecError, load_spec, parse_spec
from declstack.yamlsource import MAX_NODES, load_yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
VALID_SPECS = sorted(
    [*REPO.glob("specs/**/*.yaml"), *(REPO / "tests/unit/specs").glob("valid-*.yaml")]
)
#: (text, folder): user_data files are read relative to each spec's own folder.
VALID = [(p.read_text(), p.parent) for p in VALID_SPECS if p.name != "cloud-init.yaml"]
VALID_TEXTS = [text for text, _ in VALID]
ENV = {"N": "2", "IMAGE": "cirros", "OS_PASSWORD": "pw-secret"}

FUZZ = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=2000,  # ms per example; generous for a loaded 2-core CI machine
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check(text: str, base_dir: Path | None = None) -> Spec | SpecError:
    """The one property: a Spec, or a SpecError whose every problem has a position."""
    try:
        return parse_spec(text, "fuzz.yaml", environ=ENV, base_dir=base_dir or REPO / "specs")
    except SpecError as error:
        assert error.problems, "a SpecError without problems"
        for problem in error.problems:
            assert problem.location is not None, str(problem)
            assert problem.location.file == "fuzz.yaml"
            assert problem.location.line >= 1 and problem.location.column >= 1
            assert problem.message
        return error


def test_valid_corpus_is_valid() -> None:
    """The mutations start from valid specs; if these broke, the fuzzing would prove little."""
    assert len(VALID_TEXTS) >= 4
    for text, folder in VALID:
        assert isinstance(check(text, folder), Spec)


# -- arbitrary bytes ---------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=400))
@example(data=b"\x00")  # found by fuzzing: ReaderError traceback (NUL)
@example(data=b"\x80")  # found by fuzzing: "not UTF-8 text" had no line:column
@example(data=b"version: 1\x00")  # NUL after text: the same ReaderError
@example(data=b"a: \x1b[31m")  # control character: same ReaderError
@example(data=b"\xef\xbb\xbfversion: 1\nstack: s\nservers: []\n")  # BOM
@example(data=b"a: b\xc2\x85c: d\n")  # NEL, a YAML 1.1 line break
@example(data=b"\xff\xfe")  # not UTF-8 (a UTF-16 BOM)
def test_arbitrary_bytes(data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("bytes") / "spec.yaml"
    path.write_bytes(data)
    try:
        load_spec(path, environ=ENV)
    except SpecError as error:
        assert error.problems
        assert all(p.location is not None for p in error.problems), str(error)


# -- arbitrary YAML ----------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["${N}", "${OS_PASSWORD}", "${X:-d}", "$${a}", "${", "2024-02-30", "~"]),
    st.binary(max_size=8),
    st.dates(),
)
KEYS = st.one_of(
    st.sampled_from(
        [
            "version",
            "stack",
            "servers",
            "defaults",
            "cloud",
            "name",
            "image",
            "flavor",
            "count",
            "metadata",
            "tags",
            "user_data",
            "networks",
            "file",
            "lifecycle",
            "description",
            "x-a",
            "<<",
        ]
    ),
    st.text(max_size=10),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=30,
)


@FUZZ
@given(st.dictionaries(KEYS, VALUES, max_size=6), st.booleans())
def test_arbitrary_yaml(document: dict[str, Any], flow: bool) -> None:
    text = yaml.dump(document, default_flow_style=flow, allow_unicode=True)
    check(text)


@FUZZ
@given(VALUES)
def test_arbitrary_yaml_same_with_and_without_libyaml(document: object) -> None:
    """Positions, values and issues do not depend on PyYAML being built with libyaml."""
    text = yaml.dump(document, allow_unicode=True)
    fast, pure = load_yaml(text, "f", libyaml=True), load_yaml(text, "f", libyaml=False)
    assert (fast.values, fast.keys, fast.issues) == (pure.values, pure.keys, pure.issues)
    assert repr(fast.data) == repr(pure.data)


# -- mutated valid specs -------------------------------------------------------------

JUNK = st.sampled_from(
    [
        "\x00",
        "\t",
        "[",
        "]",
        "{",
        "}",
        ":",
        ": ",
        "- ",
        "&a ",
        "*a",
        "*b ",
        "!!int ",
        "!!bool ",
        "!!binary ",
        "!ref ",
        "<<: *a\n",
        "? ",
        "'",
        '"',
        '"\\ud800"',
        "#",
        "\n",
        "\n  ",
        "${",
        "${OS_TOKEN}",
        "9" * 5000,
        ".nan",
        "2024-02-30",
        "\ufeff",
        "\x85",
        "\u2028",
        "[" * 200,
        "{a: " * 40,
        "count: 2.0\n",
        "tags: [1]\n",
        "user_data: {file: ../../etc/passwd}\n",
        "user_data: {file: /dev/zero}\n",
    ]
)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, Path]:
    text, folder = draw(st.sampled_from(VALID))
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "duplicate", "insert", "retype", "nest"]))
        at = draw(st.integers(0, max(len(lines) - 1, 0)))
        if not lines:
            lines = [draw(JUNK)]
        elif kind == "delete":
            del lines[at]
        elif kind == "duplicate":  # duplicate keys and repeated list items
            lines.insert(at, lines[at])
        elif kind == "insert":
            column = draw(st.integers(0, len(lines[at])))
            line = lines[at]
            lines[at] = line[:column] + draw(JUNK) + line[column:]
        elif kind == "retype":  # a value of another type after the first ': '
            head, sep, _ = lines[at].partition(": ")
            value = draw(st.sampled_from(["1", "[a]", "{a: b}", "null", "yes", "*x", "'s'"]))
            lines[at] = head + sep + value + "\n" if sep else lines[at]
        else:  # deep nesting and aliases of a whole block
            lines.insert(at, "x-deep: &x " + "[" * 30 + "]" * 30 + "\n")
    return "".join(lines), folder


@FUZZ
@given(mutated())
@example("version: !!bool 1\nstack: s\nservers: []\n")  # found by fuzzing: KeyError '1'
@example("version: " + "9" * 5000 + "\nstack: s\nservers: []\n")  # found: int digit limit
@example("\x00version: 1\n")  # found by fuzzing: ReaderError traceback
@example("x-a: &a {<<: *a}\nversion: 1\nstack: s\nservers: []\n")  # merge of itself
@example("version: 1\nstack: s\nservers: [{name: a, image: i, flavor: f, count: 2.0}]\n")
@example("version: 1\nstack: s\nservers: [{name: a, image: i, flavor: f, tags: [1]}]\n")
@example("version: 1\nstack: s\nservers: [{name: a, image: i, flavor: f, tags: [x, x]}]\n")
@example(
    "version: 1\nstack: s\nservers: [{name: a, image: i, flavor: f, "
    "tags: [2024-01-01, 2024-01-01]}]\n"
)  # duplicate dates: json.dumps(date) raised TypeError
@example('version: 1\nstack: s\nservers: [{name: a, description: "\\ud800"}]\n')
@example("version: 1\nstack: s\nservers: [{name: a, description: !!bool maybe}]\n")
@example("version: 1\nstack: s\nservers: [{name: a, description: 2024-02-30}]\n")
@example("version: 1\nstack: s\nservers: [{name: a, count: " + "9" * 5000 + "}]\n")
@example("version: 1\nstack: s\nservers: [{name: a, count: 99999999999}]\n")
@example("version: 1\nstack: s\nservers: " + "[" * 5000 + "\n")  # RecursionError
def test_mutated_valid_specs(case: tuple[str, Path] | str) -> None:
    if isinstance(case, str):
        check(case)
    else:
        check(*case)


# -- the bounds themselves -------------------------------------------------------------


def test_a_list_of_1_5_million_items_stops_at_the_node_limit() -> None:
    """The error sits at the node after the limit: the parser never read the other 1.4M lines."""
    text = "version: 1\nstack: s\nservers:\n" + "- a\n" * 1_500_000
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "big.yaml", environ={})
    assert str(caught.value) == (
        f"big.yaml:{MAX_NODES - 3}:3: document too large: more than {MAX_NODES} values; "
        "declstack stops reading here (many alike servers need one entry with count:)"
    )


def test_alias_bomb_stops_at_the_node_limit() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 9)]
    with pytest.raises(SpecError) as caught:
        parse_spec("\n".join(lines) + "\n", "bomb.yaml", environ={})
    (problem,) = caught.value.problems
    assert problem.message == f"document too large: more than {MAX_NODES} values (alias expansion?)"


def test_merge_key_bomb_stops_at_the_node_limit() -> None:
    """`<<` chains multiply the keys to look at without building any value."""
    lines = ["b0: &b0 {" + ", ".join(f"k{i}: v" for i in range(50)) + "}"]
    lines += [f"b{n}: &b{n} {{<<: [{', '.join([f'*b{n - 1}'] * 50)}]}}" for n in range(1, 6)]
    with pytest.raises(SpecError) as caught:
        parse_spec("\n".join(lines) + "\n", "merge.yaml", environ={})
    assert str(caught.value).endswith(
        f"document too large: more than {MAX_NODES} values (alias expansion?)"
    )


def test_deep_nesting_is_refused_before_any_recursion() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec("servers: " + "[" * 100_000, "deep.yaml", environ={})
    assert str(caught.value) == (
        "deep.yaml:1:41: nesting too deep: more than 32 levels of lists and mappings"
    )


def test_fuzz_inputs_stay_under_the_file_cap() -> None:
    """The fuzzed texts are parsed directly; the cap itself is tested in test_secrets."""
    assert max(len(t) for t in VALID_TEXTS) < MAX_SPEC_BYTES
