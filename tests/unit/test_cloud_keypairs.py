"""The adapter's key pair calls on a stub compute proxy: paging by name, the mapping,
the create that is resent after an answer that may hide a success (a 409 then is our
own key pair, one before any resend is somebody else's), and delete where gone is
success."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import requests

from declstack.cloud import CloudError, OpenStackCloud, to_observed_keypair
from declstack.model import ObservedKeypair

from .test_cloud_security_groups import Instant, response

pytestmark = pytest.mark.unit

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ8wqY6Pz6Pq declstack:stack=demo"
NEXT = [{"rel": "next", "href": "http://cloud/compute/v2.1/os-keypairs?limit=1000&marker=b"}]
EXISTS = {"conflictingRequest": {"code": 409, "message": "Key pair 'deploy' already exists."}}


def keypair(name: str, public_key: str = KEY, **extra: Any) -> dict[str, Any]:
    """A list entry as Nova answers it at >= 2.2 (nested in {"keypair": ...})."""
    return {
        "keypair": {
            "name": name,
            "public_key": public_key,
            "fingerprint": "aa:bb",
            "type": "ssh",
            **extra,
        }
    }


@dataclass
class Sent:
    method: str
    path: str
    params: dict[str, str] | None
    body: dict[str, Any] | None
    microversion: str | None


class Compute:
    """Answers every request with the next canned response (the last one repeats)."""

    def __init__(self, answers: list[requests.Response]) -> None:
        self.answers = answers
        self.sent: list[Sent] = []

    def _answer(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        self.sent.append(
            Sent(method, path, kwargs.get("params"), kwargs.get("json"), kwargs["microversion"])
        )
        return self.answers[min(len(self.sent), len(self.answers)) - 1]

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self._answer("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        assert kwargs.pop("raise_exc") is False
        return self._answer("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        assert kwargs.pop("raise_exc") is False
        return self._answer("DELETE", path, **kwargs)


class Conn:
    def __init__(self, compute: Compute) -> None:
        self.compute = compute


def adapter(compute: Compute, version: str | None = "2.100") -> OpenStackCloud:
    cloud = OpenStackCloud(Conn(compute), clock=Instant().clock(), retry_budget=300.0)
    cloud._version = version  # no version discovery against the stub
    return cloud


def test_the_list_follows_next_links_with_names_as_markers() -> None:
    compute = Compute(
        [
            response(200, {"keypairs": [keypair("a"), keypair("b")], "keypairs_links": NEXT}),
            response(200, {"keypairs": [keypair("c")]}),
        ]
    )
    found = adapter(compute).list_keypairs()
    assert [k.name for k in found] == ["a", "b", "c"]
    assert [(s.method, s.path, s.microversion) for s in compute.sent] == [
        ("GET", "/os-keypairs", "2.100")
    ] * 2
    assert [s.params for s in compute.sent] == [
        {"limit": "1000"},
        {"limit": "1000", "marker": "b"},
    ]


def test_the_list_stops_with_an_error_when_the_marker_repeats() -> None:
    page = {"keypairs": [keypair("a"), keypair("b")], "keypairs_links": NEXT}
    compute = Compute([response(200, page)])
    with pytest.raises(CloudError) as caught:
        adapter(compute).list_keypairs()
    assert "marker 'b' repeated" in caught.value.message
    assert len(compute.sent) == 2


def test_an_empty_list_is_one_request() -> None:
    compute = Compute([response(200, {"keypairs": []})])
    assert adapter(compute).list_keypairs() == []
    assert len(compute.sent) == 1


def test_the_mapping_defaults_the_type_to_ssh_before_2_2() -> None:
    assert to_observed_keypair(keypair("me@laptop")["keypair"]) == ObservedKeypair(
        name="me@laptop", public_key=KEY, type="ssh"
    )
    assert to_observed_keypair(keypair("x", type="x509")["keypair"]).type == "x509"
    old = {"name": "old", "public_key": KEY, "fingerprint": "aa:bb"}
    assert to_observed_keypair(old) == ObservedKeypair(name="old", public_key=KEY)


def test_create_imports_the_key_as_ssh() -> None:
    compute = Compute([response(201, {"keypair": keypair("deploy")["keypair"]})])
    adapter(compute).create_keypair("deploy", KEY)
    (sent,) = compute.sent
    assert (sent.method, sent.path, sent.microversion) == ("POST", "/os-keypairs", "2.100")
    assert sent.body == {"keypair": {"name": "deploy", "public_key": KEY, "type": "ssh"}}


def test_create_sends_no_type_before_2_2() -> None:
    compute = Compute([response(200, {"keypair": keypair("deploy")["keypair"]})])
    adapter(compute, version=None).create_keypair("deploy", KEY)
    assert compute.sent[0].body == {"keypair": {"name": "deploy", "public_key": KEY}}


def test_a_409_on_the_first_attempt_is_somebody_elses_key_pair() -> None:
    compute = Compute([response(409, EXISTS)])
    with pytest.raises(CloudError) as caught:
        adapter(compute).create_keypair("deploy", KEY)
    assert caught.value.status == 409
    assert "Key pair 'deploy' already exists." in caught.value.message
    assert caught.value.hint is not None and "did not make it" in caught.value.hint
    assert len(compute.sent) == 1  # no resend, no lookup


def test_a_409_after_a_resend_is_our_earlier_attempt() -> None:
    compute = Compute(
        [
            response(502, {"computeFault": {"code": 502, "message": "Bad Gateway"}}),
            response(409, EXISTS),
            response(200, keypair("deploy")),  # the show: our key
        ]
    )
    adapter(compute).create_keypair("deploy", KEY)
    assert [(s.method, s.path) for s in compute.sent] == [
        ("POST", "/os-keypairs"),
        ("POST", "/os-keypairs"),
        ("GET", "/os-keypairs/deploy"),
    ]


def test_a_409_after_a_resend_with_another_key_there_is_an_error() -> None:
    compute = Compute(
        [
            response(503, {"computeFault": {"code": 503, "message": "Unavailable"}}),
            response(409, EXISTS),
            response(200, keypair("deploy", public_key="ssh-ed25519 AAAAother someone")),
        ]
    )
    with pytest.raises(CloudError) as caught:
        adapter(compute).create_keypair("deploy", KEY)
    assert caught.value.status == 409
    assert len(compute.sent) == 3


def test_delete_percent_encodes_the_name_and_gone_is_success() -> None:
    gone = {"itemNotFound": {"code": 404, "message": "Keypair me @x not found for user u"}}
    compute = Compute([response(404, gone)])
    adapter(compute).delete_keypair("me @x")
    (sent,) = compute.sent
    assert (sent.method, sent.path) == ("DELETE", "/os-keypairs/me%20%40x")


def test_delete_fails_on_other_errors() -> None:
    compute = Compute([response(403, {"forbidden": {"code": 403, "message": "Policy"}})])
    with pytest.raises(CloudError) as caught:
        adapter(compute).delete_keypair("deploy")
    assert caught.value.status == 403
