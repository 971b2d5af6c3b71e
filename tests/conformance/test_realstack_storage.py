"""Cinder, Nova's volume attachments, several compute hosts, server groups, resize and
stop/start on realstack: the facts docs/real-nova-facts.md states and the local cloud copies.

Real services only (realstack/start.sh: Cinder 29 with the fake volume driver, three
fake nova-compute hosts). Every resource made here is named `stc-<hex>-...` and removed
at the end, because other people use the same `demo` project at the same time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conformance.rawcloud import RawCloud, Response

pytestmark = pytest.mark.conformance

RUN = "stc-" + uuid.uuid4().hex[:6]
HOSTS = ["realstack-compute", "realstack-compute-2", "realstack-compute-3"]
SERVER_MV = "2.100"
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


def _ok(resp: Response, status: int) -> Any:
    assert resp.status == status, (resp.status, resp.body)
    return resp.body


def _fault(resp: Response, status: int, key: str) -> str:
    """The message of an error body `{key: {code, message}}` with that status."""
    assert resp.status == status, (resp.status, resp.body)
    assert resp.body[key]["code"] == status, resp.body
    return str(resp.body[key]["message"])


def _until(
    fn: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 90.0
) -> tuple[Any, list[Any]]:
    """Poll every 0.2 s until `done`; the last value and every value seen."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        value = fn()
        seen.append(value)
        if done(value) or time.monotonic() > deadline:
            return value, seen
        time.sleep(0.2)


def _collapse(values: list[Any]) -> list[Any]:
    """The values without repeats in a row: the states a poller went through."""
    return [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]


def _volume_api(
    cloud: RawCloud, method: str, path: str, body: Any = None, mv: str = ""
) -> Response:
    """A Cinder v3 request; its microversion header names the service `volume`."""
    headers = {"OpenStack-API-Version": f"volume {mv}"} if mv else None
    return cloud.request("block-storage", method, path, body, headers=headers)


def _volume(cloud: RawCloud, vid: str) -> Response:
    return _volume_api(cloud, "GET", f"/volumes/{vid}")


def _volume_status(cloud: RawCloud, vid: str) -> str:
    resp = _volume(cloud, vid)
    return "<404>" if resp.status == 404 else str(resp.body["volume"]["status"])


def _server(cloud: RawCloud, sid: str) -> dict[str, Any]:
    return dict(
        _ok(cloud.request("compute", "GET", f"/servers/{sid}", microversion=SERVER_MV), 200)[
            "server"
        ]
    )


def _state(cloud: RawCloud, sid: str) -> tuple[str, str | None]:
    srv = _server(cloud, sid)
    return srv["status"], srv["OS-EXT-STS:task_state"]


def _host(admin: RawCloud, sid: str) -> str | None:
    host = _server(admin, sid)["OS-EXT-SRV-ATTR:host"]
    return None if host is None else str(host)


def _action(cloud: RawCloud, sid: str, body: dict[str, Any]) -> Response:
    return cloud.request("compute", "POST", f"/servers/{sid}/action", body, microversion=SERVER_MV)


class Made:
    """What a test created, removed at the end of the module whatever happened."""

    def __init__(self, cloud: RawCloud) -> None:
        self.cloud = cloud
        self.servers: list[str] = []
        self.volumes: list[str] = []
        self.groups: list[str] = []

    def server(
        self, body: dict[str, Any], hints: dict[str, Any] | None = None, microversion: str = "2.67"
    ) -> str:
        """POST /servers; scheduler hints go beside `server`, not inside it (that is a 400)."""
        request: dict[str, Any] = {"server": body}
        if hints:
            request["os:scheduler_hints"] = hints
        resp = self.cloud.request("compute", "POST", "/servers", request, microversion)
        sid = str(_ok(resp, 202)["server"]["id"])
        self.servers.append(sid)
        return sid

    def cleanup(self) -> None:
        for sid in self.servers:
            self.cloud.request("compute", "DELETE", f"/servers/{sid}")
        for sid in self.servers:
            _until(
                lambda s=sid: self.cloud.request("compute", "GET", f"/servers/{s}"),
                lambda r: r.status == 404,
            )
        for vid in self.volumes:
            _until(
                lambda v=vid: _volume_status(self.cloud, v),
                lambda s: s not in ("in-use", "detaching", "reserved", "attaching"),
                30,
            )
            _volume_api(self.cloud, "DELETE", f"/volumes/{vid}")
        for gid in self.groups:
            self.cloud.request("compute", "DELETE", f"/os-server-groups/{gid}")


