"""Add or update our entries in a clouds.yaml by editing its text, never by rewriting it.

A clouds.yaml usually holds other clouds' passwords and the user's comments. So:
  - a new file is created with mode 0600; an existing file keeps its mode (and owner);
  - an entry that is absent is inserted after the last cloud under `clouds:`, an entry
    that differs has only its own lines replaced, an identical entry leaves the file
    untouched; every other byte stays as it was;
  - the edited text is parsed again and must equal the intended merge, otherwise nothing
    is written and the error says what to add by hand;
  - a file that cannot be parsed, or whose `clouds` is not a mapping, is refused (with its
    line) and left unchanged.
Writes go through a 0600 temporary file in the same folder and an atomic rename.
"""

from __future__ import annotations

import copy
import os
import stat
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import LocalCloudError

Entries = dict[str, dict[str, Any]]
UNCHANGED = "it was left unchanged"


class _Unsafe(Exception):
    """The text cannot be edited in place without touching what is not ours."""


def _yaml() -> ModuleType:
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a dependency of the distribution
        raise LocalCloudError(
            "writing clouds.yaml needs PyYAML", hint="Install it: pip install pyyaml"
        ) from None
    return yaml


def render_entries(entries: Entries, indent: int, newline: str = "\n") -> str:
    """The block for `entries`, its keys at column `indent`."""
    yaml = _yaml()
    dumped = str(
        yaml.safe_dump(
            entries,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=1_000_000,
        )
    )
    return "".join(" " * indent + line + newline for line in dumped.splitlines())


def new_text(entries: Entries) -> str:
    return "clouds:\n" + render_entries(entries, 2)


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    found = text.find("\n", index)
    return len(text) if found == -1 else found + 1


def _content_end(yaml: ModuleType, text: str, node: Any) -> int:
    """Where the last character of `node`'s own content is (trailing comments excluded)."""
    if isinstance(node, yaml.ScalarNode):
        end = int(node.end_mark.index)
        if node.style in ("|", ">"):  # a block scalar ends after its line breaks
            while end > node.start_mark.index and text[end - 1] in "\r\n":
                end -= 1
        return end
    if node.flow_style or not node.value:
        return int(node.end_mark.index)
    last = node.value[-1]
    return _content_end(yaml, text, last[1] if isinstance(node, yaml.MappingNode) else last)


def _insert_at_line_end(text: str, index: int, block: str, newline: str) -> str:
    """`block` inserted on the line after the one holding `index`."""
    position = _line_end(text, index)
    if position == len(text) and text and not text.endswith("\n"):
        text += newline
        position = len(text)
    return text[:position] + block + text[position:]


def _key_is(yaml: ModuleType, node: Any, name: str) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":str") and node.value == name


def _edit(text: str, name: str, config: dict[str, Any]) -> str:
    """`text` with the entry `name` under `clouds:` set to `config` (one textual edit)."""
    yaml = _yaml()
    newline = "\r\n" if "\r\n" in text else "\n"
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:  # empty, or only comments
        return _insert_at_line_end(text, len(text), "clouds:" + newline, newline) + (
            render_entries({name: config}, 2, newline)
        )
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        raise _Unsafe("the top level is not a block mapping")
    pairs = [(k, v) for k, v in root.value if _key_is(yaml, k, "clouds")]
    if len(pairs) > 1:
        raise _Unsafe("'clouds' appears more than once")
    if not pairs:
        column = int(root.value[0][0].start_mark.column) if root.value else 0
        block = " " * column + "clouds:" + newline
        block += render_entries({name: config}, column + 2, newline)
        return _insert_at_line_end(text, _content_end(yaml, text, root), block, newline)
    key, clouds = pairs[0]
    if isinstance(clouds, yaml.ScalarNode) or (clouds.flow_style and not clouds.value):
        # `clouds:` with nothing (or `~`, `{}`): drop the value, put our block below the key.
        start, end = int(clouds.start_mark.index), int(clouds.end_mark.index)
        if text[start:end].strip() not in ("", "~", "null", "Null", "NULL", "{}"):
            raise _Unsafe("'clouds' is not a mapping")
        text = text[:start] + text[end:]
        block = render_entries({name: config}, int(key.start_mark.column) + 2, newline)
        return _insert_at_line_end(text, start, block, newline)
    if not isinstance(clouds, yaml.MappingNode) or clouds.flow_style:
        raise _Unsafe("'clouds' is not written in block style")
    ours = [(k, v) for k, v in clouds.value if _key_is(yaml, k, name)]
    if len(ours) > 1:
        raise _Unsafe(f"'{name}' appears more than once")
    if not ours:
        column = int(clouds.value[0][0].start_mark.column)
        block = render_entries({name: config}, column, newline)
        return _insert_at_line_end(text, _content_end(yaml, text, clouds), block, newline)
    old_key, old_value = ours[0]
    start = _line_start(text, int(old_key.start_mark.index))
    if text[start : old_key.start_mark.index].strip():
        raise _Unsafe(f"'{name}' does not start its own line")
    end = _content_end(yaml, text, old_value)
    if end < old_key.start_mark.index:
        raise _Unsafe(f"'{name}' is an alias")
    end = _line_end(text, end)
    block = render_entries({name: config}, int(old_key.start_mark.column), newline)
    return text[:start] + block + text[end:]


