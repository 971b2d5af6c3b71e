"""`floating_ip:` on a server entry (issue 8 item 2): parsed into `FloatingIpRequest`,
every problem reported where it is written."""

from __future__ import annotations

import pytest

from declstack.model import FloatingIpRequest
from declstack.spec import SpecError, parse_spec

pytestmark = pytest.mark.unit

HEADER = "version: 1\nstack: demo\ndefaults: {image: cirros, flavor: m1.tiny}\nservers:\n"
NO_NETWORK = "a server without a network has no port to put a floating IP on"


def requests(text: str, header: str = HEADER) -> dict[str, FloatingIpRequest | None]:
    spec = parse_spec(header + text, "spec.yaml")
    return {server.name: server.floating_ip for server in spec.servers}


def problems(text: str, header: str = HEADER) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(header + text, "spec.yaml")
    return [str(p) for p in caught.value.problems]


def test_the_forms_are_read() -> None:
    assert requests(
        "  - {name: a, floating_ip: true}\n"
        "  - {name: b, count: 2, floating_ip: {network: public}}\n"
        "  - {name: c, floating_ip: {address: 203.0.113.7}}\n"
        "  - {name: d, floating_ip: false}\n"
        "  - {name: e}\n"
        "  - {name: f, count: 1, floating_ip: {address: '2001:db8:0::0:7'}}\n"
    ) == {
        "a": FloatingIpRequest(),
        # every replica of a count group gets its own
        "b-1": FloatingIpRequest(network="public"),
        "b-2": FloatingIpRequest(network="public"),
        "c": FloatingIpRequest(address="203.0.113.7"),
        "d": None,
        "e": None,
        "f-1": FloatingIpRequest(address="2001:db8::7"),  # normalised
    }


def test_defaults_give_every_server_one_and_false_opts_out() -> None:
    header = (
        "version: 1\nstack: demo\n"
        "defaults: {image: cirros, flavor: m1.tiny, floating_ip: {network: public}}\nservers:\n"
    )
    assert requests(
        "  - {name: a}\n"
        "  - {name: b, floating_ip: false}\n"
        "  - {name: c, floating_ip: true}\n"
        "  - {name: d, networks: none, floating_ip: false}\n",
        header,
    ) == {
        "a": FloatingIpRequest(network="public"),
        "b": None,
        "c": FloatingIpRequest(),
        "d": None,
    }


def test_bad_addresses_are_refused_where_they_are_written() -> None:
    assert problems(
        "  - {name: a, floating_ip: {address: 203.0.113.300}}\n"
        "  - {name: b, count: 3, floating_ip: {address: 203.0.113.7}}\n"
        "  - {name: c, floating_ip: {address: 203.0.113.8}}\n"
        "  - {name: d, floating_ip: {address: 203.0.113.008}}\n"
        "  - {name: e, floating_ip: {address: 203.0.113.8}}\n"
    ) == [
        "spec.yaml:5:38: servers[0].floating_ip.address: '203.0.113.300' is not an IPv4 or "
        "IPv6 address (write the floating IP to claim, such as 203.0.113.7)",
        "spec.yaml:6:48: servers[1].floating_ip.address: floating IP 203.0.113.7 would be "
        "claimed for all 3 servers of this entry, and one address can go to one server only: "
        "claim it on an entry of its own without count, or write floating_ip: true (each "
        "server then gets its own)",
        "spec.yaml:8:38: servers[3].floating_ip.address: '203.0.113.008' is not an IPv4 or "
        "IPv6 address (write the floating IP to claim, such as 203.0.113.7)",
        "spec.yaml:9:38: servers[4].floating_ip.address: floating IP 203.0.113.8 is already "
        "claimed by another server (at servers[2].floating_ip.address); one address, one server",
    ]


def test_one_address_is_compared_normalised() -> None:
    assert problems(
        "  - {name: a, floating_ip: {address: '2001:db8::7'}}\n"
        "  - {name: b, floating_ip: {address: '2001:DB8:0::7'}}\n"
    ) == [
        "spec.yaml:6:38: servers[1].floating_ip.address: floating IP 2001:db8::7 is already "
        "claimed by another server (at servers[0].floating_ip.address); one address, one server",
    ]


def test_an_address_in_defaults_goes_to_one_server_only() -> None:
    header = (
        "version: 1\nstack: demo\n"
        "defaults: {image: cirros, flavor: m1.tiny, floating_ip: {address: 198.51.100.1}}\n"
        "servers:\n"
    )
    assert requests("  - {name: a}\n  - {name: b, floating_ip: true}\n", header) == {
        "a": FloatingIpRequest(address="198.51.100.1"),
        "b": FloatingIpRequest(),
    }
    assert problems("  - {name: a}\n  - {name: b}\n  - {name: c, count: 2}\n", header) == [
        "spec.yaml:3:67: defaults.floating_ip.address: floating IP 198.51.100.1 from defaults "
        "would be claimed by servers[0] and servers[1], and one address can go to one server "
        "only: claim it on one server's entry instead",
        "spec.yaml:3:67: defaults.floating_ip.address: floating IP 198.51.100.1 would be "
        "claimed for all 2 servers of servers[2], and one address can go to one server only: "
        "claim it on an entry of its own without count, or write floating_ip: true (each "
        "server then gets its own)",
    ]