@pytest.fixture(scope="module")
def made(realstack: RawCloud) -> Iterator[Made]:
    registry = Made(realstack)
    try:
        yield registry
    finally:
        registry.cleanup()


@pytest.fixture(scope="module")
def ids(realstack: RawCloud) -> dict[str, str]:
    """The cirros image and the `private` network."""
    image = _ok(realstack.request("image", "GET", "/v2/images?name=cirros"), 200)["images"][0]
    net = _ok(realstack.request("network", "GET", "/v2.0/networks?name=private"), 200)["networks"][
        0
    ]
    return {"image": image["id"], "network": net["id"]}


def _boot(
    made: Made,
    ids: dict[str, str],
    name: str,
    hints: dict[str, Any] | None = None,
    **extra: Any,
) -> tuple[str, dict[str, Any]]:
    """Create a server (m1.nano, cirros, no network unless given) and wait until it settles."""
    body: dict[str, Any] = {"name": f"{RUN}-{name}", "flavorRef": "1", "networks": "none"}
    if "block_device_mapping_v2" not in extra:
        body["imageRef"] = ids["image"]
    body.update(extra)
    sid = made.server(body, hints)
    srv, _ = _until(lambda: _server(made.cloud, sid), lambda s: s["status"] in ("ACTIVE", "ERROR"))
    return sid, srv


def _new_volume(made: Made, name: str, **extra: Any) -> dict[str, Any]:
    body = {"volume": {"size": 1, "name": f"{RUN}-{name}", **extra}}
    vol = _ok(_volume_api(made.cloud, "POST", "/volumes", body), 202)["volume"]
    made.volumes.append(vol["id"])
    return dict(vol)


def test_cinder_in_catalog_versions_and_types(realstack: RawCloud) -> None:
    """block-storage and volumev3 point at the same /v3; 3.0 to 3.71; type `standard` is the
    default, `__DEFAULT__` still listed."""
    assert realstack.endpoints["block-storage"] == "http://127.0.0.1:8776/v3"
    assert realstack.endpoints["volumev3"] == realstack.endpoints["block-storage"]
    versions = _ok(realstack.request_url("GET", "http://127.0.0.1:8776/"), 300)["versions"]
    assert [(v["id"], v["status"], v["min_version"], v["version"]) for v in versions] == [
        ("v3.0", "CURRENT", "3.0", "3.71")
    ]
    types = _ok(_volume_api(realstack, "GET", "/types"), 200)["volume_types"]
    assert sorted(t["name"] for t in types) == ["__DEFAULT__", "standard"]
    default = _ok(_volume_api(realstack, "GET", "/types/default"), 200)["volume_type"]
    assert (default["name"], default["is_public"], default["extra_specs"]) == ("standard", True, {})


