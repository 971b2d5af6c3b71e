"""The request sequence of the differential check, as data, and the runner that plays it.

Each `Step` is one HTTP request that declstack, the `openstack` CLI or Ansible's
openstack.cloud.server sends. The same steps run against real OpenStack and the
local cloud; `Outcome`s are normalised (ids, timestamps, addresses, endpoints)
so the two can be compared value by value. Add a step to extend the check.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.conformance.rawcloud import JSON, RawCloud, unversioned

SDK_MV = "2.100"
"""openstacksdk 4.22's Server._max_microversion: what declstack and the SDK send for servers."""


@dataclass(frozen=True)
class Poll:
    """Repeat a GET until `path` has one of `until` (or the status code is `until_status`)."""

    path: str = ""
    until: tuple[str, ...] = ()
    until_status: int | None = None
    timeout: float = 60.0
    interval: float = 0.2


@dataclass(frozen=True)
class Step:
    """One request; `fields` and `keys` choose what is compared (whole body if both empty).

    `mask` patterns become `<masked>` in the compared response values; `request_mask`
    patterns become `<masked>` in the request path when two requests are compared (see
    `compared_request`), never in what is sent or captured. `content_type` replaces
    `application/json` for a body (Glance's PATCH wants JSON patch)."""

    name: str
    method: str
    service: str
    path: str
    microversion: str | None = None
    body: JSON = None
    auth: bool = True
    save: Mapping[str, str] = field(default_factory=dict)
    fields: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    poll: Poll | None = None
    sort: tuple[tuple[str, str], ...] = ()
    mask: tuple[str, ...] = ()
    request_mask: tuple[str, ...] = ()
    content_type: str | None = None
    why: str = ""


@dataclass(frozen=True)
class Outcome:
    """What a step got: status code, the compared values (normalised) and the raw body."""

    step: str
    request: Mapping[str, Any]
    status: int
    compared: Mapping[str, Any]
    body: JSON
    elapsed: float
    observed: tuple[str, ...] = ()


_MISSING = "<absent>"


def _walk(value: JSON, parts: Sequence[str]) -> JSON:
    if not parts:
        return value
    head, rest = parts[0], parts[1:]
    if head == "*":
        if not isinstance(value, list):
            return _MISSING
        return [_walk(v, rest) for v in value]
    if head == "#":
        return len(value) if isinstance(value, list | dict) else _MISSING
    sel = re.fullmatch(r"\[(.+?)=(.*)\]", head)
    if sel:
        if not isinstance(value, list):
            return _MISSING
        hits = [v for v in value if isinstance(v, dict) and str(v.get(sel[1])) == sel[2]]
        return _walk(hits[0], rest) if hits else _MISSING
    if isinstance(value, list) and head.isdigit():
        idx = int(head)
        return _walk(value[idx], rest) if idx < len(value) else _MISSING
    if isinstance(value, dict):
        return _walk(value[head], rest) if head in value else _MISSING
    return _MISSING


def extract(body: JSON, path: str) -> JSON:
    """Value at a dotted path: `a.b`, `a.*.b` (map over a list), `a.#` (length),
    `a.[name=x].id` (first list item whose name is x), `a.0`; suffix `|sorted`."""
    sort = path.endswith("|sorted")
    if sort:
        path = path[: -len("|sorted")]
    value = body if path in ("", ".") else _walk(body, re.findall(r"\[[^\]]*\]|[^.]+", path))
    if sort and isinstance(value, list):
        return sorted(value, key=repr)
    return value


_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I), "<uuid>"),
    (re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?"), "<ts>"),
    (re.compile(r"\b[0-9a-f]{56}\b"), "<hex56>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<hex32>"),
    # a MAC, not 6 bytes of a longer colon-hex string (a key pair's MD5 fingerprint)
    (re.compile(r"(?<![0-9a-f]:)\b(?:[0-9a-f]{2}:){5}[0-9a-f]{2}\b(?!:[0-9a-f])", re.I), "<mac>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b(?!:\d)"), "<ipv4>"),
    (re.compile(r"\breq-<uuid>"), "<request-id>"),
    (re.compile(r"already used \d+ of \d+"), "already used <n> of <n>"),
)

