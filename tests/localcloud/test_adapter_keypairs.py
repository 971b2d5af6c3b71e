"""The adapter's key pair calls over HTTP against the local cloud's Nova: import, list
(paged by name from 2.35, as Nova pages it), a name taken before, delete with a name
that needs percent-encoding; and the local cloud's own answers to the raw calls."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from declstack import credentials
from declstack.cloud import CloudError, OpenStackCloud
from declstack.model import ObservedKeypair
from declstack_localcloud import LocalCloud, keys
from declstack_localcloud.formats import now

from .conftest import Api

pytestmark = pytest.mark.integration


def _public_key(comment: str = "declstack:stack=demo") -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{line.decode()} {comment}"


@pytest.fixture
def adapter(cloud: LocalCloud) -> Iterator[OpenStackCloud]:
    conn = credentials.connect_with_config(cloud.cloud_config())
    yield OpenStackCloud(conn, retry_budget=10.0)
    conn.close()


def _add_many(cloud: LocalCloud, count: int) -> None:
    """`count` more key pairs for the demo user, straight into the store (fast)."""
    public_key = _public_key()
    with cloud.store.write() as conn:
        user_id = conn.execute("SELECT user_id FROM keypairs WHERE name = 'default'").fetchone()[0]
        conn.executemany(
            "INSERT INTO keypairs (user_id, name, type, public_key, fingerprint, created_at)"
            " VALUES (?, ?, 'ssh', ?, ?, ?)",
            [
                (user_id, f"k{i:04d}", public_key, keys.fingerprint(public_key), now())
                for i in range(count)
            ],
        )


def test_import_list_taken_name_and_delete(adapter: OpenStackCloud) -> None:
    (seeded,) = adapter.list_keypairs()
    assert (seeded.name, seeded.type) == ("default", "ssh")

    public_key = _public_key()
    adapter.create_keypair("ops @laptop", public_key)
    listed = adapter.list_keypairs()
    assert ObservedKeypair(name="ops @laptop", public_key=public_key) in listed
    assert [k.name for k in listed] == ["default", "ops @laptop"]

    with pytest.raises(CloudError) as caught:
        adapter.create_keypair("ops @laptop", public_key)  # first attempt: not ours
    assert caught.value.status == 409
    assert "Key pair 'ops @laptop' already exists." in caught.value.message
    assert caught.value.hint is not None and "already exists" in caught.value.hint

    adapter.delete_keypair("ops @laptop")
    adapter.delete_keypair("ops @laptop")  # gone already: success
    assert [k.name for k in adapter.list_keypairs()] == ["default"]


def test_the_list_follows_pages_past_a_thousand(cloud: LocalCloud, adapter: OpenStackCloud) -> None:
    _add_many(cloud, 1500)
    names = [k.name for k in adapter.list_keypairs()]
    assert names == ["default", *(f"k{i:04d}" for i in range(1500))]


def test_import_answers_201_from_2_2_and_200_before(api: Api) -> None:
    for version, status, name in (("2.1", 200, "old"), ("2.2", 201, "new")):
        body = {"keypair": {"name": name, "public_key": _public_key()}}
        made = api.request("POST", "/compute/v2.1/os-keypairs", version, json=body)
        assert made.status_code == status, made.text
        assert ("type" in made.json()["keypair"]) is (version == "2.2")
    deleted = api.request("DELETE", "/compute/v2.1/os-keypairs/old", "2.1")
    assert deleted.status_code == 202
    deleted = api.request("DELETE", "/compute/v2.1/os-keypairs/new", "2.2")
    assert deleted.status_code == 204


def test_list_pages_by_name_from_2_35(cloud: LocalCloud, api: Api) -> None:
    _add_many(cloud, 3)  # default, k0000, k0001, k0002
    first = api.request("GET", "/compute/v2.1/os-keypairs?limit=2", "2.35")
    assert first.status_code == 200, first.text
    body = first.json()
    assert [k["keypair"]["name"] for k in body["keypairs"]] == ["default", "k0000"]
    (link,) = body["keypairs_links"]
    assert link["rel"] == "next"
    assert parse_qs(urlsplit(link["href"]).query) == {"limit": ["2"], "marker": ["k0000"]}
    assert urlsplit(link["href"]).path.endswith("/v2.1/os-keypairs")

    last = api.request("GET", "/compute/v2.1/os-keypairs?limit=2&marker=k0000", "2.35").json()
    assert [k["keypair"]["name"] for k in last["keypairs"]] == ["k0001", "k0002"]
    assert "keypairs_links" in last  # a full page: Nova links on even if nothing follows
    end = api.request("GET", "/compute/v2.1/os-keypairs?limit=2&marker=k0002", "2.35").json()
    assert end == {"keypairs": []}

    unpaged = api.request("GET", "/compute/v2.1/os-keypairs", "2.35").json()
    assert len(unpaged["keypairs"]) == 4 and "keypairs_links" not in unpaged

    bad = api.request("GET", "/compute/v2.1/os-keypairs?marker=nope", "2.35")
    assert bad.status_code == 400
    assert bad.json()["badRequest"]["message"] == "Marker nope could not be found."
    negative = api.request("GET", "/compute/v2.1/os-keypairs?limit=-1", "2.35")
    assert negative.status_code == 400

    # Before 2.35 Nova has no paging: limit and marker are ignored.
    old = api.request("GET", "/compute/v2.1/os-keypairs?limit=1&marker=nope", "2.34").json()
    assert len(old["keypairs"]) == 4 and "keypairs_links" not in old
