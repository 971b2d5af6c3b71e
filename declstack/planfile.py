"""Saved plans: the file `plan --out FILE` writes, and the check `apply FILE` makes (pure).

Stateless, so better than a state serial: nothing is kept in the cloud. The
file records what each change was decided from (a digest of the observed
resource: id, status, metadata with the fingerprint and managed keys, ...) and
what it will do (a digest of the change). `apply FILE` re-reads the spec (its
sha256 must match), plans afresh with the same options, and executes only when
the fresh plan is the same plan: same changes, same digests, same warnings.

The file holds no secret. Digests are taken over the masked plan (the values
read from secret-looking variables replaced, as in every rendering), user_data
only as its sha256, and the sensitive values themselves only as a salted,
slow PBKDF2 hash, so the file can still tell when one of them changed.
See docs/saved-plans.md.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import re
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from declstack.errors import UserError
from declstack.model import Action, Change, Plan, frozen_map
from declstack.render import masked_plan, plan_to_dict, render_markdown, render_text

#: The top-level key that marks a saved plan; always the file's first key.
MARKER = "declstack_saved_plan"
#: Version of the file format ("MAJOR.MINOR"); a reader accepts its own major only.
FILE_FORMAT = "1.0"
#: PBKDF2 rounds for the hash of the sensitive values (cheap for one check, dear for
#: guessing a weak secret from a plan file).
SENSITIVE_ROUNDS = 200_000
_MAX_ROUNDS = 5_000_000
_HEAD = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"' + MARKER.encode() + rb'"\s*:')
_HINT = "make the plan again: declstack plan SPEC --out FILE"


class PlanFileError(UserError):
    """A saved plan that cannot be used: damaged, edited, foreign or stale."""


@dataclass(frozen=True)
class SpecRecord:
    """The spec a plan was made from: its path as given and absolute, and its sha256."""

    path: str
    absolute_path: str
    sha256: str


@dataclass(frozen=True)
class ChangeDigest:
    """One change as the comparison sees it: what it acts on and two digests.

    `observed` digests the resource the change was decided from (None for a
    create); `intent` digests what apply will do. `reason` is for messages only.
    """

    address: str
    action: str
    id: str | None
    observed: str | None
    intent: str
    reason: str = ""

    @property
    def acts(self) -> bool:
        return self.action != Action.NOOP.value


@dataclass(frozen=True)
class SensitiveDigest:
    """A salted PBKDF2-SHA256 of the sensitive values, sorted: never the values."""

    salt: str
    rounds: int
    digest: str
    count: int


@dataclass(frozen=True)
class SavedPlan:
    """The content of a plan file (see docs/saved-plans.md)."""

    declstack_version: str
    created_at: str
    stack: str
    cloud: str | None
    spec: SpecRecord
    #: The keyword options the plan was made with, as JSON values (arrays as tuples).
    options: Mapping[str, Any]
    #: `--allow-env` names and `--allow-outside-files`: how the spec was read.
    allow_env: tuple[str, ...]
    allow_outside_files: bool
    sensitive: SensitiveDigest | None
    digests: tuple[ChangeDigest, ...]
    #: The plan as `plan --output json` prints it (format 2.0, masked).
    plan: Mapping[str, Any] = field(default_factory=frozen_map)
    #: The text and Markdown views, rendered when the plan was made.
    text: str = ""
    markdown: str = ""
    format: str = FILE_FORMAT

    @property
    def has_changes(self) -> bool:
        return any(d.acts for d in self.digests)


# --- digests ----------------------------------------------------------------------


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _digest(value: object) -> str:
    return "sha256:" + sha256_hex(_canonical(value))


def _plain(value: object, *, ordered: bool) -> Any:
    """A JSON value for a plan value: dataclasses as objects, enums by value, user_data
    only as its hash, and (unless `ordered`) sequences sorted, for observations whose
    order the cloud does not keep (Neutron's rules, Nova's address lists)."""
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        plain: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            if f.name in ("source", "sensitive"):  # where in the spec: not what happens
                continue
            item = getattr(value, f.name)
            if f.name == "user_data" and isinstance(item, str):
                item = "sha256:" + sha256_hex(item.encode())
            plain[f.name] = _plain(item, ordered=ordered)
        return plain
    if isinstance(value, Mapping):
        return {str(k): _plain(v, ordered=ordered) for k, v in value.items()}
    if isinstance(value, (tuple, list, set, frozenset)):
        items = [_plain(item, ordered=ordered) for item in value]
        if ordered and not isinstance(value, (set, frozenset)):
            return items
        return sorted(items, key=lambda item: _canonical(item))
    return value


def observed_of(change: Change) -> object | None:
    """The observed resource a change was decided from (None for a create)."""
    for payload in (
        change.group,
        change.floating_ip,
        change.keypair,
        change.server_group,
        change.volume,
    ):
        if payload is not None:
            return payload.before
    return change.before


def _resource_id(change: Change) -> str | None:
    if change.keypair is not None:
        return change.keypair.before.name if change.keypair.before else None
    observed = observed_of(change)
    resource_id = getattr(observed, "id", None)
    return resource_id if isinstance(resource_id, str) else None


def _intent(change: Change) -> dict[str, Any]:
    """Everything about a change except what it was decided from and the words for it."""
    plain: dict[str, Any] = _plain(change, ordered=True)
    plain.pop("before", None)
    plain.pop("reason", None)
    for payload in ("group", "floating_ip", "keypair", "server_group", "volume"):
        if isinstance(plain.get(payload), dict):
            plain[payload].pop("before", None)
    return plain


def change_digests(plan: Plan) -> tuple[ChangeDigest, ...]:
    """Per change of `plan` (masked first, so no digest is of a secret) its digests."""
    shown = masked_plan(plan)
    digests = []
    for change in shown.changes:
        observed = observed_of(change)
        digests.append(
            ChangeDigest(
                address=change.address,
                action=change.action.value,
                id=_resource_id(change),
                observed=None if observed is None else _digest(_plain(observed, ordered=False)),
                intent=_digest(_intent(change)),
                reason=change.reason,
            )
        )
    return tuple(digests)


def sensitive_digest(
    values: Collection[str], salt: bytes, rounds: int = SENSITIVE_ROUNDS
) -> SensitiveDigest | None:
    """The salted hash of the sensitive values, or None when there are none."""
    if not values:
        return None
    joined = _canonical(sorted(values))
    derived = hashlib.pbkdf2_hmac("sha256", joined, salt, rounds)
    return SensitiveDigest(salt.hex(), rounds, derived.hex(), len(values))


# --- making and writing -----------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Where and how a plan was made: everything a file records besides the plan."""

    declstack_version: str
    created_at: str
    cloud: str | None
    spec: SpecRecord
    options: Mapping[str, Any] = field(default_factory=frozen_map)
    allow_env: tuple[str, ...] = ()
    allow_outside_files: bool = False