_QUERY = re.compile(r"\?([^\s?#\"']+=[^\s?#\"']*)")
"""A URL query string: its parameters are sorted, since clients parse rather than compare them."""

_SECRET_KEYS = frozenset({"adminPass", "password"})
_COUNTER_KEYS = frozenset({"standard_attr_id"})
"""Integers a database counter hands out (Neutron's standard attribute id): `<n>`."""


@dataclass
class Normaliser:
    """Replaces run-specific values by stable placeholders, so two clouds compare equal."""

    replacements: dict[str, str] = field(default_factory=dict)
    exact: dict[str, str] = field(default_factory=dict)

    def add(self, value: str, placeholder: str) -> None:
        """Replace `value` wherever it occurs (ids, run prefix, endpoints); first name wins."""
        if value:
            self.replacements.setdefault(value, placeholder)

    def add_exact(self, value: str, placeholder: str) -> None:
        """Replace a whole string equal to `value` (short names like `demo`)."""
        self.exact.setdefault(value, placeholder)

    def text(self, s: str) -> str:
        if s in self.exact:
            return self.exact[s]
        for value in sorted(self.replacements, key=len, reverse=True):
            s = s.replace(value, self.replacements[value])
        for pattern, placeholder in _PATTERNS:
            s = pattern.sub(placeholder, s)
        return _QUERY.sub(lambda m: "?" + "&".join(sorted(m[1].split("&"))), s)

    def __call__(self, value: JSON, key: str = "") -> JSON:
        if key in _SECRET_KEYS and isinstance(value, str):
            return "<secret>"
        if key in _COUNTER_KEYS and isinstance(value, int):
            return "<n>"
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict):
            return {self.text(k): self(v, k) for k, v in value.items()}
        return value


def substitute(template: JSON, env: Mapping[str, str]) -> JSON:
    """Fill `{var}` placeholders in every string of a request template."""
    if isinstance(template, str):
        return re.sub(r"\{([a-z_0-9]+)\}", lambda m: env.get(m[1], m[0]), template)
    if isinstance(template, list):
        return [substitute(v, env) for v in template]
    if isinstance(template, dict):
        return {k: substitute(v, env) for k, v in template.items()}
    return template


