"""Cinder v3 and Nova's volume APIs on the local cloud, as realstack's Cinder 29 / Nova 34
answer them: volumes, types, extend, quotas, attachments, boot from volume."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
import requests

from declstack_localcloud import LocalCloud

from .conftest import Api, Cli, issue_token, wait_until

pytestmark = pytest.mark.integration

VOLUME = "/volume/v3"
ZERO_UUID = "00000000-0000-0000-0000-000000000000"


class Volumes:
    """Raw block-storage and compute calls with a demo token, for exact codes and bodies."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def call(
        self, method: str, path: str, version: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if version is not None:
            headers["OpenStack-API-Version"] = f"volume {version}"
        return self.api.request(method, VOLUME + path, headers=headers, **kwargs)

    def create(self, version: str | None = None, **volume: Any) -> dict[str, Any]:
        response = self.call("POST", "/volumes", version, json={"volume": {"size": 1, **volume}})
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()["volume"]
        return body

    def show(self, volume_id: str, version: str | None = None) -> dict[str, Any]:
        response = self.call("GET", f"/volumes/{volume_id}", version)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()["volume"]
        return body

    def wait(self, volume_id: str, status: str, version: str | None = None) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            volume = self.show(volume_id, version)
            return volume if volume["status"] == status else None

        return wait_until(reached, f"volume {volume_id} to be {status}")

    def statuses(self, volume_id: str, until: str) -> list[str]:
        """Every status seen while polling, until `until` (each listed once, in order)."""
        seen: list[str] = []

        def reached() -> bool:
            status = self.show(volume_id)["status"]
            if not seen or seen[-1] != status:
                seen.append(status)
            return status == until

        wait_until(reached, f"volume {volume_id} to be {until}", interval=0.02)
        return seen

    def gone(self, volume_id: str) -> None:
        wait_until(
            lambda: self.call("GET", f"/volumes/{volume_id}").status_code == 404,
            f"volume {volume_id} to be gone",
        )

    def server(self, name: str = "vm", **extra: Any) -> str:
        server = self.api.boot(name, version="2.37", networks="auto", **extra)
        server_id = str(server["id"])
        self.wait_server(server_id, "ACTIVE")
        return server_id

    def wait_server(self, server_id: str, status: str) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            body = self.api.request("GET", f"/compute/v2.1/servers/{server_id}", "2.100").json()
            server: dict[str, Any] = body["server"]
            return server if server["status"] == status else None

        return wait_until(reached, f"server {server_id} to be {status}")

    def attach(
        self, server_id: str, volume_id: str, version: str = "2.1", **extra: Any
    ) -> requests.Response:
        return self.api.request(
            "POST",
            f"/compute/v2.1/servers/{server_id}/os-volume_attachments",
            version,
            json={"volumeAttachment": {"volumeId": volume_id, **extra}},
        )

    def detach(self, server_id: str, volume_id: str) -> requests.Response:
        return self.api.request(
            "DELETE", f"/compute/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}"
        )


def _error(response: requests.Response, status: int, name: str) -> str:
    assert response.status_code == status, response.text
    fault = response.json()[name]
    assert fault["code"] == status
    return str(fault["message"])


@pytest.fixture
def vol(api: Api) -> Volumes:
    return Volumes(api)


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[Volumes]:
    """1 s per volume transition (2 s boots) so every intermediate status can be seen."""
    with (
        LocalCloud(state_path=tmp_path / "slow.sqlite", boot_seconds=2.0, delete_seconds=1.0) as c,
        requests.Session() as session,
    ):
        yield Volumes(Api(c, issue_token(c), session))


# ---- discovery, microversions -------------------------------------------------------------


