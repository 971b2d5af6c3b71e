"""The differential check offline: the local cloud against the stored answers of real Nova.

tests/conformance/test_differential.py compares the local cloud with real OpenStack
live, and skips where realstack is not running (a developer's machine). This plays
the same request sequence (tests/conformance/steps.py) against the local cloud only
and compares each outcome with the capture of real Nova in tests/conformance/captures/,
with the same normalisation and allow-list. A step without a capture fails: the
captures must be made from today's sequence (python -m tests.conformance.capture).

    .venv/bin/pytest tests/integration/test_differential_offline.py
"""

from __future__ import annotations

import json

import pytest

from tests.conformance.differential import (
    ALLOWED,
    allowed,
    load_capture,
    local_raw_cloud,
    sequence_capture_problems,
    unexplained_differences,
)
from tests.conformance.sequence import Outcome, Runner, differences, run_sequence
from tests.conformance.steps import STEPS, Step

pytestmark = pytest.mark.integration

RECAPTURE = "recapture on realstack: python -m tests.conformance.capture"


@pytest.fixture(scope="module")
def local_outcomes() -> dict[str, Outcome]:
    """The sequence played once against a fresh local cloud set up as realstack is."""
    with local_raw_cloud() as raw:
        outcomes = run_sequence(Runner(raw), STEPS)
    return {o.step: o for o in outcomes}


def test_captures_are_of_todays_sequence() -> None:
    """captures/ holds exactly one capture per step of STEPS, numbered in order."""
    assert sequence_capture_problems() == [], RECAPTURE


@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
def test_local_cloud_agrees_with_captured_real(
    step: Step, local_outcomes: dict[str, Outcome]
) -> None:
    """Same request as captured, same status code and compared fields as real Nova gave,
    or an allow-listed reason."""
    real = load_capture(step.name)  # fails (not skips) when there is no capture
    local = local_outcomes[step.name]
    assert json.loads(json.dumps(local.request)) == real.request, (
        f"{step.name}: the capture was made with another request; {RECAPTURE}"
    )
    report = unexplained_differences(real, local)
    assert report is None, report


def test_every_allow_list_entry_is_still_needed(local_outcomes: dict[str, Outcome]) -> None:
    """An entry that excuses no difference any more would hide a future one: remove it."""
    used = set()
    for s in STEPS:
        for path, _, _ in differences(load_capture(s.name), local_outcomes[s.name]):
            entry = allowed(s.name, path)
            if entry is not None:
                used.add(entry)
    assert [a for a in ALLOWED if a not in used] == []