def test_volume_create_extend_delete(made: Made) -> None:
    """202 creating -> available; bad size, unknown type and shrink refused; extend of an
    available volume: extending -> available with the new size; delete: deleting -> 404."""
    cloud = made.cloud
    vol = _new_volume(made, "plain", volume_type="standard")
    assert (vol["status"], vol["size"], vol["volume_type"], vol["bootable"]) == (
        "creating",
        1,
        "standard",
        "false",
    )
    assert (vol["attachments"], vol["multiattach"], vol["encrypted"]) == ([], False, False)
    vid = vol["id"]
    last, seen = _until(lambda: _volume_status(cloud, vid), lambda s: s != "creating")
    assert last == "available", _collapse(seen)

    untyped = _new_volume(made, "untyped")
    assert untyped["volume_type"] == "standard"

    msg = _fault(_volume_api(cloud, "POST", "/volumes", {"volume": {"size": 0}}), 400, "badRequest")
    assert (
        msg == "Invalid input for field/attribute size. Value: 0. 0 is less than the minimum of 1"
    )
    bad_type = {"volume": {"size": 1, "volume_type": f"{RUN}-nope"}}
    msg = _fault(_volume_api(cloud, "POST", "/volumes", bad_type), 404, "itemNotFound")
    assert msg == f"Volume type with name {RUN}-nope could not be found."

    extend = f"/volumes/{vid}/action"
    msg = _fault(
        _volume_api(cloud, "POST", extend, {"os-extend": {"new_size": 1}}), 400, "badRequest"
    )
    assert msg == (
        "Invalid input received: New size for extend must be greater than current size."
        " (current: 1, extended: 1)."
    )
    assert _ok(_volume_api(cloud, "POST", extend, {"os-extend": {"new_size": 2}}), 202) is None
    last, seen = _until(
        lambda: _volume(cloud, vid).body["volume"], lambda v: v["status"] == "available"
    )
    assert (last["status"], last["size"]) == ("available", 2), _collapse(
        [v["status"] for v in seen]
    )

    assert _ok(_volume_api(cloud, "DELETE", f"/volumes/{vid}"), 202) is None
    last, seen = _until(lambda: _volume_status(cloud, vid), lambda s: s == "<404>", 30)
    assert last == "<404>", _collapse(seen)
    assert set(_collapse(seen)) <= {"deleting", "<404>"}
    msg = _fault(_volume(cloud, vid), 404, "itemNotFound")
    assert msg == f"Volume {vid} could not be found."


def test_attach_extend_detach_through_nova(made: Made, ids: dict[str, str]) -> None:
    """POST os-volume_attachments -> 200 at once, volume reserved -> attaching -> in-use,
    shown on the volume and the server; in-use extend needs volume 3.42; DELETE -> 202,
    detaching -> available."""
    cloud = made.cloud
    sid, srv = _boot(made, ids, "attach")
    assert srv["status"] == "ACTIVE", srv.get("fault")
    vid = _new_volume(made, "data")["id"]
    _until(lambda: _volume_status(cloud, vid), lambda s: s == "available")

    path = f"/servers/{sid}/os-volume_attachments"
    att = _ok(
        cloud.request("compute", "POST", path, {"volumeAttachment": {"volumeId": vid}}, SERVER_MV),
        200,
    )
    assert att == {
        "volumeAttachment": {
            "id": vid,
            "serverId": sid,
            "volumeId": vid,
            "device": "/dev/sdb",
            "tag": None,
            "delete_on_termination": False,
        }
    }
    last, seen = _until(lambda: _volume_status(cloud, vid), lambda s: s == "in-use")
    assert last == "in-use", _collapse(seen)
    assert set(_collapse(seen)) <= {"reserved", "attaching", "in-use"}

    vol = _volume(cloud, vid).body["volume"]
    [attachment] = vol["attachments"]
    assert {k: attachment[k] for k in ("id", "volume_id", "server_id", "device", "host_name")} == {
        "id": vid,
        "volume_id": vid,
        "server_id": sid,
        "device": "/dev/sdb",
        "host_name": None,
    }
    listed = _ok(cloud.request("compute", "GET", path, microversion=SERVER_MV), 200)[
        "volumeAttachments"
    ]
    assert [(a["volumeId"], a["serverId"], a["device"], a["attachment_id"]) for a in listed] == [
        (vid, sid, "/dev/sdb", attachment["attachment_id"])
    ]
    assert set(listed[0]) == {
        "volumeId",
        "serverId",
        "device",
        "tag",
        "delete_on_termination",
        "attachment_id",
        "bdm_uuid",
    }
    assert _server(cloud, sid)["os-extended-volumes:volumes_attached"] == [
        {"id": vid, "delete_on_termination": False}
    ]

    again = cloud.request(
        "compute", "POST", path, {"volumeAttachment": {"volumeId": vid}}, SERVER_MV
    )
    assert _fault(again, 400, "badRequest") == (
        f"Invalid volume: volume {vid} is already attached to instances: {sid}"
    )
    msg = _fault(_volume_api(cloud, "DELETE", f"/volumes/{vid}"), 400, "badRequest")
    assert msg.startswith("Invalid volume: Volume status must be available or error")

    extend = f"/volumes/{vid}/action"
    msg = _fault(
        _volume_api(cloud, "POST", extend, {"os-extend": {"new_size": 2}}), 400, "badRequest"
    )
    assert msg == (
        f"Invalid volume: Volume {vid} status must be '{{'status': 'available'}}' to extend,"
        " currently in-use."
    )
    assert (
        _ok(_volume_api(cloud, "POST", extend, {"os-extend": {"new_size": 2}}, "3.42"), 202) is None
    )
    last, seen = _until(
        lambda: _volume(cloud, vid).body["volume"],
        lambda v: (v["status"], v["size"]) == ("in-use", 2),
    )
    assert (last["status"], last["size"]) == ("in-use", 2), _collapse([v["status"] for v in seen])

    gone = cloud.request("compute", "DELETE", f"{path}/{vid}", microversion=SERVER_MV)
    assert _ok(gone, 202) is None
    last, seen = _until(lambda: _volume_status(cloud, vid), lambda s: s == "available")
    assert last == "available", _collapse(seen)
    assert set(_collapse(seen)) <= {"in-use", "detaching", "available"}
    assert _volume(cloud, vid).body["volume"]["attachments"] == []
    assert _server(cloud, sid)["os-extended-volumes:volumes_attached"] == []
    again = cloud.request("compute", "DELETE", f"{path}/{vid}", microversion=SERVER_MV)
    assert _fault(again, 404, "itemNotFound") == f"Instance {sid} is not attached to volume {vid}"


