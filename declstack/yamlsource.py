"""Load YAML into plain Python values while remembering where every value was written.

PyYAML's `safe_load` forgets the source marks, so a spec error could only say
*what* is wrong. Here the node tree is walked by hand: each value, and each
mapping key, gets a 1-based line and column, keyed by its path in the document.
Duplicate keys, which PyYAML silently collapses, are reported instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from declstack.model import SourceLocation

#: A position in the document: mapping keys and list indexes from the root.
Path = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
#: Upper bound on nodes composed and on values built (aliases expanded). A real
#: spec has a few hundred; the bound is checked while the parser runs, so a huge
#: list or an alias bomb stops after this many instead of filling memory first.
MAX_NODES = 100_000
#: Upper bound on nesting. A spec is 5 levels deep; every later step (building,
#: interpolation, the schema) recurses once per level, and Python's recursion
#: limit is 1000, so a deeper document is refused before it can crash them.
MAX_DEPTH = 32
_LARGE = (
    f"document too large: more than {MAX_NODES} values; declstack stops reading here "
    "(many alike servers need one entry with count:)"
)
_DEEP = f"nesting too deep: more than {MAX_DEPTH} levels of lists and mappings"


@dataclass(frozen=True)
class YamlIssue:
    """A problem found while reading the YAML itself (syntax, duplicate keys, tags)."""

    path: Path
    location: SourceLocation | None
    message: str


@dataclass
class YamlDocument:
    """A loaded document plus where each of its values and keys came from."""

    data: object
    values: dict[Path, SourceLocation] = field(default_factory=dict)
    keys: dict[Path, SourceLocation] = field(default_factory=dict)
    raw: dict[Path, str] = field(default_factory=dict)
    issues: list[YamlIssue] = field(default_factory=list)

    def location(self, path: Path) -> SourceLocation | None:
        """The location of the value at `path`, or of its nearest written ancestor."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return None

    def key_location(self, path: Path) -> SourceLocation | None:
        """Where the key naming the value at `path` was written (falls back to the value)."""
        return self.keys.get(path) or self.location(path)


class YamlSyntaxError(Exception):
    """The text is not YAML; carries the parser's position and explanation."""

    def __init__(self, location: SourceLocation | None, message: str) -> None:
        super().__init__(message)
        self.location = location
        self.message = message


def _mark(file: str, mark: yaml.Mark | None) -> SourceLocation | None:
    if mark is None:
        return None
    return SourceLocation(file, mark.line + 1, mark.column + 1)


def _syntax_message(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.reader.ReaderError):
        return f"YAML syntax error: {_reader_problem(error)}"
    if not isinstance(error, yaml.MarkedYAMLError):
        return f"YAML syntax error: {error}"
    parts = [p for p in (error.context, error.problem) if p]
    context, problem = error.context_mark, error.problem_mark
    if error.context and context and problem and context.line != problem.line:
        parts[0] = f"{error.context} (line {context.line + 1})"
    return "YAML syntax error: " + ", ".join(parts) if parts else "YAML syntax error"


def _reader_problem(error: yaml.reader.ReaderError) -> str:
    character = error.character
    if error.encoding == "unicode" and isinstance(character, int | str):
        code = character if isinstance(character, int) else ord(character)
        return (
            f"the character U+{code:04X} is not allowed in YAML text; inside a double-quoted "
            f'string write it as an escape ("\\u{code:04x}") if you really mean it'
        )
    return f"cannot decode the text ({error.reason})"


def _reader_location(file: str, text: str, error: yaml.reader.ReaderError) -> SourceLocation:
    """The line and column of a ReaderError, which only knows its character offset."""
    before = text[: error.position]
    line = before.count("\n") + 1
    return SourceLocation(file, line, error.position - (before.rfind("\n") + 1) + 1)