def test_network_and_address_together_are_refused() -> None:
    assert problems(
        "  - {name: a, floating_ip: {network: public, address: 203.0.113.8}}\n"
        "  - {name: b, floating_ip: {address: 203.0.113.9, network: public}}\n"
    ) == [
        "spec.yaml:5:46: servers[0].floating_ip.address: give address (claim that existing "
        "floating IP) or network (allocate a new one from it), not both: a claimed floating "
        "IP already has its network",
        "spec.yaml:6:51: servers[1].floating_ip.network: give address (claim that existing "
        "floating IP) or network (allocate a new one from it), not both: a claimed floating "
        "IP already has its network",
    ]


def test_malformed_values_and_unknown_keys() -> None:
    assert problems(
        "  - {name: a, floating_ip: {adress: 203.0.113.8}}\n"
        "  - {name: b, floating_ip: {}}\n"
        "  - {name: c, floating_ip: public}\n"
        "  - {name: d, floating_ip: null}\n"
        "  - {name: e, floating_ip: {address: 7}}\n"
        "  - {name: f, floating_ip: {pool: public}}\n"
        "  - {name: g, floating_ip: {network: ''}}\n"
        "  - {name: h, floating_ip: {address: ''}}\n"
    ) == [
        "spec.yaml:5:29: servers[0].floating_ip.adress: unknown key 'adress' "
        "(did you mean 'address'?)",
        "spec.yaml:6:28: servers[1].floating_ip: give network (allocate a floating IP from it) "
        "or address (claim that floating IP), or write floating_ip: true",
        "spec.yaml:7:28: servers[2].floating_ip: must be true, false, {network: NAME} or "
        '{address: IP}; got the string "public"',
        "spec.yaml:8:28: servers[3].floating_ip: must be true, false, {network: NAME} or "
        "{address: IP}; got null (an empty value)",
        "spec.yaml:9:38: servers[4].floating_ip.address: must be a string, got the number 7; "
        'quote it to keep it as text: "7"',
        "spec.yaml:10:29: servers[5].floating_ip.pool: unknown key 'pool' "
        "(expected one of: network, address)",
        "spec.yaml:11:38: servers[6].floating_ip.network: must not be empty",
        "spec.yaml:12:38: servers[7].floating_ip.address: must not be empty",
    ]


def test_unknown_keys_next_to_floating_ip_get_suggestions() -> None:
    assert problems("  - {name: a, floating_ips: true}\n") == [
        "spec.yaml:5:15: servers[0].floating_ips: unknown key 'floating_ips' "
        "(did you mean 'floating_ip'?)",
    ]
    top = "version: 1\nstack: demo\nfloating_ip: true\nservers: []\n"
    with pytest.raises(SpecError) as caught:
        parse_spec(top, "spec.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "spec.yaml:3:1: floating_ip: unknown key 'floating_ip' (server settings go under "
        "'defaults:' or an entry of 'servers:')",
    ]


def test_a_server_without_network_cannot_have_one() -> None:
    assert problems(
        "  - {name: a, networks: none, floating_ip: true}\n"
        "  - {name: b, networks: none, floating_ip: false}\n"
        "  - {name: c, networks: auto, floating_ip: {network: public}}\n"
    ) == [
        f"spec.yaml:5:44: servers[0].floating_ip: {NO_NETWORK}: this server has networks: "
        "none; drop floating_ip, or give the server a network",
    ]


@pytest.mark.parametrize(
    ("defaults", "servers", "expected"),
    [
        (
            "floating_ip: true",
            "  - {name: a, networks: none}\n  - {name: b}\n",
            f"spec.yaml:5:25: servers[0].networks: {NO_NETWORK}, and defaults.floating_ip "
            "gives this server one: add floating_ip: false to this server, or give it a network",
        ),
        (
            "networks: none",
            "  - {name: a, floating_ip: true}\n  - {name: b}\n",
            f"spec.yaml:5:28: servers[0].floating_ip: {NO_NETWORK}: this server has networks: "
            "none (from defaults); drop floating_ip, or give the server a network",
        ),
        (
            "networks: none, floating_ip: true",
            "  - {name: a}\n  - {name: b}\n  - {name: c, networks: [private]}\n",
            f"spec.yaml:3:73: defaults.floating_ip: {NO_NETWORK}: defaults give the servers "
            "networks: none; drop floating_ip from defaults, or give the servers a network",
        ),
    ],
)
def test_networks_none_and_floating_ip_from_defaults(
    defaults: str, servers: str, expected: str
) -> None:
    header = (
        f"version: 1\nstack: demo\ndefaults: {{image: cirros, flavor: m1.tiny, {defaults}}}\n"
        "servers:\n"
    )
    assert problems(servers, header) == [expected]
