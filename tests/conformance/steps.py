"""The differential request sequence: what declstack, `openstack` and Ansible send, in order.

Names are prefixed with the run id (`{run}`) so that the listings only see this
run's servers even when others use the same project. Both clouds are expected
to carry the realstack bootstrap: flavors m1.nano..m1.large (ids 1-5), a public
image `cirros` and a shared network `private`.
"""

from __future__ import annotations

from tests.conformance.sequence import SDK_MV, Poll, Step

__all__ = ["STEPS", "Step"]

ACTIVE = Poll(path="server.status", until=("ACTIVE", "ERROR"), timeout=90)
GONE = Poll(path="server.OS-EXT-STS:task_state", until_status=404, timeout=60, interval=0.1)


def _create(
    name: str,
    networks: object,
    tags: list[str],
    save: str,
    why: str,
    metadata: dict[str, str] | None = None,
) -> Step:
    server: dict[str, object] = {
        "name": name,
        "imageRef": "{image_id}",
        "flavorRef": "1",
        "networks": networks,
        "tags": tags,
    }
    if metadata is not None:
        server["metadata"] = metadata
    return Step(
        f"server-create-{save}",
        "POST",
        "compute",
        "/servers",
        "2.52",
        body={"server": server},
        save={save: "server.id"},
        why=why,
    )


def _wait(var: str) -> Step:
    return Step(
        f"server-wait-active-{var}",
        "GET",
        "compute",
        "/servers/{" + var + "}",
        "2.47",
        poll=ACTIVE,
        why="what a client polls until ACTIVE (2.47 body)",
    )


