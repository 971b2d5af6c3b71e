"""Load YAML into plain Python values while remembering where every value was written.

PyYAML's `safe_load` forgets the source marks, so a spec error could only say
*what* is wrong. Here the node tree is walked by hand: each value, and each
mapping key, gets a 1-based line and column, keyed by its path in the document.
Duplicate keys, which PyYAML silently collapses, are reported instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml

from declstack.model import SourceLocation

#: A position in the document: mapping keys and list indexes from the root.
Path = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
#: Upper bound on values built, so an alias bomb fails fast instead of eating memory.
MAX_NODES = 100_000


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
    if not isinstance(error, yaml.MarkedYAMLError):
        return f"YAML syntax error: {error}"
    parts = [p for p in (error.context, error.problem) if p]
    context, problem = error.context_mark, error.problem_mark
    if error.context and context and problem and context.line != problem.line:
        parts[0] = f"{error.context} (line {context.line + 1})"
    return "YAML syntax error: " + ", ".join(parts) if parts else "YAML syntax error"


class _Builder:
    """Turns a composed node tree into Python values, recording marks on the way."""

    def __init__(self, file: str, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.loader = loader
        self.doc = YamlDocument(data=None)
        self.active: set[int] = set()
        self.count = 0

    def issue(self, path: Path, node: yaml.Node, message: str) -> None:
        self.doc.issues.append(YamlIssue(path, _mark(self.file, node.start_mark), message))

    def build(self, node: yaml.Node, path: Path) -> object:
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlSyntaxError(
                _mark(self.file, node.start_mark),
                f"document too large: more than {MAX_NODES} values (alias expansion?)",
            )
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
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or str(error)
            self.issue(path, node, f"cannot read this value: {problem}")
            return None

    def key_text(self, key: yaml.Node, path: Path) -> str | None:
        if isinstance(key, yaml.ScalarNode):
            return str(key.value)
        self.issue(path, key, "mapping keys must be plain text, not a list or mapping")
        return None

    def merged_pairs(self, value: yaml.Node, path: Path) -> Iterator[tuple[yaml.Node, yaml.Node]]:
        """The pairs a `<<` merge key brings in; earlier sources win, as YAML specifies."""
        sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
        seen: set[str] = set()
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                self.issue(path, source, "'<<' (merge) needs a mapping or a list of mappings")
                continue
            for key, item in source.value:
                if isinstance(key, yaml.ScalarNode) and key.tag == _MERGE_TAG:
                    yield from self.merged_pairs(item, path)
                    continue
                text = str(key.value)
                if text not in seen:
                    seen.add(text)
                    yield key, item

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


def load_yaml(text: str, file: str) -> YamlDocument:
    """Parse one YAML document, keeping the position of every value and key.

    Raises `YamlSyntaxError` when the text is not a single YAML document.
    Problems that still leave a usable value (duplicate keys, unknown tags)
    are returned in `issues`.
    """
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
            raise YamlSyntaxError(_mark(file, mark), _syntax_message(error)) from error
        builder = _Builder(file, loader)
        if root is not None:
            builder.doc.data = builder.build(root, ())
        return builder.doc
    finally:
        loader.dispose()
