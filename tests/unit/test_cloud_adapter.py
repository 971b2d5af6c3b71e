"""The adapter's own guards, on a stub connection: paging that does not advance,
and retries that stop at the retry budget instead of outliving --timeout."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from declstack.cloud import CloudError, OpenStackCloud
from declstack.ownership import stack_tag
from declstack.waiting import Clock

pytestmark = pytest.mark.unit


class Instant:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def clock(self) -> Clock:
        return Clock(now=lambda: self.t, sleep=self.sleep)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def response(status: int, body: dict[str, Any], **headers: str) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer.headers.update(headers)
    answer._content = json.dumps(body).encode()
    return answer


class Compute:
    """Answers GETs from a list of canned responses, recording the query of each."""

    def __init__(self, answers: list[requests.Response]) -> None:
        self.answers = answers
        self.queries: list[dict[str, str]] = []

    def get(
        self, path: str, params: dict[str, str], microversion: str | None, raise_exc: bool = True
    ) -> Any:
        self.queries.append(dict(params))
        return self.answers[min(len(self.queries), len(self.answers)) - 1]


class Conn:
    def __init__(self, compute: Compute) -> None:
        self.compute = compute


def adapter(compute: Compute, instant: Instant, budget: float = 300.0) -> OpenStackCloud:
    cloud = OpenStackCloud(Conn(compute), clock=instant.clock(), retry_budget=budget)
    cloud._version = "2.100"  # no version discovery against the stub
    return cloud


def page(*ids: str) -> dict[str, Any]:
    servers = [
        {"id": i, "name": i, "status": "ACTIVE", "metadata": {"declstack:stack": "demo"}}
        for i in ids
    ]
    return {"servers": servers, "servers_links": [{"rel": "next", "href": "..."}]}


def test_paging_stops_with_an_error_when_the_marker_repeats() -> None:
    # A broken cloud answers every page with the same servers and a `next` link.
    compute = Compute([response(200, page("a", "b"))])
    with pytest.raises(CloudError) as caught:
        adapter(compute, Instant()).list_stack_servers("demo")
    assert caught.value.message == (
        "list servers: the cloud's paging does not advance (marker 'b' repeated)"
    )
    assert [q.get("marker") for q in compute.queries] == [None, "b"]
    assert compute.queries[0]["tags"] == stack_tag("demo")


def test_paging_follows_markers_until_a_page_without_next() -> None:
    last = {"servers": page("c")["servers"], "servers_links": []}
    compute = Compute([response(200, page("a", "b")), response(200, last)])
    found = adapter(compute, Instant()).list_stack_servers("demo")
    assert [s.id for s in found] == ["a", "b", "c"]


def test_retries_give_up_when_the_next_wait_would_pass_the_budget() -> None:
    busy = response(503, {"error": {"message": "busy"}}, **{"Retry-After": "4"})
    compute = Compute([busy])
    instant = Instant()
    with pytest.raises(CloudError) as caught:
        adapter(compute, instant, budget=10.0).list_stack_servers("demo")
    assert caught.value.message == "list servers: busy (HTTP 503)"
    assert instant.slept == [4.0, 4.0]  # a third wait would end at 12 s > 10 s
    assert len(compute.queries) == 3


def test_a_server_body_gives_floating_addresses_and_group_names() -> None:
    from declstack.cloud import to_observed

    body = {
        "id": "s1",
        "name": "web-1",
        "status": "ACTIVE",
        "addresses": {
            "private": [
                {"addr": "10.0.0.5", "OS-EXT-IPS:type": "fixed", "version": 4},
                {"addr": "203.0.113.20", "OS-EXT-IPS:type": "floating", "version": 4},
            ]
        },
        # Nova lists a group once per port: two ports, two entries.
        "security_groups": [{"name": "default"}, {"name": "web"}, {"name": "default"}],
    }
    server = to_observed(body)
    assert server.addresses == (("private", "10.0.0.5"), ("private", "203.0.113.20"))
    assert server.floating_ips == ("203.0.113.20",)
    assert server.security_groups == ("default", "web")
    assert to_observed({"id": "s2", "name": "x", "status": "BUILD"}).security_groups is None