def _parse_error(label: str, exc: Exception) -> LocalCloudError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{label}:{mark.line + 1}" if mark is not None else label
    problem = getattr(exc, "problem", None) or str(exc)
    return LocalCloudError(
        f"{where}: cannot read this clouds.yaml ({problem}); {UNCHANGED}",
        hint="Fix the file, or pass another clouds.yaml.",
    )


def merged_text(text: str, entries: Entries, label: str) -> str | None:
    """The edited text, or None when every entry is already there as it should be."""
    yaml = _yaml()
    try:
        current = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _parse_error(label, exc) from None
    if current is None:
        current = {}
    if not isinstance(current, dict):
        line = int(root.start_mark.line) + 1
        raise LocalCloudError(
            f"{label}:{line}: the top level is not a mapping of settings; {UNCHANGED}",
            hint="A clouds.yaml starts with `clouds:`; fix the file, or pass another one.",
        )
    clouds = current.get("clouds")
    if clouds is not None and not isinstance(clouds, dict):
        node = next(v for k, v in root.value if _key_is(yaml, k, "clouds"))
        raise LocalCloudError(
            f"{label}:{int(node.start_mark.line) + 1}: `clouds` is not a mapping of cloud"
            f" names to settings; {UNCHANGED}",
            hint="Fix the file, or pass another clouds.yaml.",
        )
    clouds = clouds or {}
    if all(name in clouds and clouds[name] == config for name, config in entries.items()):
        return None
    expected = copy.deepcopy(current)
    expected["clouds"] = {**clouds, **copy.deepcopy(entries)}
    edited = text
    try:
        for name, config in entries.items():
            if clouds.get(name) != config:
                edited = _edit(edited, name, config)
        if yaml.safe_load(edited) != expected:
            raise _Unsafe("the edited file would not read back as intended")
    except (_Unsafe, yaml.YAMLError) as exc:
        reason = str(exc) if isinstance(exc, _Unsafe) else "the edited file would not parse"
        raise LocalCloudError(
            f"{label}: cannot add {', '.join(repr(n) for n in entries)} without rewriting the"
            f" rest of the file ({reason}); {UNCHANGED}",
            hint="Add these entries under `clouds:` by hand:\n" + render_entries(entries, 2),
        ) from None
    return edited


def _write(path: Path, text: str, like: os.stat_result | None) -> None:
    """Atomically replace `path` by `text`: a 0600 temporary file in the same folder, renamed."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if like is not None:
            os.chmod(tmp, stat.S_IMODE(like.st_mode))
            if os.geteuid() == 0 and (like.st_uid, like.st_gid) != (0, 0):
                os.chown(tmp, like.st_uid, like.st_gid)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_clouds_yaml(path: Path, entries: Entries) -> bool:
    """Merge `entries` into the clouds.yaml at `path` (see the module doc); True if written."""
    try:
        try:
            like: os.stat_result | None = path.stat()
            raw: bytes | None = path.read_bytes()
        except FileNotFoundError:
            like, raw = None, None
        if raw is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write(path, new_text(entries), None)
            return True
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise LocalCloudError(
                f"{path}: cannot read this clouds.yaml (it is not UTF-8 text); {UNCHANGED}",
                hint="Fix the file, or pass another clouds.yaml.",
            ) from None
        edited = merged_text(text, entries, str(path))
        if edited is None:
            return False
        _write(path, edited, like)
        return True
    except OSError as exc:
        raise LocalCloudError(
            f"{path}: cannot write clouds.yaml: {exc.strerror or exc}",
            hint="Choose a clouds.yaml in a folder you can write to.",
        ) from None
