"""Answers that used to differ from the real services: adminPass, config_drive, all_tenants
for a tenant, GET /v3/projects/{id}."""

from __future__ import annotations

from typing import Any

import openstack
import pytest
from openstack import exceptions

from declstack_localcloud import LocalCloud

from .conftest import Api, issue_token

pytestmark = pytest.mark.integration


def test_requested_admin_pass_is_returned_as_given(api: Api) -> None:
    server = api.boot("pw", "2.90", networks="none", adminPass="s3cret-Pass")
    assert server["adminPass"] == "s3cret-Pass"
    generated = api.boot("pw2", "2.90", networks="none")["adminPass"]
    assert isinstance(generated, str) and len(generated) == 12
    refused = api.request(
        "POST",
        "/compute/v2.1/servers",
        "2.90",
        json={
            "server": {
                "name": "x",
                "imageRef": api.image_id("cirros"),
                "flavorRef": "1",
                "networks": "none",
                "adminPass": 12,
            }
        },
    )
    assert refused.status_code == 400


@pytest.mark.parametrize(("sent", "shown"), [(True, "True"), ("yes", "True"), (False, "")])
def test_config_drive_reads_back(api: Api, sent: Any, shown: str) -> None:
    server = api.boot("cd", "2.90", networks="none", config_drive=sent)
    body = api.request("GET", f"/compute/v2.1/servers/{server['id']}", "2.90").json()
    assert body["server"]["config_drive"] == shown
    listed = api.request("GET", "/compute/v2.1/servers/detail", "2.90").json()["servers"]
    assert listed[0]["config_drive"] == shown


def test_config_drive_not_a_boolean_is_400(api: Api) -> None:
    body = {
        "server": {
            "name": "x",
            "imageRef": api.image_id("cirros"),
            "flavorRef": "1",
            "networks": "none",
            "config_drive": "maybe",
        }
    }
    refused = api.request("POST", "/compute/v2.1/servers", "2.90", json=body)
    assert refused.status_code == 400
    assert "config_drive" in refused.json()["badRequest"]["message"]


def test_all_tenants_is_forbidden_for_a_tenant(api: Api, cloud: LocalCloud) -> None:
    api.boot("mine", "2.90", networks="none")
    for path, policy in (("servers", "index"), ("servers/detail", "detail")):
        for value in ("1", "True", ""):
            denied = api.request("GET", f"/compute/v2.1/{path}?all_tenants={value}", "2.90")
            assert denied.status_code == 403
            assert denied.json() == {
                "forbidden": {
                    "code": 403,
                    "message": f"Policy doesn't allow os_compute_api:servers:{policy}"
                    ":get_all_tenants to be performed.",
                }
            }
        allowed = api.request("GET", f"/compute/v2.1/{path}?all_tenants=0", "2.90")
        assert allowed.status_code == 200 and len(allowed.json()["servers"]) == 1
    bad = api.request("GET", "/compute/v2.1/servers?all_tenants=maybe", "2.90")
    assert bad.status_code == 400
    admin = api.request(
        "GET",
        "/compute/v2.1/servers?all_tenants=1",
        "2.90",
        headers={"X-Auth-Token": issue_token(cloud, "admin", "admin-secret")},
    )
    assert [s["name"] for s in admin.json()["servers"]] == ["mine"]


def test_sdk_all_projects_as_a_tenant_raises(conn: Any) -> None:
    with pytest.raises(exceptions.ForbiddenException):
        list(conn.compute.servers(all_projects=True))


def test_get_project_by_id(api: Api, cloud: LocalCloud) -> None:
    token = api.request("GET", "/identity/v3/auth/tokens", headers={"X-Subject-Token": api.token})
    own = token.json()["token"]["project"]["id"]
    shown = api.request("GET", f"/identity/v3/projects/{own}")
    assert shown.status_code == 200
    assert shown.json()["project"]["name"] == "demo"
    missing = api.request("GET", "/identity/v3/projects/nope")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"code": 404, "title": "Not Found", "message": "Could not find project: nope."}
    }
    admin: Any = openstack.connect(
        auth_type="password",
        **{
            **cloud.cloud_config(),
            "auth": {
                **cloud.cloud_config()["auth"],
                "username": "admin",
                "password": "admin-secret",
                "project_name": "admin",
            },
        },
    )
    admin_project = admin.current_project_id
    other = api.request("GET", f"/identity/v3/projects/{admin_project}")
    assert other.status_code == 403
    assert admin.identity.get_project(own).name == "demo"
    admin.close()


def test_security_group_actions_answer_as_nova(api: Api) -> None:
    network = api.request("GET", "/network/v2.0/networks?name=private").json()["networks"][0]
    server = api.boot("sg", "2.90", networks=[{"uuid": network["id"]}])
    path = f"/compute/v2.1/servers/{server['id']}/action"
    missing = api.request("POST", path, "2.90", json={"addSecurityGroup": {"name": "nope"}})
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["message"].startswith(
        "Security group nope is not found for project "
    )
    absent = api.request("POST", path, "2.90", json={"removeSecurityGroup": {"name": "web"}})
    assert absent.status_code == 404
    api.request("POST", "/network/v2.0/security-groups", json={"security_group": {"name": "web"}})
    absent = api.request("POST", path, "2.90", json={"removeSecurityGroup": {"name": "web"}})
    assert absent.json() == {
        "itemNotFound": {
            "code": 404,
            "message": f"Security group web not associated with the instance {server['id']}",
        }
    }
    added = api.request("POST", path, "2.90", json={"addSecurityGroup": {"name": "web"}})
    assert added.status_code == 202
    ports = api.request("GET", f"/network/v2.0/ports?device_id={server['id']}").json()["ports"]
    groups = api.request("GET", "/network/v2.0/security-groups").json()["security_groups"]
    names = {g["id"]: g["name"] for g in groups}
    assert sorted(names[g] for g in ports[0]["security_groups"]) == ["default", "web"]