def _surrogate(text: str) -> str | None:
    """A lone UTF-16 surrogate (from a `"\ud800"` escape) cannot be printed or sent."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"U+{ord(text[error.start]):04X}"
    return None


class _BoundedComposer(Composer):
    """PyYAML's composer, stopped at MAX_NODES nodes or MAX_DEPTH levels while it runs.

    The check has to happen during composition: the plain composer builds the
    whole node tree first, and a 20 MB list of 1.5 million items took minutes
    and about 1 GB before anything could count it.
    """

    file = "<spec>"
    composed = 0
    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self.composed += 1
        if self.composed > MAX_NODES or self.depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark  # type: ignore[attr-defined]
            raise YamlSyntaxError(
                _mark(self.file, mark), _LARGE if self.composed > MAX_NODES else _DEEP
            )
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _PyLoader(_BoundedComposer, yaml.SafeLoader):
    """Pure-Python scanner and parser: the reference, and its error messages are the ones shown."""


_CParser: type | None
try:
    from yaml._yaml import CParser as _CParser
except ImportError:  # PyYAML built without libyaml
    _CParser = None


def _loader(text: str, file: str, libyaml: bool) -> _BoundedComposer:
    loader: _BoundedComposer = (
        _CLoader(text) if libyaml and _CParser is not None else _PyLoader(text)
    )
    loader.file = file
    return loader


if _CParser is not None:

    class _CLoader(_BoundedComposer, _CParser, SafeConstructor, Resolver):  # type: ignore[misc,valid-type]
        """libyaml's events composed in Python: about twice as fast, with the same marks."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)  # type: ignore[misc]
            _BoundedComposer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self.text = stream

        def compose_scalar_node(self, anchor: dict[Any, yaml.Node]) -> yaml.ScalarNode:
            node: yaml.ScalarNode = super().compose_scalar_node(anchor)
            empty = node.start_mark.index == node.end_mark.index  # no tag, anchor or quotes
            if empty and node.value == "" and not node.style:
                node.start_mark = node.end_mark = _empty_value_mark(self.text, node.start_mark)
            return node


def _empty_value_mark(text: str, mark: yaml.Mark) -> yaml.Mark:
    """Where PyYAML puts an empty flow value (`{a: }`): right after its ':', not at the '}'.

    libyaml marks the next token instead; moving the mark keeps positions the
    same with or without libyaml (except after a comment: `{a: # note` newline `}`).
    """
    index, line = mark.index, mark.line
    while index > 0 and text[index - 1] in " \t\r\n":
        index -= 1
        if text[index] == "\n" or (text[index] == "\r" and text[index + 1 : index + 2] != "\n"):
            line -= 1
    if index == mark.index or index == 0 or text[index - 1] != ":":
        return mark
    column = index - max(text.rfind("\n", 0, index), text.rfind("\r", 0, index)) - 1
    return yaml.Mark(mark.name, index, line, column, None, None)  # type: ignore[arg-type]


