"""The quota check at plan time: the apply's peak instance count against the quota."""

from __future__ import annotations

import pytest

from declstack.capacity import check_capacity, peak_instances
from declstack.model import Action, Change, DesiredServer, Lifecycle, Limits, Plan

pytestmark = pytest.mark.unit


def change(action: Action, create_first: bool = False) -> Change:
    after = DesiredServer(
        name="s", image="i", flavor="f", lifecycle=Lifecycle(create_before_destroy=create_first)
    )
    return Change(name="s", action=action, reason="", after=after)


@pytest.mark.parametrize(
    ("actions", "used", "peak"),
    [
        ([], 4, 4),
        ([Action.CREATE] * 3, 4, 7),
        ([Action.DELETE, Action.CREATE], 4, 4),
        ([Action.DELETE_THEN_CREATE], 4, 4),  # destroy first: the old one goes before the new comes
        ([Action.UPDATE, Action.NOOP], 4, 4),
    ],
)
def test_peak(actions: list[Action], used: int, peak: int) -> None:
    plan = Plan(stack="demo", changes=tuple(change(a) for a in actions))
    assert peak_instances(plan, used) == peak


def test_create_before_destroy_needs_room_for_both() -> None:
    plan = Plan(stack="demo", changes=(change(Action.CREATE_THEN_DELETE, create_first=True),))
    assert peak_instances(plan, 10) == 11
    checked = check_capacity(plan, Limits(max_instances=10, used_instances=10))
    (error,) = checked.errors
    assert "needs 11 instances" in error.message and "quota is 10" in error.message
    assert error.hint and "create_before_destroy" in error.hint


def test_within_quota_or_unknown_quota_adds_nothing() -> None:
    plan = Plan(stack="demo", changes=(change(Action.CREATE),))
    assert check_capacity(plan, Limits(max_instances=10, used_instances=9)) == plan
    assert check_capacity(plan, Limits(max_instances=None, used_instances=99)) == plan
