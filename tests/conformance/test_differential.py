"""Differential check: the same request sequence against real OpenStack and the local cloud.

Real Nova is right. Every difference in status code or in a compared field
fails, unless it is in ALLOWED (tests/conformance/differential.py, each with its
reason, also listed in docs/differential.md). The sequence itself is data:
tests/conformance/steps.py. The same comparison against the stored captures,
with no real service, is tests/integration/test_differential_offline.py.
"""

from __future__ import annotations

import fnmatch
import json

import pytest

from tests.conformance.differential import (
    ALLOWED,
    load_capture,
    request_difference,
    sequence_capture_problems,
    unexplained_differences,
)
from tests.conformance.rawcloud import RawCloud
from tests.conformance.sequence import Outcome, Runner, run_sequence
from tests.conformance.steps import STEPS, Step

pytestmark = pytest.mark.conformance


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


def test_step_names_are_unique() -> None:
    """Outcomes are keyed by step name, so two steps must never share one."""
    names = [s.name for s in STEPS]
    assert len(names) == len(set(names))


def test_allow_list_entries_match_steps() -> None:
    """An allow-list entry that matches no step is stale and hides nothing: remove it."""
    names = [s.name for s in STEPS]
    for a in ALLOWED:
        assert fnmatch.filter(names, a.step), f"allow-list entry matches no step: {a}"


def test_captures_are_of_todays_sequence() -> None:
    """captures/ holds exactly one capture per step of STEPS, numbered in order."""
    assert sequence_capture_problems() == [], "run python -m tests.conformance.capture"


@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
def test_real_services_still_match_captures(step: Step, real_outcomes: dict[str, Outcome]) -> None:
    """The captures in captures/ are what real Nova answers today (regenerate with capture.py)."""
    name = step.name
    captured = load_capture(name)  # fails when there is no capture
    got = real_outcomes[name]
    changed = request_difference(captured, got)  # exact, but for a masked paging marker
    assert changed is None, changed
    assert got.status == captured.status, f"{name}: real status changed"
    assert json.loads(json.dumps(got.compared)) == captured.compared


@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
def test_local_cloud_agrees_with_real(
    step: Step, real_outcomes: dict[str, Outcome], local_outcomes: dict[str, Outcome]
) -> None:
    """Same request, same status code and same compared fields, or an allow-listed reason."""
    report = unexplained_differences(real_outcomes[step.name], local_outcomes[step.name])
    assert report is None, report