class _Builder:
    """Turns a composed node tree into Python values, recording marks on the way."""

    def __init__(self, file: str, loader: SafeConstructor) -> None:
        self.file = file
        self.loader = loader
        self.doc = YamlDocument(data=None)
        self.active: set[int] = set()
        self.count = 0

    def issue(self, path: Path, node: yaml.Node, message: str) -> None:
        self.doc.issues.append(YamlIssue(path, _mark(self.file, node.start_mark), message))

    def spend(self, node: yaml.Node, depth: int) -> None:
        """Count one unit of work; aliases can multiply nodes and nest them, so bound both."""
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlSyntaxError(
                _mark(self.file, node.start_mark),
                f"document too large: more than {MAX_NODES} values (alias expansion?)",
            )
        if depth > MAX_DEPTH:
            raise YamlSyntaxError(_mark(self.file, node.start_mark), _DEEP + " (through aliases)")

    def build(self, node: yaml.Node, path: Path) -> object:
        self.spend(node, len(path))
        location = _mark(self.file, node.start_mark)
        if location is not None:
            self.doc.values[path] = location
        if id(node) in self.active:
            self.issue(path, node, "recursive YAML alias: a value cannot contain itself")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            return self.scalar(node, path)
        finally:
            self.active.discard(id(node))

    def scalar(self, node: yaml.Node, path: Path) -> object:
        self.doc.raw[path] = str(node.value)
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or str(error)
            self.issue(path, node, f"cannot read this value: {problem}")
            return None
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as error:
            # SafeConstructor lets these through for an explicit tag on a bad
            # value (`!!bool maybe`, `!!int 0b`), an impossible date, or an
            # integer past Python's digit limit.
            self.issue(path, node, f"cannot read this value: {_constructor_problem(node, error)}")
            return None
        if isinstance(value, str):
            bad = _surrogate(value)
            if bad is not None:
                self.issue(path, node, _surrogate_message(bad))
                return None
        return value

    def key_text(self, key: yaml.Node, path: Path) -> str | None:
        if not isinstance(key, yaml.ScalarNode):
            self.issue(path, key, "mapping keys must be plain text, not a list or mapping")
            return None
        text = str(key.value)
        bad = _surrogate(text)
        if bad is not None:
            self.issue(path, key, _surrogate_message(bad))
            return None
        return text

    def merged_pairs(
        self, value: yaml.Node, path: Path, depth: int = 0
    ) -> Iterator[tuple[yaml.Node, yaml.Node]]:
        """The pairs a `<<` merge key brings in; earlier sources win, as YAML specifies."""
        self.spend(value, len(path) + depth)
        sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
        seen: set[str] = set()
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                self.issue(path, source, "'<<' (merge) needs a mapping or a list of mappings")
                continue
            if id(source) in self.active:
                self.issue(path, source, "recursive YAML alias: a value cannot contain itself")
                continue
            self.active.add(id(source))
            try:
                for key, item in source.value:
                    self.spend(key, len(path) + depth)
                    if isinstance(key, yaml.ScalarNode) and key.tag == _MERGE_TAG:
                        yield from self.merged_pairs(item, path, depth + 1)
                        continue
                    text = str(key.value)
                    if text not in seen:
                        seen.add(text)
                        yield key, item
            finally:
                self.active.discard(id(source))

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, object]:
        result: dict[str, object] = {}
        merged: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        own: list[tuple[yaml.Node, yaml.Node]] = []
        first_seen: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag == _MERGE_TAG:
                for mkey, mvalue in self.merged_pairs(value, path):
                    merged.setdefault(str(mkey.value), (mkey, mvalue))
                continue
            text = self.key_text(key, path)
            if text is None:
                continue
            if text in first_seen:
                earlier = _mark(self.file, first_seen[text].start_mark)
                self.issue(
                    (*path, text),
                    key,
                    f"duplicate key {text!r} (first written at {earlier}); "
                    "YAML keeps only one of them",
                )
                continue
            first_seen[text] = key
            own.append((key, value))
        pairs = [pair for name, pair in merged.items() if name not in first_seen] + own
        for key, value in pairs:
            text = str(key.value)
            child = (*path, text)
            key_location = _mark(self.file, key.start_mark)
            if key_location is not None:
                self.doc.keys[child] = key_location
            result[text] = self.build(value, child)
        return result


def _surrogate_message(character: str) -> str:
    return (
        f"contains {character}, half of a UTF-16 surrogate pair, which is not text; "
        "write the character itself or its \\U escape"
    )


def _constructor_problem(node: yaml.Node, error: Exception) -> str:
    kind = str(node.tag).rsplit(":", 1)[-1]
    if isinstance(error, ValueError) and "digits" in str(error):
        return f"a number with {len(str(node.value))} digits is too long"
    if isinstance(error, ValueError) and str(error):
        return f"not a valid {kind}: {error}"
    return f"not a valid {kind}"


def _compose(text: str, file: str, libyaml: bool) -> tuple[yaml.Node | None, SafeConstructor]:
    """The node tree of `text`; a YAML error is raised as PyYAML's pure-Python parser words it."""
    loader = None
    try:
        loader = _loader(text, file, libyaml)
        return loader.get_single_node(), loader  # type: ignore[return-value]
    except yaml.YAMLError as error:
        if libyaml and _CParser is not None:
            # libyaml words its errors differently (and rejects a few things
            # PyYAML accepts); the pure-Python parser decides, so every install
            # gives the same result and the same messages.
            if loader is not None:
                loader.dispose()  # type: ignore[attr-defined]
            return _compose(text, file, libyaml=False)
        if isinstance(error, yaml.reader.ReaderError):
            raise YamlSyntaxError(
                _reader_location(file, text, error), _syntax_message(error)
            ) from error
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        raise YamlSyntaxError(_mark(file, mark), _syntax_message(error)) from error


def load_yaml(text: str, file: str, *, libyaml: bool = True) -> YamlDocument:
    """Parse one YAML document, keeping the position of every value and key.

    Raises `YamlSyntaxError` when the text is not a single YAML document, or
    is too large or too deeply nested (checked while parsing). Problems that
    still leave a usable value (duplicate keys, unknown tags) are returned in
    `issues`. `libyaml=False` forces the pure-Python parser (the C one is
    used when PyYAML has it; both give the same result).
    """
    root, loader = _compose(text, file, libyaml)
    try:
        builder = _Builder(file, loader)
        if root is not None:
            builder.doc.data = builder.build(root, ())
        return builder.doc
    finally:
        loader.dispose()  # type: ignore[attr-defined]
