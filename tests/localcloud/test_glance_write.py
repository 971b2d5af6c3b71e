"""Glance's write side (create with a chosen id, JSON patch, delete, list filters) as real
Glance 33 answers it, over HTTP with raw requests and openstacksdk.

The expected messages are real Glance's own, taken from realstack (see
tests/conformance/captures/125-138 for the ones the differential check replays).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import openstack
import pytest
import requests
from openstack import exceptions
from openstack.image.v2.image import Image

from declstack_localcloud import LocalCloud

from .conftest import Api, issue_token

pytestmark = pytest.mark.integration

IMAGES = "/image/v2/images"
JSON_PATCH = "application/openstack-images-v2.1-json-patch"
QUEUED_KEYS = {
    "id",
    "name",
    "status",
    "visibility",
    "owner",
    "protected",
    "os_hidden",
    "disk_format",
    "container_format",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "min_disk",
    "min_ram",
    "tags",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
}
"""An image without data has no `stores` (real Glance shows it only with a location)."""


def _message(explanation: str, detail: str = "") -> str:
    return f"{explanation}<br /><br />\n{detail}\n\n"


def _error(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.json()["message"]


def _create(api: Api, **body: Any) -> requests.Response:
    return api.request("POST", IMAGES, json=body)


def _patch(api: Api, image_id: str, *changes: dict[str, Any], **kwargs: Any) -> requests.Response:
    headers = {"Content-Type": kwargs.pop("content_type", JSON_PATCH)}
    body = json.dumps(list(changes))
    return api.request("PATCH", f"{IMAGES}/{image_id}", data=body, headers=headers)


def _project_id(api: Api) -> str:
    response = api.request(
        "GET", "/identity/v3/auth/tokens", headers={"X-Subject-Token": api.token}
    )
    return str(response.json()["token"]["project"]["id"])


@pytest.fixture
def admin(api: Api) -> Api:
    return Api(api.cloud, issue_token(api.cloud, "admin", "admin-secret"), api.session)


# --- create --------------------------------------------------------------------------------


def test_create_with_a_chosen_id_answers_glances_queued_view(api: Api) -> None:
    image_id = str(uuid.uuid4())
    response = _create(
        api, id=image_id, name="lock", tags=["b", "a", "b"], os_hidden=True, holder="run-1"
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == QUEUED_KEYS | {"holder"}
    assert body["id"] == image_id and body["name"] == "lock" and body["holder"] == "run-1"
    assert body["status"] == "queued" and body["visibility"] == "shared"
    assert body["owner"] == _project_id(api)
    assert body["os_hidden"] is True and body["protected"] is False
    assert body["tags"] == ["b", "a"]  # a set in Glance: each tag once
    for empty in ("size", "virtual_size", "checksum", "os_hash_algo", "disk_format"):
        assert body[empty] is None, empty
    assert body["min_disk"] == 0 and body["created_at"] == body["updated_at"]
    assert body["self"] == f"/v2/images/{image_id}"
    assert response.headers["Location"] == f"{api.cloud.url}{IMAGES}/{image_id}"
    assert "glance-direct" in response.headers["OpenStack-image-import-methods"]
    shown = api.request("GET", f"{IMAGES}/{image_id}")
    assert shown.status_code == 200 and shown.json() == body


def test_every_answer_carries_the_servers_clock_in_date(api: Api) -> None:
    """The stack lock reads the server's time from the Date header (RFC 7231)."""
    image_id = str(uuid.uuid4())
    answers = [
        _create(api, id=image_id),
        _create(api, id=image_id),
        _patch(api, image_id, {"op": "add", "path": "/k", "value": "v"}),
        api.request("GET", f"{IMAGES}?tag=x"),
        api.request("DELETE", f"{IMAGES}/{image_id}"),
        api.request("GET", f"{IMAGES}/{image_id}"),
    ]
    assert [a.status_code for a in answers] == [201, 409, 200, 200, 204, 404]
    for answer in answers:
        date = parsedate_to_datetime(answer.headers["Date"])
        assert abs(date.timestamp() - time.time()) < 5, answer.headers["Date"]


