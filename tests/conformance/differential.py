"""What the live and the offline differential checks share: the allow-list, the captures
and the local cloud set up as realstack is (Nova's default quotas).

- live (tier `conformance`, tests/conformance/test_differential.py): local cloud vs
  real OpenStack, and real OpenStack vs the captures;
- offline (tier `integration`, tests/integration/test_differential_offline.py): local
  cloud vs the captures of real OpenStack stored in captures/, no real service needed.

Real Nova is right: every difference fails unless it is in ALLOWED (each with its
reason, also listed in docs/differential.md).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conformance.rawcloud import JSON, Credentials, RawCloud
from tests.conformance.sequence import Outcome, compared_request, differences
from tests.conformance.steps import STEPS, Step

CAPTURES = Path(__file__).resolve().parent / "captures"

NOVA_DEFAULT_QUOTAS = {"quota_instances": 10, "quota_cores": 20, "quota_ram": 51200}
"""Nova's default quotas, as realstack has them; the local cloud's own defaults are far
higher so that 10,000-server benchmarks fit."""


@dataclass(frozen=True)
class Allowed:
    """A known, accepted difference: step and flattened path are fnmatch patterns."""

    step: str
    path: str
    reason: str


SCHEMA_MESSAGE = (
    "Nova's JSON-schema error text embeds Python reprs of the request and jsonschema's "
    "wording; clients print it but never parse it. The status code and the badRequest "
    "envelope are still compared."
)

ALLOWED: tuple[Allowed, ...] = (
    Allowed(
        "subnet-list",
        "subnets.*.cidr.0",
        "the local cloud's private subnet is a /16 so that 10,000 servers get addresses "
        "(realstack's bootstrap makes a /24); no client reads the prefix length",
    ),
    Allowed("error-networks-omitted", "<body>.badRequest.message", SCHEMA_MESSAGE),
    Allowed("error-tags-before-2.52", "<body>.badRequest.message", SCHEMA_MESSAGE),
    Allowed("error-invalid-tag-create", "<body>.badRequest.message", SCHEMA_MESSAGE),
    Allowed("metadata-bad-key", "<body>.badRequest.message", SCHEMA_MESSAGE),
    Allowed("tags-invalid-comma", "<body>.badRequest.message", SCHEMA_MESSAGE),
    Allowed(
        "floatingip-associate",
        "<body>.floatingip.status",
        "realstack runs Neutron's L3 plugin without an L3 agent, so a floating IP stays DOWN "
        "there; the local cloud reports ACTIVE once associated, as a cloud with an agent "
        "does (tests/localcloud rely on it); declstack never waits on this status",
    ),
    Allowed(
        "image-*",
        "*<keys>.owner_specified.openstack.*",
        "properties openstacksdk's create_image added when realstack uploaded cirros; "
        "user metadata, not part of Glance's image schema",
    ),
)


def allowed(step: str, path: str) -> Allowed | None:
    """The allow-list entry that covers this difference, if any."""
    for a in ALLOWED:
        if fnmatch.fnmatchcase(step, a.step) and fnmatch.fnmatchcase(path, a.path):
            return a
    return None


def _short(value: JSON) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 300 else text[:300] + "..."


def unexplained_differences(real: Outcome, local: Outcome) -> str | None:
    """A report of every difference the allow-list does not cover, or None."""
    unexplained = [d for d in differences(real, local) if allowed(real.step, d[0]) is None]
    if not unexplained:
        return None
    report = "\n".join(
        f"  {path}: real={_short(r)} local={_short(lo)}" for path, r, lo in unexplained
    )
    return (
        f"{real.request['method']} {real.request['path']} "
        f"(microversion {real.request['microversion']}) differs:\n{report}"
    )


_STEPS: dict[str, Step] = {s.name: s for s in STEPS}


def request_difference(expected: Outcome, got: Outcome) -> str | None:
    """None if `got` was made with the same request as `expected` (a capture), else a
    report naming each differing part with both values.

    Everything is compared exactly (method, service, path with its query, microversion,
    body), except what the step's `request_mask` masks in the path: the paging marker of
    `servers-page-2`, which is whichever of the run's servers ended page 1."""
    step = _STEPS.get(got.step)
    if step is None:
        return f"{got.step}: no such step in STEPS"
    want, have = compared_request(step, expected.request), compared_request(step, got.request)
    if want == have:
        return None
    report = "\n".join(
        f"  {k}: expected={_short(want.get(k, '<absent>'))} got={_short(have.get(k, '<absent>'))}"
        for k in sorted(set(want) | set(have))
        if k not in want or k not in have or want[k] != have[k]
    )
    return f"{got.step}: the request differs:\n{report}"


def capture_files(captures: Path = CAPTURES) -> dict[str, str]:
    """Step name -> capture file name, in the order of index.json (`NN-<step>.json`)."""
    index = json.loads((captures / "index.json").read_text())
    return {e["file"].split("-", 1)[1].removesuffix(".json"): e["file"] for e in index}


def sequence_capture_problems(captures: Path = CAPTURES) -> list[str]:
    """Why captures/ is not a capture of today's STEPS (missing, extra, renumbered)."""
    files = capture_files(captures)
    expected = [f"{i:02d}-{s.name}.json" for i, s in enumerate(STEPS, 1)]
    problems = []
    listed = list(files.values())
    if listed != expected:
        missing = sorted(set(expected) - set(listed))
        extra = sorted(set(listed) - set(expected))
        problems.append(
            f"index.json does not list STEPS in order: missing {missing}, extra {extra}"
        )
    on_disk = sorted(p.name for p in captures.glob("*.json") if p.name != "index.json")
    if on_disk != sorted(expected):
        stale = sorted(set(on_disk) - set(expected))
        absent = sorted(set(expected) - set(on_disk))
        problems.append(f"capture files: stale {stale}, absent {absent}")
    return problems


def load_capture(step: str, captures: Path = CAPTURES) -> Outcome:
    """The stored outcome of `step` as real Nova answered it; fails if there is none."""
    files = capture_files(captures)
    if step not in files:
        raise AssertionError(
            f"no capture for step {step}: run python -m tests.conformance.capture on realstack"
        )
    record: dict[str, Any] = json.loads((captures / files[step]).read_text())
    return Outcome(
        step=record["step"],
        request=record["request"],
        status=record["status"],
        compared=record["compared"],
        body=record["body"],
        elapsed=record["elapsed"],
        observed=tuple(record["observed"]),
    )


def _first_cloud_entry(config: dict[str, object]) -> dict[str, object]:
    clouds = config.get("clouds")
    if isinstance(clouds, dict) and clouds:
        entry = next(iter(clouds.values()))
        assert isinstance(entry, dict)
        return entry
    return config


@contextmanager
def local_raw_cloud() -> Iterator[RawCloud]:
    """declstack's own local cloud with Nova's default quotas, as an authenticated raw
    session (the same set-up for the live and the offline comparison)."""
    from declstack_localcloud import LocalCloud

    with LocalCloud(faults=NOVA_DEFAULT_QUOTAS) as cloud:
        raw = RawCloud(Credentials.from_cloud_entry(_first_cloud_entry(cloud.cloud_config())))
        raw.authenticate()
        yield raw