def test_catalog_and_version_discovery_as_cinder_answers(cloud: LocalCloud, vol: Volumes) -> None:
    conn = openstack.connect(auth_type="password", **cloud.cloud_config())
    try:
        types = {
            entry["type"]: entry
            for entry in conn.session.auth.get_access(conn.session).service_catalog.catalog
        }
        assert types["block-storage"]["name"] == "cinder"
        assert types["volumev3"]["name"] == "cinderv3"
        assert types["block-storage"]["endpoints"][0]["url"] == f"{cloud.url}/volume/v3"
        assert conn.block_storage.get_endpoint() == f"{cloud.url}/volume/v3"
    finally:
        conn.close()
    root = requests.get(f"{cloud.url}/volume/", timeout=5)
    assert root.status_code == 300
    (version,) = root.json()["versions"]
    assert (version["id"], version["status"], version["version"], version["min_version"]) == (
        "v3.0",
        "CURRENT",
        "3.71",
        "3.0",
    )
    assert {"rel": "self", "href": f"{cloud.url}/volume/v3/"} in version["links"]
    assert requests.get(f"{cloud.url}/volume/v3/", timeout=5).status_code == 401
    with_token = vol.call("GET", "/")
    assert with_token.status_code == 200 and with_token.json() == root.json()


def test_microversions_are_echoed_and_checked(vol: Volumes) -> None:
    assert vol.call("GET", "/volumes").headers["OpenStack-API-Version"] == "volume 3.0"
    latest = vol.call("GET", "/volumes", "latest")
    assert latest.headers["OpenStack-API-Version"] == "volume 3.71"
    assert latest.headers["Vary"] == "OpenStack-API-Version"
    assert _error(vol.call("GET", "/volumes", "3.99"), 406, "computeFault") == (
        "Version 3.99 is not supported by the API. Minimum is 3.0 and maximum is 3.71."
    )
    assert _error(vol.call("GET", "/volumes", "3.x"), 400, "badRequest") == (
        "API Version String 3.x is of invalid format. Must be of format MajorNum.MinorNum."
    )


def test_the_project_in_the_url_must_be_the_tokens(vol: Volumes, cloud: LocalCloud) -> None:
    project = vol.api.request(
        "GET", "/identity/v3/auth/tokens", headers={"X-Subject-Token": vol.api.token}
    ).json()["token"]["project"]["id"]
    assert vol.api.request("GET", f"/volume/v3/{project}/volumes").status_code == 200
    other = vol.api.request("GET", "/volume/v3/0123456789abcdef/volumes")
    assert _error(other, 400, "badRequest") == "Malformed request url"


# ---- volumes ------------------------------------------------------------------------------