def test_an_id_is_created_once_even_after_its_image_is_deleted(api: Api) -> None:
    image_id = str(uuid.uuid4())
    assert _create(api, id=image_id).status_code == 201
    taken = _message(f"Image ID {image_id} already exists!")
    assert _error(_create(api, id=image_id, name="other")) == (409, taken)
    upper = image_id.upper()  # ids compare without case, as in Glance on MySQL
    assert _error(_create(api, id=upper)) == (409, _message(f"Image ID {upper} already exists!"))
    assert api.request("DELETE", f"{IMAGES}/{upper}").status_code == 204
    assert _error(api.request("GET", f"{IMAGES}/{image_id}")) == (
        404,
        _message(f"No image found with ID {image_id}"),
    )
    assert _error(_create(api, id=image_id)) == (409, taken)
    assert _error(api.request("DELETE", f"{IMAGES}/{image_id}")) == (
        404,
        _message(f"Failed to find image {image_id} to delete"),
    )


def test_a_seeded_image_id_cannot_be_created(api: Api, admin: Api) -> None:
    cirros = api.image_id("cirros")
    assert _error(_create(admin, id=cirros)) == (
        409,
        _message(f"Image ID {cirros} already exists!"),
    )


def _race(cloud: LocalCloud, token: str, sessions: list[requests.Session]) -> list[int]:
    """Every session POSTs the same new id at once; the status codes they got."""
    image_id = str(uuid.uuid4())
    start = threading.Barrier(len(sessions))
    statuses: list[int] = []
    lock = threading.Lock()

    def create(session: requests.Session, n: int) -> None:
        start.wait()
        response = session.post(
            f"{cloud.url}{IMAGES}",
            json={"id": image_id, "name": f"racer-{n}"},
            headers={"X-Auth-Token": token},
            timeout=30,
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=create, args=(s, n)) for n, s in enumerate(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    listed = sessions[0].get(
        f"{cloud.url}{IMAGES}?id={image_id}", headers={"X-Auth-Token": token}, timeout=30
    )
    assert len(listed.json()["images"]) == 1
    return sorted(statuses)


def test_racing_creates_of_one_id_have_exactly_one_winner(cloud: LocalCloud) -> None:
    token = issue_token(cloud)
    sessions = [requests.Session() for _ in range(8)]
    try:
        for round_ in range(6):
            assert _race(cloud, token, sessions) == [201] + [409] * 7, round_
    finally:
        for session in sessions:
            session.close()


SCHEMA_ID = (
    "Provided object does not match schema 'image': 'not-a-uuid' does not match "
    "'^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$'"
    "\n\nFailed validating 'pattern' in schema['properties']['id']:\n"
    "    {'type': 'string',\n     'description': 'An identifier for the image',\n"
    "     'pattern': '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
    "-([0-9a-fA-F]){12}$'}\n\nOn instance['id']:\n    'not-a-uuid'"
)
SCHEMA_PROPERTY = (
    "Provided object does not match schema 'image': 5 is not of type 'string'\n\n"
    "Failed validating 'type' in schema['additionalProperties']:\n    {'type': 'string'}\n\n"
    "On instance['my_prop']:\n    5"
)
SCHEMA_HIDDEN = (
    "Provided object does not match schema 'image': 'true' is not of type 'boolean'\n\n"
    "Failed validating 'type' in schema['properties']['os_hidden']:\n"
    "    {'type': 'boolean',\n"
    "     'description': 'If true, image will not appear in default image list '\n"
    "                    'response.'}\n\n"
    "On instance['os_hidden']:\n    'true'"
)
SCHEMA_CONTAINER = (
    "Provided object does not match schema 'image': 'nope' is not one of [None, 'ami', 'ari', "
    "'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed']\n\n"
    "Failed validating 'enum' in schema['properties']['container_format']:\n"
    "    {'type': ['null', 'string'],\n     'description': 'Format of the container',\n"
    "     'enum': [None,\n              'ami',\n              'ari',\n              'aki',\n"
    "              'bare',\n              'ovf',\n              'ova',\n              'docker',\n"
    "              'compressed']}\n\nOn instance['container_format']:\n    'nope'"
)
DENIED = "Access was denied to this resource."


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"id": "not-a-uuid"}, 400, _message(SCHEMA_ID)),
        ({"my_prop": 5}, 400, _message(SCHEMA_PROPERTY)),
        # two errors: jsonschema's best match (the larger path) is reported
        ({"os_hidden": "true", "min_disk": "x"}, 400, _message(SCHEMA_HIDDEN)),
        ({"container_format": "nope"}, 400, _message(SCHEMA_CONTAINER)),
        (
            {"visibility": "public"},
            403,
            _message("You are not authorized to complete publicize_image action."),
        ),
        ({"status": "active"}, 403, _message("Attribute 'status' is read-only.")),
        ({"self": "x"}, 403, _message("Attribute 'self' is read-only.")),
        ({"created_at": "x"}, 403, _message("Attribute 'created_at' is read-only.")),
        (
            {"owner": "someoneelse"},
            403,
            _message(DENIED, "You are not permitted to create images owned by 'someoneelse'"),
        ),
        ({"location": "x"}, 403, _message(DENIED, "Attribute 'location' is reserved.")),
        ({"os_glance_x": "x"}, 403, _message(DENIED, "Attribute 'os_glance_x' is reserved.")),
        ({"locations": []}, 403, _message("Attribute 'locations' is reserved.")),
        (
            {"k" * 256: "v"},
            400,
            _message("Custom property should not be greater than 255 characters."),
        ),
        (
            {"min_disk": -1},
            400,
            _message("Invalid value '-1' for parameter 'min_disk': Cannot be a negative value"),
        ),
        (
            {"min_disk": 2**31},
            400,
            _message("'min_disk' value out of range, must not exceed 2147483647."),
        ),
        (
            {"tags": [f"t{i}" for i in range(129)]},
            413,
            _message(
                "The limit has been exceeded on the number of allowed image tags. "
                "Attempted: 129, Maximum: 128"
            ),
        ),
        (
            {f"p{i}": "v" for i in range(129)},
            413,
            _message(
                "The limit has been exceeded on the number of allowed image properties. "
                "Attempted: 129, Maximum: 128"
            ),
        ),
    ],
    ids=lambda value: str(value)[:30] if isinstance(value, dict) else None,
)
def test_create_refusals_are_glances(
    api: Api, body: dict[str, Any], status: int, message: str
) -> None:
    assert _error(_create(api, **body)) == (status, message)