STEPS: tuple[Step, ...] = (
    # --- identity -----------------------------------------------------------
    Step(
        "identity-auth-password",
        "POST",
        "identity",
        "/auth/tokens",
        auth=False,
        body={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "{username}",
                            "password": "{password}",
                            "domain": {"name": "{user_domain}"},
                        }
                    },
                },
                "scope": {
                    "project": {"name": "{project_name}", "domain": {"name": "{project_domain}"}}
                },
            }
        },
        fields=(
            "token.methods",
            "token.project.name",
            "token.project.domain.name",
            "token.user.name",
            "token.roles.*.name|sorted",
            "token.catalog.*.type|sorted",
            "token.catalog.[type=compute].endpoints.*.interface|sorted",
            "token.catalog.[type=compute].name",
        ),
        keys=("token",),
        why="password auth + catalog, every client's first call",
    ),
    Step(
        "identity-auth-wrong-password",
        "POST",
        "identity",
        "/auth/tokens",
        auth=False,
        body={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "{username}",
                            "password": "wrong-{run}",
                            "domain": {"name": "{user_domain}"},
                        }
                    },
                },
                "scope": {
                    "project": {"name": "{project_name}", "domain": {"name": "{project_domain}"}}
                },
            }
        },
        why="401 body a client shows for a bad password",
    ),
    Step(
        "identity-version",
        "GET",
        "identity",
        "",
        auth=False,
        fields=("version.id", "version.status", "version.links.*.rel"),
        why="keystoneauth discovery of the v3 root",
    ),
    # --- compute discovery, flavors -----------------------------------------
    Step(
        "compute-versions",
        "GET",
        "compute",
        "@root/",
        auth=False,
        fields=(
            "versions.*.id",
            "versions.*.status",
            "versions.*.version",
            "versions.*.min_version",
            "versions.*.links",
        ),
        why="version discovery of the unversioned endpoint",
    ),
    Step(
        "compute-version-v21",
        "GET",
        "compute",
        "",
        fields=(
            "version.id",
            "version.status",
            "version.version",
            "version.min_version",
            "version.links",
        ),
        why="SDK discovery of the versioned endpoint: max microversion",
    ),
    Step(
        "compute-bad-microversion",
        "GET",
        "compute",
        "/servers",
        "9.99",
        why="406 for a microversion above the maximum",
    ),
    Step(
        "flavors-detail",
        "GET",
        "compute",
        "/flavors/detail",
        "2.61",
        fields=tuple(
            f"flavors.[name=m1.{n}]" for n in ("nano", "tiny", "small", "medium", "large")
        ),
        why="flavor lookup by name (SDK find_flavor lists details)",
    ),
    Step("flavor-show", "GET", "compute", "/flavors/2", "2.61", why="flavor by id"),
    Step("flavor-missing", "GET", "compute", "/flavors/999", "2.61", why="404 body"),
    # --- images, networks ---------------------------------------------------
    Step(
        "image-list-by-name",
        "GET",
        "image",
        "/v2/images?name=cirros",
        save={"image_id": "images.0.id"},
        fields=(
            "images.*.name",
            "images.*.status",
            "images.*.visibility",
            "images.*.disk_format",
            "images.*.container_format",
            "images.*.min_ram",
            "images.*.min_disk",
            "images.*.protected",
            "images.*.tags",
            "images.*.self",
            "images.*.file",
            "first",
            "schema",
            "next",
        ),
        keys=("images.0",),
        why="image lookup by name",
    ),
    Step(
        "image-list-paged",
        "GET",
        "image",
        "/v2/images?limit=1",
        mask=(r"marker=[^&]+",),
        fields=("images.#", "first", "next"),
        why="glance paging: `next` link with marker",
    ),
    Step(
        "image-show",
        "GET",
        "image",
        "/v2/images/{image_id}",
        fields=("id", "name", "status", "visibility", "min_ram", "min_disk"),
        keys=("",),
        why="image by id",
    ),
    Step("image-missing", "GET", "image", "/v2/images/{missing_id}", why="glance 404"),
    Step(
        "network-list-by-name",
        "GET",
        "network",
        "/v2.0/networks?name=private",
        save={"network_id": "networks.0.id"},
        fields=(
            "networks.*.name",
            "networks.*.shared",
            "networks.*.status",
            "networks.*.admin_state_up",
            "networks.*.router:external",
            "networks.*.subnets.#",
            "networks.*.mtu",
            "networks.*.port_security_enabled",
        ),
        keys=("networks.0",),
        why="network lookup by name",
    ),
    Step(
        "subnet-list",
        "GET",
        "network",
        "/v2.0/subnets?network_id={network_id}",
        fields=(
            "subnets.*.cidr",
            "subnets.*.ip_version",
            "subnets.*.gateway_ip",
            "subnets.*.enable_dhcp",
            "subnets.*.network_id",
        ),
        keys=("subnets.0",),
        why="subnets of the network",
    ),
    Step(
        "secgroup-list-default",
        "GET",
        "network",
        "/v2.0/security-groups?name=default",
        save={"secgroup_id": "security_groups.0.id"},
        fields=(
            "security_groups.#",
            "security_groups.*.name",
            "security_groups.*.description",
            "security_groups.*.project_id",
            "security_groups.*.security_group_rules.#",
        ),
        keys=("security_groups.0", "security_groups.0.security_group_rules.0"),
        why="the project's default security group (Ansible resolves names)",
    ),
    Step("network-missing", "GET", "network", "/v2.0/networks/{missing_id}", why="neutron 404"),
    # --- servers: create ----------------------------------------------------
    _create(
        "{run}-web-1",
        [{"uuid": "{network_id}"}],
        ["managed-by=declstack", "stack={run}"],
        "srv_a",
        "create with tags+metadata at 2.52 (declstack)",
        metadata={"managed-by": "declstack", "stack": "{run}", "role": "web"},
    ),
    _create(
        "{run}-web-10",
        "none",
        ["managed-by=declstack"],
        "srv_b",
        "networks none: no port, what security_groups says then",
    ),
    _create(
        "{run}-db-1", "auto", ["other"], "srv_c", "networks auto with a shared network available"
    ),
    _wait("srv_a"),
    _wait("srv_b"),
    _wait("srv_c"),
    Step(
        "server-show-sdk-mv",
        "GET",
        "compute",
        "/servers/{srv_a}",
        SDK_MV,
        why="server body at the SDK's microversion (2.100)",
    ),
    Step(
        "server-show-2.1",
        "GET",
        "compute",
        "/servers/{srv_a}",
        why="server body without a microversion header (2.1)",
    ),
    Step(
        "server-show-nonet",
        "GET",
        "compute",
        "/servers/{srv_b}",
        SDK_MV,
        fields=(
            "server.addresses",
            "server.security_groups",
            "server.status",
            "server.tags",
            "server.metadata",
        ),
        why="networks none: addresses and security_groups",
    ),
    Step(
        "server-show-auto",
        "GET",
        "compute",
        "/servers/{srv_c}",
        SDK_MV,
        fields=("server.addresses", "server.security_groups", "server.status"),
        why="networks auto: which network got the port",
    ),
    Step(
        "server-os-security-groups",
        "GET",
        "compute",
        "/servers/{srv_a}/os-security-groups",
        fields=(
            "security_groups.*.name",
            "security_groups.*.description",
            "security_groups.*.id",
            "security_groups.*.tenant_id",
        ),
        keys=("security_groups.0",),
        why="Ansible reads a server's groups here",
    ),
    Step(
        "ports-of-server",
        "GET",
        "network",
        "/v2.0/ports?device_id={srv_a}",
        fields=(
            "ports.#",
            "ports.*.device_owner",
            "ports.*.status",
            "ports.*.network_id",
            "ports.*.fixed_ips.*.subnet_id",
            "ports.*.security_groups",
            "ports.*.admin_state_up",
            "ports.*.binding:vif_type",
        ),
        keys=("ports.0",),
        why="the port nova made for the server",
    ),
    # --- servers: list, filters, paging -------------------------------------
    Step(
        "servers-detail-name-regex",
        "GET",
        "compute",
        "/servers/detail?name={run}-web-1",
        SDK_MV,
        fields=("servers.*.name|sorted",),
        why="name= is a regex: web-1 matches web-10",
    ),
    Step(
        "servers-detail-name-anchored",
        "GET",
        "compute",
        "/servers/detail?name=%5E{run}-web-1%24",
        SDK_MV,
        fields=("servers.*.name",),
        why="anchored regex matches exactly",
    ),
    Step(
        "servers-detail-by-run",
        "GET",
        "compute",
        "/servers/detail?name={run}",
        SDK_MV,
        sort=(("servers", "name"),),
        why="the full list body at 2.100 (sorted newest first)",
    ),
    Step(
        "servers-detail-2.47",
        "GET",
        "compute",
        "/servers/detail?name={run}",
        "2.47",
        sort=(("servers", "name"),),
        fields=("servers.*.name", "servers.*.flavor", "servers.*.status"),
        why="flavor embedded at 2.47",
    ),
    Step(
        "servers-tags",
        "GET",
        "compute",
        "/servers/detail?tags=stack%3D{run}",
        SDK_MV,
        fields=("servers.*.name|sorted",),
        why="tags= (all of)",
    ),
    Step(
        "servers-tags-two",
        "GET",
        "compute",
        "/servers/detail?tags=stack%3D{run},managed-by%3Ddeclstack",
        SDK_MV,
        fields=("servers.*.name|sorted",),
        why="tags= with two tags: AND",
    ),
    Step(
        "servers-tags-any",
        "GET",
        "compute",
        "/servers/detail?name={run}&tags-any=stack%3D{run},other",
        SDK_MV,
        fields=("servers.*.name|sorted",),
        why="tags-any= (OR)",
    ),
    Step(
        "servers-not-tags",
        "GET",
        "compute",
        "/servers/detail?name={run}&not-tags=managed-by%3Ddeclstack",
        SDK_MV,
        fields=("servers.*.name|sorted",),
        why="not-tags=",
    ),
    Step(
        "servers-page-1",
        "GET",
        "compute",
        "/servers?name={run}&limit=2",
        SDK_MV,
        save={"page_marker": "servers.1.id"},
        mask=(r"\{srv_[abc]\}",),
        fields=("servers.#", "servers_links"),
        keys=("servers.0",),
        why="limit + servers_links next with marker",
    ),
    Step(
        "servers-page-2",
        "GET",
        "compute",
        "/servers?name={run}&limit=2&marker={page_marker}",
        SDK_MV,
        fields=("servers.#", "servers_links"),
        # the marker is whichever server ended page 1: Nova orders servers created in the
        # same second as its conductor wrote them, so it varies from run to run (as the
        # marker in page 1's next link, masked there too); it must still be one of ours
        request_mask=(r"(?<=marker=)\{srv_[abc]\}",),
        why="second page is the last: no servers_links",
    ),
    Step(
        "servers-bad-marker",
        "GET",
        "compute",
        "/servers?marker={missing_id}",
        SDK_MV,
        why="400 for a marker that does not exist",
    ),
    # --- metadata -----------------------------------------------------------
    Step("metadata-list", "GET", "compute", "/servers/{srv_a}/metadata", why="all metadata"),
    Step(
        "metadata-set-item",
        "PUT",
        "compute",
        "/servers/{srv_a}/metadata/owner",
        body={"meta": {"owner": "team-a"}},
        why="set one key",
    ),
    Step(
        "metadata-merge",
        "POST",
        "compute",
        "/servers/{srv_a}/metadata",
        body={"metadata": {"tier": "1"}},
        why="merge (SDK set_server_metadata)",
    ),
    Step("metadata-get-item", "GET", "compute", "/servers/{srv_a}/metadata/tier", why="one key"),
    Step("metadata-delete-item", "DELETE", "compute", "/servers/{srv_a}/metadata/tier", why="204"),
    Step(
        "metadata-missing-item",
        "GET",
        "compute",
        "/servers/{srv_a}/metadata/tier",
        why="404 body for a missing key",
    ),
    Step(
        "metadata-replace",
        "PUT",
        "compute",
        "/servers/{srv_a}/metadata",
        body={"metadata": {"managed-by": "declstack", "stack": "{run}", "role": "web"}},
        why="replace all (Ansible)",
    ),
    Step(
        "metadata-bad-key",
        "POST",
        "compute",
        "/servers/{srv_a}/metadata",
        body={"metadata": {"bad/key": "x"}},
        why="400 for a key outside [a-zA-Z0-9-_:. ]",
    ),
    # --- tags ---------------------------------------------------------------
    Step("tags-list", "GET", "compute", "/servers/{srv_a}/tags", SDK_MV, why="tags at 2.26+"),
    Step(
        "tag-add",
        "PUT",
        "compute",
        "/servers/{srv_a}/tags/extra",
        SDK_MV,
        why="201 when the tag is new",
    ),
    Step(
        "tag-add-again",
        "PUT",
        "compute",
        "/servers/{srv_a}/tags/extra",
        SDK_MV,
        why="204 when it already exists",
    ),
    Step("tag-check", "GET", "compute", "/servers/{srv_a}/tags/extra", SDK_MV, why="204"),
    Step("tag-check-missing", "GET", "compute", "/servers/{srv_a}/tags/nope", SDK_MV, why="404"),
    Step("tag-delete", "DELETE", "compute", "/servers/{srv_a}/tags/extra", SDK_MV, why="204"),
    Step(
        "tags-replace",
        "PUT",
        "compute",
        "/servers/{srv_a}/tags",
        SDK_MV,
        body={"tags": ["managed-by=declstack", "stack={run}", "b", "a"]},
        why="replace all; response order",
    ),
    Step(
        "tags-invalid-comma",
        "PUT",
        "compute",
        "/servers/{srv_a}/tags",
        SDK_MV,
        body={"tags": ["bad,tag"]},
        why="400: ',' not allowed",
    ),
    Step(
        "tags-too-long",
        "PUT",
        "compute",
        "/servers/{srv_a}/tags/" + "x" * 61,
        SDK_MV,
        why="400: longer than 60",
    ),
    Step(
        "tags-old-microversion",
        "GET",
        "compute",
        "/servers/{srv_a}/tags",
        "2.25",
        why="404 below 2.26",
    ),
    # --- errors -------------------------------------------------------------
    Step(
        "error-bad-flavor",
        "POST",
        "compute",
        "/servers",
        "2.52",
        body={
            "server": {
                "name": "{run}-bad",
                "imageRef": "{image_id}",
                "flavorRef": "999",
                "networks": "none",
            }
        },
        why="400 flavor not found",
    ),
    Step(
        "error-bad-image",
        "POST",
        "compute",
        "/servers",
        "2.52",
        body={
            "server": {
                "name": "{run}-bad",
                "imageRef": "{missing_id}",
                "flavorRef": "1",
                "networks": "none",
            }
        },
        why="400 image not found",
    ),
    Step(
        "error-networks-omitted",
        "POST",
        "compute",
        "/servers",
        "2.37",
        body={"server": {"name": "{run}-bad", "imageRef": "{image_id}", "flavorRef": "1"}},
        why="400: networks required at >= 2.37",
    ),
    Step(
        "error-invalid-tag-create",
        "POST",
        "compute",
        "/servers",
        "2.52",
        body={
            "server": {
                "name": "{run}-bad",
                "imageRef": "{image_id}",
                "flavorRef": "1",
                "networks": "none",
                "tags": ["a/b"],
            }
        },
        why="400 tag with '/'",
    ),
    Step(
        "error-tags-before-2.52",
        "POST",
        "compute",
        "/servers",
        "2.51",
        body={
            "server": {
                "name": "{run}-bad",
                "imageRef": "{image_id}",
                "flavorRef": "1",
                "networks": "none",
                "tags": ["a"],
            }
        },
        why="400 tags at create < 2.52",
    ),
    Step(
        "error-quota-instances",
        "POST",
        "compute",
        "/servers",
        "2.52",
        body={
            "server": {
                "name": "{run}-quota",
                "imageRef": "{image_id}",
                "flavorRef": "1",
                "networks": "none",
                "min_count": 11,
                "max_count": 11,
            }
        },
        why="403 quota exceeded (default instances quota 10)",
    ),
    Step("error-missing-server", "GET", "compute", "/servers/{missing_id}", SDK_MV, why="404 body"),
    Step(
        "error-start-active",
        "POST",
        "compute",
        "/servers/{srv_a}/action",
        SDK_MV,
        body={"os-start": None},
        why="409: start an ACTIVE server",
    ),
    Step(
        "error-no-token",
        "GET",
        "compute",
        "/servers",
        SDK_MV,
        auth=False,
        why="401 without a token",
    ),
    Step(
        "error-auto-before-2.37",
        "POST",
        "compute",
        "/servers",
        "2.36",
        body={
            "server": {
                "name": "{run}-bad",
                "imageRef": "{image_id}",
                "flavorRef": "1",
                "networks": "auto",
            }
        },
        why="400: networks as a string needs 2.37",
    ),
    Step(
        "error-name-bad-regex",
        "GET",
        "compute",
        "/servers/detail?name=%5B",
        SDK_MV,
        why="400: name= must be a valid regex",
    ),
    Step(
        "compute-limits",
        "GET",
        "compute",
        "/limits",
        "2.57",
        fields=tuple(
            f"limits.absolute.{k}"
            for k in ("maxTotalInstances", "maxTotalCores", "maxTotalRAMSize", "maxServerMeta")
        ),
        keys=("limits.absolute",),
        why="quota limits a planner checks before create-before-destroy",
    ),
    # --- delete -------------------------------------------------------------
    Step("server-delete-a", "DELETE", "compute", "/servers/{srv_a}", why="204"),
    Step(
        "server-wait-gone-a",
        "GET",
        "compute",
        "/servers/{srv_a}",
        SDK_MV,
        poll=GONE,
        why="what a client sees until 404",
    ),
    Step(
        "servers-changes-since",
        "GET",
        "compute",
        "/servers/detail?name={run}&changes-since={t_start}",
        SDK_MV,
        fields=(
            "servers.*.name|sorted",
            "servers.[name={run}-web-1].status",
            "servers.[name={run}-web-1].OS-EXT-STS:vm_state",
        ),
        why="changes-since also shows the DELETED server",
    ),
    Step(
        "servers-list-after-delete",
        "GET",
        "compute",
        "/servers/detail?name={run}",
        SDK_MV,
        fields=("servers.*.name|sorted",),
        why="plain list hides it",
    ),
    Step(
        "server-delete-missing",
        "DELETE",
        "compute",
        "/servers/{srv_a}",
        why="404 deleting what is gone",
    ),
    Step("server-delete-b", "DELETE", "compute", "/servers/{srv_b}", why="204"),
    Step("server-delete-c", "DELETE", "compute", "/servers/{srv_c}", why="204"),
    Step(
        "server-wait-gone-b",
        "GET",
        "compute",
        "/servers/{srv_b}",
        SDK_MV,
        poll=GONE,
        why="until 404",
    ),
    Step(
        "server-wait-gone-c",
        "GET",
        "compute",
        "/servers/{srv_c}",
        SDK_MV,
        poll=GONE,
        why="until 404",
    ),
    Step(
        "ports-after-delete",
        "GET",
        "network",
        "/v2.0/ports?device_id={srv_a}",
        fields=("ports.#",),
        why="nova removed the port it made",
    ),
)
"""Every step, in the order they run; servers created here are deleted at the end."""
