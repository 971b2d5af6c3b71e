"""The security group kind: owned groups created, rules changed one by one, strangers
never touched; and apply's order (groups, servers, then dropped groups)."""

from __future__ import annotations

import pytest

from declstack.engine import make_destroy_plan, make_plan
from declstack.kinds.security_group import DEFAULT_EGRESS, plan_security_groups
from declstack.model import (
    Action,
    DesiredSecurityGroup,
    Kind,
    ObservedRule,
    ObservedSecurityGroup,
    Rule,
    Spec,
)
from declstack.ownership import stack_tag
from declstack.reconciler import Reconciler, Settings
from tests.fakes import FakeCloud
from tests.unit.test_reconciler import CATALOG, Instant, server

pytestmark = pytest.mark.unit

SSH = Rule(protocol="tcp", port_min=22, port_max=22)
HTTPS = Rule(protocol="tcp", port_min=443, port_max=443)
FROM_WEB = Rule(protocol="tcp", port_min=8080, port_max=8080, remote_group="web")
TAG = (stack_tag("demo"),)


def observed_group(
    gid: str, name: str, *rules: Rule, tags: tuple[str, ...] = TAG
) -> ObservedSecurityGroup:
    listed = tuple(ObservedRule(f"{gid}-r{n}", r) for n, r in enumerate(rules))
    return ObservedSecurityGroup(gid, name, "", tags, listed)


def spec(*groups: DesiredSecurityGroup, servers: tuple = ()) -> Spec:  # type: ignore[type-arg]
    return Spec("demo", servers, security_groups=groups)


def test_a_new_group_is_created_with_its_rules_and_neutrons_egress_kept() -> None:
    changes, problems = plan_security_groups(spec(DesiredSecurityGroup("web", rules=(SSH,))), [])
    (change,) = changes
    assert not problems
    assert (change.address, change.action) == ("security_group.web", Action.CREATE)
    assert change.group is not None
    assert change.group.add_rules == (Rule(protocol="tcp", port_min=22, port_max=22),)


def test_rules_are_added_and_removed_one_by_one_on_the_owned_group() -> None:
    have = observed_group("g1", "web", SSH, *DEFAULT_EGRESS)
    changes, _ = plan_security_groups(spec(DesiredSecurityGroup("web", rules=(HTTPS,))), [have])
    (change,) = changes
    assert change.action is Action.UPDATE and change.group is not None
    assert change.group.add_rules == (HTTPS,)
    assert [r.id for r in change.group.remove_rules] == ["g1-r0"]
    assert change.reason == "rule +ingress tcp 443; rule -ingress tcp 22"


def test_up_to_date_and_unowned_groups_with_the_same_name_are_left_alone() -> None:
    ours = observed_group("g1", "web", SSH, *DEFAULT_EGRESS)
    theirs = observed_group("g9", "web", tags=())
    changes, _ = plan_security_groups(
        spec(DesiredSecurityGroup("web", rules=(SSH,))), [theirs, ours]
    )
    assert [
        (c.action, c.group.before.id if c.group and c.group.before else None) for c in changes
    ] == [(Action.NOOP, "g1")]


def test_remote_group_means_the_stacks_own_group_even_when_a_stranger_shares_the_name() -> None:
    ours = observed_group("g1", "web", *DEFAULT_EGRESS)
    theirs = observed_group("g9", "web", tags=())
    wanted = spec(DesiredSecurityGroup("web"), DesiredSecurityGroup("app", rules=(FROM_WEB,)))
    changes, problems = plan_security_groups(wanted, [theirs, ours])
    app = next(c for c in changes if c.name == "app")
    assert not problems and app.group is not None
    assert app.group.add_rules == (
        Rule(protocol="tcp", port_min=8080, port_max=8080, remote_group="g1"),
    )