def test_boot_from_volume(made: Made, ids: dict[str, str]) -> None:
    """block_device_mapping_v2 image -> volume: BUILD/block_device_mapping, ACTIVE with image
    "", a bootable in-use volume at /dev/sda made from the image; gone with the server."""
    cloud = made.cloud
    bdm = {
        "boot_index": 0,
        "uuid": ids["image"],
        "source_type": "image",
        "destination_type": "volume",
        "volume_size": 1,
        "delete_on_termination": True,
    }
    sid, srv = _boot(made, ids, "bfv", block_device_mapping_v2=[bdm])
    assert srv["status"] == "ACTIVE", srv.get("fault")
    assert srv["image"] == ""
    [root] = srv["os-extended-volumes:volumes_attached"]
    assert root["delete_on_termination"] is True
    vol = _volume(cloud, root["id"]).body["volume"]
    assert (vol["status"], vol["bootable"], vol["size"], vol["volume_type"], vol["name"]) == (
        "in-use",
        "true",
        1,
        "standard",
        "",
    )
    assert vol["volume_image_metadata"]["image_id"] == ids["image"]
    assert [(a["server_id"], a["device"]) for a in vol["attachments"]] == [(sid, "/dev/sda")]
    detach = cloud.request(
        "compute",
        "DELETE",
        f"/servers/{sid}/os-volume_attachments/{root['id']}",
        microversion=SERVER_MV,
    )
    assert _fault(detach, 400, "badRequest") == "Cannot detach a root device volume"

    # volume_type in a mapping needs 2.67; an unknown one is refused before anything is made.
    typed = dict(bdm, volume_type="standard")
    old = cloud.request(
        "compute",
        "POST",
        "/servers",
        {
            "server": {
                "name": f"{RUN}-no",
                "flavorRef": "1",
                "networks": "none",
                "block_device_mapping_v2": [typed],
            }
        },
        "2.66",
    )
    assert "Additional properties are not allowed ('volume_type' was unexpected)" in _fault(
        old, 400, "badRequest"
    )
    unknown = dict(bdm, volume_type=f"{RUN}-nope")
    bad = cloud.request(
        "compute",
        "POST",
        "/servers",
        {
            "server": {
                "name": f"{RUN}-no",
                "flavorRef": "1",
                "networks": "none",
                "block_device_mapping_v2": [unknown],
            }
        },
        "2.67",
    )
    assert _fault(bad, 400, "badRequest") == f"Volume type {RUN}-nope could not be found."

    assert cloud.request("compute", "DELETE", f"/servers/{sid}").status == 204
    last, seen = _until(lambda: _volume_status(cloud, root["id"]), lambda s: s == "<404>")
    assert last == "<404>", _collapse(seen)


