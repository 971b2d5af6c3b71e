"""Faults a cloud throws, survived end to end (local cloud only: real Nova cannot be told to)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.scenarios.conftest import Stack, Target, assert_exited

pytestmark = pytest.mark.integration


@pytest.fixture
def target(local_target: Target) -> Iterator[Target]:
    """Only the local cloud can inject faults; always restore a healthy cloud."""
    yield local_target
    local_target.local.set_faults(
        rate_500=0.0,
        rate_503=0.0,
        rate_429=0.0,
        rate_413=0.0,
        rate_drop=0.0,
        rate_drop_after=0.0,
        token_ttl=3600.0,
    )


def test_rate_limits_and_unavailable_are_retried_without_duplicates(stack: Stack) -> None:
    stack.write([{"name": "busy", "count": 4, "networks": "none"}])
    stack.target.local.set_faults(rate_429=0.25, rate_413=0.1, rate_503=0.1, retry_after=0, seed=7)
    result = stack.ok("apply", "--yes")
    assert "Apply complete: 4 succeeded, 0 failed" in result.stdout
    stack.target.local.set_faults(rate_429=0.0, rate_413=0.0, rate_503=0.0)
    assert stack.names() == Counter({f"busy-{n}": 1 for n in range(1, 5)})
    assert stack.ok("plan", "--detailed-exitcode").exit_code == 0


def test_server_errors_never_duplicate_a_server_and_the_next_apply_converges(stack: Stack) -> None:
    stack.write([{"name": "flaky", "count": 4, "networks": "none"}])
    stack.target.local.set_faults(rate_500=0.3, rate_drop=0.1, seed=3)
    first = stack.run("apply", "--yes")
    stack.target.local.set_faults(rate_500=0.0, rate_drop=0.0)
    # Some changes may fail for good (exit 1), but as a reported outcome, never a crash.
    assert first.exit_code in (0, 1), first.stdout + first.stderr
    assert_exited(first, first.exit_code)
    done = re.search(r"Apply complete: (\d+) succeeded, (\d+) failed\.", first.stdout)
    if done is None:  # the cloud could not even be read: a message, nothing changed
        assert first.exit_code == 1 and "error:" in first.stderr, first.stdout + first.stderr
    else:
        assert int(done[1]) + int(done[2]) == 4, first.stdout
        assert first.exit_code == (1 if int(done[2]) else 0), first.stdout
    names = stack.names()
    assert set(names) <= {f"flaky-{n}" for n in range(1, 5)}, names
    assert all(count == 1 for count in names.values()), names
    stack.ok("apply", "--yes")
    assert stack.names() == Counter({f"flaky-{n}": 1 for n in range(1, 5)})


def test_reset_after_a_create_was_handled_never_resends_it(stack: Stack) -> None:
    """The cloud made the server but the answer was lost: resending would duplicate it."""
    stack.write([{"name": "lost", "count": 6, "networks": "none"}])
    stack.target.local.set_faults(rate_drop_after=0.5, seed=11)
    first = stack.run("apply", "--yes")
    stack.target.local.set_faults(rate_drop_after=0.0)
    # A lost answer is a failed change (exit 1) or found again (exit 0), never a crash.
    assert first.exit_code in (0, 1), first.stdout + first.stderr
    assert_exited(first, first.exit_code)
    names = stack.names()
    assert set(names) <= {f"lost-{n}" for n in range(1, 7)}, names
    assert all(count == 1 for count in names.values()), names
    second = stack.ok("apply", "--yes")
    assert stack.names() == Counter({f"lost-{n}": 1 for n in range(1, 7)})
    assert "has been created" in first.stdout + second.stdout


def test_token_expiring_during_apply_is_renewed(stack: Stack) -> None:
    stack.target.local.set_faults(token_ttl=1.0, boot_extra_seconds=2.0)
    try:
        stack.write([{"name": "slow", "count": 2, "networks": "none"}])
        result = stack.ok("apply", "--yes")
        assert "Apply complete: 2 succeeded, 0 failed" in result.stdout
    finally:
        stack.target.local.set_faults(boot_extra_seconds=0.0)