def save(plan: Plan, origin: Origin, salt: bytes | None = None) -> SavedPlan:
    """The saved form of `plan`; `salt` (random by default) is for the sensitive hash."""
    if plan.errors:
        raise PlanFileError("a plan with errors cannot be saved: apply would refuse it")
    return SavedPlan(
        declstack_version=origin.declstack_version,
        created_at=origin.created_at,
        stack=plan.stack,
        cloud=origin.cloud,
        spec=origin.spec,
        options=frozen_map(dict(origin.options)),
        allow_env=tuple(sorted(set(origin.allow_env))),
        allow_outside_files=origin.allow_outside_files,
        sensitive=sensitive_digest(plan.sensitive, salt or secrets.token_bytes(16)),
        digests=change_digests(plan),
        plan=plan_to_dict(plan),
        text=render_text(plan),
        markdown=render_markdown(plan),
    )


def _body(saved: SavedPlan) -> dict[str, Any]:
    """Every field but the checksum, marker first, keys sorted below it."""
    fields: dict[str, Any] = {
        "changes": [dataclasses.asdict(d) for d in saved.digests],
        "cloud": saved.cloud,
        "created_at": saved.created_at,
        "declstack_version": saved.declstack_version,
        "options": _jsonable(saved.options),
        "plan": _jsonable(saved.plan),
        "reading": {
            "allow_env": list(saved.allow_env),
            "allow_outside_files": saved.allow_outside_files,
        },
        "sensitive": None if saved.sensitive is None else dataclasses.asdict(saved.sensitive),
        "spec": dataclasses.asdict(saved.spec),
        "stack": saved.stack,
        "views": {"markdown": saved.markdown, "text": saved.text},
    }
    return {MARKER: saved.format, **_sorted_keys(fields)}