def test_hypervisors_and_hosts(
    realstack: RawCloud, realstack_admin: RawCloud, made: Made, ids: dict[str, str]
) -> None:
    """Admin: three fake hypervisors, up and enabled; a server's OS-EXT-SRV-ATTR:host is one of
    them. The tenant sees neither."""
    hyps = _ok(
        realstack_admin.request("compute", "GET", "/os-hypervisors/detail", microversion="2.88"),
        200,
    )
    assert sorted(
        (
            h["hypervisor_hostname"],
            h["service"]["host"],
            h["state"],
            h["status"],
            h["hypervisor_type"],
        )
        for h in hyps["hypervisors"]
    ) == [(h, h, "up", "enabled", "fake") for h in HOSTS]
    forbidden = realstack.request("compute", "GET", "/os-hypervisors", microversion="2.88")
    assert _fault(forbidden, 403, "forbidden") == (
        "Policy doesn't allow os_compute_api:os-hypervisors:list to be performed."
    )
    sid, srv = _boot(made, ids, "host")
    assert srv["status"] == "ACTIVE", srv.get("fault")
    assert "OS-EXT-SRV-ATTR:host" not in srv
    admin_view = _server(realstack_admin, sid)
    assert admin_view["OS-EXT-SRV-ATTR:host"] in HOSTS
    assert admin_view["OS-EXT-SRV-ATTR:hypervisor_hostname"] == admin_view["OS-EXT-SRV-ATTR:host"]


def test_anti_affinity_three_hosts_then_no_valid_host(
    realstack_admin: RawCloud, made: Made, ids: dict[str, str]
) -> None:
    """An anti-affinity group (2.64: `policy`): three members land on three hosts; the fourth
    goes to ERROR with fault 500 "No valid host ..." and is still listed as a member."""
    cloud = made.cloud
    body = {"server_group": {"name": f"{RUN}-anti", "policy": "anti-affinity"}}
    group = _ok(cloud.request("compute", "POST", "/os-server-groups", body, "2.64"), 200)[
        "server_group"
    ]
    made.groups.append(group["id"])
    assert (group["policy"], group["rules"], group["members"]) == ("anti-affinity", {}, [])
    hints = {"group": group["id"]}
    placed = []
    for i in range(3):
        sid, srv = _boot(made, ids, f"anti-{i}", hints)
        assert srv["status"] == "ACTIVE", srv.get("fault")
        assert srv["server_groups"] == [group["id"]]
        placed.append(sid)
    hosts = [_host(realstack_admin, sid) for sid in placed]
    assert sorted(h or "" for h in hosts) == HOSTS

    sid, srv = _boot(made, ids, "anti-3", hints)
    assert (srv["status"], srv["OS-EXT-STS:vm_state"], srv["OS-EXT-STS:task_state"]) == (
        "ERROR",
        "error",
        None,
    )
    assert (srv["fault"]["code"], srv["fault"]["message"]) == (500, NO_VALID_HOST)
    assert "details" not in srv["fault"]
    assert (srv["hostId"], srv["OS-EXT-AZ:availability_zone"], srv["addresses"]) == ("", "", {})
    assert _host(realstack_admin, sid) is None
    assert "details" in _server(realstack_admin, sid)["fault"]
    members = _ok(
        cloud.request("compute", "GET", f"/os-server-groups/{group['id']}", microversion="2.64"),
        200,
    )
    assert sorted(members["server_group"]["members"]) == sorted([*placed, sid])


