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

from dataclasses import replace

import pytest

from tests.conformance.differential import (
    ALLOWED,
    allowed,
    load_capture,
    local_raw_cloud,
    request_difference,
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
    changed = request_difference(real, local)  # exact, but for a masked paging marker
    assert changed is None, f"{changed}\nthe capture was made with another request; {RECAPTURE}"
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


@pytest.mark.parametrize(
    ("path", "same"),
    [
        ("/servers?limit=2&marker={srv_a}&name={run}", True),  # another run's page 1 order
        ("/servers?limit=2&marker={srv_c}&name={run}", True),
        ("/servers?limit=2&marker={srv_b}&name={run}", True),  # as captured
        ("/servers?limit=3&marker={srv_a}&name={run}", False),
        ("/servers?limit=2&name={run}", False),  # no marker
        ("/servers?limit=2&marker={missing_id}&name={run}", False),  # not one of our servers
        ("/servers?limit=2&marker=<uuid>&name={run}", False),
        ("/servers?limit=2&marker={page_marker}&name={run}", False),  # never saved
        ("/servers?limit=2&marker={srv_a}&name={run}-web", False),
    ],
)
def test_only_the_paging_marker_of_page_2_is_masked(path: str, same: bool) -> None:
    """Nova orders servers created in the same second as its conductor wrote them, so which
    server ends page 1, the marker of page 2, varies by run; the rest of the request must
    still be the captured one (and the marker one of the run's servers)."""
    captured = load_capture("servers-page-2")
    got = replace(captured, request={**captured.request, "path": path})
    assert (request_difference(captured, got) is None) is same
    other = replace(got, request={**got.request, "microversion": "2.1"})
    assert request_difference(captured, other) is not None
    # every other request is compared exactly: a new request_mask needs its own reason here
    assert [s.name for s in STEPS if s.request_mask] == ["servers-page-2"]
