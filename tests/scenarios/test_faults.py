"""Faults a cloud throws, survived end to end (local cloud only: real Nova cannot be told to)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from tests.scenarios.conftest import Stack, Target

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
    assert first.exit_code in (0, 1), first.stdout + first.stderr
    assert "Traceback" not in first.stdout + first.stderr
    assert all(count == 1 for count in stack.names().values())
    stack.ok("apply", "--yes")
    assert stack.names() == Counter({f"flaky-{n}": 1 for n in range(1, 5)})


def test_reset_after_a_create_was_handled_never_resends_it(stack: Stack) -> None:
    """The cloud made the server but the answer was lost: resending would duplicate it."""
    stack.write([{"name": "lost", "count": 6, "networks": "none"}])
    stack.target.local.set_faults(rate_drop_after=0.5, seed=11)
    first = stack.run("apply", "--yes")
    stack.target.local.set_faults(rate_drop_after=0.0)
    assert "Traceback" not in first.stdout + first.stderr
    assert all(count == 1 for count in stack.names().values()), stack.names()
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