def test_create_bodies_that_are_not_json_objects(api: Api) -> None:
    def post(data: str) -> tuple[int, str]:
        headers = {"Content-Type": "application/json"}
        return _error(api.request("POST", IMAGES, data=data, headers=headers))

    assert post("") == (400, _message("Body expected in request."))
    assert post("{nope") == (400, _message("Malformed JSON in request body."))
    assert post("null") == (400, _message("Unexpected body type. Expected list/dict."))
    # real Glance fails with 500 on a list; a clear 400 is more useful
    assert post("[1]") == (400, _message("Request body must be a JSON object."))


def test_an_admin_may_publicize_and_choose_the_owner(api: Api, admin: Api) -> None:
    demo_project = _project_id(api)
    response = _create(admin, visibility="public", owner=demo_project, name="shared-base")
    assert response.status_code == 201, response.text
    assert response.json()["visibility"] == "public" and response.json()["owner"] == demo_project
    community = _create(api, visibility="community")
    assert community.status_code == 201 and community.json()["visibility"] == "community"


def test_sdk_creates_with_an_id_and_meets_the_conflict(cloud: LocalCloud) -> None:
    conn = openstack.connect(auth_type="password", **cloud.cloud_config())
    try:
        image_id = str(uuid.uuid4())
        wanted = Image.new(id=image_id, name="lock", tags=["stack"], is_hidden=True)
        made = wanted.create(conn.image)
        assert (made.id, made.status, made.is_hidden, made.tags) == (
            image_id,
            "queued",
            True,
            ["stack"],
        )
        with pytest.raises(exceptions.ConflictException) as conflict:
            Image.new(id=image_id, name="again").create(conn.image)
        assert conflict.value.status_code == 409
        assert f"Image ID {image_id} already exists!" in str(conflict.value)
        updated = conn.image.update_image(made, name="held", holder="run-7")
        assert updated.name == "held" and updated.properties["holder"] == "run-7"
        assert [i.id for i in conn.image.images(tag=["stack"], is_hidden=True)] == [image_id]
        assert [i.id for i in conn.image.images(holder="run-7", is_hidden=True)] == [image_id]
        assert list(conn.image.images(tag=["stack"])) == []
        conn.image.delete_image(updated)
        assert conn.image.find_image(image_id) is None
    finally:
        conn.close()


# --- PATCH ---------------------------------------------------------------------------------


