"""Top-level `security_groups:`: groups and rules in canonical form, bad input refused."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from declstack.model import DesiredSecurityGroup, Rule, SourceLocation
from declstack.spec import SpecError, canonical_rule, parse_spec

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
HEADER = "version: 1\nstack: s\nservers: []\nsecurity_groups:\n"


def text(body: str) -> str:
    """The spec with `body` (groups at column 0) under `security_groups:`."""
    return HEADER + textwrap.indent(textwrap.dedent(body), "  ")


def groups(body: str, env: dict[str, str] | None = None) -> tuple[DesiredSecurityGroup, ...]:
    return parse_spec(text(body), "spec.yaml", environ=env or {}).security_groups


def rules(*lines: str, env: dict[str, str] | None = None) -> tuple[Rule, ...]:
    """The rules of one group `g` whose rules are the given flow mappings."""
    body = "g:\n  rules:\n" + "".join(f"    - {line}\n" for line in lines)
    (group,) = groups(body, env)
    return group.rules


def problems(body: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text(body), "spec.yaml", environ=env or {})
    return [str(p) for p in caught.value.problems]


def rule_problems(*lines: str) -> list[str]:
    return problems("g:\n  rules:\n" + "".join(f"    - {line}\n" for line in lines))


# -- valid groups -------------------------------------------------------------------


def test_no_security_groups_key_means_none() -> None:
    spec = parse_spec("version: 1\nstack: s\nservers: []\n", "spec.yaml", environ={})
    assert spec.security_groups == ()


def test_groups_sorted_by_name_with_description_and_source() -> None:
    found = groups(
        """\
          web:
            description: front door
            rules:
              - {protocol: tcp, port: 443}
          app: {}
        """
    )
    assert found == (
        DesiredSecurityGroup(name="app", source=SourceLocation("spec.yaml", 9, 3)),
        DesiredSecurityGroup(
            name="web",
            description="front door",
            rules=(Rule(protocol="tcp", port_min=443, port_max=443),),
            source=SourceLocation("spec.yaml", 5, 3),
        ),
    )


def test_rule_defaults_ingress_ipv4_any_protocol_from_anyone() -> None:
    assert rules("{}") == (
        Rule(direction="ingress", ethertype="IPv4", protocol=None, remote_ip_prefix=None),
    )
    assert rules("{direction: egress, ethertype: IPv6, protocol: any}") == (
        Rule(direction="egress", ethertype="IPv6"),
    )


def test_ports_forms() -> None:
    assert rules(
        "{protocol: tcp, port: 22}",
        "{protocol: udp, ports: 8000-8080}",
        "{protocol: udp, ports: '53'}",
        "{protocol: tcp, ports: 1-65535}",  # Neutron stores the full range as no ports
        "{protocol: icmp}",
    ) == (
        Rule(protocol="tcp", port_min=22, port_max=22),
        Rule(protocol="udp", port_min=8000, port_max=8080),
        Rule(protocol="udp", port_min=53, port_max=53),
        Rule(protocol="tcp"),
        Rule(protocol="icmp"),
    )


def test_remote_ip_prefix_is_normalised_and_sets_the_ethertype() -> None:
    assert rules(
        "{remote_ip_prefix: 10.1.2.3/8}",
        "{remote_ip_prefix: 192.0.2.7}",
        "{remote_ip_prefix: '2001:DB8::1/32'}",
        "{remote_ip_prefix: '2001:db8::1', ethertype: IPv6}",
        "{remote_group: web, ethertype: IPv6}",
    ) == (
        Rule(remote_ip_prefix="10.0.0.0/8"),
        Rule(remote_ip_prefix="192.0.2.7/32"),
        Rule(ethertype="IPv6", remote_ip_prefix="2001:db8::/32"),
        Rule(ethertype="IPv6", remote_ip_prefix="2001:db8::1/128"),
        Rule(ethertype="IPv6", remote_group="web"),
    )


def test_anyone_prefixes_are_no_prefix() -> None:
    """Neutron counts 0.0.0.0/0 and ::/0 the same as no prefix (a second one is a 409)."""
    assert rules("{remote_ip_prefix: 0.0.0.0/0}", "{remote_ip_prefix: '::/0'}") == (
        Rule(),
        Rule(ethertype="IPv6"),
    )


def test_icmp_on_ipv6_is_neutrons_ipv6_icmp() -> None:
    assert rules("{protocol: icmp, ethertype: IPv6}") == (
        Rule(ethertype="IPv6", protocol="ipv6-icmp"),
    )


def test_rules_that_mean_the_same_compare_equal() -> None:
    same = [
        "{protocol: tcp, port: 22}",
        "{protocol: tcp, ports: '22'}",
        "{protocol: tcp, ports: 22-22, direction: ingress, ethertype: IPv4}",
        "{protocol: tcp, port: 22, remote_ip_prefix: 0.0.0.0/0}",
    ]
    found = {rules(line)[0] for line in same}
    assert found == {Rule(protocol="tcp", port_min=22, port_max=22)}


def test_values_are_interpolated() -> None:
    env = {"RANGE": "9000-9100", "CIDR": "10.9.0.0/16", "PEER": "lb"}
    assert rules(
        "{protocol: tcp, ports: '${RANGE}', remote_ip_prefix: '${CIDR}'}",
        "{protocol: tcp, ports: '${SSH:-22}', remote_group: '${PEER}'}",
        env=env,
    ) == (
        Rule(protocol="tcp", port_min=9000, port_max=9100, remote_ip_prefix="10.9.0.0/16"),
        Rule(protocol="tcp", port_min=22, port_max=22, remote_group="lb"),
    )


def test_remote_group_is_kept_as_written() -> None:
    """A group of the spec or of the cloud (name or id): the plan resolves it, not the spec."""
    assert rules("{remote_group: web}", "{remote_group: 5f0c7d3e-cloud-group-id}") == (
        Rule(remote_group="web"),
        Rule(remote_group="5f0c7d3e-cloud-group-id"),
    )


def test_servers_still_list_group_names() -> None:
    text = (
        "version: 1\nstack: s\nsecurity_groups: {web: {}}\n"
        "servers: [{name: a, image: i, flavor: f, security_groups: [web, default]}]\n"
    )
    spec = parse_spec(text, "spec.yaml", environ={})
    assert spec.servers[0].security_groups == ("web", "default")
    assert [g.name for g in spec.security_groups] == ["web"]


def test_web_app_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    from declstack.spec import load_spec

    spec = load_spec("specs/web-app.yaml", environ={})
    assert [g.name for g in spec.security_groups] == ["admin", "app", "web"]
    admin, app, web = spec.security_groups
    assert admin.rules == (
        Rule(protocol="tcp", port_min=22, port_max=22, remote_ip_prefix="192.0.2.0/24"),
    )
    assert app.rules[0] == Rule(protocol="tcp", port_min=8000, port_max=8080, remote_group="web")
    assert [r.describe() for r in web.rules] == [
        "ingress tcp 80",
        "ingress tcp 443",
        "ingress tcp 443 (IPv6)",
        "egress any",
        "egress any (IPv6)",
    ]
    assert {s.name: s.security_groups for s in spec.servers}["app"] == ("app", "admin")
    env = {"ADMIN_CIDR": "198.51.100.0/24"}
    admin = load_spec("specs/web-app.yaml", environ=env).security_groups[0]
    assert admin.rules[0].remote_ip_prefix == "198.51.100.0/24"


# -- canonical_rule, for observed rules too ---------------------------------------------


@pytest.mark.parametrize(
    ("observed", "canonical"),
    [
        (
            Rule(protocol="6", port_min=22, port_max=22),
            Rule(protocol="tcp", port_min=22, port_max=22),
        ),
        (Rule(protocol="TCP", port_min=1, port_max=65535), Rule(protocol="tcp")),
        (Rule(protocol="any"), Rule()),
        (Rule(protocol="icmp", ethertype="IPv6"), Rule(protocol="ipv6-icmp", ethertype="IPv6")),
        (Rule(protocol="58", ethertype="IPv6"), Rule(protocol="ipv6-icmp", ethertype="IPv6")),
        (Rule(remote_ip_prefix="10.1.2.3/8"), Rule(remote_ip_prefix="10.0.0.0/8")),
        (Rule(remote_ip_prefix="0.0.0.0/0"), Rule()),
        (Rule(remote_ip_prefix="::/0", ethertype="IPv6"), Rule(ethertype="IPv6")),
        (Rule(remote_ip_prefix="not-a-cidr"), Rule(remote_ip_prefix="not-a-cidr")),
        (Rule(remote_group="id-1"), Rule(remote_group="id-1")),
    ],
)
def test_canonical_rule(observed: Rule, canonical: Rule) -> None:
    assert canonical_rule(observed) == canonical
    assert canonical_rule(canonical) == canonical


# -- invalid: the exact lines validate prints --------------------------------------------


def test_group_names() -> None:
    long = "n" * 256
    assert problems(f"default: {{}}\nDEFAULT: {{}}\n'': {{}}\n{long}: {{}}\n") == [
        "spec.yaml:5:3: security_groups.default: the name 'default' is reserved: Neutron "
        "gives every project its own 'default' group, which a stack cannot create or own; "
        "choose another name; got 'default'",
        "spec.yaml:6:3: security_groups.DEFAULT: the name 'default' is reserved: Neutron "
        "gives every project its own 'default' group, which a stack cannot create or own; "
        "choose another name; got 'DEFAULT'",
        'spec.yaml:7:3: security_groups[""]: security group names must be 1-255 characters '
        "(Neutron's limit); got ''",
        f"spec.yaml:8:3: security_groups.{long}: security group names must be 1-255 "
        f"characters (Neutron's limit); got '{long}'",
    ]


def test_group_shapes_and_unknown_keys() -> None:
    assert problems(
        "a: 7\nb: {rulez: []}\nc: {rules: {protocol: tcp}}\nd: {description: " + "x" * 256 + "}\n"
    ) == [
        "spec.yaml:5:6: security_groups.a: must be a mapping, got the number 7",
        "spec.yaml:6:7: security_groups.b.rulez: unknown key 'rulez' (did you mean 'rules'?)",
        "spec.yaml:7:14: security_groups.c.rules: must be a list, got a mapping",
        "spec.yaml:8:20: security_groups.d.description: must be at most 255 characters, got 256",
    ]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "{protocol: tcp, port: 0}",
            "spec.yaml:7:31: security_groups.g.rules[0].port: must be 1 or more, got 0",
        ),
        (
            "{protocol: tcp, port: 65536}",
            "spec.yaml:7:31: security_groups.g.rules[0].port: must be 65535 or less, got 65536",
        ),
        (
            "{protocol: tcp, ports: 8080-8000}",
            "spec.yaml:7:32: security_groups.g.rules[0].ports: ports '8080-8000' go backwards: "
            "write the lower port first (8000-8080)",
        ),
        (
            "{protocol: tcp, ports: 0-10}",
            "spec.yaml:7:32: security_groups.g.rules[0].ports: ports '0-10': port 0 is outside "
            "1-65535",
        ),
        (
            "{protocol: udp, ports: 1000-70000}",
            "spec.yaml:7:32: security_groups.g.rules[0].ports: ports '1000-70000': port 70000 "
            "is outside 1-65535",
        ),
        (
            "{protocol: tcp, ports: a-b}",
            "spec.yaml:7:32: security_groups.g.rules[0].ports: must be a port range like "
            '"8000-8080", or one port like "22"; got the string "a-b"',
        ),
        (
            "{protocol: tcp, ports: 8000:8080}",
            "spec.yaml:7:32: security_groups.g.rules[0].ports: must be a port range like "
            '"8000-8080", or one port like "22"; got the string "8000:8080"',
        ),
        (
            "{protocol: tcp, ports: 22}",
            "spec.yaml:7:32: security_groups.g.rules[0].ports: must be a string, got the "
            'number 22; quote it to keep it as text: "22"',
        ),
        (
            "{port: 22}",
            "spec.yaml:7:16: security_groups.g.rules[0].port: a port needs protocol tcp or udp, "
            "and this rule has no protocol (any): add 'protocol: tcp' (Neutron takes ports "
            "only with a protocol that has them)",
        ),
        (
            "{protocol: any, ports: 1-2}",
            "spec.yaml:7:32: security_groups.g.rules[0].ports: ports need protocol tcp or udp, "
            "and this rule has protocol any: add 'protocol: tcp' (Neutron takes ports only "
            "with a protocol that has them)",
        ),
        (
            "{protocol: icmp, port: 8}",
            "spec.yaml:7:32: security_groups.g.rules[0].port: protocol icmp takes no port: "
            "ICMP types and codes are not supported yet; drop port (the rule then allows all "
            "ICMP)",
        ),
        (
            "{protocol: tcp, port: 22, ports: 22-23}",
            "spec.yaml:7:35: security_groups.g.rules[0].ports: give port (one port) or ports "
            "(a range), not both",
        ),
        (
            "{protocol: TCP}",
            'spec.yaml:7:20: security_groups.g.rules[0].protocol: must be one of "tcp", "udp", '
            '"icmp", "any", got the string "TCP"',
        ),
        (
            "{direction: in}",
            'spec.yaml:7:21: security_groups.g.rules[0].direction: must be one of "ingress", '
            '"egress", got the string "in"',
        ),
        (
            "{ethertype: ipv4}",
            'spec.yaml:7:21: security_groups.g.rules[0].ethertype: must be one of "IPv4", '
            '"IPv6", got the string "ipv4"',
        ),
        (
            "{remote_ip_prefix: 10.0.0.300/8}",
            "spec.yaml:7:28: security_groups.g.rules[0].remote_ip_prefix: '10.0.0.300/8' is "
            "not a CIDR: write an IPv4 or IPv6 network such as 10.0.0.0/8, 192.0.2.7/32 or "
            "2001:db8::/32 (0.0.0.0/0 is anyone)",
        ),
        (
            "{remote_ip_prefix: 10.0.0.0/33}",
            "spec.yaml:7:28: security_groups.g.rules[0].remote_ip_prefix: '10.0.0.0/33' is "
            "not a CIDR: write an IPv4 or IPv6 network such as 10.0.0.0/8, 192.0.2.7/32 or "
            "2001:db8::/32 (0.0.0.0/0 is anyone)",
        ),
        (
            "{remote_ip_prefix: '2001:db8::/32', ethertype: IPv4}",
            "spec.yaml:7:28: security_groups.g.rules[0].remote_ip_prefix: 2001:db8::/32 is an "
            "IPv6 network, but the rule's ethertype is IPv4: set ethertype: IPv6, or drop "
            "ethertype (it then follows the prefix)",
        ),
        (
            "{remote_ip_prefix: 10.0.0.0/8, remote_group: web}",
            "spec.yaml:7:40: security_groups.g.rules[0].remote_group: give remote_ip_prefix "
            "or remote_group, not both (a Neutron rule has one remote; write two rules for "
            "both)",
        ),
        (
            "{remote_group: ''}",
            "spec.yaml:7:24: security_groups.g.rules[0].remote_group: must not be empty",
        ),
        (
            "{protcol: tcp}",
            "spec.yaml:7:10: security_groups.g.rules[0].protcol: unknown key 'protcol' "
            "(did you mean 'protocol'?)",
        ),
        (
            "{remote: web}",
            "spec.yaml:7:10: security_groups.g.rules[0].remote: unknown key 'remote' "
            "(did you mean 'remote_group'?)",
        ),
        ("5", "spec.yaml:7:9: security_groups.g.rules[0]: must be a mapping, got the number 5"),
    ],
)
def test_invalid_rules(rule: str, message: str) -> None:
    assert rule_problems(rule) == [message]


def test_duplicate_rules_point_at_the_second() -> None:
    assert rule_problems(
        "{protocol: tcp, port: 22}",
        "{protocol: udp, port: 22}",
        "{protocol: tcp, ports: '22', remote_ip_prefix: 0.0.0.0/0}",
    ) == [
        "spec.yaml:9:9: security_groups.g.rules[2]: the same rule as rules[0] at "
        "spec.yaml:7:9 (ingress tcp 22); Neutron keeps a rule once (a second one is refused: "
        "SecurityGroupRuleExists), so drop one of them",
    ]


def test_every_problem_is_reported_at_once() -> None:
    found = rule_problems("{port: 22}", "{protocol: tcp, ports: 9-1}", "{remote_ip_prefix: x}")
    assert [line.split(": ", 2)[:2] for line in found] == [
        ["spec.yaml:7:16", "security_groups.g.rules[0].port"],
        ["spec.yaml:8:32", "security_groups.g.rules[1].ports"],
        ["spec.yaml:9:28", "security_groups.g.rules[2].remote_ip_prefix"],
    ]