def test_a_remote_group_to_be_created_is_a_placeholder_and_an_unknown_one_an_error() -> None:
    wanted = spec(
        DesiredSecurityGroup("web"),
        DesiredSecurityGroup("app", rules=(FROM_WEB,)),
        DesiredSecurityGroup(
            "db", rules=(Rule(protocol="tcp", port_min=5432, port_max=5432, remote_group="nope"),)
        ),
    )
    changes, problems = plan_security_groups(wanted, [])
    app = next(c for c in changes if c.name == "app")
    assert app.group is not None and app.group.add_rules[0].remote_group == "security_group.web"
    (problem,) = problems
    assert problem.address == "security_group.db"
    assert problem.message == (
        "rule ingress tcp 5432 from nope: no security group of the spec or of the cloud is "
        'named "nope"'
    )


def test_owned_groups_the_spec_dropped_are_deleted_strangers_never() -> None:
    changes, _ = plan_security_groups(
        spec(), [observed_group("g1", "old"), observed_group("g9", "other", tags=())]
    )
    assert [(c.address, c.action) for c in changes] == [("security_group.old", Action.DELETE)]


def run(cloud: FakeCloud, the_spec: Spec) -> tuple:  # type: ignore[type-arg]
    plan = make_plan(the_spec, cloud)
    assert not plan.errors, plan.errors
    report = Reconciler(cloud, Settings(parallelism=4), clock=Instant().clock()).apply(plan)
    return plan, report


def test_apply_creates_groups_before_the_servers_that_use_them_and_converges() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    cloud.add_group(observed_group("foreign", "web", tags=()))  # a stranger named web
    web = DesiredSecurityGroup("web", rules=(SSH,))
    app = DesiredSecurityGroup("app", rules=(FROM_WEB,))
    the_spec = spec(web, app, servers=(server("a", security_groups=("web", "app")),))

    _, report = run(cloud, the_spec)

    assert report.converged, report.failures
    ours = {g.name: g for g in cloud.groups.values() if g.tags == TAG}
    assert set(ours) == {"web", "app"}
    assert {r.rule for r in ours["web"].rules} == {SSH, *DEFAULT_EGRESS}
    (from_web,) = [r.rule for r in ours["app"].rules if r.rule.direction == "ingress"]
    assert from_web.remote_group == ours["web"].id, "the stack's web, not the stranger"
    (made,) = cloud.servers.values()
    assert set(made.security_groups or ()) == {"web", "app"}
    order = [c for c in cloud.calls if c.startswith(("create group", "create a"))]
    assert order[-1] == "create a", "groups before the server that uses them"
    again = make_plan(the_spec, cloud)
    assert not again.has_changes, again.changes

    destroy = make_destroy_plan(the_spec, cloud)
    report = Reconciler(cloud, Settings(), clock=Instant().clock()).apply(destroy)
    assert report.converged, report.failures
    assert [g.id for g in cloud.groups.values()] == ["foreign"], "only the stranger is left"
    assert cloud.servers == {}


def test_egress_rules_in_the_spec_replace_neutrons_defaults() -> None:
    cloud = FakeCloud(catalog=CATALOG)
    dns = Rule(direction="egress", protocol="udp", port_min=53, port_max=53)
    the_spec = spec(DesiredSecurityGroup("locked", rules=(dns,)))
    _, report = run(cloud, the_spec)
    assert report.converged
    (group,) = cloud.groups.values()
    assert [r.rule for r in group.rules] == [dns]
    assert not make_plan(the_spec, cloud).has_changes
    assert group.tags == TAG and Kind.SECURITY_GROUP.value == "security_group"


def test_rules_are_compared_in_neutrons_canonical_form() -> None:
    """0.0.0.0/0 is no prefix, 6 is tcp, 1-65535 is no ports: a rule added by hand in
    another spelling of the same thing is not a change."""
    wanted = DesiredSecurityGroup(
        "web",
        rules=(
            Rule(protocol="tcp", port_min=22, port_max=22, remote_ip_prefix="0.0.0.0/0"),
            Rule(protocol="udp", port_min=1, port_max=65535),
        ),
    )
    have = observed_group(
        "g1",
        "web",
        Rule(protocol="6", port_min=22, port_max=22),
        Rule(protocol="udp"),
        *DEFAULT_EGRESS,
    )
    (change,) = plan_security_groups(spec(wanted), [have])[0]
    assert change.action is Action.NOOP, change.reason