def _jsonable(value: object) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(item) for item in value]
    return value


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


def checksum(body: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of everything but the checksum itself."""
    return _digest({k: v for k, v in body.items() if k != "checksum"})


def dumps(saved: SavedPlan) -> str:
    """The file's text: JSON, the marker first, the checksum last, a trailing newline."""
    body = _body(saved)
    body["checksum"] = checksum(body)
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


# --- reading ----------------------------------------------------------------------


def looks_like_plan_file(data: bytes) -> bool:
    """A saved plan is JSON whose top level has the marker key. Its first key, as
    written; a reformatted file (`jq -S`) is recognised when it parses. A spec never
    has that key, so even a truncated plan file is told apart from a spec."""
    if _HEAD.match(data[:4096]):
        return True
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return False
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return False
    return isinstance(document, dict) and MARKER in document


def loads(data: bytes, where: str) -> SavedPlan:
    """Parse and check a plan file; `where` names it in messages."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise PlanFileError(f"{where}: not a declstack plan file (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise PlanFileError(
            f"{where}: the plan file is not complete JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}); it was cut short or damaged. Nothing was changed",
            hint=_HINT,
        ) from None
    except RecursionError:
        raise PlanFileError(f"{where}: not a declstack plan file (nested too deep)") from None
    if not isinstance(document, dict) or MARKER not in document:
        raise PlanFileError(
            f'{where}: not a declstack plan file (no top-level "{MARKER}" key)',
            hint="plan files are written by: declstack plan SPEC --out FILE",
        )
    version = document[MARKER]
    if not isinstance(version, str) or version.split(".")[0] != FILE_FORMAT.split(".")[0]:
        raise PlanFileError(
            f"{where}: a plan file of format {version!r}; this declstack reads format "
            f"{FILE_FORMAT.split('.')[0]}.x",
            hint=_HINT + " (with this declstack)",
        )
    if document.get("checksum") != checksum(document):
        raise PlanFileError(
            f"{where}: the plan file was edited or damaged (its checksum does not match its "
            "content); nothing was changed",
            hint=_HINT,
        )
    try:
        return _parse(document, version)
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanFileError(
            f"{where}: the plan file is malformed ({exc}); nothing was changed", hint=_HINT
        ) from None


def _get(document: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = document[key]
    if not isinstance(value, kind):
        raise TypeError(f"{key!r} is not a {getattr(kind, '__name__', kind)}")
    return value


def _optional_str(document: Mapping[str, Any], key: str) -> str | None:
    value = document[key]
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{key!r} is not a string")
    return value


def _tuples(value: Any) -> Any:
    """JSON arrays as tuples, the way plan options are passed in Python."""
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    if isinstance(value, dict):
        return frozen_map({k: _tuples(v) for k, v in value.items()})
    return value


def _parse(document: Mapping[str, Any], version: str) -> SavedPlan:
    spec = _get(document, "spec", dict)
    reading = _get(document, "reading", dict)
    views = _get(document, "views", dict)
    sensitive = _get(document, "sensitive", (dict, type(None)))
    if sensitive is not None:
        rounds = _get(sensitive, "rounds", int)
        if not 1 <= rounds <= _MAX_ROUNDS:
            raise ValueError(f"sensitive.rounds {rounds} is out of range")
        salt, digest = _get(sensitive, "salt", str), _get(sensitive, "digest", str)
        bytes.fromhex(salt)  # a ValueError here: malformed
        sensitive = SensitiveDigest(salt, rounds, digest, _get(sensitive, "count", int))
    allow_env = _get(reading, "allow_env", list)
    if not all(isinstance(name, str) for name in allow_env):
        raise TypeError("'allow_env' holds a non-string")
    return SavedPlan(
        format=version,
        declstack_version=_get(document, "declstack_version", str),
        created_at=_get(document, "created_at", str),
        stack=_get(document, "stack", str),
        cloud=_optional_str(document, "cloud"),
        spec=SpecRecord(
            _get(spec, "path", str), _get(spec, "absolute_path", str), _get(spec, "sha256", str)
        ),
        options=_tuples(_get(document, "options", dict)),
        allow_env=tuple(allow_env),
        allow_outside_files=_get(reading, "allow_outside_files", bool),
        sensitive=sensitive,
        digests=tuple(_change_digest(item) for item in _get(document, "changes", list)),
        plan=_get(document, "plan", dict),
        text=_get(views, "text", str),
        markdown=_get(views, "markdown", str),
    )


def _change_digest(item: Any) -> ChangeDigest:
    if not isinstance(item, dict):
        raise TypeError("a change is not an object")
    return ChangeDigest(
        address=_get(item, "address", str),
        action=Action(_get(item, "action", str)).value,
        id=_optional_str(item, "id"),
        observed=_optional_str(item, "observed"),
        intent=_get(item, "intent", str),
        reason=_get(item, "reason", str),
    )


# --- checking against a fresh plan ------------------------------------------------


def check_usable(saved: SavedPlan, version: str, accepted_options: Collection[str]) -> None:
    """Refuse a plan this declstack cannot replay: another version made it (planning may
    differ), or it names options this version's planner does not take."""
    if saved.declstack_version != version:
        raise PlanFileError(
            f"the plan was made by declstack {saved.declstack_version}, this is declstack "
            f"{version}; nothing was changed",
            hint=_HINT + " (with this declstack)",
        )
    unknown = sorted(set(saved.options) - set(accepted_options))
    if unknown:
        raise PlanFileError(
            f"the plan was made with option(s) this declstack does not know: "
            f"{', '.join(unknown)}; nothing was changed",
            hint=_HINT,
        )


def differences(saved: SavedPlan, fresh: Plan) -> tuple[str, ...]:
    """How `fresh` differs from the saved plan, one line per address (empty: the same
    plan). A no-op counts as the same while it stays a no-op of the same resource: apply
    does not touch it, so its state did not shape what apply does."""
    if fresh.stack != saved.stack:
        return (f"the spec is now of stack {fresh.stack!r}; the plan is of {saved.stack!r}",)
    lines: list[str] = []
    fresh_json = plan_to_dict(fresh)
    old_by, new_by = _by_address(saved.digests), _by_address(change_digests(fresh))
    new_json = _by_address_json(fresh_json)
    old_json = _by_address_json(saved.plan)
    for address in sorted(old_by.keys() | new_by.keys()):
        old, new = old_by.get(address, []), new_by.get(address, [])
        if not _same(old, new):
            how = _how(old, new, old_json.get(address, []), new_json.get(address, []))
            lines.append(f"{address}: {how}")
    if saved.sensitive is None and fresh.sensitive:
        lines.append("the spec now reads sensitive values (--allow-env) the plan did not have")
    elif saved.sensitive is not None:
        salt = bytes.fromhex(saved.sensitive.salt)
        again = sensitive_digest(fresh.sensitive, salt, saved.sensitive.rounds)
        if again != saved.sensitive:
            lines.append(
                "the values read from secret-looking variables (--allow-env) differ from "
                "those the plan was made with"
            )
    lines += _diagnostic_changes(saved.plan, fresh_json)
    return tuple(lines)


def _by_address(digests: Sequence[ChangeDigest]) -> dict[str, list[ChangeDigest]]:
    grouped: dict[str, list[ChangeDigest]] = {}
    for digest in digests:
        grouped.setdefault(digest.address, []).append(digest)
    for items in grouped.values():
        items.sort(key=lambda d: (d.id or "", d.action))
    return grouped


def _by_address_json(plan: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for change in plan.get("changes", []):
        if isinstance(change, dict) and isinstance(change.get("address"), str):
            grouped.setdefault(change["address"], []).append(change)
    return grouped


def _same(old: Sequence[ChangeDigest], new: Sequence[ChangeDigest]) -> bool:
    if len(old) != len(new):
        return False
    for a, b in zip(old, new, strict=True):
        if (a.id, a.action) != (b.id, b.action):
            return False
        if a.acts and (a.observed, a.intent) != (b.observed, b.intent):
            return False
    return True


def _what(digest: ChangeDigest) -> str:
    return digest.action + (f" of {digest.id}" if digest.id else "")


def _how(
    old: Sequence[ChangeDigest],
    new: Sequence[ChangeDigest],
    old_json: Sequence[Mapping[str, Any]],
    new_json: Sequence[Mapping[str, Any]],
) -> str:
    if not old:
        return "not in the saved plan; now " + "; ".join(f"{_what(d)} ({d.reason})" for d in new)
    if not new:
        return "planned " + ", ".join(map(_what, old)) + "; now nothing to do"
    if [(a.id, a.action) for a in old] != [(b.id, b.action) for b in new]:
        planned = ", ".join(map(_what, old))
        return f"planned {planned}; now " + "; ".join(f"{_what(d)} ({d.reason})" for d in new)
    for a, b in zip(old, new, strict=True):
        if a.observed != b.observed:
            fields = _changed_fields(_before_of(old_json, a.id), _before_of(new_json, b.id))
            detail = (
                f" ({', '.join(fields)})"
                if fields
                else " (in declstack's bookkeeping: fingerprint or managed keys)"
            )
            return f"planned {_what(a)}, but it changed in the cloud since the plan{detail}"
        if a.intent != b.intent:
            fields = _changed_fields(
                _change_of(old_json, a.id, without=("before", "reason")),
                _change_of(new_json, b.id, without=("before", "reason")),
            )
            detail = f"{', '.join(fields)}; " if fields else ""
            return f"planned {_what(a)}, but what apply would do differs now ({detail}{b.reason})"
    return "differs"  # pragma: no cover - _same said they differ


def _change_of(
    changes: Sequence[Mapping[str, Any]], resource_id: str | None, without: Collection[str] = ()
) -> Mapping[str, Any]:
    """The JSON change about `resource_id` (by its `before`), less the keys `without`."""
    for change in changes:
        before = change.get("before")
        ident = before.get("id") or before.get("name") if isinstance(before, dict) else None
        if ident == resource_id:
            return {k: v for k, v in change.items() if k not in without}
    return {}


def _before_of(changes: Sequence[Mapping[str, Any]], resource_id: str | None) -> Mapping[str, Any]:
    before = _change_of(changes, resource_id).get("before")
    return before if isinstance(before, dict) else {}


def _changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    changed = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, (str, int, float, bool)) and isinstance(b, (str, int, float, bool)):
            changed.append(f"{key} {json.dumps(a)} -> {json.dumps(b)}")
        else:
            changed.append(f"{key} changed")
    return changed


def _diagnostic_changes(old_plan: Mapping[str, Any], new_plan: Mapping[str, Any]) -> list[str]:
    def texts(plan: Mapping[str, Any]) -> set[str]:
        found = set()
        for d in plan.get("diagnostics", []):
            if isinstance(d, dict):
                where = f"{d.get('address')}: " if d.get("address") else ""
                found.add(f"{d.get('severity')}: {where}{d.get('message')}")
        return found

    old, new = texts(old_plan), texts(new_plan)
    return [f"new {text}" for text in sorted(new - old)] + [
        f"no longer {text}" for text in sorted(old - new)
    ]