def test_patch_adds_replaces_and_removes_attributes_and_properties(api: Api) -> None:
    image_id = _create(api, name="n", tags=["a"], keep="1", drop="2").json()["id"]
    response = _patch(
        api,
        image_id,
        {"op": "replace", "path": "/name", "value": "n2"},
        {"op": "add", "path": "/os_hidden", "value": True},
        {"op": "replace", "path": "/tags", "value": ["z", "y", "z"]},
        {"op": "add", "path": "/min_disk", "value": 3},
        {"op": "add", "path": "/visibility", "value": "community"},
        {"op": "add", "path": "/keep", "value": "1b"},  # add on an existing property replaces
        {"op": "remove", "path": "/drop"},
        {"op": "add", "path": "/new", "value": "3"},
        {"op": "replace", "path": "/disk_format", "value": "qcow2"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["os_hidden"], body["tags"], body["min_disk"]) == (
        "n2",
        True,
        ["z", "y"],
        3,
    )
    assert (body["visibility"], body["disk_format"], body["keep"], body["new"]) == (
        "community",
        "qcow2",
        "1b",
        "3",
    )
    assert "drop" not in body
    assert api.request("GET", f"{IMAGES}/{image_id}").json() == body


def _stored_updated_at(cloud: LocalCloud, image_id: str) -> float:
    with cloud.runtime.store.read() as conn:
        row = conn.execute("SELECT updated_at FROM images WHERE id = ?", (image_id,)).fetchone()
    return float(row[0])


def test_updated_at_moves_on_every_successful_patch_only(api: Api) -> None:
    """Glance keeps whole seconds in the view; the stored time shows every move."""
    image_id = _create(api, name="n").json()["id"]
    seen = [_stored_updated_at(api.cloud, image_id)]
    for value in ("a", "b", "c"):
        assert _patch(api, image_id, {"op": "add", "path": "/p", "value": value}).ok
        seen.append(_stored_updated_at(api.cloud, image_id))
    assert seen == sorted(set(seen)), seen  # strictly increasing
    assert _patch(api, image_id).status_code == 200  # no operation: nothing saved
    missing = {"op": "remove", "path": "/absent"}
    assert _patch(api, image_id, missing).status_code == 409
    assert _stored_updated_at(api.cloud, image_id) == seen[-1]
    first = api.request("GET", f"{IMAGES}/{image_id}").json()["updated_at"]

    def moved() -> bool:
        patched = _patch(api, image_id, {"op": "add", "path": "/p", "value": "d"})
        return patched.json()["updated_at"] != first

    deadline = time.monotonic() + 5
    while not moved():
        assert time.monotonic() < deadline, "updated_at never moved in the view"
        time.sleep(0.1)


def test_a_patch_that_fails_part_way_changes_nothing(api: Api) -> None:
    image_id = _create(api, name="before").json()["id"]
    response = _patch(
        api,
        image_id,
        {"op": "replace", "path": "/name", "value": "after"},
        {"op": "replace", "path": "/absent", "value": "x"},
    )
    assert _error(response) == (
        409,
        _message(
            "There was a conflict when trying to complete your request.",
            "Property absent does not exist.",
        ),
    )
    assert api.request("GET", f"{IMAGES}/{image_id}").json()["name"] == "before"


CONFLICT = "There was a conflict when trying to complete your request."


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        (
            {"op": "remove", "path": "/nothere"},
            409,
            _message(CONFLICT, "Property nothere does not exist."),
        ),
        (
            {"op": "replace", "path": "/nothere", "value": "x"},
            409,
            _message(CONFLICT, "Property nothere does not exist."),
        ),
        (
            {"op": "remove", "path": "/name"},
            403,
            _message(DENIED, "Property name may not be removed."),
        ),
        (
            {"op": "remove", "path": "/tags"},
            403,
            _message(DENIED, "Property tags may not be removed."),
        ),
        (
            {"op": "replace", "path": "/status", "value": "active"},
            403,
            _message("Attribute 'status' is read-only."),
        ),
        (
            {"op": "replace", "path": "/id", "value": "x"},
            403,
            _message("Attribute 'id' is read-only."),
        ),
        (
            {"op": "add", "path": "/deleted", "value": "x"},
            403,
            _message("Attribute 'deleted' is reserved."),
        ),
        (
            {"op": "add", "path": "/os_glance_x", "value": "x"},
            403,
            _message("Attribute 'os_glance_x' is reserved."),
        ),
        (
            {"op": "replace", "path": "/owner", "value": "x"},
            403,
            _message(DENIED, "Owner can't be updated by non admin."),
        ),
        (
            {"op": "replace", "path": "/visibility", "value": "public"},
            403,
            _message("You are not authorized to complete publicize_image action."),
        ),
        (
            {"op": "replace", "path": "/locations", "value": []},
            403,
            _message(DENIED, "Cannot set locations to empty list."),
        ),
        (
            {"op": "replace", "path": "/min_disk", "value": -3},
            400,
            _message("Invalid value '-3' for parameter 'min_disk': Cannot be a negative value"),
        ),
        (
            {"op": "add", "path": "/a/b", "value": "x"},
            400,
            _message("Invalid JSON pointer for this resource: '/a/b'"),
        ),
        (
            {"op": "add", "path": "/tags/-", "value": "q"},
            400,
            _message("Invalid JSON pointer for this resource: '/tags/-'"),
        ),
        (
            {"op": "add", "path": "a", "value": "x"},
            400,
            _message('Pointer `a` does not start with "/".'),
        ),
        (
            {"op": "move", "path": "/a", "value": "x"},
            400,
            _message(
                "Invalid operation: `move`. It must be one of the following: add, remove, replace."
            ),
        ),
        (
            {"path": "/a", "value": "x"},
            400,
            _message(
                "Unable to find `op` in JSON Schema change. It must be one of the following: "
                "add, remove, replace."
            ),
        ),
        ({"op": "add", "value": "x"}, 400, _message("Unable to find 'path' in JSON Schema change")),
        (
            {"op": "add", "path": "/a"},
            400,
            _message('Operation "add" requires a member named "value".'),
        ),
        (
            {"op": "add", "path": "/a", "value": 5},
            400,
            _message(SCHEMA_PROPERTY.replace("instance['my_prop']", "instance['a']")),
        ),
    ],
    ids=lambda value: str(value)[:40] if isinstance(value, dict) else None,
)
def test_patch_refusals_are_glances(
    api: Api, change: dict[str, Any], status: int, message: str
) -> None:
    image_id = _create(api, name="n").json()["id"]
    assert _error(_patch(api, image_id, change)) == (status, message)