def test_create_goes_creating_then_available_with_cinders_fields(slow: Volumes) -> None:
    created = slow.create(name=" data ", description="d", metadata={"role": "db"})
    assert created["status"] == "creating"
    assert created["updated_at"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", created["created_at"])
    assert (created["name"], created["volume_type"], created["bootable"]) == (
        "data",
        "standard",
        "false",
    )
    assert "os-vol-tenant-attr:tenant_id" not in created  # create is not extended
    assert slow.statuses(created["id"], "available") == ["creating", "available"]
    shown = slow.show(created["id"], "3.71")
    assert shown["created_at"].endswith(".000000"), "read back from MySQL: whole seconds"
    assert shown["attachments"] == [] and shown["metadata"] == {"role": "db"}
    assert shown["os-vol-tenant-attr:tenant_id"] and shown["consumes_quota"] is True
    assert (shown["shared_targets"], shown["multiattach"], shown["encrypted"]) == (
        False,
        False,
        False,
    )
    assert shown["volume_type_id"] and "os-vol-host-attr:host" not in shown


def test_create_refusals(vol: Volumes) -> None:
    def refused(version: str | None = None, **volume: Any) -> requests.Response:
        return vol.call("POST", "/volumes", version, json={"volume": volume})

    assert _error(refused(size=0), 400, "badRequest") == (
        "Invalid input for field/attribute size. Value: 0. 0 is less than the minimum of 1"
    )
    assert _error(refused(size="x"), 400, "badRequest") == (
        "Invalid input for field/attribute size. Value: x. 'x' does not match '^[0-9]+$'"
    )
    assert _error(refused(name="no size"), 400, "badRequest").startswith(
        "The server could not comply with the request"
    )
    assert _error(refused(size=1, volume_type="fast"), 404, "itemNotFound") == (
        "Volume type with name fast could not be found."
    )
    assert _error(refused(size=1, volume_type=ZERO_UUID), 404, "itemNotFound") == (
        f"Volume type {ZERO_UUID} could not be found."
    )
    assert _error(refused("3.71", size=1, colour="red"), 400, "badRequest").endswith(
        "Additional properties are not allowed ('colour' was unexpected)"
    )
    assert refused("3.52", size=1, colour="red").status_code == 202, "extra keys pass before 3.53"
    assert _error(refused(size=1, multiattach=True), 400, "badRequest").startswith(
        "multiattach parameter has been removed."
    )
    assert _error(refused(size=1, availability_zone="mars"), 400, "badRequest") == (
        "Availability zone 'mars' is invalid."
    )
    assert _error(refused(size=1, imageRef=ZERO_UUID), 400, "badRequest") == (
        "Invalid image identifier or unable to access requested image."
    )
    assert _error(refused(size=1, snapshot_id=ZERO_UUID), 404, "itemNotFound") == (
        f"Snapshot {ZERO_UUID} could not be found."
    )


def test_a_volume_from_an_image_downloads_and_is_bootable(slow: Volumes) -> None:
    image = slow.api.image_id("cirros")
    created = slow.create(imageRef=image)
    assert slow.statuses(created["id"], "available") == ["creating", "downloading", "available"]
    shown = slow.show(created["id"])
    assert shown["bootable"] == "true"
    assert shown["volume_image_metadata"]["image_id"] == image
    assert shown["volume_image_metadata"]["image_name"] == "cirros"


def test_list_detail_paging_and_filters(vol: Volumes) -> None:
    ids = [vol.create(name=f"v{i}", metadata={"i": str(i)})["id"] for i in range(3)]
    for volume_id in ids:
        vol.wait(volume_id, "available")
    summary = vol.call("GET", "/volumes").json()["volumes"]
    assert [v["id"] for v in summary] == ids[::-1], "newest first"
    assert set(summary[0]) == {"id", "name", "links"}
    page = vol.call("GET", "/volumes/detail?limit=2").json()
    assert [v["id"] for v in page["volumes"]] == ids[:0:-1]
    (link,) = page["volumes_links"]
    assert link["rel"] == "next" and f"marker={ids[1]}" in link["href"]
    rest = vol.call("GET", f"/volumes/detail?limit=2&marker={ids[1]}").json()
    assert [v["id"] for v in rest["volumes"]] == [ids[0]] and "volumes_links" not in rest
    assert _error(vol.call("GET", f"/volumes?marker={ZERO_UUID}"), 404, "itemNotFound") == (
        f"Volume {ZERO_UUID} could not be found."
    )
    assert [v["id"] for v in vol.call("GET", "/volumes?name=v1").json()["volumes"]] == [ids[1]]
    assert vol.call("GET", "/volumes?name=v").json()["volumes"] == [], "names match exactly"
    by_meta = vol.call("GET", "/volumes", params={"metadata": "{'i': '2'}"}).json()["volumes"]
    assert [v["id"] for v in by_meta] == [ids[2]]
    assert len(vol.call("GET", "/volumes?status=available").json()["volumes"]) == 3
    assert vol.call("GET", "/volumes?status=in-use").json()["volumes"] == []
    assert _error(vol.call("GET", "/volumes?colour=red", "3.71"), 400, "badRequest") == (
        "Invalid filters colour are found in query options."
    )
    assert len(vol.call("GET", "/volumes?colour=red", "3.30").json()["volumes"]) == 3
    counted = vol.call("GET", "/volumes?with_count=true&limit=1", "3.45").json()
    assert counted["count"] == 3 and len(counted["volumes"]) == 1
    assert _error(vol.call("GET", "/volumes?limit=-1"), 400, "badRequest") == (
        "limit param must be positive"
    )


def test_update_and_metadata(vol: Volumes) -> None:
    volume_id = vol.create(name="old", metadata={"a": "1"})["id"]
    updated = vol.call("PUT", f"/volumes/{volume_id}", json={"volume": {"name": "new"}})
    assert updated.status_code == 200 and updated.json()["volume"]["name"] == "new"
    assert _error(
        vol.call("PUT", f"/volumes/{volume_id}", json={"volume": {"size": 5}}), 400, "badRequest"
    ).endswith("Additional properties are not allowed ('size' was unexpected)")
    assert vol.call("PUT", f"/volumes/{volume_id}", "3.71", json={"volume": {}}).status_code == 400
    merged = vol.call("POST", f"/volumes/{volume_id}/metadata", json={"metadata": {"b": "2"}})
    assert merged.json() == {"metadata": {"a": "1", "b": "2"}}
    replaced = vol.call("PUT", f"/volumes/{volume_id}/metadata", json={"metadata": {"c": "3"}})
    assert replaced.json() == {"metadata": {"c": "3"}}
    item = vol.call("PUT", f"/volumes/{volume_id}/metadata/d", json={"meta": {"d": "4"}})
    assert item.json() == {"meta": {"d": "4"}}
    assert _error(
        vol.call("PUT", f"/volumes/{volume_id}/metadata/d", json={"meta": {"e": "5"}}),
        400,
        "badRequest",
    ) == ("Request body and URI mismatch")
    assert vol.call("GET", f"/volumes/{volume_id}/metadata/d").json() == {"meta": {"d": "4"}}
    assert vol.call("DELETE", f"/volumes/{volume_id}/metadata/d").status_code == 200
    assert _error(vol.call("GET", f"/volumes/{volume_id}/metadata/d"), 404, "itemNotFound") == (
        f"Volume {volume_id} has no metadata with key d."
    )
    assert vol.show(volume_id)["metadata"] == {"c": "3"}


def test_types_default_and_unknown(cloud: LocalCloud, vol: Volumes) -> None:
    types = vol.call("GET", "/types").json()["volume_types"]
    assert [t["name"] for t in types] == ["standard", "__DEFAULT__"]
    standard = types[0]
    assert standard["extra_specs"] == {}, "a reader sees no backend-only extra specs"
    assert vol.call("GET", f"/types/{standard['id']}").json()["volume_type"] == standard
    assert vol.call("GET", "/types/default").json()["volume_type"]["name"] == "standard"
    assert _error(vol.call("GET", "/types/standard"), 404, "itemNotFound") == (
        "Volume type standard could not be found."
    )
    admin = issue_token(cloud, "admin", "admin-secret")
    seen = requests.get(
        f"{cloud.url}{VOLUME}/types/{standard['id']}", headers={"X-Auth-Token": admin}, timeout=5
    ).json()["volume_type"]
    assert seen["extra_specs"] == {"volume_backend_name": "fake"} and "qos_specs_id" in seen


def test_extend_available_and_refusals(slow: Volumes) -> None:
    volume_id = slow.create(size=1)["id"]
    slow.wait(volume_id, "available")

    def extend(size: Any, version: str | None = None) -> requests.Response:
        body = {"os-extend": {"new_size": size}}
        return slow.call("POST", f"/volumes/{volume_id}/action", version, json=body)

    assert _error(extend(1), 400, "badRequest") == (
        "Invalid input received: New size for extend must be greater than current size."
        " (current: 1, extended: 1)."
    )
    assert extend(2).status_code == 202
    during = slow.show(volume_id)
    assert (during["status"], during["size"]) == ("extending", 1)
    assert _error(extend(3), 400, "badRequest") == (
        f"Invalid volume: Volume {volume_id} status must be '{{'status': 'available'}}' to"
        " extend, currently extending."
    )
    assert slow.wait(volume_id, "available")["size"] == 2
    missing = slow.call("POST", f"/volumes/{volume_id}/action", json={"os-grow": {}})
    assert _error(missing, 400, "badRequest").startswith("There is no such action: os-grow.")


def test_quotas_answer_413_as_cinder(cloud: LocalCloud, vol: Volumes) -> None:
    cloud.set_faults(quota_volumes=2, quota_gigabytes=5)
    first = vol.create(size=2)["id"]
    vol.create(size=2)
    too_many = vol.call("POST", "/volumes", json={"volume": {"size": 1}})
    assert _error(too_many, 413, "overLimit") == (
        "VolumeLimitExceeded: Maximum number of volumes allowed (2) exceeded for quota 'volumes'."
    )
    assert too_many.headers["Retry-After"] == "0"
    assert too_many.json()["overLimit"]["retryAfter"] == "0"
    too_big = vol.call("POST", "/volumes", json={"volume": {"size": 2}})
    assert _error(too_big, 413, "overLimit") == (
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes"
        " quota. Requested 2G, quota is 5G and 4G has been consumed."
    )
    vol.wait(first, "available")
    grow = vol.call("POST", f"/volumes/{first}/action", json={"os-extend": {"new_size": 4}})
    assert _error(grow, 413, "overLimit").startswith(
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes"
        " quota. Requested 2G"
    )
    absolute = vol.call("GET", "/limits").json()["limits"]["absolute"]
    assert (absolute["maxTotalVolumes"], absolute["totalVolumesUsed"]) == (2, 2)
    assert (absolute["maxTotalVolumeGigabytes"], absolute["totalGigabytesUsed"]) == (5, 4)


def test_delete_goes_deleting_then_gone_and_only_the_owners(
    cloud: LocalCloud, slow: Volumes
) -> None:
    volume_id = slow.create()["id"]
    creating = slow.call("DELETE", f"/volumes/{volume_id}")
    assert _error(creating, 400, "badRequest").startswith(
        "Invalid volume: Volume status must be available or error or error_restoring or"
        " error_extending or error_managing and must not be migrating, attached"
    )
    slow.wait(volume_id, "available")
    assert slow.call("DELETE", f"/volumes/{volume_id}").status_code == 202
    assert slow.show(volume_id)["status"] == "deleting"
    slow.gone(volume_id)
    assert slow.call("DELETE", f"/volumes/{volume_id}").status_code == 404
    admin = issue_token(slow.api.cloud, "admin", "admin-secret")
    other = requests.post(
        f"{slow.api.cloud.url}{VOLUME}/volumes",
        json={"volume": {"size": 1}},
        headers={"X-Auth-Token": admin},
        timeout=5,
    ).json()["volume"]["id"]
    assert slow.call("GET", f"/volumes/{other}").status_code == 404
    assert other not in [
        v["id"] for v in slow.call("GET", "/volumes?all_tenants=1").json()["volumes"]
    ]
    everyone = requests.get(
        f"{slow.api.cloud.url}{VOLUME}/volumes?all_tenants=1",
        headers={"X-Auth-Token": admin},
        timeout=5,
    ).json()["volumes"]
    assert other in [v["id"] for v in everyone]


# ---- Nova's volume attachments ------------------------------------------------------------


def test_attach_and_detach_through_nova(slow: Volumes) -> None:
    server_id = slow.server()
    volume_id = slow.create(name="data")["id"]
    slow.wait(volume_id, "available")
    attached = slow.attach(server_id, volume_id, "2.79", delete_on_termination=False)
    assert attached.status_code == 200
    assert attached.json()["volumeAttachment"] == {
        "id": volume_id,
        "serverId": server_id,
        "volumeId": volume_id,
        "device": "/dev/sdb",
        "tag": None,
        "delete_on_termination": False,
    }
    assert slow.statuses(volume_id, "in-use") == ["reserved", "attaching", "in-use"]
    (attachment,) = slow.show(volume_id)["attachments"]
    assert (attachment["server_id"], attachment["device"], attachment["host_name"]) == (
        server_id,
        "/dev/sdb",
        None,
    )
    server = slow.api.request("GET", f"/compute/v2.1/servers/{server_id}", "2.100").json()
    assert server["server"]["os-extended-volumes:volumes_attached"] == [
        {"id": volume_id, "delete_on_termination": False}
    ]
    listed = slow.api.request(
        "GET", f"/compute/v2.1/servers/{server_id}/os-volume_attachments", "2.89"
    ).json()["volumeAttachments"]
    assert listed[0]["attachment_id"] == attachment["attachment_id"] and "id" not in listed[0]
    refused = slow.call("DELETE", f"/volumes/{volume_id}")
    assert _error(refused, 400, "badRequest").startswith("Invalid volume: Volume status must be")
    assert slow.detach(server_id, volume_id).status_code == 202
    assert slow.show(volume_id)["status"] == "detaching"
    again = slow.detach(server_id, volume_id)
    assert _error(again, 400, "badRequest").startswith(
        "Invalid volume: Invalid input received: Invalid volume: Unable to detach volume."
        " Volume status must be 'in-use' and attach_status must be 'attached' to detach."
    )
    assert slow.wait(volume_id, "available")["attachments"] == []
    not_attached = slow.api.request(
        "GET", f"/compute/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}"
    )
    assert _error(not_attached, 404, "itemNotFound") == (
        f"Instance {server_id} is not attached to volume {volume_id}"
    )


def test_attach_refusals(vol: Volumes) -> None:
    server_id = vol.server("one")
    other_id = vol.server("two")
    volume_id = vol.create()["id"]
    vol.wait(volume_id, "available")
    assert _error(vol.attach(server_id, "abc"), 400, "badRequest") == (
        "Invalid input for field/attribute volumeId. Value: abc. 'abc' is not a 'uuid'"
    )
    assert _error(vol.attach(server_id, ZERO_UUID), 404, "itemNotFound") == (
        f"Volume {ZERO_UUID} could not be found."
    )
    assert (
        vol.attach(server_id, volume_id, device="/dev/sdc").json()["volumeAttachment"]["device"]
        == "/dev/sdc"
    )
    assert _error(vol.attach(server_id, volume_id), 400, "badRequest") == (
        f"Invalid volume: volume {volume_id} is already attached to instances: {server_id}"
    )
    assert _error(vol.attach(other_id, volume_id), 400, "badRequest") == (
        f"Invalid volume: volume {volume_id} is already attached to instances: {server_id}"
    )
    second = vol.create()["id"]
    creating = vol.attach(server_id, second)
    assert re.fullmatch(
        rf"Invalid input received: Invalid volume: Volume {second} status must be available or"
        rf" downloading to reserve, but the current status is creating\. \(HTTP 400\)"
        r" \(Request-ID: req-[0-9a-f-]+\)",
        _error(creating, 400, "badRequest"),
    )
    vol.wait(second, "available")
    assert _error(vol.attach(server_id, second, device="/dev/sdc"), 409, "conflictingRequest") == (
        "The supplied device path (/dev/sdc) is in use."
    )
    assert _error(vol.attach(server_id, second, "2.48", tag="t"), 400, "badRequest").endswith(
        "Additional properties are not allowed ('tag' was unexpected)"
    )
    building = vol.api.boot("building", version="2.37", networks="auto")["id"]
    assert _error(vol.attach(building, second), 409, "conflictingRequest") == (
        f"Cannot 'attach_volume' instance {building} while it is in vm_state building"
    )


def test_attach_from_2_101_answers_202_without_a_body(vol: Volumes) -> None:
    server_id = vol.server()
    volume_id = vol.create()["id"]
    early = vol.attach(server_id, volume_id, "2.101")
    assert (early.status_code, early.content) == (202, b""), "the conductor is cast to"
    assert vol.show(volume_id)["status"] in ("creating", "available"), "nothing was reserved"
    vol.wait(volume_id, "available")
    attached = vol.attach(server_id, volume_id, "2.101")
    assert (attached.status_code, attached.content) == (202, b"")
    vol.wait(volume_id, "in-use")


def test_deleting_a_server_detaches_its_volumes(vol: Volumes) -> None:
    server_id = vol.server()
    volume_id = vol.create()["id"]
    vol.wait(volume_id, "available")
    assert vol.attach(server_id, volume_id).status_code == 200
    vol.wait(volume_id, "in-use")
    assert vol.api.request("DELETE", f"/compute/v2.1/servers/{server_id}").status_code == 204
    assert vol.wait(volume_id, "available")["attachments"] == []


def test_sdk_attach_flow(cloud: LocalCloud, conn: Any) -> None:
    network = conn.network.find_network("private")
    server = conn.compute.create_server(
        name="sdk",
        image_id=conn.image.find_image("cirros").id,
        flavor_id="1",
        networks=[{"uuid": network.id}],
    )
    conn.compute.wait_for_server(server, interval=0.05, wait=20)
    volume = conn.block_storage.create_volume(size=1, name="sdk-data")
    conn.block_storage.wait_for_status(volume, "available", interval=0.05, wait=20)
    attachment = conn.compute.create_volume_attachment(server, volume)
    assert attachment.device == "/dev/sdb"
    conn.block_storage.wait_for_status(volume, "in-use", interval=0.05, wait=20)
    assert [a.volume_id for a in conn.compute.volume_attachments(server)] == [volume.id]
    conn.block_storage.extend_volume(volume, 2)
    assert conn.block_storage.get_volume(volume).status == "extending", "in-use, at 3.71"
    grown = conn.block_storage.wait_for_status(volume, "in-use", interval=0.05, wait=20)
    assert grown.size == 2
    conn.compute.delete_volume_attachment(server, volume)
    conn.block_storage.wait_for_status(volume, "available", interval=0.05, wait=20)
    conn.block_storage.delete_volume(volume)
    conn.block_storage.wait_for_delete(volume, interval=0.05, wait=20)


def test_extend_in_use_needs_3_42(vol: Volumes) -> None:
    server_id = vol.server()
    volume_id = vol.create()["id"]
    vol.wait(volume_id, "available")
    vol.attach(server_id, volume_id)
    vol.wait(volume_id, "in-use")
    body = {"os-extend": {"new_size": 2}}
    old = vol.call("POST", f"/volumes/{volume_id}/action", "3.41", json=body)
    assert _error(old, 400, "badRequest") == (
        f"Invalid volume: Volume {volume_id} status must be '{{'status': 'available'}}' to"
        " extend, currently in-use."
    )
    assert vol.call("POST", f"/volumes/{volume_id}/action", "3.42", json=body).status_code == 202
    assert vol.wait(volume_id, "in-use")["size"] == 2


# ---- boot from volume ---------------------------------------------------------------------


def _boot_from_volume(vol: Volumes, **mapping: Any) -> requests.Response:
    image = vol.api.image_id("cirros")
    bdm = {
        "source_type": "image",
        "destination_type": "volume",
        "uuid": image,
        "volume_size": 1,
        "boot_index": 0,
        **mapping,
    }
    body = {
        "server": {
            "name": "bfv",
            "flavorRef": "1",
            "networks": "none",
            "block_device_mapping_v2": [{k: v for k, v in bdm.items() if v is not None}],
        }
    }
    return vol.api.request("POST", "/compute/v2.1/servers", "2.100", json=body)


def test_boot_from_volume_makes_the_volume_and_deletes_it_with_the_server(vol: Volumes) -> None:
    created = _boot_from_volume(vol, delete_on_termination=True)
    assert created.status_code == 202, created.text
    server_id = created.json()["server"]["id"]
    server = vol.wait_server(server_id, "ACTIVE")
    assert server["image"] == "", "booted from a volume, not an image"
    (root,) = server["os-extended-volumes:volumes_attached"]
    assert root["delete_on_termination"] is True
    volume = vol.show(root["id"])
    assert (volume["status"], volume["bootable"], volume["name"], volume["size"]) == (
        "in-use",
        "true",
        "",
        1,
    )
    assert volume["attachments"][0]["device"] == "/dev/sda"
    assert volume["volume_image_metadata"]["image_name"] == "cirros"
    assert _error(vol.detach(server_id, root["id"]), 400, "badRequest") == (
        "Cannot detach a root device volume"
    )
    vol.api.request("DELETE", f"/compute/v2.1/servers/{server_id}")
    vol.gone(root["id"])


def test_boot_volume_kept_without_delete_on_termination(vol: Volumes) -> None:
    server_id = _boot_from_volume(vol).json()["server"]["id"]
    server = vol.wait_server(server_id, "ACTIVE")
    root_id = server["os-extended-volumes:volumes_attached"][0]["id"]
    vol.api.request("DELETE", f"/compute/v2.1/servers/{server_id}")
    assert vol.wait(root_id, "available")["bootable"] == "true"


def test_existing_volume_attached_at_boot(vol: Volumes) -> None:
    data_id = vol.create()["id"]
    vol.wait(data_id, "available")
    extra = {
        "source_type": "volume",
        "destination_type": "volume",
        "uuid": data_id,
        "boot_index": -1,
    }
    image = vol.api.image_id("cirros")
    root = {
        "source_type": "image",
        "destination_type": "local",
        "uuid": image,
        "boot_index": 0,
    }
    server = vol.api.boot(
        "with-data", "2.37", networks="auto", block_device_mapping_v2=[root, extra]
    )
    assert vol.show(data_id)["status"] == "reserved", "reserved by the API at once"
    active = vol.wait_server(server["id"], "ACTIVE")
    assert active["os-extended-volumes:volumes_attached"] == [
        {"id": data_id, "delete_on_termination": False}
    ]
    assert vol.wait(data_id, "in-use")["attachments"][0]["device"] == "/dev/sdb"


def test_boot_from_volume_refusals(cloud: LocalCloud, vol: Volumes) -> None:
    assert _error(_boot_from_volume(vol, volume_size=0), 400, "badRequest") == (
        "Invalid input for field/attribute volume_size. Value: 0. 0 is less than the minimum of 1"
    )
    assert _error(_boot_from_volume(vol, volume_size=None), 400, "badRequest") == (
        "Images with destination_type 'volume' need to have a non-zero size specified"
    )
    assert _error(_boot_from_volume(vol, boot_index=1), 400, "badRequest") == (
        "Block Device Mapping is Invalid: Boot sequence for the instance and image/block"
        " device mapping combination is not valid."
    )
    assert _error(_boot_from_volume(vol, uuid=ZERO_UUID), 400, "badRequest") == (
        f"Block Device Mapping is Invalid: failed to get image {ZERO_UUID}."
    )
    assert _error(_boot_from_volume(vol, source_type="snapshot"), 400, "badRequest").startswith(
        "Block Device Mapping is Invalid: failed to get snapshot"
    )
    assert _error(_boot_from_volume(vol, volume_type="fast"), 400, "badRequest") == (
        "Volume type fast could not be found."
    )
    image = vol.api.image_id("cirros")
    typed = {
        "source_type": "image",
        "destination_type": "volume",
        "uuid": image,
        "volume_size": 1,
        "boot_index": 0,
        "volume_type": "standard",
    }
    before_2_67 = vol.api.request(
        "POST",
        "/compute/v2.1/servers",
        "2.66",
        json={
            "server": {
                "name": "x",
                "flavorRef": "1",
                "networks": "none",
                "block_device_mapping_v2": [typed],
            }
        },
    )
    assert _error(before_2_67, 400, "badRequest").endswith(
        "Additional properties are not allowed ('volume_type' was unexpected)"
    )
    no_image = vol.api.request(
        "POST",
        "/compute/v2.1/servers",
        "2.100",
        json={"server": {"name": "x", "flavorRef": "1", "networks": "none"}},
    )
    assert _error(no_image, 400, "badRequest") == "Missing imageRef attribute"
    cloud.set_faults(quota_gigabytes=0)
    server_id = _boot_from_volume(vol).json()["server"]["id"]
    failed = vol.wait_server(server_id, "ERROR")
    assert failed["fault"]["message"] == (
        f"Build of instance {server_id} aborted: VolumeSizeExceedsAvailableQuota: Requested"
        " volume or snapshot exceeds allowed gigabytes quota. Requested 1G, quota is 0G and 0G"
        " has been consumed."
    )
    assert vol.call("GET", "/volumes").json()["volumes"] == []


# ---- the openstack CLI --------------------------------------------------------------------


def test_openstack_cli_volume_commands(cli: Cli, vol: Volumes) -> None:
    server_id = vol.server("cli-vm")
    created = cli.run("volume", "create", "--size", "1", "cli-data", "-f", "value", "-c", "id")
    volume_id = created.stdout.strip()
    vol.wait(volume_id, "available")
    listed = cli.run("volume", "list", "-f", "value", "-c", "Name", "-c", "Status")
    assert "cli-data available" in listed.stdout
    cli.run("server", "add", "volume", server_id, volume_id)
    vol.wait(volume_id, "in-use")
    shown = cli.run("server", "volume", "list", server_id, "-f", "value", "-c", "Volume ID")
    assert shown.stdout.strip() == volume_id
    cli.run("server", "remove", "volume", server_id, volume_id)
    vol.wait(volume_id, "available")
    cli.run("volume", "delete", volume_id)
    vol.gone(volume_id)


def test_volume_requests_meet_injected_faults_but_discovery_does_not(
    cloud: LocalCloud, vol: Volumes
) -> None:
    cloud.set_faults(rate_503=1.0)
    assert _error(vol.call("GET", "/volumes"), 503, "serviceUnavailable").startswith("Injected")
    assert requests.get(f"{cloud.url}/volume/", timeout=5).status_code == 300
    assert vol.call("GET", "/").status_code == 200
    cloud.set_faults(rate_503=0.0)
    assert vol.call("GET", "/volumes").status_code == 200