def test_resize_confirm_revert_and_stop_start(
    realstack_admin: RawCloud, made: Made, ids: dict[str, str]
) -> None:
    """resize -> RESIZE (resize_prep, resize_migrated ...) -> VERIFY_RESIZE on some host ->
    confirmResize (204) -> ACTIVE with the new flavor; revertResize -> REVERT_RESIZE -> ACTIVE on
    the old host with the old flavor; os-stop -> SHUTOFF (power 4), os-start -> ACTIVE."""
    cloud = made.cloud
    sid, srv = _boot(made, ids, "resize")
    assert (srv["status"], srv["flavor"]["original_name"]) == ("ACTIVE", "m1.nano"), srv.get(
        "fault"
    )
    first = _host(realstack_admin, sid)

    same = _action(cloud, sid, {"resize": {"flavorRef": "1"}})
    assert _fault(same, 400, "badRequest") == "When resizing, instances must change flavor!"
    assert _ok(_action(cloud, sid, {"resize": {"flavorRef": "2"}}), 202) is None
    last, seen = _until(lambda: _state(cloud, sid), lambda s: s[1] is None and s[0] != "RESIZE")
    assert last == ("VERIFY_RESIZE", None), _collapse(seen)
    assert set(_collapse(seen)) <= {
        ("ACTIVE", "resize_prep"),
        ("RESIZE", "resize_prep"),
        ("RESIZE", "resize_migrating"),
        ("RESIZE", "resize_migrated"),
        ("RESIZE", "resize_finish"),
        ("VERIFY_RESIZE", None),
    }
    srv = _server(cloud, sid)
    assert (srv["OS-EXT-STS:vm_state"], srv["flavor"]["original_name"]) == ("resized", "m1.tiny")
    # allow_resize_to_same_host is on and FakeDriver resizes in place too: any host will do.
    moved = _host(realstack_admin, sid)
    assert moved in HOSTS
    migrations = _ok(
        realstack_admin.request(
            "compute", "GET", f"/os-migrations?instance_uuid={sid}", microversion="2.80"
        ),
        200,
    )["migrations"]
    assert [
        (m["migration_type"], m["status"], m["source_compute"], m["dest_compute"])
        for m in migrations
    ] == [("resize", "finished", first, moved)]

    assert _ok(_action(cloud, sid, {"confirmResize": None}), 204) is None
    last, seen = _until(lambda: _state(cloud, sid), lambda s: s == ("ACTIVE", None))
    assert last == ("ACTIVE", None), _collapse(seen)
    srv = _server(cloud, sid)
    assert (srv["OS-EXT-STS:vm_state"], srv["flavor"]["original_name"]) == ("active", "m1.tiny")
    assert _host(realstack_admin, sid) == moved
    again = _action(cloud, sid, {"confirmResize": None})
    assert _fault(again, 409, "conflictingRequest") == (
        f"Cannot 'confirmResize' instance {sid} while it is in vm_state active"
    )

    assert _ok(_action(cloud, sid, {"resize": {"flavorRef": "1"}}), 202) is None
    last, seen = _until(lambda: _state(cloud, sid), lambda s: s[1] is None and s[0] != "RESIZE")
    assert last == ("VERIFY_RESIZE", None), _collapse(seen)
    assert _host(realstack_admin, sid) in HOSTS
    assert _ok(_action(cloud, sid, {"revertResize": None}), 202) is None
    last, seen = _until(lambda: _state(cloud, sid), lambda s: s == ("ACTIVE", None))
    assert last == ("ACTIVE", None), _collapse(seen)
    assert set(_collapse(seen)) <= {
        ("VERIFY_RESIZE", None),
        ("REVERT_RESIZE", "resize_reverting"),
        ("ACTIVE", None),
    }
    assert _server(cloud, sid)["flavor"]["original_name"] == "m1.tiny"
    assert _host(realstack_admin, sid) == moved

    assert _ok(_action(cloud, sid, {"os-stop": None}), 202) is None
    last, seen = _until(lambda: _state(cloud, sid), lambda s: s == ("SHUTOFF", None))
    assert last == ("SHUTOFF", None), _collapse(seen)
    srv = _server(cloud, sid)
    assert (srv["OS-EXT-STS:vm_state"], srv["OS-EXT-STS:power_state"]) == ("stopped", 4)
    stopped = _action(cloud, sid, {"os-stop": None})
    assert _fault(stopped, 409, "conflictingRequest") == (
        f"Cannot 'stop' instance {sid} while it is in vm_state stopped"
    )
    assert _ok(_action(cloud, sid, {"os-start": None}), 202) is None
    last, seen = _until(lambda: _state(cloud, sid), lambda s: s == ("ACTIVE", None))
    assert last == ("ACTIVE", None), _collapse(seen)
    assert set(_collapse(seen)) <= {("SHUTOFF", None), ("SHUTOFF", "powering-on"), ("ACTIVE", None)}
    assert _server(cloud, sid)["OS-EXT-STS:power_state"] == 1
    started = _action(cloud, sid, {"os-start": None})
    assert _fault(started, 409, "conflictingRequest") == (
        f"Cannot 'start' instance {sid} while it is in vm_state active"
    )