def test_patch_wants_json_patch(api: Api) -> None:
    image_id = _create(api, name="n").json()["id"]
    change = {"op": "replace", "path": "/name", "value": "x"}
    response = _patch(api, image_id, change, content_type="application/json")
    allowed = (
        "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch"
    )
    assert response.status_code == 415
    assert response.headers["Accept-Patch"] == allowed
    assert response.json()["message"] == (
        "The request media type application/json is not supported by this server.\n"
        f"<br /><br />\nImage PATCH expects Content-Type one of: {allowed}"
    )
    with_charset = _patch(api, image_id, change, content_type=f"{JSON_PATCH}; charset=UTF-8")
    assert with_charset.status_code == 200
    body_not_list = api.request(
        "PATCH",
        f"{IMAGES}/{image_id}",
        data=json.dumps(change),
        headers={"Content-Type": JSON_PATCH},
    )
    assert _error(body_not_list) == (
        400,
        _message("Request body must be a JSON array of operation objects."),
    )


def test_patch_in_draft_4_form_refuses_to_add_what_exists(api: Api) -> None:
    image_id = _create(api, name="n").json()["id"]
    draft_4 = "application/openstack-images-v2.0-json-patch"
    exists = _patch(api, image_id, {"add": "/name", "value": "m"}, content_type=draft_4)
    assert _error(exists) == (409, _message(CONFLICT, "Property name already present."))
    added = _patch(api, image_id, {"add": "/fresh", "value": "v"}, content_type=draft_4)
    assert added.status_code == 200 and added.json()["fresh"] == "v"


