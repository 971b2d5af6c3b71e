"""Differential check: the same request sequence against real OpenStack and the local cloud.

Real Nova is right. Every difference in status code or in a compared field
fails, unless it is in ALLOWED below (each with its reason, also listed in
docs/differential.md). The sequence itself is data: tests/conformance/steps.py.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conformance.rawcloud import JSON, RawCloud
from tests.conformance.sequence import Outcome, Runner, differences, run_sequence
from tests.conformance.steps import STEPS, Step

pytestmark = pytest.mark.conformance

CAPTURES = Path(__file__).resolve().parent / "captures"


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
    Allowed("error-auto-before-2.37", "<body>.badRequest.message", SCHEMA_MESSAGE),
    Allowed("error-name-bad-regex", "<body>.badRequest.message", SCHEMA_MESSAGE),
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


def _play(cloud: RawCloud) -> dict[str, Outcome]:
    outcomes = run_sequence(Runner(cloud), STEPS)
    return {o.step: o for o in outcomes}


@pytest.fixture(scope="session")
def real_outcomes(realstack: RawCloud) -> dict[str, Outcome]:
    """The sequence played once against the real services."""
    return _play(realstack)


@pytest.fixture(scope="session")
def local_outcomes(localcloud: RawCloud) -> dict[str, Outcome]:
    """The sequence played once against declstack's local cloud."""
    return _play(localcloud)


def _short(value: JSON) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 300 else text[:300] + "..."


def test_step_names_are_unique() -> None:
    """Outcomes are keyed by step name, so two steps must never share one."""
    names = [s.name for s in STEPS]
    assert len(names) == len(set(names))


def test_allow_list_entries_match_steps() -> None:
    """An allow-list entry that matches no step is stale and hides nothing: remove it."""
    names = [s.name for s in STEPS]
    for a in ALLOWED:
        assert fnmatch.filter(names, a.step), f"allow-list entry matches no step: {a}"


@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
def test_real_services_still_match_captures(step: Step, real_outcomes: dict[str, Outcome]) -> None:
    """The captures in captures/ are what real Nova answers today (regenerate with capture.py)."""
    name = step.name
    index = json.loads((CAPTURES / "index.json").read_text())
    files = {e["file"].split("-", 1)[1].removesuffix(".json"): e["file"] for e in index}
    assert name in files, f"no capture for step {name}: run python -m tests.conformance.capture"
    captured = json.loads((CAPTURES / files[name]).read_text())
    got = real_outcomes[name]
    assert got.status == captured["status"], f"{name}: real status changed"
    assert json.loads(json.dumps(got.compared)) == captured["compared"]


@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
def test_local_cloud_agrees_with_real(
    step: Step, real_outcomes: dict[str, Outcome], local_outcomes: dict[str, Outcome]
) -> None:
    """Same request, same status code and same compared fields, or an allow-listed reason."""
    name = step.name
    real, local = real_outcomes[name], local_outcomes[name]
    unexplained = [d for d in differences(real, local) if allowed(name, d[0]) is None]
    report = "\n".join(
        f"  {path}: real={_short(r)} local={_short(lo)}" for path, r, lo in unexplained
    )
    assert not unexplained, (
        f"{real.request['method']} {real.request['path']} "
        f"(microversion {real.request['microversion']}) differs:\n{report}"
    )