@dataclass
class Runner:
    """Plays steps against one cloud, keeping variables saved by earlier steps."""

    cloud: RawCloud
    run_id: str = field(default_factory=lambda: "dsd" + uuid.uuid4().hex[:6])
    env: dict[str, str] = field(default_factory=dict)
    norm: Normaliser = field(default_factory=Normaliser)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        start = datetime.now(timezone.utc) - timedelta(seconds=2)
        creds = self.cloud.creds
        self.env.update(
            run=self.run_id,
            project_id=self.cloud.project_id,
            user_id=self.cloud.user_id,
            username=creds.username,
            password=creds.password,
            project_name=creds.project_name,
            user_domain=creds.user_domain_name,
            project_domain=creds.project_domain_name,
            t_start=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            missing_id="00000000-0000-4000-8000-000000000000",
        )
        for var in ("run", "project_id", "user_id", "missing_id"):
            self.norm.add(self.env[var], "{" + var + "}")
        for var in ("username", "project_name"):
            self.norm.add_exact(self.env[var], "{" + var + "}")
        # Sorted: two service types can share one URL (block-storage and volumev3), and
        # the first name wins, so catalog order (which Keystone does not fix) must not.
        for service, url in sorted(self.cloud.endpoints.items()):
            self.norm.add(url, f"<{service}>")
        for service, url in sorted(self.cloud.endpoints.items()):
            self.norm.add(unversioned(url), f"<{service}-root>")

    def _send(self, step: Step, path: str, body: JSON) -> tuple[int, JSON, float]:
        r = self.cloud.request(
            step.service,
            step.method,
            path,
            body=body,
            microversion=step.microversion,
            auth=step.auth,
            headers={"Content-Type": step.content_type} if step.content_type else None,
        )
        return r.status, r.body, r.elapsed

    def run(self, step: Step) -> Outcome:
        """Send the step (polling if asked), save variables, return the normalised outcome."""
        path = substitute(step.path, self.env)
        body = substitute(step.body, self.env)
        t0 = self.clock()
        status, resp, _ = self._send(step, path, body)
        observed: list[str] = []
        if step.poll is not None:
            poll = step.poll
            while True:
                state = f"{status} {extract(resp, poll.path) if poll.path else ''}".strip()
                if not observed or observed[-1] != state:
                    observed.append(state)
                done = (poll.until_status is not None and status == poll.until_status) or (
                    poll.path and extract(resp, poll.path) in poll.until
                )
                if done or self.clock() - t0 > poll.timeout:
                    break
                self.sleep(poll.interval)
                status, resp, _ = self._send(step, path, body)
        elapsed = self.clock() - t0
        for var, spath in step.save.items():
            value = extract(resp, spath)
            if isinstance(value, str) and value != _MISSING:
                self.env[var] = value
                self.norm.add(value, "{" + var + "}")
        request = {
            "method": step.method,
            "service": step.service,
            "path": self.norm(path),
            "microversion": step.microversion,
            "body": self.norm(body),
        }
        if step.content_type:
            request["content_type"] = step.content_type
        return Outcome(
            step=step.name,
            request=request,
            status=status,
            compared=self.compare_view(step, resp),
            body=self.norm(resp),
            elapsed=round(elapsed, 3),
            observed=tuple(self.norm.text(s) for s in observed),
        )

    def compare_view(self, step: Step, resp: JSON) -> dict[str, Any]:
        """The normalised values this step compares: chosen fields, key sets, or the whole body.

        `step.sort` orders lists first (Nova breaks created_at ties by random uuid)."""
        for list_path, key in step.sort:
            items = extract(resp, list_path)
            if isinstance(items, list):
                items.sort(key=lambda item: str(item.get(key)) if isinstance(item, dict) else "")
        view: dict[str, Any] = {}
        if step.mask:
            masks = [re.compile(m) for m in step.mask]
            resp = _mask(self.norm(resp), masks)
        for f in step.fields:
            view[f] = self.norm(extract(resp, substitute(f, self.env)))
        for k in step.keys:
            obj = extract(resp, substitute(k, self.env))
            present = (
                {self.norm.text(key): "present" for key in obj} if isinstance(obj, dict) else {}
            )
            view[k + ".<keys>"] = present or _MISSING
        if not step.fields and not step.keys:
            view["<body>"] = self.norm(resp)
        return view


def _mask(value: JSON, masks: Sequence[re.Pattern[str]]) -> JSON:
    if isinstance(value, str):
        for m in masks:
            value = m.sub("<masked>", value)
        return value
    if isinstance(value, list):
        return [_mask(v, masks) for v in value]
    if isinstance(value, dict):
        return {k: _mask(v, masks) for k, v in value.items()}
    return value


def compared_request(step: Step, request: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded request as it is compared: its JSON form (as in a capture), with the
    step's `request_mask` patterns replaced by `<masked>` in the path and nowhere else."""
    compared: dict[str, Any] = json.loads(json.dumps(request))
    if step.request_mask and isinstance(compared.get("path"), str):
        compared["path"] = _mask(compared["path"], [re.compile(m) for m in step.request_mask])
    return compared


def run_sequence(runner: Runner, steps: Sequence[Step]) -> list[Outcome]:
    """Play all steps in order; a failing request never stops the sequence."""
    return [runner.run(s) for s in steps]


def flatten(value: JSON, prefix: str = "") -> dict[str, JSON]:
    """Leaf values by dotted path, so differences can be named and allow-listed precisely."""
    if isinstance(value, dict) and value:
        out: dict[str, JSON] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}.{i}" if prefix else str(i)))
        return out
    return {prefix: value}


def differences(real: Outcome, local: Outcome) -> list[tuple[str, JSON, JSON]]:
    """(path, real value, local value) for every compared leaf that differs, status first."""
    diffs: list[tuple[str, JSON, JSON]] = []
    if real.status != local.status:
        diffs.append(("<status>", real.status, local.status))
    a, b = flatten(dict(real.compared)), flatten(dict(local.compared))
    for path in sorted(set(a) | set(b)):
        va, vb = a.get(path, _MISSING), b.get(path, _MISSING)
        if va != vb:
            diffs.append((path, va, vb))
    return diffs