def test_images_of_other_projects_are_not_found_or_not_yours(api: Api, admin: Api) -> None:
    public = _create(admin, visibility="public", name="adm-public").json()["id"]
    private = _create(admin, visibility="private", name="adm-private").json()["id"]
    shared = _create(admin, name="adm-shared").json()["id"]
    rename = {"op": "replace", "path": "/name", "value": "x"}
    assert _error(_patch(api, public, rename)) == (
        403,
        _message("You are not authorized to complete modify_image action."),
    )
    for hidden in (private, shared):  # another project's shared image needs membership
        assert _error(_patch(api, hidden, rename)) == (
            404,
            _message(f"No image found with ID {hidden}"),
        )
        assert api.request("GET", f"{IMAGES}/{hidden}").status_code == 404
    missing = str(uuid.uuid4())
    assert _error(_patch(api, missing, rename)) == (
        404,
        _message(f"No image found with ID {missing}"),
    )
    assert _error(api.request("DELETE", f"{IMAGES}/{public}")) == (
        403,
        _message("You are not authorized to complete delete_image action."),
    )
    assert _error(api.request("DELETE", f"{IMAGES}/{private}")) == (
        404,
        _message(f"Failed to find image {private} to delete"),
    )
    assert _patch(admin, private, rename).status_code == 200


# --- delete --------------------------------------------------------------------------------


def test_a_protected_image_cannot_be_deleted(api: Api) -> None:
    image_id = _create(api, protected=True).json()["id"]
    assert _error(api.request("DELETE", f"{IMAGES}/{image_id}")) == (
        403,
        _message(f"Image {image_id} is protected and cannot be deleted."),
    )
    assert api.request("GET", f"{IMAGES}/{image_id}").status_code == 200
    assert _patch(api, image_id, {"op": "replace", "path": "/protected", "value": False}).ok
    deleted = api.request("DELETE", f"{IMAGES}/{image_id}")
    assert deleted.status_code == 204 and deleted.content == b""


# --- list ----------------------------------------------------------------------------------


def _ids(api: Api, query: str) -> list[str]:
    response = api.request("GET", f"{IMAGES}?{query}")
    assert response.status_code == 200, response.text
    return [image["id"] for image in response.json()["images"]]


def test_list_filters_on_every_tag_hidden_and_properties(api: Api) -> None:
    both = _create(api, tags=["t1", "t2"], os_hidden=True, role="lock").json()["id"]
    one = _create(api, tags=["t1"], role="lock").json()["id"]
    other = _create(api, tags=["t2"], role="other").json()["id"]
    assert _ids(api, "tag=t1") == [one]  # the hidden one is left out
    assert _ids(api, "tag=t1&os_hidden=true") == [both]  # ... and listed alone when asked
    assert _ids(api, "tag=t1&tag=t2&os_hidden=true") == [both]
    assert _ids(api, "tag=t1&tag=t2") == []
    assert set(_ids(api, "role=lock&os_hidden=false")) == {one}
    assert _ids(api, "role=other") == [other]
    assert _ids(api, "role=nobody") == []
    first = api.request("GET", f"{IMAGES}?tag=t1&tag=t2&os_hidden=True").json()["first"]
    assert first == "/v2/images?tag=t2&os_hidden=True"  # WebOb's dict(): the last tag only
    assert _error(api.request("GET", f"{IMAGES}?os_hidden=yes")) == (
        400,
        _message("Invalid value 'yes' for 'os_hidden' filter. Valid values are 'true' or 'false'."),
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("visibility=nope", "Invalid visibility value: nope"),
        ("name=foo:bar", "Unable to filter by unknown operator 'foo'."),
        ("limit=-1", "limit param must be positive"),
        ("changes-since=2020-01-01", 'The "changes-since" filter is no longer available on v2.'),
        (
            "protected=yes",
            "Invalid value 'yes' for 'protected' filter. Valid values are 'true' or 'false'.",
        ),
        ("member_status=x", "Invalid status: x"),
        (
            "sort_key=bogus",
            "Invalid sort key: bogus. It must be one of the following: name, "
            "status, container_format, disk_format, size, id, created_at, "
            "updated_at.",
        ),
        ("size_min=x", "Unable to filter on a range with a non-numeric value."),
        ("created_at=xx:2020-01-01T00:00:00Z", "Unable to filter on a unknown operator."),
        (
            "updated_at=bogus",
            'Bad "updated_at" query filter format. Use ISO 8601 DateTime notation.',
        ),
        ('name=in:"a', 'Invalid filter value "a. The quote is not closed.'),
        ("sort=name:up", "Invalid sort direction: up"),
        ("sort=name&sort_key=id", "Old and new sorting syntax cannot be combined"),
        (
            "marker=00000000-0000-4000-8000-000000000000",
            "No image found with ID 00000000-0000-4000-8000-000000000000",
        ),
    ],
)
def test_list_refusals_are_glances(api: Api, query: str, message: str) -> None:
    assert _error(api.request("GET", f"{IMAGES}?{query}")) == (400, _message(message))


def test_list_operators_ranges_and_times(api: Api) -> None:
    made = {n: _create(api, name=n, tags=["ops"]).json()["id"] for n in ("a,b", "c", "d")}
    assert set(_ids(api, 'name=in:"a,b",c')) == {made["a,b"], made["c"]}
    assert set(_ids(api, "tag=ops&created_at=gt:2020-01-01T00:00:00Z")) == set(made.values())
    assert _ids(api, "tag=ops&created_at=lt:2020-01-01T00:00:00Z") == []
    assert set(_ids(api, "tag=ops&min_disk_max=0")) == set(made.values())
    assert _ids(api, "tag=ops&size_min=1") == []  # no data, no size
    assert _ids(api, "tag=ops&owner=nobody") == []
    assert set(_ids(api, "tag=ops&os_hidden=False&protected=false")) == set(made.values())


def test_community_images_of_others_are_listed_only_when_asked_for(api: Api, admin: Api) -> None:
    theirs = _create(admin, visibility="community", name="c").json()["id"]
    mine = _create(api, visibility="community", name="c").json()["id"]
    assert _ids(api, "name=c") == [mine]
    assert set(_ids(api, "name=c&visibility=community")) == {mine, theirs}
    assert set(_ids(api, "name=c&visibility=all")) == {mine, theirs}
    assert api.request("GET", f"{IMAGES}/{theirs}").status_code == 200


def test_pages_follow_created_at_then_id_both_descending(api: Api) -> None:
    """Glance's created_at has whole seconds: images of one second come by id, descending."""
    made = [_create(api, name="page", id=str(uuid.uuid4())).json() for _ in range(5)]
    expected = sorted(made, key=lambda i: (i["created_at"], i["id"]), reverse=True)
    seen: list[str] = []
    query = "name=page&limit=2"
    while True:
        body = api.request("GET", f"{IMAGES}?{query}").json()
        seen += [image["id"] for image in body["images"]]
        if "next" not in body:
            break
        query = body["next"].split("?", 1)[1]
    assert seen == [image["id"] for image in expected]


# --- state files written before image writes ------------------------------------------------


OLD_IMAGES = """CREATE TABLE images (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    status TEXT NOT NULL, visibility TEXT NOT NULL, owner TEXT NOT NULL,
    disk_format TEXT NOT NULL, container_format TEXT NOT NULL, size INTEGER NOT NULL,
    min_disk INTEGER NOT NULL, min_ram INTEGER NOT NULL, checksum TEXT NOT NULL,
    os_hash_value TEXT NOT NULL, properties TEXT NOT NULL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL)"""
"""The images table as the read-only Glance had it."""


def test_an_older_state_file_gets_writable_images(tmp_path: Path) -> None:
    state = tmp_path / "old.sqlite"
    with LocalCloud(state_path=state) as cloud:
        seeded = _seeded(cloud)
    columns = "seq, id, name, status, visibility, owner, disk_format, container_format, size,"
    columns += " min_disk, min_ram, checksum, os_hash_value, properties, created_at, updated_at"
    with sqlite3.connect(state) as conn:  # make it look as an older version left it
        conn.execute("DROP TABLE image_ids")
        conn.execute("ALTER TABLE images RENAME TO images_new")
        conn.execute(OLD_IMAGES)
        conn.execute(f"INSERT INTO images ({columns}) SELECT {columns} FROM images_new")
        conn.execute("DROP TABLE images_new")
    with LocalCloud(state_path=state) as cloud:
        assert _seeded(cloud) == seeded
        with requests.Session() as session:
            api = Api(cloud, issue_token(cloud, "admin", "admin-secret"), session)
            cirros = api.image_id("cirros")
            assert _create(api, id=cirros).status_code == 409
            made = _create(api, name="new")
            assert made.status_code == 201, made.text
            assert _ids(api, "name=new") == [made.json()["id"]]


def _seeded(cloud: LocalCloud) -> list[tuple[str, str, list[str]]]:
    with requests.Session() as session:
        api = Api(cloud, issue_token(cloud), session)
        images = api.request("GET", IMAGES).json()["images"]
    return sorted((i["id"], i["name"], i["tags"]) for i in images)
